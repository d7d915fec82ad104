//! `promptls history`, `diff`, `promote` and `restore`: the version history of a prompt
//! (`store`), from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::files;
use promptls_core::store::{self, diff, SharedStore, Store};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// The .prompt file; or `export` (the whole history as JSON on stdout) or `import
    /// FILE.json` (merge an export).
    file: PathBuf,
    /// For `import`: the export to merge.
    input: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Args)]
pub struct DiffArgs {
    /// The .prompt file.
    file: PathBuf,
    /// From: a version (v3, a tag, a hash prefix); default `production`, else the
    /// previous version.
    from: Option<String>,
    /// To: a version; default the working file.
    to: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the changelog sentence offline (deterministic) even when a teacher model is
    /// configured.
    #[arg(long)]
    offline: bool,
}

#[derive(Args)]
pub struct PromoteArgs {
    /// The .prompt file.
    file: PathBuf,
    /// The version to tag (v3, a tag, a hash prefix, head).
    version: String,
    /// The tag: production, staging, or your own.
    #[arg(long, default_value = "production")]
    tag: String,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The .prompt file.
    file: PathBuf,
    /// The version whose content the file gets back.
    version: String,
}

type Failure = (i32, String);

fn read(path: &Path) -> Result<String, Failure> {
    files::read_prompt(path).map_err(|e| (2, e.to_string()))
}

fn open(path: &Path) -> Result<(SharedStore, String), Failure> {
    let source = read(path)?;
    let root = promptls_core::config::find_root(path);
    let store = Store::shared(&root).map_err(|e| (2, e.to_string()))?;
    Ok((store, source))
}

/// As `open`, for commands that only read the history (it may be read-only, or absent).
fn open_for_reading(path: &Path) -> Result<(SharedStore, String), Failure> {
    let source = read(path)?;
    let root = promptls_core::config::find_root(path);
    let store = Store::shared_for_reading(&root).map_err(|e| (2, e.to_string()))?;
    Ok((store, source))
}

fn finish(result: Result<String, Failure>) -> i32 {
    match result {
        Ok(out) => {
            if std::io::stdout().write_all(out.as_bytes()).is_err() {
                return 2;
            }
            0
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

/// Eight levels of a sparkline.
fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|v| BARS[((v.clamp(0.0, 1.0) * 7.0).round()) as usize])
        .collect()
}

pub fn history(args: HistoryArgs) -> i32 {
    match args.file.to_str() {
        Some("export") if !args.file.exists() => return export(),
        Some("import") if !args.file.exists() => return import(args.input.as_deref()),
        _ => {}
    }
    finish((|| {
        let (shared, source) = open_for_reading(&args.file)?;
        shared.with(|store| {
        let versions = store
            .history(&args.file, &source)
            .map_err(|e| (2, e.to_string()))?;
        let moves = store
            .tag_moves(&args.file, &source)
            .map_err(|e| (2, e.to_string()))?;
        let working = store::content_hash(&source);
        Ok(match args.format {
            Format::Json => {
                // Serialised straight from the versions (10,000 of them are common).
                #[derive(serde::Serialize)]
                struct Out<'a> {
                    file: String,
                    identity: String,
                    working_hash: &'a str,
                    versions: &'a [store::Version],
                    tag_moves: &'a [store::TagMove],
                }
                let out = Out {
                    file: args.file.display().to_string(),
                    identity: store::identity(store.root(), &args.file, &source),
                    working_hash: &working,
                    versions: &versions,
                    tag_moves: &moves,
                };
                serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
            }
            Format::Human => {
                if versions.is_empty() {
                    return Ok(format!(
                        "{}: no history yet (`promptls eval` or saving in the editor records versions)\n",
                        args.file.display()
                    ));
                }
                let mut out = String::new();
                let first_score: Vec<f64> = versions
                    .iter()
                    .filter_map(|v| v.scores.last().map(|s| s.score))
                    .collect();
                out.push_str(&format!(
                    "{}: {} versions  {}\n\n",
                    args.file.display(),
                    versions.len(),
                    sparkline(&first_score)
                ));
                for v in versions.iter().rev() {
                    let score = v
                        .scores
                        .last()
                        .map_or(String::new(), |s| format!("{} {:.3}", s.metric, s.score));
                    let tags = if v.tags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", v.tags.join(", "))
                    };
                    let parents = v
                        .parents
                        .iter()
                        .map(|p| format!("v{p}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    out.push_str(&format!(
                        "v{:<4}{} {:<10} {:<20} {:<24} {:<22} ← {}{tags}\n",
                        v.number,
                        if v.hash == working { "*" } else { " " },
                        v.origin,
                        &v.created[..v.created.len().min(19)],
                        v.author,
                        score,
                        if parents.is_empty() {
                            "—".into()
                        } else {
                            parents
                        },
                    ));
                }
                out
            }
        })
        })
    })())
}

