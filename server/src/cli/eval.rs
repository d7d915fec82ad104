//! `promptls eval FILE`: runs the prompt over its dataset and scores it, as a CI gate.
//! Exit codes: 0 when every gate passes, 1 when a gate fails, rows could not be read,
//! rendered or evaluated, no row has a score, or the run failed with an internal error;
//! 2 for usage and setup errors found before any call (no dataset, unknown provider, a
//! missing key, a template problem that would break every row, ...) and an interrupted
//! run.
//!
//! Each evaluation (the prompt's, a baseline's) runs as a job on the core's engine,
//! which feeds the progress bar and contains a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use super::files;
use super::job::{self, JobFailed};
use promptls_core::analysis::Analysis;
use promptls_core::config::Config;
use promptls_core::eval::gate;
use promptls_core::eval::metrics::{Normalize, Options};
use promptls_core::eval::run::{self, dollars, Overrides, Plan, Report, Rows};
use promptls_core::jobs::{JobKey, Jobs, Kind, Status};
use promptls_core::llm::client::Client;
use promptls_core::store::{self, Store};

#[derive(Args)]
pub struct EvalArgs {
    /// The .prompt file.
    file: PathBuf,
    /// Evaluate on this CSV or JSONL file (all its rows) instead of `promptls.dataset`.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Evaluate at most the first N rows.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Which rows of a split dataset: the validation rows (default), train, or all.
    #[arg(long, value_enum, default_value = "dev")]
    rows: RowsArg,
    /// Another model than the prompt's (`provider/model` or an alias from promptls.toml).
    #[arg(long)]
    model: Option<String>,
    /// Fail (exit 1) when the score is below X.
    #[arg(long, value_name = "X")]
    min_score: Option<f64>,
    /// Compare with a baseline: another .prompt file (evaluated on the same rows) or the
    /// JSON report of an earlier run (`--format json`).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// With --baseline: fail when the score drops more than D below the baseline's
    /// (default 0: any drop fails).
    #[arg(long, value_name = "D")]
    max_drop: Option<f64>,
    /// Send every row to the model even when the cache has its answer (answers are still
    /// stored).
    #[arg(long)]
    no_cache: bool,
    /// Rows evaluated at once (each provider's own limits still apply); default from
    /// promptls.toml `[eval] concurrency`, else 8.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    #[arg(long, value_enum, default_value = "human")]
    format: EvalFormat,
    /// exact_match/contains: compare case too (ignored by default).
    #[arg(long)]
    case_sensitive: bool,
    /// exact_match/contains: ignore ASCII punctuation.
    #[arg(long)]
    ignore_punctuation: bool,
    /// ROUGE: stem words with the Porter stemmer.
    #[arg(long)]
    stem: bool,
    /// Dataset rows that cannot be read or rendered are reported and counted but do not
    /// fail the run by themselves; the score is over the other rows.
    #[arg(long)]
    allow_bad_rows: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RowsArg {
    Dev,
    Train,
    All,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvalFormat {
    Human,
    Json,
    Junit,
}

pub fn run(args: EvalArgs) -> i32 {
    let _log = crate::lsp::init_logging(super::log_level_from_env());
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(evaluate(&args, &Jobs::default())) {
        Ok(code) => code,
        Err(error) => {
            eprintln!(
                "error: {}",
                promptls_core::secrets::redact(&error.to_string())
            );
            error.exit_code()
        }
    }
}

/// Why an evaluation ended without a report.
#[derive(Debug, thiserror::Error)]
enum EvalError {
    /// A usage or setup error, found before any call.
    #[error("{0}")]
    Setup(String),
    /// Reading the baseline's version from the history.
    #[error(transparent)]
    History(#[from] store::Error),
    /// Ctrl-C stopped an evaluation.
    #[error("interrupted")]
    Interrupted,
    /// An evaluation's job ended without a result (it panicked).
    #[error(transparent)]
    Job(#[from] JobFailed),
}

impl EvalError {
    fn exit_code(&self) -> i32 {
        match self {
            EvalError::Setup(_) | EvalError::History(_) | EvalError::Interrupted => 2,
            EvalError::Job(_) => 1,
        }
    }
}

impl From<String> for EvalError {
    fn from(message: String) -> EvalError {
        EvalError::Setup(message)
    }
}

impl From<&str> for EvalError {
    fn from(message: &str) -> EvalError {
        EvalError::Setup(message.to_string())
    }
}

fn overrides(args: &EvalArgs) -> Overrides {
    Overrides {
        dataset: args.dataset.clone(),
        limit: args.limit,
        model: args.model.clone(),
        options: Options {
            normalize: Normalize {
                ignore_case: !args.case_sensitive,
                ignore_punctuation: args.ignore_punctuation,
            },
            rouge_stemmer: args.stem,
        },
        rows: match args.rows {
            RowsArg::Dev => Rows::Dev,
            RowsArg::Train => Rows::Train,
            RowsArg::All => Rows::All,
        },
        offline: false,
    }
}

fn read_prompt(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    files::decode(bytes).map_err(|e| format!("{}: {}", path.display(), e.message))
}

async fn evaluate(args: &EvalArgs, jobs: &Jobs) -> Result<i32, EvalError> {
    if args.max_drop.is_some() && args.baseline.is_none() {
        return Err("--max-drop needs --baseline".into());
    }
    for (name, value) in [
        ("--min-score", args.min_score),
        ("--max-drop", args.max_drop),
    ] {
        if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
            return Err(format!("{name} must be between 0 and 1").into());
        }
    }
    let source = read_prompt(&args.file)?;
    let config = Config::load(&args.file).map_err(String::from)?;
    let overrides = overrides(args);
    let plan = Arc::new(run::plan(
        &Analysis::new(&source, Some(&args.file)),
        &config,
        &overrides,
    )?);
    if let Some(refusal) = plan.refusal() {
        return Err(refusal.to_string().into());
    }
    // (A provider that needs a key and has none stopped `plan` already.)
    if plan.rows.is_empty() && plan.dataset_errors.is_empty() {
        return Err(format!("{}: no rows to evaluate", plan.dataset.display()).into());
    }
    let client = Arc::new(config.client(!args.no_cache).map_err(String::from)?);
    let concurrency = args
        .concurrency
        .or(config.file.eval.concurrency)
        .unwrap_or(8)
        .max(1);

    let report = run_with_progress(
        jobs,
        plan.clone(),
        client.clone(),
        concurrency,
        args.format == EvalFormat::Human,
    )
    .await?;

    let baseline = match &args.baseline {
        None => None,
        Some(path) if !path.exists() && path.extension().is_none() => Some(
            version_baseline(
                jobs,
                &args.file,
                &source,
                &path.display().to_string(),
                &plan,
                &config,
                &overrides,
                &client,
                concurrency,
            )
            .await?,
        ),
        Some(path) => {
            Some(baseline_score(jobs, path, &config, &overrides, &client, concurrency).await?)
        }
    };
    let limits = gate::Limits {
        allow_bad_rows: args.allow_bad_rows,
        min_score: args.min_score,
        max_drop: args.max_drop,
    };
    let baseline_ref = baseline
        .as_ref()
        .map(|(label, score)| (label.as_str(), *score));
    let gates = gate::gates(&report, &limits, baseline_ref);
    // Every complete run is recorded: the file as a version, with its score (a run over
    // some of the rows, or without its bad rows, records the version only).
    let call_errors = report
        .per_row
        .iter()
        .filter(|r| r.score.is_none() && !r.bad_row)
        .count();
    let version = if call_errors == 0 && report.scored > 0 {
        let score = (args.limit.is_none() && report.bad_rows == 0).then(|| report.score());
        let recorded = Store::shared(&config.root).and_then(|shared| {
            shared.with(|s| {
                s.record_scored(
                    &args.file,
                    &source,
                    &store::Origin::Edit,
                    None,
                    score.as_ref(),
                )
            })
        });
        match recorded {
            Ok(n) => Some(n),
            Err(e) => {
                eprintln!("warning: the run was not recorded in the history: {e}");
                None
            }
        }
    } else {
        None
    };
    let failed = gates.iter().any(|g| !g.passed);
    let out = match args.format {
        EvalFormat::Human => {
            human(&report, &gates, baseline.as_ref().map(|b| b.1))
                + &version.map_or(String::new(), |n| format!("recorded as v{n}\n"))
        }
        EvalFormat::Json => {
            let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
            if let Value::Object(map) = &mut value {
                if report.scored == 0 {
                    // Every row failed: there is no score, not a score of 0.
                    map.insert("score".into(), Value::Null);
                    map.insert("interval".into(), Value::Null);
                }
                map.insert(
                    "baseline_score".into(),
                    json!(baseline.as_ref().map(|b| b.1)),
                );
                map.insert(
                    "gates".into(),
                    Value::Array(
                        gates
                            .iter()
                            .map(|g| json!({"name": g.name, "passed": g.passed, "message": g.message}))
                            .collect(),
                    ),
                );
                map.insert("passed".into(), json!(!failed));
                map.insert("gate_score".into(), json!(gate::gate_score(&report)));
                map.insert("version".into(), json!(version));
            }
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())? + "\n"
        }
        EvalFormat::Junit => junit(&report, &gates),
    };
    // Answers and errors are masked already; the whole report is too, in case a secret
    // came in another way (a dataset, a file name).
    std::io::stdout()
        .write_all(promptls_core::secrets::redact(&out).as_bytes())
        .map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if failed { 1 } else { 0 })
}

/// Evaluates `plan` as a job, with a progress bar on a terminal when `show`.
async fn run_with_progress(
    jobs: &Jobs,
    plan: Arc<Plan>,
    client: Arc<Client>,
    concurrency: usize,
    show: bool,
) -> Result<Report, EvalError> {
    let total = plan.rows.len();
    // Hidden unless stderr is a terminal (indicatif checks), so CI logs stay clean.
    let bar = if show {
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} rows {bar:30} {elapsed} {msg}")
            .expect("a valid progress template"),
    );
    let key = JobKey {
        path: plan.file.clone(),
        kind: Kind::Evaluation,
    };
    let work = move |context: promptls_core::jobs::JobContext| async move {
        // Rows done, the sum of their scores, how many have a score, how many were cached.
        let sums = std::sync::Mutex::new((0usize, 0.0f64, 0usize, 0u64));
        let on_row = |row: &run::RowResult, _done: usize, _total: usize| {
            let mut s = sums.lock().unwrap_or_else(|p| p.into_inner());
            s.0 += 1;
            if let Some(score) = row.score {
                s.1 += score;
                s.2 += 1;
            }
            if row.cached {
                s.3 += 1;
            }
            context.report(Status {
                done: s.0,
                total,
                message: Some(format!(
                    "mean {} {:.3} · {} cached",
                    plan.scoring.name(),
                    if s.2 == 0 { 0.0 } else { s.1 / s.2 as f64 },
                    s.3
                )),
                best: None,
            });
        };
        run::run(&plan, &client, concurrency, context.cancel_token(), &on_row).await
    };
    let result = job::run(jobs, key, work, |status| {
        if let Some(message) = &status.message {
            bar.set_message(message.clone());
        }
        bar.set_position(status.done as u64);
    })
    .await;
    bar.finish_and_clear();
    result?.map_err(|run::Cancelled| EvalError::Interrupted)
}

