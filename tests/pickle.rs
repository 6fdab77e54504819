//! The PyTorch pickle reader on its own (it needs the model runtime, so it runs in the
//! `--features model` build: scripts/test.sh): checkpoints torch.save wrote, a hostile pickle,
//! and truncated files.
#![cfg(feature = "model")]

mod common;

use std::collections::HashMap;

use common::{root, scratch};
use precis::hub::pickle;
use serde_json::Value;
use tch::Tensor;

/// The pickle reader on checkpoints torch.save wrote (zip and legacy format): the same tensors
/// as PyTorch holds, in every stored precision, views and shared storages included.
#[test]
fn pytorch_checkpoints_are_read_without_python() {
    let dir = root().join("tests/fixtures/pickles");
    let expected: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected")).expect("json");
    for file in ["state_dict.bin", "state_dict_legacy.bin"] {
        let tensors: HashMap<String, Tensor> = pickle::read_tensors(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e:#}")).into_iter().collect();
        let expected = expected.as_object().expect("object");
        assert_eq!(tensors.len(), expected.len(), "{file}: {:?}", tensors.keys().collect::<Vec<_>>());
        for (name, want) in expected {
            let tensor = &tensors[name];
            let kind = format!("{:?}", tensor.kind());
            let dtype = want["dtype"].as_str().expect("dtype");
            let same_kind = matches!((dtype, kind.as_str()), ("float32", "Float") | ("float16", "Half") | ("bfloat16", "BFloat16") | ("int64", "Int64"));
            assert!(same_kind, "{file} {name}: {kind} for {dtype}");
            let shape: Vec<i64> = want["shape"].as_array().expect("shape").iter().map(|d| d.as_i64().expect("dim")).collect();
            assert_eq!(tensor.size(), shape, "{file} {name}");
            let values: Vec<f64> = Vec::try_from(tensor.to_kind(tch::Kind::Double).flatten(0, -1)).expect("values");
            let want: Vec<f64> = want["values"].as_array().expect("values").iter().map(|v| v.as_f64().expect("number")).collect();
            assert_eq!(values, want, "{file} {name}");
        }
    }
    let error = pickle::read_tensors(&dir.join("foreign_global.bin")).expect_err("refused").to_string();
    assert!(error.contains("posix.system") && error.contains("foreign_global.bin"), "{error}");

    // Cut short: a clear error, not a crash.
    let scratch_dir = scratch("pickle-truncated");
    for file in ["state_dict.bin", "state_dict_legacy.bin"] {
        let bytes = std::fs::read(dir.join(file)).expect("read");
        let cut = scratch_dir.join(file);
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let error = pickle::read_tensors(&cut).expect_err("truncated").to_string();
        assert!(error.contains(file) && (error.contains("truncated") || error.contains("zip")), "{error}");
    }
}
