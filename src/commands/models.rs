//! `precis models list | pull NAME | path NAME`: the presets and the local cache.

use anyhow::{anyhow, Result};

use crate::cli::ModelsCommand;
use crate::hub::{self, cache::HubSettings};

pub fn run(command: &ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { json } => list(*json),
        ModelsCommand::Pull { names } => {
            let settings = HubSettings::from_env(false, true);
            for name in names {
                let preset = hub::find_preset(name)?.ok_or_else(|| unknown(name))?;
                eprintln!("precis: fetching {} ({} @ {})", preset.name, preset.repo, short(&preset.revision));
                let files = hub::fetch_preset_files(&preset, &settings)?;
                println!("{}\t{}", preset.name, snapshot_dir(&files.config));
            }
            Ok(())
        }
        ModelsCommand::Path { name } => {
            let preset = hub::find_preset(name)?.ok_or_else(|| unknown(name))?;
            let settings = HubSettings::from_env(true, false);
            let files = hub::fetch_preset_files(&preset, &settings).map_err(|e| {
                anyhow!("{name} is not (fully) in the cache {} ({e}); run `precis models pull {name}` first", settings.cache_dir.display())
            })?;
            println!("{}", snapshot_dir(&files.config));
            Ok(())
        }
    }
}

fn list(json: bool) -> Result<()> {
    let settings = HubSettings::from_env(true, false);
    let presets = hub::presets()?;
    let cached = |preset: &hub::Preset| hub::fetch_preset_files(preset, &settings).is_ok();
    if json {
        let rows: Vec<serde_json::Value> = presets
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "repo": p.repo, "revision": p.revision, "architecture": p.architecture,
                    "license": p.license, "description": p.description, "window": p.window,
                    "default_for": default_roles(&p.name), "cached": cached(p),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{:<22} {:<44} {:<8} {:<13} {:<7} {}", "PRESET", "REPOSITORY @ REVISION", "ARCH", "LICENSE", "CACHED", "DEFAULT FOR");
    for p in &presets {
        println!(
            "{:<22} {:<44} {:<8} {:<13} {:<7} {}",
            p.name,
            format!("{} @ {}", p.repo, short(&p.revision)),
            p.architecture.name(),
            p.license,
            if cached(p) { "yes" } else { "no" },
            default_roles(&p.name)
        );
    }
    println!("\ncache: {}", settings.cache_dir.display());
    Ok(())
}

fn default_roles(name: &str) -> &'static str {
    if name == hub::DEFAULT_MODEL {
        "abstract, bullets"
    } else if name == hub::DEFAULT_HEADLINE_MODEL {
        "headline"
    } else {
        ""
    }
}

fn short(revision: &str) -> &str {
    if revision.len() == 40 { &revision[..7] } else { revision }
}

fn snapshot_dir(file: &std::path::Path) -> String {
    file.parent().map(|p| p.display().to_string()).unwrap_or_default()
}

fn unknown(name: &str) -> anyhow::Error {
    anyhow!("unknown preset '{name}'. Presets: {}", hub::preset_names())
}
