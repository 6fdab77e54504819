//! precis's side of scripts/parity_random.sh: runs `Seq2SeqModel::generate` on every case that
//! scripts/parity_random.py drew (a fixture model, a batch of input ids, decoding settings) and
//! compares the ids with transformers'. Prints the count of identical cases and each mismatch;
//! exits 1 if any case differs. Not part of the CLI.
//!
//! usage: parity_random CASES_JSON

use std::collections::HashMap;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use precis::engine::seq2seq::{GenerationSettings, ModelFiles, Seq2SeqModel};
use serde_json::Value;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, cases_path] = args.as_slice() else {
        return Err(anyhow!("usage: parity_random CASES_JSON"));
    };
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(cases_path).with_context(|| format!("cannot read {cases_path}"))?)?;
    let cases = cases["cases"].as_array().ok_or_else(|| anyhow!("{cases_path} has no cases"))?;
    // The fixture models are tiny: more libtorch threads only add synchronization.
    tch::set_num_threads(1);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
    let mut models: HashMap<String, Seq2SeqModel> = HashMap::new();
    let ids = |value: &Value| -> Result<Vec<i64>> {
        value.as_array().ok_or_else(|| anyhow!("ids must be a list"))?.iter().map(|id| id.as_i64().ok_or_else(|| anyhow!("bad id"))).collect()
    };
    let (mut identical, mut by_model) = (0usize, HashMap::<String, (usize, usize)>::new());
    for case in cases {
        let name = case["model"].as_str().ok_or_else(|| anyhow!("a case names no model"))?.to_string();
        if !models.contains_key(&name) {
            let files = ModelFiles::in_directory(&fixtures.join(&name))?;
            models.insert(name.clone(), Seq2SeqModel::load(&files, Some(""), None, tch::Device::Cpu)?);
        }
        let model = &models[&name];
        let inputs: Vec<Vec<i64>> = case["inputs"].as_array().ok_or_else(|| anyhow!("no inputs"))?.iter().map(&ids).collect::<Result<_>>()?;
        let expected: Vec<Vec<i64>> = case["ids"].as_array().ok_or_else(|| anyhow!("no ids"))?.iter().map(&ids).collect::<Result<_>>()?;
        let s = &case["settings"];
        let number = |key: &str| s[key].as_f64().ok_or_else(|| anyhow!("case {} has no {key}", case["index"]));
        let settings = GenerationSettings {
            min_tokens: number("min_length")? as u32,
            max_tokens: number("max_length")? as u32,
            beams: number("num_beams")? as u32,
            length_penalty: number("length_penalty")?,
            no_repeat_ngram: number("no_repeat_ngram_size")? as u32,
            early_stopping: s["early_stopping"].as_bool().unwrap_or(false),
        };
        let ours = model.generate(&inputs, &settings)?;
        let entry = by_model.entry(name.clone()).or_default();
        entry.1 += 1;
        if ours == expected {
            identical += 1;
            entry.0 += 1;
        } else {
            println!("case {} ({name}, {} inputs, {settings:?}) differs:", case["index"], inputs.len());
            for (row, (a, b)) in ours.iter().zip(&expected).enumerate() {
                if a != b {
                    println!("  row {row}\n    precis:       {a:?}\n    transformers: {b:?}");
                }
            }
        }
    }
    let mut names: Vec<_> = by_model.into_iter().collect();
    names.sort();
    for (name, (same, total)) in names {
        println!("{name:<16} {same:>5} / {total:<5} identical");
    }
    println!("identical ids: {identical} / {} cases", cases.len());
    if identical != cases.len() {
        std::process::exit(1);
    }
    Ok(())
}
