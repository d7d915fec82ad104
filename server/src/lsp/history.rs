//! The version history in the editor: versions are recorded on save and after every
//! evaluation (never per keystroke); a lens on the first line says which version the
//! file is, its tags, its score and the change against production; a hover there shows
//! the diff against production and the changelog; commands show the history, compare
//! with a version, restore one (a WorkspaceEdit) and promote (after a confirmation).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::analysis::{invalid_params, Snapshot};
use super::commands::{Command as LspCommand, VersionArgs};
use super::dispatch;
use super::navigation::{path_of, uri_of};
use super::state::Shared;
use promptls_core::store::{self, diff, SharedStore, Store};

/// The process's history of the workspace `path` is in, opened once.
fn open(path: &Path) -> std::result::Result<SharedStore, store::Error> {
    Store::shared(&promptls_core::config::find_root(path))
}

/// The history for reading only (lenses, hovers, comparisons): it may be read-only, and
/// reading creates no file.
fn open_for_reading(path: &Path) -> std::result::Result<SharedStore, store::Error> {
    Store::shared_for_reading(&promptls_core::config::find_root(path))
}

/// Records `text` of the prompt at `path` as a version (on save).
pub fn record_saved(path: &Path, text: &str) {
    if path.extension().is_none_or(|e| e != "prompt") {
        return;
    }
    match open(path).and_then(|s| s.with(|s| s.record(path, text, &store::Origin::Edit, None))) {
        Ok((n, true)) => tracing::info!("recorded {} as v{n}", path.display()),
        Ok(_) => {}
        Err(e) => tracing::warn!("history: {e}"),
    }
}

/// Records an evaluation's version and score.
pub fn record_evaluation(path: &Path, text: &str, report: &promptls_core::eval::run::Report) {
    let score = report.score();
    let result = open(path).and_then(|s| {
        s.with(|s| s.record_scored(path, text, &store::Origin::Edit, None, Some(&score)))
    });
    if let Err(e) = result {
        tracing::warn!("history: {e}");
    }
}

fn summary(path: &Path, text: &str) -> Option<store::Summary> {
    // Showing a lens must not create a history where there is none.
    let root = promptls_core::config::find_root(path);
    if !root.join(".promptls").join(store::FILE_NAME).is_file() {
        return None;
    }
    Store::shared_for_reading(&root)
        .ok()?
        .with(|s| s.summary(path, text))
        .ok()
        .flatten()
}

/// The history lens: `v12 · staging · exact_match 0.889 ▲0.222 vs production v9 · history`.
pub fn lens(snapshot: &Snapshot) -> Option<CodeLens> {
    let path = snapshot.path.as_ref()?;
    let s = summary(path, &snapshot.text)?;
    let mut parts = vec![s
        .number
        .map_or("unsaved changes".to_string(), |n| format!("v{n}"))];
    parts.extend(s.tags.iter().cloned());
    if let Some(score) = &s.score {
        let mut text = format!("{} {:.3}", score.metric, score.score);
        if let Some((n, Some(prod), _)) = &s.production {
            if Some(*n) != s.number {
                let delta = score.score - prod.score;
                let arrow = if delta >= 0.0 { "▲" } else { "▼" };
                text.push_str(&format!(" {arrow}{:.3} vs production v{n}", delta.abs()));
            }
        }
        parts.push(text);
    } else if let Some((n, _, _)) = &s.production {
        if Some(*n) != s.number {
            parts.push(format!("production v{n}"));
        }
    }
    parts.push("history".into());
    Some(CodeLens {
        range: Range::new(Position::new(0, 0), Position::new(0, 0)),
        command: Some(
            LspCommand::ShowHistory(VersionArgs {
                uri: snapshot.uri.clone(),
                version: None,
                tag: None,
            })
            .to_lsp(parts.join(" · ")),
        ),
        data: None,
    })
}