/// The content and label of a version selector, or of the working file (`None`).
fn side(
    store: &Store,
    file: &Path,
    source: &str,
    selector: Option<&str>,
) -> Result<(String, String, Vec<store::Score>), Failure> {
    match selector {
        None => Ok((source.to_string(), "working file".into(), Vec::new())),
        Some(s) => {
            let n = store
                .resolve(file, source, s)
                .map_err(|e| (2, e.to_string()))?;
            let content = store
                .content(file, source, n)
                .map_err(|e| (2, e.to_string()))?;
            let scores = store
                .history(file, source)
                .map_err(|e| (2, e.to_string()))?
                .into_iter()
                .find(|v| v.number == n)
                .map(|v| v.scores)
                .unwrap_or_default();
            Ok((content, format!("v{n}"), scores))
        }
    }
}

pub fn diff(args: DiffArgs) -> i32 {
    finish((|| {
        let (shared, source) = open_for_reading(&args.file)?;
        shared.with(|store| {
            let from = match &args.from {
                Some(s) => s.clone(),
                None => match store.resolve(&args.file, &source, "production") {
                    Ok(n) => format!("v{n}"),
                    Err(_) => {
                        let versions = store
                            .history(&args.file, &source)
                            .map_err(|e| (2, e.to_string()))?;
                        let working = store::content_hash(&source);
                        let previous = versions.iter().rev().find(|v| v.hash != working);
                        match previous {
                            Some(v) => format!("v{}", v.number),
                            None => {
                                return Err((
                                    2,
                                    format!(
                                        "{} has no earlier version to compare with",
                                        args.file.display()
                                    ),
                                ))
                            }
                        }
                    }
                },
            };
            let (before, from_label, from_scores) = side(store, &args.file, &source, Some(&from))?;
            let (after, to_label, to_scores) =
                side(store, &args.file, &source, args.to.as_deref())?;
            // The working file has the scores of the version with its content, if any.
            let to_scores = if args.to.is_none() {
                let working = store::content_hash(&source);
                store
                    .history(&args.file, &source)
                    .map_err(|e| (2, e.to_string()))?
                    .into_iter()
                    .find(|v| v.hash == working)
                    .map(|v| v.scores)
                    .unwrap_or(to_scores)
            } else {
                to_scores
            };
            let d = diff::diff(&before, &after, &from_scores, &to_scores);
            let (changelog, source_of) = if args.offline {
                (diff::changelog(&d), "offline".to_string())
            } else {
                model_changelog(&args.file, &source, &d, &from_label, &to_label)
            };
            Ok(match args.format {
                Format::Json => {
                    serde_json::to_string_pretty(&json!({
                        "from": from_label,
                        "to": to_label,
                        "changelog": changelog,
                        "changelog_by": source_of,
                        "diff": d,
                    }))
                    .unwrap_or_default()
                        + "\n"
                }
                Format::Human => {
                    let rendered = diff::render(&d, &from_label, &to_label);
                    if source_of == "offline" {
                        rendered
                    } else {
                        format!("{rendered}\nchangelog ({source_of}): {changelog}\n")
                    }
                }
            })
        })
    })())
}

const CHANGELOG: &str = "You write changelogs for prompt versions. Given what changed between two versions of a prompt, reply with one sentence (at most 25 words, past tense) saying what changed and, if given, how the score moved. Reply with the sentence only.";

