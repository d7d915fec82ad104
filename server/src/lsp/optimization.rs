//! Optimizations in the editor: the "Optimize: …" code actions and the "⚡ Optimize" lens
//! start `optimize::job` in the background (one per file) with work-done progress (trial
//! count and best score) that the user can cancel while they keep editing. When it ends
//! the user is asked to apply the result or to see the diff first; applying is a
//! WorkspaceEdit over the parts the job owns (the instruction and the demos) of the
//! file as it is then, so edits made meanwhile elsewhere in the file survive. Only a
//! result that scores better than the start is offered; a job that found none, or was
//! cancelled or failed, leaves the file untouched and says why (and that a budget,
//! `promptls.optimizer: {max_calls, max_cost}`, stopped it).

use std::path::Path;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::analysis::{invalid_params, Snapshot};
use super::commands::{Command as LspCommand, OptimizeArgs, UriArgs};
use super::evaluation::{client_for, workspace_config};
use super::navigation::uri_of;
use super::position;
use super::progress::{self, file_name, refresh_lenses, Begun, Done, Progress};
use super::state::{lock, Shared};
use promptls_core::jobs::{JobContext, JobKey, Kind, Status};
use promptls_core::optimize::job::{self, JobError, Optimizer, Outcome, Request};
use promptls_core::optimize::session::{Limit, Stop, Trial};

/// The code actions offered on a prompt with a dataset.
pub fn actions(snapshot: &Snapshot) -> Vec<CodeActionOrCommand> {
    if snapshot.analysis().settings().dataset.is_none() {
        return Vec::new();
    }
    promptls_core::settings::OPTIMIZERS
        .iter()
        .filter_map(|o| Some((o.action?, o.name)))
        .map(|(title, optimizer)| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.to_string(),
                kind: Some(CodeActionKind::REFACTOR_REWRITE),
                command: Some(
                    LspCommand::Optimize(OptimizeArgs {
                        uri: snapshot.uri.clone(),
                        optimizer: Some(optimizer.to_string()),
                    })
                    .to_lsp(title),
                ),
                ..Default::default()
            })
        })
        .collect()
}

/// The lens next to "▶ Evaluate".
pub fn lens(state: &Shared, snapshot: &Snapshot) -> Option<CodeLens> {
    let path = snapshot.path.as_ref()?;
    let running = lock(state).jobs.status(&key(path));
    let (title, command) = match running {
        Some((_, status)) => (
            format!("■ Cancel optimization (trial {})", status.done),
            LspCommand::CancelOptimization(UriArgs::of(&snapshot.uri)),
        ),
        None => (
            "⚡ Optimize".to_string(),
            LspCommand::Optimize(OptimizeArgs {
                uri: snapshot.uri.clone(),
                optimizer: None,
            }),
        ),
    };
    Some(CodeLens {
        range: Range::new(Position::new(0, 0), Position::new(0, 0)),
        command: Some(command.to_lsp(title)),
        data: None,
    })
}

pub fn cancel(state: &Shared, uri: &Uri) -> Result<Value> {
    let path = super::navigation::path_of(uri)
        .ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    let cancelled = lock(state).jobs.cancel(&key(&path));
    Ok(json!({"cancelled": cancelled}))
}

/// Starts an optimization of `args.uri`.
pub async fn start(
    client: tower_lsp_server::Client,
    state: Shared,
    args: OptimizeArgs,
) -> Result<Value> {
    let snapshot = super::dispatch::snapshot(&state, &args.uri).await?;
    let path = snapshot
        .path
        .clone()
        .ok_or_else(|| invalid_params(format!("{} is not a file", args.uri.as_str())))?;
    let optimizer = match args.optimizer.as_deref() {
        None => None,
        Some(name) => Some(Optimizer::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = promptls_core::settings::optimizer_names().collect();
            invalid_params(format!("unknown optimizer `{name}` ({})", known.join(", ")))
        })?),
    };
    let text = snapshot.text.to_string();
    let uri = args.uri.clone();
    let begun = Begun::default();
    let jobs = lock(&state).jobs.clone();
    let job = {
        let (client, state, path, text, begun) = (
            client.clone(),
            state.clone(),
            path.clone(),
            text.clone(),
            begun.clone(),
        );
        jobs.start(key(&path), move |ctx| async move {
            optimize(&client, &state, &path, &text, optimizer, &ctx, &begun).await
        })
    };
    let Ok(job) = job else {
        return Ok(
            json!({"started": false, "reason": "an optimization of this prompt is already running"}),
        );
    };
    tokio::spawn(async move {
        let Some(outcome) = progress::follow(&client, &state, job, &begun).await else {
            return;
        };
        refresh_lenses(&client, &state).await;
        let name = file_name(&path);
        match outcome {
            Ok(outcome) if outcome.stopped == Some(Limit::Cancelled) => {
                client
                    .show_message(
                        MessageType::INFO,
                        format!("{name}: optimization cancelled; the file is untouched"),
                    )
                    .await
            }
            Ok(outcome) if outcome.improved() => {
                offer(&client, &state, &uri, &path, &text, outcome).await
            }
            Ok(outcome) => {
                // No improvement: nothing to apply.
                client
                    .show_message(
                        MessageType::INFO,
                        format!(
                            "{name}: {} found no improvement on {} {:.3}{}; the file is untouched",
                            outcome.optimizer.name(),
                            outcome.metric,
                            outcome.baseline,
                            outcome
                                .stop_note()
                                .map_or(String::new(), |n| format!(" ({n})"))
                        ),
                    )
                    .await
            }
            Err(JobError::Stopped(Stop::Cancelled)) => {
                client
                    .show_message(
                        MessageType::INFO,
                        format!("{name}: optimization cancelled; the file is untouched"),
                    )
                    .await
            }
            Err(e) => {
                client
                    .show_message(
                        MessageType::ERROR,
                        format!("{name}: optimization failed: {e}; the file is untouched"),
                    )
                    .await
            }
        }
    });
    Ok(json!({"started": true}))
}

