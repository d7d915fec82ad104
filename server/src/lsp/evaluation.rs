//! Evaluations in the editor: the "▶ Evaluate" lens and `promptls.evaluate` command, a
//! background run with work-done progress that the user can cancel, the score lens
//! afterwards, failing rows as diagnostics in the dataset file (their message and the
//! hover on the row show input, output and expected), and live tier-2 scores while
//! typing: rows whose rendered prompt is unchanged are scored from the cache, the rest
//! are counted as stale. The run itself is `eval::run`; this module only translates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::analysis::{invalid_params, Snapshot};
use super::commands::{Command as LspCommand, EvaluateArgs, UriArgs};
use super::navigation::{path_of, uri_of};
use super::progress::{self, refresh_lenses, Begun, Done, Progress};
use super::state::{lock, DatasetSource, Shared};
use promptls_core::analysis::Analysis;
use promptls_core::eval::run::{self, Overrides, Plan, Report, RowResult};
use promptls_core::jobs::{JobContext, JobKey, Kind, Status};
use promptls_core::llm::client::Client as LlmClient;

/// Live scores are computed for datasets up to this many rows (the cache is read for
/// each row on every edit).
const LIVE_MAX_ROWS: usize = 2_000;

/// What the server knows about a prompt's evaluations: their results (a running one is
/// a job of `State::jobs`).
#[derive(Default)]
pub struct PromptEval {
    pub last: Option<Arc<Report>>,
    pub live: Option<Live>,
}

/// The key of the evaluation of the prompt at `path`.
pub fn key(path: &Path) -> JobKey {
    JobKey {
        path: path.to_path_buf(),
        kind: Kind::Evaluation,
    }
}

/// Scores of the current text from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub version: Option<i32>,
    pub metric: String,
    pub score: f64,
    /// Rows answered from the cache (scored), and rows whose prompt changed (stale).
    pub cached: usize,
    pub passed: usize,
    pub stale: usize,
}

/// How a refused evaluation's message begins.
const REFUSED: &str = "no model call from an untrusted workspace: ";

/// The workspace configuration for `path`, with the editor's settings over it.
pub fn workspace_config(
    state: &Shared,
    path: &Path,
) -> std::result::Result<promptls_core::config::Config, String> {
    let editor = lock(state).config.editor_settings();
    Ok(promptls_core::config::editor::load(path, &editor)?)
}

/// The workspace's model client, made on first use and shared by every run.
pub fn client_for(
    state: &Shared,
    config: &promptls_core::config::Config,
) -> std::result::Result<Arc<LlmClient>, String> {
    let clients = lock(state).llm_clients.clone();
    Ok(clients.get_or_make(&config.root, || config.client(true))?)
}

/// Starts an evaluation of `args.uri` in the background.
pub async fn start(
    client: tower_lsp_server::Client,
    state: Shared,
    args: EvaluateArgs,
) -> Result<Value> {
    let snapshot = super::dispatch::snapshot(&state, &args.uri).await?;
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
                super::history::record_evaluation(&path, &text, &report)
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

/// Cancels the job with this progress token (`window/workDoneProgress/cancel`).
pub fn cancel_by_token(state: &Shared, token: &ProgressToken) -> bool {
    progress::job_of(token).is_some_and(|id| lock(state).jobs.cancel_by_id(id))
}

/// Cancels the evaluation of the prompt at `uri`.
pub fn cancel(state: &Shared, uri: &Uri) -> Result<Value> {
    let path =
        path_of(uri).ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    let cancelled = lock(state).jobs.cancel(&key(&path));
    Ok(json!({"cancelled": cancelled}))
}

/// Cancels every running job (shutdown).
pub fn cancel_all(state: &Shared) {
    lock(state).jobs.cancel_all();
}

pub fn show(state: &Shared, uri: &Uri) -> Result<Value> {
    let path =
        path_of(uri).ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    let last = lock(state).evals.get(&path).and_then(|e| e.last.clone());
    Ok(last.map_or(Value::Null, |r| {
        serde_json::to_value(&*r).unwrap_or(Value::Null)
    }))
}

/// Failing rows as diagnostics on their lines of the dataset file.
async fn publish_rows(client: &tower_lsp_server::Client, state: &Shared, report: &Report) {
    let path = PathBuf::from(&report.dataset);
    let Some(uri) = uri_of(&path) else { return };
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || std::fs::read_to_string(&path).unwrap_or_default())
    };
    let text = read.await.unwrap_or_default();
    let diagnostics = row_diagnostics(report, &text);
    let send = lock(state).set_dataset_diagnostics(&uri, DatasetSource::Eval, diagnostics);
    if let Some(all) = send {
        client.publish_diagnostics(uri, all, None).await;
    }
}