/// The baseline's score and a label for it.
/// The score of a version from the history (`production`, `v3`, ...): its stored score
/// on this dataset, metric and model, else evaluated now (from the cache where it can).
#[allow(clippy::too_many_arguments)]
async fn version_baseline(
    jobs: &Jobs,
    file: &Path,
    source: &str,
    selector: &str,
    plan: &Plan,
    config: &Config,
    overrides: &Overrides,
    client: &Arc<Client>,
    concurrency: usize,
) -> Result<(String, f64), EvalError> {
    enum Found {
        Score(f64),
        Content(String),
    }
    let dataset = store::dataset_hash(&plan.dataset);
    // The version, and its stored score or else its content; the store is not held
    // while the version is evaluated.
    let (n, found) = Store::shared(&config.root)?.with(|store| -> Result<_, store::Error> {
        let n = store.resolve(file, source, selector)?;
        let stored = store
            .history(file, source)?
            .into_iter()
            .find(|v| v.number == n)
            .and_then(|v| {
                v.scores.into_iter().rev().find(|s| {
                    s.dataset == dataset && s.metric == plan.scoring.name() && s.model == plan.model
                })
            });
        match stored {
            Some(s) => Ok((n, Found::Score(s.score))),
            None => Ok((n, Found::Content(store.content(file, source, n)?))),
        }
    })?;
    let label = format!("{selector} = v{n}");
    let content = match found {
        Found::Score(score) => return Ok((format!("{label}, stored"), score)),
        Found::Content(content) => content,
    };
    let baseline = run::plan(&Analysis::new(&content, Some(file)), config, overrides)?;
    let report =
        run_with_progress(jobs, Arc::new(baseline), client.clone(), concurrency, false).await?;
    if report.error_rows > 0 {
        return Err(format!(
            "the baseline {label}: {} of {} rows could not be evaluated",
            report.error_rows, report.rows
        )
        .into());
    }
    Ok((label, report.score))
}