/// The key of the optimization of the prompt at `path`.
fn key(path: &Path) -> JobKey {
    JobKey {
        path: path.to_path_buf(),
        kind: Kind::Optimization,
    }
}

/// The optimization job.
async fn optimize(
    client: &tower_lsp_server::Client,
    state: &Shared,
    path: &Path,
    text: &str,
    optimizer: Option<Optimizer>,
    ctx: &JobContext,
    begun: &Begun,
) -> Done<std::result::Result<Outcome, JobError>> {
    let prepared = {
        let state = state.clone();
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> std::result::Result<_, String> {
            let config = workspace_config(&state, &path)?;
            let llm = client_for(&state, &config)?;
            Ok((config, llm))
        })
        .await
    };
    let (config, llm) = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(e)) => return not_started(JobError::Usage(e)),
        Err(e) => return not_started(JobError::Usage(e.to_string())),
    };
    let progress = Progress::create(client, state, "optimize", ctx.id()).await;
    let _ = begun.set(progress.clone());
    refresh_lenses(client, state).await;
    let name = file_name(path);
    progress
        .begin(
            format!("Optimizing {name}"),
            format!(
                "{} · scoring the prompt as it is",
                optimizer.map_or("optimizer from the file", Optimizer::name)
            ),
        )
        .await;
    promptls_core::jobs::test_fault();
    // Each trial reports the job's status, which `follow` sends as progress.
    let on_trial = |count: usize, best: f64, trial: &Trial| {
        ctx.report(Status {
            done: count,
            total: 0,
            message: Some(format!(
                "trial {count} · {} {:.3}{} · best {:.3}",
                trial.label,
                trial.score,
                if trial.minibatch { " (minibatch)" } else { "" },
                best.max(0.0)
            )),
            best: Some(best),
        });
    };
    let request = Request {
        optimizer,
        ..Request::default()
    };
    let cancel = ctx.cancel_token().clone();
    let result = job::run(path, text, &config, &llm, &request, cancel, &on_trial).await;
    let end = match &result {
        Ok(o) if o.stopped == Some(Limit::Cancelled) => "cancelled".to_string(),
        Ok(o) => {
            let mut end = format!("{} {:.3} → {:.3}", o.metric, o.baseline, o.score);
            if let Some(note) = o.stop_note() {
                end.push_str(&format!("; {note}"));
            }
            if !o.improved() {
                end.push_str("; no improvement found");
            }
            end
        }
        Err(JobError::Stopped(Stop::Cancelled)) => "cancelled".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    Done { end, value: result }
}

/// A job that could not start: it has no progress to end.
fn not_started(error: JobError) -> Done<std::result::Result<Outcome, JobError>> {
    Done {
        end: String::new(),
        value: Err(error),
    }
}