/// The hover on the first line: the changelog and diff against production.
pub fn hover(snapshot: &Snapshot) -> Option<Hover> {
    let path = snapshot.path.as_ref()?;
    let s = summary(path, &snapshot.text)?;
    let (n, prod_score, content) = s.production?;
    let d = diff::diff(
        &content,
        &snapshot.text,
        &prod_score.into_iter().collect::<Vec<_>>(),
        &s.score.into_iter().collect::<Vec<_>>(),
    );
    let this = s
        .number
        .map_or("the working file".to_string(), |v| format!("v{v}"));
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: format!(
                "**{this} against production v{n}**: {}\n\n```diff\n{}\n```",
                diff::changelog(&d),
                diff::render(&d, &format!("v{n}"), &this).trim_end()
            ),
        }),
        range: None,
    })
}

fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .iter()
        .map(|v| BARS[(v.clamp(0.0, 1.0) * 7.0).round() as usize])
        .collect()
}

/// The history as Markdown: a sparkline of scores and a table of versions.
pub fn history_markdown(path: &Path, text: &str) -> std::result::Result<String, String> {
    let versions = open_for_reading(path)?.with(|s| s.history(path, text))?;
    let scores: Vec<f64> = versions
        .iter()
        .filter_map(|v| v.scores.last().map(|s| s.score))
        .collect();
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let mut out = format!("# {name}: history\n\nscores {}\n\n| version | tags | origin | created | author | score | parents |\n|---|---|---|---|---|---|---|\n", sparkline(&scores));
    for v in versions.iter().rev() {
        out.push_str(&format!(
            "| v{} | {} | {} | {} | {} | {} | {} |\n",
            v.number,
            v.tags.join(", "),
            v.origin,
            v.created,
            v.author,
            v.scores
                .last()
                .map_or(String::new(), |s| format!("{} {:.3}", s.metric, s.score)),
            v.parents
                .iter()
                .map(|p| format!("v{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(out)
}

/// Writes `text` to a new read-only file in the system's temp folder whose name ends in
/// `name`. The name is random and the file created exclusively, so a link another user
/// planted under a guessable name is never followed.
pub fn temp_document(name: &str, text: &str) -> Option<PathBuf> {
    let safe: String = name
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let mut file = tempfile::Builder::new()
        .prefix("promptls-")
        .suffix(&format!("-{safe}"))
        .tempfile()
        .ok()?;
    std::io::Write::write_all(&mut file, text.as_bytes()).ok()?;
    let (_, path) = file.keep().ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444));
    }
    Some(path)
}

/// Shows `text` as a read-only document (a file under the system's temp folder, written
/// on the blocking pool) when the client can open documents.
async fn show_text(client: &tower_lsp_server::Client, name: &str, text: &str) {
    let (name, text) = (name.to_string(), text.to_string());
    let written = tokio::task::spawn_blocking(move || temp_document(&name, &text)).await;
    let Ok(Some(path)) = written else {
        return;
    };
    if let Some(uri) = uri_of(&path) {
        let _ = client
            .show_document(ShowDocumentParams {
                uri,
                external: None,
                take_focus: Some(true),
                selection: None,
            })
            .await;
    }
}

/// The number and content of the version `selector` names.
fn version_content(
    store: &Store,
    path: &Path,
    text: &str,
    selector: &str,
) -> std::result::Result<(i64, String), store::Error> {
    let n = store.resolve(path, text, selector)?;
    Ok((n, store.content(path, text, n)?))
}

/// The prompt's path, text and version (a file that is not open is read on the blocking
/// pool).
async fn path_and_text(state: &Shared, uri: &Uri) -> Result<(PathBuf, String, Option<i32>)> {
    let snapshot = dispatch::snapshot(state, uri).await?;
    let path = snapshot
        .path
        .clone()
        .or_else(|| path_of(uri))
        .ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    Ok((path, snapshot.text.to_string(), snapshot.version))
}

pub async fn show_history(
    client: &tower_lsp_server::Client,
    state: &Shared,
    args: VersionArgs,
) -> Result<Value> {
    let (path, text, _) = path_and_text(state, &args.uri).await?;
    let markdown = {
        let (path, text) = (path.clone(), text.clone());
        dispatch::blocking("promptls.showHistory", move || {
            history_markdown(&path, &text).map_err(invalid_params)
        })
        .await?
    };
    let name = path
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().into_owned());
    show_text(client, &format!("{name}.history.md"), &markdown).await;
    Ok(json!({"markdown": markdown}))
}

pub async fn compare(
    client: &tower_lsp_server::Client,
    state: &Shared,
    args: VersionArgs,
) -> Result<Value> {
    let (path, text, _) = path_and_text(state, &args.uri).await?;
    let selector = args.version.unwrap_or_else(|| "production".into());
    let (n, content) = {
        let (path, text) = (path.clone(), text.clone());
        dispatch::blocking("promptls.compareVersion", move || {
            open_for_reading(&path)
                .and_then(|s| s.with(|s| version_content(s, &path, &text, &selector)))
                .map_err(|e| invalid_params(e.to_string()))
        })
        .await?
    };
    let d = diff::diff(&content, &text, &[], &[]);
    let rendered = diff::render(&d, &format!("v{n}"), "working file");
    let name = path
        .file_name()
        .map_or(String::new(), |f| f.to_string_lossy().into_owned());
    show_text(client, &format!("{name}.v{n}.diff"), &rendered).await;
    Ok(json!({"changelog": diff::changelog(&d), "diff": rendered}))
}

pub async fn restore(
    client: &tower_lsp_server::Client,
    state: &Shared,
    args: VersionArgs,
) -> Result<Value> {
    let (path, text, version) = path_and_text(state, &args.uri).await?;
    let selector = args
        .version
        .ok_or_else(|| invalid_params("restore needs a `version`".into()))?;
    let (n, content) = {
        let (path, text) = (path.clone(), text.clone());
        dispatch::blocking("promptls.restoreVersion", move || {
            open(&path)
                .and_then(|s| s.with(|s| version_content(s, &path, &text, &selector)))
                .map_err(|e| invalid_params(e.to_string()))
        })
        .await?
    };
    let rope = ropey::Rope::from_str(&text);
    let encoding = super::state::lock(state).encoding;
    let whole = super::position::to_range(
        &rope,
        promptls_core::syntax::Span::new(0, text.len()),
        encoding,
    );
    let edit = WorkspaceEdit {
        document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier {
                uri: args.uri.clone(),
                version,
            },
            edits: vec![OneOf::Left(TextEdit {
                range: whole,
                new_text: content,
            })],
        }])),
        ..Default::default()
    };
    let applied = client
        .apply_edit(edit)
        .await
        .map(|r| r.applied)
        .unwrap_or(false);
    Ok(json!({"restored": n, "applied": applied}))
}

