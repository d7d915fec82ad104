//! The evaluation as a job of the core's engine: planned on the blocking pool, run with
//! `eval::run`, its rows reported as the job's status (sent as work-done progress by
//! `progress::follow`), and what the editor does once it has ended.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::rows::publish_rows;
use super::{client_for, key, workspace_config};
use crate::lsp::analysis::invalid_params;
use crate::lsp::commands::EvaluateArgs;
use crate::lsp::progress::{self, refresh_lenses, Begun, Done, Progress};
use crate::lsp::state::{lock, Shared};
use promptls_core::analysis::Analysis;
use promptls_core::eval::run::{self, Overrides, Plan, Report, RowResult};
use promptls_core::jobs::{JobContext, Status};
use promptls_core::llm::client::Client as LlmClient;

/// How a refused evaluation's message begins.
const REFUSED: &str = "no model call from an untrusted workspace: ";

/// Starts an evaluation of `args.uri` in the background.
pub async fn start(
    client: tower_lsp_server::Client,
    state: Shared,
    args: EvaluateArgs,
) -> Result<Value> {
    let snapshot = crate::lsp::dispatch::snapshot(&state, &args.uri).await?;
    let path = snapshot
        .path
        .clone()
        .ok_or_else(|| invalid_params(format!("{} is not a file", args.uri.as_str())))?;
    let text = snapshot.text.clone();
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
            evaluate(&client, &state, &path, &text, args.limit, &ctx, &begun).await
        })
    };
    let Ok(job) = job else {
        return Ok(
            json!({"started": false, "reason": "an evaluation of this prompt is already running"}),
        );
    };
    tokio::spawn(async move {
        let Some(outcome) = progress::follow(&client, &state, job, &begun).await else {
            return;
        };
        finish(&client, &state, &path, &text, args.limit, outcome).await;
    });
    Ok(json!({"started": true}))
}

/// What the editor does once an evaluation has ended (and freed the prompt): tells
/// why one could not start, records a complete run in the history, shows the failing
/// rows, and refreshes the lenses.
async fn finish(
    client: &tower_lsp_server::Client,
    state: &Shared,
    path: &Path,
    text: &Arc<str>,
    limit: Option<usize>,
    outcome: std::result::Result<Option<Arc<Report>>, String>,
) {
    if let Err(message) = &outcome {
        // A refusal of the untrusted workspace is said once per session, not on every
        // save.
        let first =
            !message.contains(REFUSED) || lock(state).refusals_shown.insert(message.clone());
        if first {
            client.show_message(MessageType::ERROR, message).await;
        } else {
            tracing::info!("{message}");
        }
    }
    if let Ok(Some(report)) = &outcome {
        // A complete run over every row is recorded in the history with its score.
        if limit.is_none() && report.error_rows == 0 && report.bad_rows == 0 {
            let (path, text, report) = (path.to_path_buf(), text.to_string(), report.clone());
            let _ = tokio::task::spawn_blocking(move || {
                crate::lsp::history::record_evaluation(&path, &text, &report)
            })
            .await;
        }
        publish_rows(client, state, report).await;
        if report.error_rows > 0 || report.bad_rows > 0 {
            let first = report
                .per_row
                .iter()
                .find_map(|r| r.error.as_deref())
                .or(report.unreadable.first().map(|u| u.error.as_str()))
                .unwrap_or("");
            client
                .show_message(
                    MessageType::WARNING,
                    format!(
                        "{} of {} rows could not be evaluated{}: {first}",
                        report.error_rows + report.unreadable.len(),
                        report.rows + report.unreadable.len(),
                        if report.scored == 0 {
                            " (no score: every row failed)"
                        } else {
                            ""
                        }
                    ),
                )
                .await;
        }
    }
    refresh_lenses(client, state).await;
}

/// The evaluation job: `Ok(None)` when cancelled, `Err` when it could not start.
async fn evaluate(
    client: &tower_lsp_server::Client,
    state: &Shared,
    path: &Path,
    text: &str,
    limit: Option<usize>,
    ctx: &JobContext,
    begun: &Begun,
) -> Done<std::result::Result<Option<Arc<Report>>, String>> {
    let not_started = |message: String| Done {
        end: String::new(),
        value: Err(message),
    };
    let name = progress::file_name(path);
    let prepared = {
        let state = state.clone();
        let path = path.to_path_buf();
        let text = text.to_string();
        tokio::task::spawn_blocking(
            move || -> std::result::Result<(Plan, Arc<LlmClient>, usize), String> {
                let config = workspace_config(&state, &path)?;
                let overrides = Overrides {
                    limit,
                    ..Overrides::default()
                };
                let plan = run::plan(&Analysis::new(&text, Some(&path)), &config, &overrides)?;
                if let Some(refusal) = plan.refusal() {
                    return Err(format!("{REFUSED}{refusal}"));
                }
                let llm = client_for(&state, &config)?;
                Ok((plan, llm, config.file.eval.concurrency.unwrap_or(8)))
            },
        )
        .await
    };
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(e) => return not_started(format!("evaluating {name} failed: {e}")),
    };
    let (plan, llm, concurrency) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => return not_started(format!("cannot evaluate: {e}")),
    };
    let total = plan.rows.len();

    let progress = Progress::create(client, state, "evaluate", ctx.id()).await;
    let _ = begun.set(progress.clone());
    // The lens shows the row count from now on.
    ctx.note(Status {
        total,
        ..Status::default()
    });
    refresh_lenses(client, state).await;
    progress
        .begin(
            format!("Evaluating {name}"),
            format!("0/{total} rows · {} on {}", plan.scoring.name(), plan.model),
        )
        .await;
    promptls_core::jobs::test_fault();

    // Rows finish on the client's tasks; each reports the job's status, which `follow`
    // sends as progress, in order.
    let metric = plan.scoring.name();
    let sums = std::sync::Mutex::new((0.0f64, 0usize));
    let on_row = |row: &RowResult, done: usize, total: usize| {
        let mut s = sums.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(score) = row.score {
            s.0 += score;
            s.1 += 1;
        }
        let mean = if s.1 == 0 { 0.0 } else { s.0 / s.1 as f64 };
        ctx.report(Status {
            done,
            total,
            message: Some(format!("{done}/{total} rows · mean {metric} {mean:.3}")),
            best: None,
        });
    };
    let result = run::run(&plan, &llm, concurrency, ctx.cancel_token(), &on_row).await;
    let end = match &result {
        Ok(report) if report.scored == 0 => format!(
            "no score: every row failed · {} calls · {}",
            report.calls,
            run::dollars(report.cost_usd)
        ),
        Ok(report) => format!(
            "{} {:.3} · {}/{} rows · {} calls, {} cached · {}",
            report.metric,
            report.score,
            report.passed_rows,
            report.rows,
            report.calls,
            report.cache_hits,
            run::dollars(report.cost_usd)
        ),
        Err(_) => "cancelled".to_string(),
    };
    let report = result.ok().map(Arc::new);
    // The report is the last one before the job ends (and the engine frees the prompt
    // before the end goes out): a client that asks for the lenses or
    // `promptls.showEvaluation` on seeing the end sees this run finished.
    if let Some(report) = &report {
        let mut st = lock(state);
        st.evals.entry(path.to_path_buf()).or_default().last = Some(report.clone());
    }
    Done {
        end,
        value: Ok(report),
    }
}