async fn baseline_score(
    jobs: &Jobs,
    path: &Path,
    config: &Config,
    overrides: &Overrides,
    client: &Arc<Client>,
    concurrency: usize,
) -> Result<(String, f64), EvalError> {
    let label = path.display().to_string();
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the baseline {label}: {e}"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("the baseline {label} is not JSON: {e}"))?;
        let score = value.get("score").and_then(Value::as_f64).ok_or_else(|| {
            format!(
                "the baseline {label} has no `score` (write it with `promptls eval --format json`)"
            )
        })?;
        return Ok((label, score));
    }
    let source = read_prompt(path)?;
    let plan = run::plan(&Analysis::new(&source, Some(path)), config, overrides)?;
    let report =
        run_with_progress(jobs, Arc::new(plan), client.clone(), concurrency, false).await?;
    if report.error_rows > 0 {
        return Err(format!(
            "the baseline {label}: {} of {} rows could not be evaluated",
            report.error_rows, report.rows
        )
        .into());
    }
    Ok((label, report.score))
}

fn human(report: &Report, gates: &[gate::Gate], baseline: Option<f64>) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<9}{v}\n"));
    out.push_str(&format!("{}\n", report.file));
    line(&mut out, "model", report.model.clone());
    line(
        &mut out,
        "dataset",
        if report.unreadable.is_empty() {
            format!("{} ({} rows)", report.dataset, report.rows)
        } else {
            format!(
                "{} ({} rows, {} unreadable)",
                report.dataset,
                report.rows + report.unreadable.len(),
                report.unreadable.len()
            )
        },
    );
    line(
        &mut out,
        "metric",
        format!(
            "{} (a row passes at {} or more)",
            report.metric, report.threshold
        ),
    );
    let all_rows = report.rows + report.unreadable.len();
    if report.scored == 0 {
        line(&mut out, "score", "no score: every row failed".into());
    } else {
        line(
            &mut out,
            "score",
            format!(
                "{:.3}  (95% CI {:.3}–{:.3})  {}/{} rows passed{}{}",
                report.score,
                report.interval[0],
                report.interval[1],
                report.passed_rows,
                report.rows,
                if report.scored < all_rows {
                    format!("  (over {} of {all_rows} rows)", report.scored)
                } else {
                    String::new()
                },
                baseline.map_or(String::new(), |b| format!("  baseline {b:.3}"))
            ),
        );
    }
    if report.bad_rows > 0 {
        line(
            &mut out,
            "bad rows",
            format!(
                "{} of {all_rows} could not be read or rendered (not scored)",
                report.bad_rows
            ),
        );
    }
    if report.retried_rows > 0 {
        line(
            &mut out,
            "retried",
            format!(
                "{} row{} ran out of attempts and went again in the final round",
                report.retried_rows,
                if report.retried_rows == 1 { "" } else { "s" }
            ),
        );
    }
    line(
        &mut out,
        "calls",
        format!(
            "{} ({} cache hits)  tokens {} in / {} out  cost {}",
            report.calls,
            report.cache_hits,
            report.prompt_tokens,
            report.completion_tokens,
            dollars(report.cost_usd)
        ),
    );
    let latency = if report.cache_hits as usize == report.rows {
        "every answer from the cache".to_string()
    } else {
        format!(
            "latency p50 {:.0} ms, p95 {:.0} ms",
            report.latency_p50_ms, report.latency_p95_ms
        )
    };
    line(
        &mut out,
        "time",
        format!("{:.1} s  {latency}", report.wall_ms / 1000.0),
    );
    if !report.unreadable.is_empty() {
        out.push_str(&format!(
            "\nunreadable rows ({}):\n",
            report.unreadable.len()
        ));
        for u in report.unreadable.iter().take(20) {
            out.push_str(&format!(
                "  {}\n",
                gate::unreadable_text(&report.dataset, u)
            ));
        }
    }
    let failing: Vec<&run::RowResult> = report.per_row.iter().filter(|r| !r.passed).collect();
    if !failing.is_empty() {
        out.push_str(&format!("\nfailing rows ({}):\n", failing.len()));
        for r in failing.iter().take(20) {
            let what = match (&r.error, r.score) {
                (Some(e), _) => format!("error: {}", gate::shorten(e, 100)),
                (None, Some(s)) => format!(
                    "score {s:.3}  expected {:?}  got {:?}{}",
                    gate::shorten(&r.expected, 40),
                    gate::shorten(r.output.as_deref().unwrap_or(""), 40),
                    r.problems
                        .first()
                        .map_or(String::new(), |p| format!("  ({})", gate::shorten(p, 60)))
                ),
                (None, None) => "no score".into(),
            };
            out.push_str(&format!("  row {} (line {}): {what}\n", r.row, r.line));
        }
        if failing.len() > 20 {
            out.push_str(&format!(
                "  … and {} more (--format json lists every row)\n",
                failing.len() - 20
            ));
        }
    }
    if !gates.is_empty() {
        out.push('\n');
        for g in gates {
            out.push_str(&format!(
                "{} {}\n",
                if g.passed { "PASS" } else { "FAIL" },
                g.message
            ));
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per row, one per gate.
fn junit(report: &Report, gates: &[gate::Gate]) -> String {
    let failures = report
        .per_row
        .iter()
        .filter(|r| !r.passed && r.error.is_none())
        .count()
        + gates
            .iter()
            .filter(|g| !g.passed && g.name != "errors")
            .count();
    let errors = report.error_rows;
    let tests = report.per_row.len() + gates.iter().filter(|g| g.name != "errors").count();
    let suite = xml_escape(&format!("promptls eval {}", report.file));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        report.wall_ms / 1000.0
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        report.wall_ms / 1000.0
    ));
    out.push_str(&format!(
        "    <properties>\n      <property name=\"model\" value=\"{}\"/>\n      <property name=\"metric\" value=\"{}\"/>\n      <property name=\"score\" value=\"{}\"/>\n      <property name=\"cost_usd\" value=\"{}\"/>\n    </properties>\n",
        xml_escape(&report.model),
        xml_escape(&report.metric),
        if report.scored == 0 {
            "none".to_string()
        } else {
            report.score.to_string()
        },
        report.cost_usd
    ));
    for r in &report.per_row {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"row {} (line {})\" time=\"{:.3}\">",
            xml_escape(&report.dataset),
            r.row,
            r.line,
            r.latency_ms / 1000.0
        ));
        let detail = format!(
            "input: {}\nexpected: {}\noutput: {}{}",
            serde_json::Value::Object(r.input.clone()),
            r.expected,
            r.output.as_deref().unwrap_or(""),
            r.problems
                .iter()
                .map(|p| format!("\n{p}"))
                .collect::<String>()
        );
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "\n      <error message=\"{}\">{}</error>\n    ",
                xml_escape(e),
                xml_escape(&detail)
            ));
        } else if !r.passed {
            out.push_str(&format!(
                "\n      <failure message=\"{} {:.3} below {}\">{}</failure>\n    ",
                xml_escape(&report.metric),
                r.score.unwrap_or(0.0),
                report.threshold,
                xml_escape(&detail)
            ));
        }
        out.push_str("</testcase>\n");
    }
    for g in gates.iter().filter(|g| g.name != "errors") {
        out.push_str(&format!(
            "    <testcase classname=\"gates\" name=\"{}\">",
            g.name
        ));
        if !g.passed {
            out.push_str(&format!(
                "<failure message=\"{}\"/>",
                xml_escape(&g.message)
            ));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
