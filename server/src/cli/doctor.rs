//! `promptls doctor [PATH]`: what a run in this workspace would use: the configuration
//! files, which providers have keys (never the keys), whether each endpoint answers, and
//! the limits calls run under. Exit 1 when a provider a prompt uses has no key or does
//! not answer.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::Args;

use super::files;
use promptls_core::config::{self, Config};
use promptls_core::llm::provider::{self, Provider};

#[derive(Args)]
pub struct DoctorArgs {
    /// A file or folder in the workspace (default: the current folder).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Do not contact the endpoints.
    #[arg(long)]
    offline: bool,
}

pub fn run(args: DoctorArgs) -> i32 {
    let config = match Config::load(&args.path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let used = used_providers(&config);
    println!("workspace  {}", config.root.display());
    let toml = config.root.join(config::FILE_NAME);
    println!(
        "config     {}",
        if toml.is_file() {
            toml.display().to_string()
        } else {
            format!("no {} (defaults)", config::FILE_NAME)
        }
    );
    let dotenv = config.root.join(".env");
    println!(
        "env file   {}",
        if dotenv.is_file() {
            dotenv.display().to_string()
        } else {
            "no .env".to_string()
        }
    );
    println!("cache      {}", config.cache_path().display());
    println!("trust      {}", config.trust.describe(&config.root));
    println!();

    // Every provider a prompt uses or the configuration names, and every known one with
    // a key in reach.
    let mut names: BTreeSet<String> = used.iter().cloned().collect();
    names.extend(config.file.providers.keys().cloned());
    for name in provider::known_names() {
        if let Ok(p) = config.provider(name) {
            if p.key.is_some() {
                names.insert(name.to_string());
            }
        }
    }
    // A route the untrusted workspace chose for one of your keys: say so and contact
    // nothing (exit 2, as every command that would call a model).
    let refusals: Vec<String> = names
        .iter()
        .filter_map(|name| config.provider(name).ok()?.refused.map(|r| r.to_string()))
        .collect();
    if !refusals.is_empty() {
        for refusal in &refusals {
            eprintln!("error: {refusal}");
        }
        eprintln!("no endpoint was contacted");
        return 2;
    }
    let client = config.client(true).ok();
    let mut trouble = 0;
    println!(
        "{:<11}{:<8}{:<34}{:<28}endpoint",
        "provider", "used", "key", "limits"
    );
    for name in &names {
        let is_used = used.contains(name);
        let provider = match config.provider(name) {
            Ok(p) => p,
            Err(e) => {
                println!("{name:<11}{:<8}{e}", if is_used { "yes" } else { "" });
                trouble += usize::from(is_used);
                continue;
            }
        };
        let key = key_status(&config, &provider);
        let limits = config.limits_for(name);
        let limits_text = format!(
            "{} rpm, {} tpm, {} at once",
            limits.rpm.map_or("no".to_string(), |r| r.to_string()),
            limits.tpm.map_or("no".to_string(), |t| t.to_string()),
            limits.concurrency
        );
        let endpoint = if args.offline {
            "not checked (--offline)".to_string()
        } else if let Some(client) = &client {
            match runtime.block_on(client.probe(&provider)) {
                Ok(status) if (200..300).contains(&status) => {
                    format!("answers ({} HTTP {status})", provider.base_url)
                }
                Ok(401 | 403) => {
                    trouble += usize::from(is_used);
                    format!("refuses the key ({} HTTP 401/403)", provider.base_url)
                }
                Ok(status) => format!("answers with HTTP {status} ({})", provider.base_url),
                Err(e) => {
                    trouble += usize::from(is_used);
                    e.to_string()
                }
            }
        } else {
            "not checked (the cache cannot be opened)".to_string()
        };
        if is_used && provider.key.is_none() && config.needs_key(name) {
            trouble += 1;
        }
        println!(
            "{name:<11}{:<8}{key:<34}{limits_text:<28}{endpoint}",
            if is_used { "yes" } else { "" }
        );
    }
    if names.is_empty() {
        println!("(no provider used or configured)");
    }
    if trouble > 0 {
        println!("\n{trouble} problem(s) with providers the workspace's prompts use");
        1
    } else {
        0
    }
}

fn key_status(config: &Config, provider: &Provider) -> String {
    match (&provider.key, &provider.key_env) {
        (Some(_), Some(var)) => format!(
            "set (${var}, {})",
            config.var_source(var).unwrap_or("environment")
        ),
        (None, Some(var)) if config.needs_key(&provider.name) => format!("missing (${var})"),
        _ => "not needed".to_string(),
    }
}

/// Providers named by the `model`, `promptls.teacher` and `promptls.judge` of the
/// workspace's prompts (aliases resolved).
fn used_providers(config: &Config) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let Ok(paths) = files::collect(std::slice::from_ref(&config.root)) else {
        return used;
    };
    for path in paths {
        let Ok(Ok(source)) = std::fs::read(&path).map(files::decode) else {
            continue;
        };
        let analysis = promptls_core::analysis::Analysis::new(&source, Some(&path));
        for model in analysis.models() {
            if let Some((name, _)) = provider::split_model(config.resolve_model(model)) {
                used.insert(name.to_string());
            }
        }
    }
    used
}
