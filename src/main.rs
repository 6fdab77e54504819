//! The `precis` executable. Built without the model runtime (the default), it starts fast and
//! hands commands that run a model to `precis-model` (`model_runtime`); built with
//! `--features model`, it runs them itself.

fn main() {
    precis::entry::main();
}