/// The changelog sentence by the prompt's teacher (`promptls.teacher`) through the cached
/// client, else the deterministic one; and who wrote it.
fn model_changelog(
    file: &Path,
    source: &str,
    d: &diff::PromptDiff,
    from: &str,
    to: &str,
) -> (String, String) {
    let offline = || (diff::changelog(d), "offline".to_string());
    let settings = promptls_core::settings::PromptSettings::of_source(source);
    let teacher = promptls_core::settings::value(&settings.teacher).cloned();
    let Some(teacher) = teacher else {
        return offline();
    };
    let Ok(config) = promptls_core::config::Config::load(file) else {
        return offline();
    };
    let model = config.resolve_model(&teacher).to_string();
    let Some((provider_name, model_name)) = promptls_core::llm::provider::split_model(&model)
    else {
        return offline();
    };
    let Ok(provider) = config.provider(provider_name) else {
        return offline();
    };
    if provider.refused.is_some() || (provider.key.is_none() && config.needs_key(provider_name)) {
        return offline();
    }
    let Ok(client) = config.client(true) else {
        return offline();
    };
    let mut settings = serde_json::Map::new();
    settings.insert("temperature".into(), json!(0));
    let request = promptls_core::llm::wire::ChatRequest {
        model: model_name.to_string(),
        messages: vec![
            json!({"role": "system", "content": [{"text": CHANGELOG}]}),
            json!({"role": "user", "content": [{"text": diff::render(d, from, to)}]}),
        ],
        config: settings,
        json_output: false,
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return offline();
    };
    match runtime.block_on(client.chat(&provider, &request)) {
        Ok(answer) if !answer.response.text.trim().is_empty() => (
            answer.response.text.trim().to_string(),
            format!("model {model}"),
        ),
        Ok(_) => offline(),
        Err(e) => {
            eprintln!("warning: the teacher could not write the changelog ({e}); written offline");
            offline()
        }
    }
}

pub fn promote(args: PromoteArgs) -> i32 {
    finish((|| {
        let (shared, source) = open(&args.file)?;
        shared.with(|store| {
            let n = store
                .resolve(&args.file, &source, &args.version)
                .map_err(|e| (2, e.to_string()))?;
            let moved = store
                .promote(&args.file, &source, n, &args.tag)
                .map_err(|e| (1, e.to_string()))?;
            Ok(format!(
                "{}: {} → v{}{} (by {} at {})\n",
                args.file.display(),
                moved.tag,
                moved.to,
                moved.from.map_or(String::new(), |f| format!(", was v{f}")),
                moved.author,
                moved.at
            ))
        })
    })())
}

pub fn restore(args: RestoreArgs) -> i32 {
    finish((|| {
        let (shared, source) = open(&args.file)?;
        shared.with(|store| {
            // The working file is recorded first, so nothing unsaved in the history is lost.
            store
                .record(&args.file, &source, &store::Origin::Edit, None)
                .map_err(|e| (1, e.to_string()))?;
            let n = store
                .resolve(&args.file, &source, &args.version)
                .map_err(|e| (2, e.to_string()))?;
            let content = store
                .content(&args.file, &source, n)
                .map_err(|e| (2, e.to_string()))?;
            files::write_atomically(&args.file, &content).map_err(|e| (1, e.to_string()))?;
            store
                .set_head(&args.file, &content, n)
                .map_err(|e| (1, e.to_string()))?;
            Ok(format!("{}: restored v{n}\n", args.file.display()))
        })
    })())
}

fn export() -> i32 {
    finish((|| {
        let root = promptls_core::config::find_root(Path::new("."));
        let value = Store::shared_for_reading(&root)
            .and_then(|s| s.with(|s| s.export()))
            .map_err(|e| (2, e.to_string()))?;
        Ok(serde_json::to_string_pretty(&value).unwrap_or_default() + "\n")
    })())
}

fn import(input: Option<&Path>) -> i32 {
    finish((|| {
        let input = input.ok_or((
            2,
            "import needs the export file: promptls history import FILE.json".to_string(),
        ))?;
        let text = std::fs::read_to_string(input)
            .map_err(|e| (2, format!("cannot read {}: {e}", input.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| (2, format!("{}: not JSON: {e}", input.display())))?;
        let root = promptls_core::config::find_root(Path::new("."));
        let shared = Store::shared(&root).map_err(|e| (2, e.to_string()))?;
        let (added, known) = shared
            .with(|s| s.import(&value))
            .map_err(|e| (1, format!("{}: {e}", input.display())))?;
        Ok(format!(
            "imported {added} versions ({known} already here)\n"
        ))
    })())
}