fn shorten(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        text.to_string()
    } else {
        text.chars().take(most - 1).collect::<String>() + "…"
    }
}

/// What a failing row shows: score, input, expected, output, and why.
pub fn row_details(report: &Report, row: &RowResult) -> String {
    let mut out = match (&row.error, row.score) {
        (Some(e), _) => format!("row {} could not be evaluated: {e}", row.row),
        (None, Some(s)) => format!(
            "row {} failed: {} {s:.3} (a row passes at {})",
            row.row, report.metric, report.threshold
        ),
        (None, None) => format!("row {} has no score", row.row),
    };
    out.push_str(&format!(
        "\ninput: {}",
        shorten(&Value::Object(row.input.clone()).to_string(), 400)
    ));
    out.push_str(&format!("\nexpected: {}", shorten(&row.expected, 400)));
    if let Some(output) = &row.output {
        out.push_str(&format!("\noutput: {}", shorten(output, 400)));
    }
    for p in &row.problems {
        out.push_str(&format!("\n{p}"));
    }
    if let Some(reason) = &row.reason {
        out.push_str(&format!("\njudge: {reason}"));
    }
    out
}

fn row_diagnostics(report: &Report, text: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = text.lines().collect();
    report
        .per_row
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            let line = r.line.saturating_sub(1);
            let width = lines.get(line).map_or(0, |l| l.encode_utf16().count());
            Diagnostic {
                range: Range::new(
                    Position::new(line as u32, 0),
                    Position::new(line as u32, width as u32),
                ),
                severity: Some(if r.error.is_some() {
                    DiagnosticSeverity::ERROR
                } else {
                    DiagnosticSeverity::WARNING
                }),
                code: Some(NumberOrString::String("eval-row".into())),
                source: Some("promptls eval".into()),
                message: row_details(report, r),
                ..Default::default()
            }
        })
        .collect()
}

/// The hover on a row of a dataset file that an evaluation found failing.
pub fn dataset_hover(state: &Shared, uri: &Uri, position: Position) -> Option<Hover> {
    let path = path_of(uri)?;
    let st = lock(state);
    let (report, row) = st
        .evals
        .values()
        .filter_map(|e| e.last.as_ref())
        .find_map(|report| {
            (Path::new(&report.dataset) == path)
                .then(|| {
                    report
                        .per_row
                        .iter()
                        .find(|r| r.line == position.line as usize + 1)
                })
                .flatten()
                .map(|row| (report.clone(), row.clone()))
        })?;
    let mut text = format!(
        "**{}** on {} — {}\n\n```text\n{}\n```",
        Path::new(&report.file)
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
        report.model,
        match row.score {
            Some(s) => format!("{} {s:.3}", report.metric),
            None => "no score".into(),
        },
        row_details(&report, &row)
    );
    if row.cached {
        text.push_str("\n\n(answer from the cache)");
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: None,
    })
}

