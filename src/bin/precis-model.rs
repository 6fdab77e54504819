//! `precis-model`: the `precis` program with the model runtime (libtorch), which the `precis`
//! front executable hands model commands to. Run directly, it behaves as `precis`.

fn main() {
    precis::entry::main();
}