pub async fn promote(
    client: &tower_lsp_server::Client,
    state: &Shared,
    args: VersionArgs,
) -> Result<Value> {
    let (path, text, _) = path_and_text(state, &args.uri).await?;
    let tag = args.tag.unwrap_or_else(|| "production".into());
    // The store is not held across the confirmation below (it is the process's one).
    let (shared, n) = {
        let (path, text, version) = (path.clone(), text.clone(), args.version.clone());
        dispatch::blocking("promptls.promote", move || {
            let shared = open(&path).map_err(|e| invalid_params(e.to_string()))?;
            let n = shared
                .with(|s| match &version {
                    Some(selector) => s.resolve(&path, &text, selector),
                    None => s
                        .record(&path, &text, &store::Origin::Edit, None)
                        .map(|r| r.0),
                })
                .map_err(|e| invalid_params(e.to_string()))?;
            Ok((shared, n))
        })
        .await?
    };
    let name = path
        .file_name()
        .map_or(String::new(), |f| f.to_string_lossy().into_owned());
    let item = |t: &str| MessageActionItem {
        title: t.to_string(),
        properties: Default::default(),
    };
    let answer = client
        .show_message_request(
            MessageType::WARNING,
            format!("Promote {name} v{n} to {tag}?"),
            Some(vec![item("Promote"), item("Cancel")]),
        )
        .await
        .ok()
        .flatten();
    if answer.map(|a| a.title).as_deref() != Some("Promote") {
        return Ok(json!({"promoted": false}));
    }
    let moved = dispatch::blocking("promptls.promote", move || {
        shared
            .with(|s| s.promote(&path, &text, n, &tag))
            .map_err(|e| invalid_params(e.to_string()))
    })
    .await?;
    Ok(json!({"promoted": true, "tag": moved.tag, "to": moved.to, "from": moved.from}))
}