/// Asks whether to apply the result, showing the diff first if asked.
async fn offer(
    client: &tower_lsp_server::Client,
    state: &Shared,
    uri: &Uri,
    path: &Path,
    started_from: &str,
    outcome: Outcome,
) {
    let name = file_name(path);
    let calls: u64 = outcome.usage.values().map(|u| u.calls).sum();
    let cost: f64 = outcome.usage.values().map(|u| u.cost_usd).sum();
    let summary = format!(
        "{name}: {} raised {} from {:.3} to {:.3} ({calls} calls, {}{}).",
        outcome.optimizer.name(),
        outcome.metric,
        outcome.baseline,
        outcome.score,
        promptls_core::eval::run::dollars(cost),
        outcome
            .stop_note()
            .map_or(String::new(), |n| format!("; {n}"))
    );
    let item = |t: &str| MessageActionItem {
        title: t.to_string(),
        properties: Default::default(),
    };
    let mut choice = client
        .show_message_request(
            MessageType::INFO,
            format!("{summary} Apply it?"),
            Some(vec![item("Apply"), item("Show diff"), item("Discard")]),
        )
        .await
        .ok()
        .flatten()
        .map(|a| a.title);
    if choice.as_deref() == Some("Show diff") {
        let new_source = outcome
            .program
            .apply(started_from)
            .map(|t| job::with_split(&t, &outcome.split))
            .unwrap_or_default();
        let diff = similar::TextDiff::from_lines(started_from, &new_source)
            .unified_diff()
            .context_radius(3)
            .header(&name, &format!("{name} (optimized)"))
            .to_string();
        if let Some(diff_path) = super::history::temp_document(&format!("{name}.diff"), &diff) {
            if let Some(diff_uri) = uri_of(&diff_path) {
                let _ = client
                    .show_document(ShowDocumentParams {
                        uri: diff_uri,
                        external: None,
                        take_focus: Some(true),
                        selection: None,
                    })
                    .await;
            }
        }
        choice = client
            .show_message_request(
                MessageType::INFO,
                format!("{summary} Apply it?"),
                Some(vec![item("Apply"), item("Discard")]),
            )
            .await
            .ok()
            .flatten()
            .map(|a| a.title);
    }
    if choice.as_deref() != Some("Apply") {
        return;
    }
    // The file as it is now: the open document, else the disk.
    let (current, version) = match super::dispatch::snapshot(state, uri).await {
        Ok(s) => (s.text.to_string(), s.version),
        Err(_) => return,
    };
    // With the split the optimizer made itself, so that evaluations score the same
    // validation rows.
    let updated = match outcome.program.apply(&current) {
        Ok(u) => job::with_split(&u, &outcome.split),
        Err(e) => {
            client
                .show_message(
                    MessageType::ERROR,
                    format!(
                        "{name}: cannot apply the optimized prompt to the file as it is now: {e}"
                    ),
                )
                .await;
            return;
        }
    };
    let Some(edit) = minimal_edit(state, &current, &updated) else {
        return;
    };
    let document = OptionalVersionedTextDocumentIdentifier {
        uri: uri.clone(),
        version,
    };
    let workspace_edit = WorkspaceEdit {
        document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
            text_document: document,
            edits: vec![OneOf::Left(edit)],
        }])),
        ..Default::default()
    };
    match client.apply_edit(workspace_edit).await {
        Ok(r) if r.applied => {
            // The result enters the history as the optimizer's child of where it began.
            let (path, start, result) = (path.to_path_buf(), started_from.to_string(), updated);
            let _ =
                tokio::task::spawn_blocking(move || record(&path, &start, &result, &outcome)).await;
        }
        Ok(r) => {
            client
                .show_message(
                    MessageType::WARNING,
                    format!(
                        "{name}: the editor did not apply the optimized prompt{}",
                        r.failure_reason.map_or(String::new(), |w| format!(": {w}"))
                    ),
                )
                .await
        }
        Err(e) => tracing::warn!("applying the optimized prompt: {e}"),
    }
}

/// Records the starting text and the applied result (see `Outcome::record`), in the
/// process's store of the workspace (the one the history commands and lenses use).
/// Blocking: SQLite; run on the blocking pool.
fn record(path: &Path, start: &str, result: &str, outcome: &Outcome) {
    let recorded = promptls_core::store::Store::shared(&promptls_core::config::find_root(path))
        .and_then(|store| store.with(|store| outcome.record(store, path, start, Some(result))));
    if let Err(e) = recorded {
        tracing::warn!("history: {e}");
    }
}

/// One edit turning `old` into `new`: the span between their common prefix and suffix.
fn minimal_edit(state: &Shared, old: &str, new: &str) -> Option<TextEdit> {
    if old == new {
        return None;
    }
    let prefix = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((i, _), _)| i);
    let suffix = old[prefix..]
        .chars()
        .rev()
        .zip(new[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum::<usize>();
    let (old_end, new_end) = (old.len() - suffix, new.len() - suffix);
    let rope = ropey::Rope::from_str(old);
    let encoding = lock(state).encoding;
    let range = position::to_range(
        &rope,
        promptls_core::syntax::Span::new(prefix, old_end),
        encoding,
    );
    Some(TextEdit {
        range,
        new_text: new[prefix..new_end].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_covers_only_what_changed() {
        let state: Shared = std::sync::Arc::default();
        let e = minimal_edit(&state, "a\nbé\nc\n", "a\nbéX\nc\n").unwrap();
        assert_eq!(e.new_text, "X");
        assert_eq!((e.range.start.line, e.range.start.character), (1, 2));
        assert_eq!(e.range.start, e.range.end);
        assert!(minimal_edit(&state, "same", "same").is_none());
        let e = minimal_edit(&state, "abc", "").unwrap();
        assert_eq!((e.range.end.character, e.new_text.as_str()), (3, ""));
    }
}
