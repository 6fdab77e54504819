//! `precis models list | pull MODEL… | path MODEL`: the presets, any Hub repository by name
//! (`OWNER/NAME[@REVISION]`), and what the local cache holds.

use anyhow::{anyhow, Result};

use crate::cli::ModelsCommand;
use crate::hub::repo::{self, CachedModel, RepoSpec};
use crate::hub::{self, cache::HubSettings};

pub fn run(command: &ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { json } => list(*json),
        ModelsCommand::Pull { names } => {
            let settings = HubSettings::from_env(false, true);
            for name in names {
                if let Some(preset) = hub::find_preset(name)? {
                    eprintln!("precis: fetching {} ({} @ {})", preset.name, preset.repo, short(&preset.revision));
                    let files = hub::fetch_preset_files(&preset, &settings)?;
                    println!("{}\t{}", preset.name, repo::snapshot_dir(&files)?.display());
                    continue;
                }
                let spec = RepoSpec::parse(name).ok_or_else(|| unknown(name))?;
                eprintln!("precis: fetching {} ({})", spec.repo, spec.revision);
                // Asks the Hub what the revision points to now, even when the cache has a snapshot.
                let (commit, files) = repo::locate(&spec, &settings, true)?;
                eprintln!("precis: {} is commit {commit}; license: {}", spec.display(), repo::license_of(&files));
                println!("{name}\t{}", repo::snapshot_dir(&files)?.display());
            }
            Ok(())
        }
        ModelsCommand::Path { name } => {
            let settings = HubSettings::from_env(true, false);
            let not_cached = |e: anyhow::Error| {
                anyhow!("{name} is not (fully) in the cache {} ({e:#}); run `precis models pull {name}` first", settings.cache_dir.display())
            };
            let files = match hub::find_preset(name)? {
                Some(preset) => hub::fetch_preset_files(&preset, &settings).map_err(not_cached)?,
                None => {
                    let spec = RepoSpec::parse(name).ok_or_else(|| unknown(name))?;
                    repo::locate(&spec, &settings, false).map_err(not_cached)?.1
                }
            };
            println!("{}", repo::snapshot_dir(&files)?.display());
            Ok(())
        }
    }
}

fn list(json: bool) -> Result<()> {
    let settings = HubSettings::from_env(true, false);
    let presets = hub::presets()?;
    let cached = |preset: &hub::Preset| hub::fetch_preset_files(preset, &settings).is_ok();
    // Cached snapshots that are not a preset's pinned revision.
    let others: Vec<CachedModel> = repo::cached_models(&settings)
        .into_iter()
        .filter(|model| !presets.iter().any(|p| p.repo == model.repo && p.revision == model.commit))
        .collect();
    if json {
        let mut rows: Vec<serde_json::Value> = presets
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name, "preset": true, "repo": p.repo, "revision": p.revision, "architecture": p.architecture,
                    "license": p.license, "description": p.description, "window": p.window,
                    "default_for": default_roles(&p.name), "cached": cached(p),
                })
            })
            .collect();
        rows.extend(others.iter().map(|m| {
            serde_json::json!({
                "name": format!("{}@{}", m.repo, m.commit), "preset": false, "repo": m.repo, "revision": m.commit, "refs": m.refs,
                "architecture": m.model_type, "license": m.license, "cached": true, "path": m.snapshot,
            })
        }));
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{:<22} {:<44} {:<8} {:<13} {:<7} {}", "PRESET", "REPOSITORY @ REVISION", "ARCH", "LICENSE", "CACHED", "DEFAULT FOR");
    for p in &presets {
        println!(
            "{:<22} {:<44} {:<8} {:<13} {:<7} {}",
            p.name,
            format!("{} @ {}", p.repo, short(&p.revision)),
            p.architecture,
            p.license,
            if cached(p) { "yes" } else { "no" },
            default_roles(&p.name)
        );
    }
    if !others.is_empty() {
        println!("\nother cached models (use them as --model OWNER/NAME[@REVISION]):");
        println!("{:<52} {:<8} {:<28} {}", "REPOSITORY @ COMMIT", "ARCH", "LICENSE (model card)", "REFS");
        for m in &others {
            println!("{:<52} {:<8} {:<28} {}", format!("{} @ {}", m.repo, short(&m.commit)), m.model_type, m.license, m.refs.join(", "));
        }
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

fn unknown(name: &str) -> anyhow::Error {
    anyhow!("unknown model '{name}': not a preset ({}) and not a Hub repository name (OWNER/NAME or OWNER/NAME@REVISION)", hub::preset_names())
}