/// Recomputes the live scores of an open prompt from the cache (blocking: renders every
/// row and reads the cache). `None` when the prompt cannot be evaluated, the dataset is
/// too large, or there is no cache yet.
pub fn live_scores(state: &Shared, analysis: &Analysis, version: Option<i32>) -> Option<Live> {
    analysis.settings().dataset.as_ref()?;
    let path = analysis.path()?;
    let config = workspace_config(state, path).ok()?;
    if !config.cache_path().is_file() {
        return None;
    }
    let overrides = Overrides {
        offline: true,
        ..Overrides::default()
    };
    let plan = run::plan(analysis, &config, &overrides).ok()?;
    if plan.rows.len() > LIVE_MAX_ROWS {
        return None;
    }
    let llm = client_for(state, &config).ok()?;
    // The judge needs calls; live scores are tier 2 only.
    if matches!(plan.scoring, run::Scoring::Judge { .. }) {
        return None;
    }
    let cached = run::from_cache(&plan, &llm);
    let report = cached.report;
    if report.per_row.is_empty() {
        return None;
    }
    let stale = cached.stale;
    Some(Live {
        version,
        metric: report.metric,
        score: report.score,
        cached: report.scored,
        passed: report.passed_rows,
        stale,
    })
}

/// Stores live scores computed for `version` of `uri` if that is still the document's
/// version (a slow computation for an older version, say one that read the cache while an
/// evaluation was filling it, must not replace a newer one); whether they changed (so the
/// lenses need a refresh).
pub fn set_live(state: &Shared, uri: &Uri, version: i32, path: &Path, live: Option<Live>) -> bool {
    let mut st = lock(state);
    if st.docs.get(uri).map(|d| d.version) != Some(version) {
        return false;
    }
    let entry = st.evals.entry(path.to_path_buf()).or_default();
    let changed = entry
        .live
        .as_ref()
        .map(|l| (&l.metric, l.score, l.cached, l.stale))
        != live
            .as_ref()
            .map(|l| (&l.metric, l.score, l.cached, l.stale));
    entry.live = live;
    changed
}

pub async fn refresh_after_live(client: &tower_lsp_server::Client, state: &Shared) {
    refresh_lenses(client, state).await;
}

/// The lenses on the first line of a prompt that has a dataset.
pub fn lenses(state: &Shared, snapshot: &Snapshot) -> Vec<CodeLens> {
    if snapshot.analysis().settings().dataset.is_none() {
        return Vec::new();
    }
    let Some(path) = snapshot.path.clone() else {
        return Vec::new();
    };
    let uri = || UriArgs::of(&snapshot.uri);
    let at = Range::new(Position::new(0, 0), Position::new(0, 0));
    let lens = |title: String, command: LspCommand| CodeLens {
        range: at,
        command: Some(command.to_lsp(title)),
        data: None,
    };
    let evaluate = || {
        LspCommand::Evaluate(EvaluateArgs {
            uri: snapshot.uri.clone(),
            limit: None,
        })
    };
    let st = lock(state);
    let mut out = Vec::new();
    match st.jobs.status(&key(&path)) {
        Some((_, status)) => out.push(lens(
            format!(
                "■ Cancel evaluation ({}/{} rows)",
                status.done, status.total
            ),
            LspCommand::CancelEvaluation(uri()),
        )),
        None => out.push(lens("▶ Evaluate".into(), evaluate())),
    }
    drop(st);
    out.extend(super::optimization::lens(state, snapshot));
    let st = lock(state);
    let eval = st.evals.get(&path);
    if let Some(report) = eval.and_then(|e| e.last.as_ref()) {
        out.push(lens(
            format!(
                "{} {:.3} · {}/{} · {}",
                report.metric,
                report.score,
                report.passed_rows,
                report.rows,
                run::dollars(report.cost_usd)
            ),
            LspCommand::ShowEvaluation(uri()),
        ));
    }
    if let Some(live) = eval.and_then(|e| e.live.as_ref()) {
        let total = live.cached + live.stale;
        let title = if live.stale == 0 {
            format!(
                "live {} {:.3} · {}/{} from cache",
                live.metric, live.score, live.passed, total
            )
        } else {
            format!(
                "live {} {:.3} · {}/{} from cache · {} stale",
                live.metric, live.score, live.passed, live.cached, live.stale
            )
        };
        out.push(lens(title, evaluate()));
    }
    out
}
