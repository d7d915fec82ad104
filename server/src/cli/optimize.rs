//! `promptls optimize FILE`: finds a better instruction and demos for a prompt, scored on
//! its validation rows. Without `--write` it prints the candidate's diff; with `--write`
//! it replaces the file atomically (a temporary file renamed over it), and only with a
//! result that scores better than the start (`--force` writes it anyway). Exit codes: 0
//! done (a budget that stopped the run keeps the best so far), 1 the run stopped without
//! a result, was interrupted or failed with an internal error, or dataset rows cannot be
//! read or rendered (without `--allow-bad-rows`), 2 usage and setup errors (a budget too
//! small to score the prompt as it is among them).
//!
//! The run is a job on the core's engine, which feeds the progress spinner and contains
//! a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::files;
use super::job::JobFailed;
use promptls_core::config::{self, Config};
use promptls_core::eval::run::dollars;
use promptls_core::jobs::{JobContext, JobKey, Jobs, Kind, Status};
use promptls_core::optimize::job::{self, JobError, Optimizer, Request};
use promptls_core::optimize::mipro;
use promptls_core::optimize::session::{Budget, Limit, Stop, Trial};
use promptls_core::program;

#[derive(Args)]
pub struct OptimizeArgs {
    /// The .prompt file.
    file: PathBuf,
    /// bootstrap (few-shot demos from a teacher), random (random search over demo sets)
    /// mipro (instructions and demos, Bayesian search) or gepa (reflective instruction
    /// evolution); default `promptls.optimizer`, else bootstrap.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerArg>,
    /// MIPROv2's budget: light (6 candidates, 10 trials), medium (12, 18), heavy (18, 27).
    #[arg(long, value_enum)]
    auto: Option<AutoArg>,
    /// Candidates (random), trials (mipro) or iterations (gepa); default from
    /// `promptls.optimizer`, else 8 candidates, the auto budget's trials, 12 iterations.
    #[arg(long, value_name = "N")]
    trials: Option<usize>,
    /// Demos at most; default from `promptls.optimizer`, else 4.
    #[arg(long, value_name = "K")]
    demos: Option<usize>,
    /// Training rows from this file instead of `promptls.dataset`/`promptls.split`.
    #[arg(long, value_name = "TRAIN")]
    dataset: Option<PathBuf>,
    /// Validation rows from this file.
    #[arg(long, value_name = "DEV")]
    valset: Option<PathBuf>,
    /// The teacher model (`provider/model`); default `promptls.teacher`, else the prompt's
    /// model.
    #[arg(long)]
    teacher: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// At most this many model calls in all (task, teacher, judge, the scoring before
    /// and after included), counted as HTTP requests, retries included; the run stops at
    /// it and keeps the best so far.
    #[arg(long, value_name = "N")]
    max_calls: Option<u64>,
    /// At most this many US dollars in all, each call counted at its worst case until
    /// it is answered; the run stops at it and keeps the best so far.
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Rows evaluated at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Dataset rows that cannot be read or rendered are left out and counted instead of
    /// failing the run (as `promptls eval --allow-bad-rows`).
    #[arg(long)]
    allow_bad_rows: bool,
    /// Write the result into the file (only when it scores better than the start).
    #[arg(long)]
    write: bool,
    /// With --write: write the result even when it scores no better than the start.
    #[arg(long, requires = "write")]
    force: bool,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OptimizerArg {
    Bootstrap,
    Random,
    Mipro,
    Gepa,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AutoArg {
    Light,
    Medium,
    Heavy,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: OptimizeArgs) -> i32 {
    let _log = crate::lsp::init_logging(super::log_level_from_env());
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(optimize(&args)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!(
                "error: {}",
                promptls_core::secrets::redact(&error.to_string())
            );
            error.exit_code()
        }
    }
}

/// Why `promptls optimize` failed, each cause kept (with its file where there is one)
/// until it is printed.
#[derive(Debug, thiserror::Error)]
enum OptimizeError {
    #[error(transparent)]
    Read(#[from] files::ReadError),
    #[error(transparent)]
    Config(#[from] config::Error),
    /// The run could not start: the prompt's settings, its dataset, the budget, ...
    #[error("{0}")]
    Usage(String),
    /// Dataset rows cannot be read or rendered, and they were not allowed.
    #[error("{0}; the file is unchanged")]
    BadRows(String),
    #[error("interrupted; the file is unchanged")]
    Interrupted,
    #[error("{0}; the file is unchanged")]
    Stopped(Stop),
    /// The job ended without a result (it panicked).
    #[error("{0}; the file is unchanged")]
    Job(#[from] JobFailed),
    /// The result cannot be applied to the prompt it was found for.
    #[error(transparent)]
    Apply(program::Error),
    /// ... or to the file as it is now.
    #[error("{}: cannot apply the result: {source}", .path.display())]
    ApplyNow {
        path: PathBuf,
        #[source]
        source: program::Error,
    },
    #[error(transparent)]
    Write(#[from] files::WriteError),
    #[error("cannot write the report: {0}")]
    WriteReport(#[source] std::io::Error),
}

impl OptimizeError {
    fn exit_code(&self) -> i32 {
        match self {
            OptimizeError::Read(_)
            | OptimizeError::Config(_)
            | OptimizeError::Usage(_)
            | OptimizeError::WriteReport(_) => 2,
            OptimizeError::BadRows(_)
            | OptimizeError::Interrupted
            | OptimizeError::Stopped(_)
            | OptimizeError::Job(_)
            | OptimizeError::Apply(_)
            | OptimizeError::ApplyNow { .. }
            | OptimizeError::Write(_) => 1,
        }
    }
}

impl From<JobError> for OptimizeError {
    fn from(error: JobError) -> OptimizeError {
        match error {
            JobError::Usage(m) => OptimizeError::Usage(m),
            JobError::BadRows(m) => OptimizeError::BadRows(m),
            JobError::Stopped(Stop::Cancelled) => OptimizeError::Interrupted,
            JobError::Stopped(other) => OptimizeError::Stopped(other),
        }
    }
}

async fn optimize(args: &OptimizeArgs) -> Result<(), OptimizeError> {
    let source = files::read_prompt(&args.file)?;
    let config = Config::load(&args.file)?;
    let client = Arc::new(config.client(true)?);
    let request = Request {
        optimizer: args.optimizer.map(|o| match o {
            OptimizerArg::Bootstrap => Optimizer::Bootstrap,
            OptimizerArg::Random => Optimizer::Random,
            OptimizerArg::Mipro => Optimizer::Mipro(match args.auto {
                Some(AutoArg::Medium) => mipro::Auto::Medium,
                Some(AutoArg::Heavy) => mipro::Auto::Heavy,
                _ => mipro::Auto::Light,
            }),
            OptimizerArg::Gepa => Optimizer::Gepa,
        }),
        trials: args.trials,
        demos: args.demos,
        dataset: args.dataset.clone(),
        valset: args.valset.clone(),
        teacher: args.teacher.clone(),
        seed: args.seed,
        budget: Budget {
            max_calls: args.max_calls,
            max_cost: args.max_cost,
        },
        concurrency: args.concurrency,
        allow_bad_rows: args.allow_bad_rows,
        rows: None,
        target: None,
    };

    let bar = if args.format == Format::Human {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let key = JobKey {
        path: args.file.clone(),
        kind: Kind::Optimization,
    };
    let work = {
        let (file, source, config) = (args.file.clone(), source.clone(), config.clone());
        move |context: JobContext| async move {
            let on_trial = |count: usize, best: f64, trial: &Trial| {
                context.report(Status {
                    done: count,
                    total: 0,
                    message: Some(trial.progress_text(count, best)),
                    best: Some(best),
                });
            };
            let cancel = context.cancel_token().clone();
            job::run(
                &file, &source, &config, &client, &request, cancel, &on_trial,
            )
            .await
        }
    };
    let result = super::job::run(&Jobs::default(), key, work, |status| {
        if let Some(message) = &status.message {
            bar.set_message(message.clone());
        }
    })
    .await;
    bar.finish_and_clear();
    let outcome = result??;
    let program = &outcome.program;
    let cancelled = outcome.stopped == Some(Limit::Cancelled);
    let new_source = if *program == outcome.start {
        source.clone()
    } else {
        job::with_split(
            &program.apply(&source).map_err(OptimizeError::Apply)?,
            &outcome.split,
        )
    };

    let mut written = false;
    let mut not_written: Option<String> = None;
    if args.write && new_source != source {
        if cancelled {
            not_written = Some("not written: the run was interrupted".into());
        } else if !outcome.improved() && !args.force {
            not_written = outcome.not_written_note();
        } else {
            // The file may have been edited while the run went on: apply the program to
            // what is there now (the optimizer owns only the instruction and the demos).
            let now = files::read_prompt(&args.file)?;
            let target = program
                .apply(&now)
                .map_err(|source| OptimizeError::ApplyNow {
                    path: args.file.clone(),
                    source,
                })?;
            let target = job::with_split(&target, &outcome.split);
            files::write_atomically(&args.file, &target)?;
            written = true;
        }
    }

    let version = record_history(
        &args.file,
        &source,
        &config,
        &outcome,
        written.then_some(&new_source),
    );
    let usage = &outcome.usage;
    let totals = usage.values().fold((0u64, 0u64, 0u64, 0.0f64), |t, u| {
        (
            t.0 + u.calls,
            t.1 + u.prompt_tokens,
            t.2 + u.completion_tokens,
            t.3 + u.cost_usd,
        )
    });
    let diff = unified_diff(&source, &new_source, &args.file.display().to_string());
    let name = outcome.optimizer.name();
    let out = match args.format {
        Format::Json => {
            let value = json!({
                "optimizer": name,
                "metric": outcome.metric,
                "baseline_score": outcome.baseline,
                "score": outcome.score,
                "improved": outcome.improved(),
                "calls": usage,
                "optimizer_calls": outcome.optimizer_usage,
                "optimizer_total_calls": outcome.optimizer_usage.values().map(|u| u.calls).sum::<u64>(),
                "total_calls": totals.0,
                "prompt_tokens": totals.1,
                "completion_tokens": totals.2,
                "cost_usd": totals.3,
                "wall_ms": outcome.wall_ms,
                "optimizer_ms": outcome.optimizer_ms,
                "trials": outcome.trials,
                "instruction": program.instruction,
                "demos": program.demos,
                "written": written,
                "not_written": not_written,
                "stopped": outcome.stopped,
                "bad_rows": outcome.bad_rows.len(),
                "bad_row_errors": outcome.bad_rows,
                "split": outcome.split,
                "versions": version,
                "diff": diff,
            });
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
        Format::Human => {
            let mut out = format!(
                "{}: {name}: {} {:.3} → {:.3} ({} trials, {:.1} s)\n",
                args.file.display(),
                outcome.metric,
                outcome.baseline,
                outcome.score,
                outcome.trials.len(),
                outcome.wall_ms / 1000.0
            );
            for (model, u) in usage {
                out.push_str(&format!(
                    "  {model} ({}): {} calls, {} cached, {} tokens, {}\n",
                    u.role,
                    u.calls,
                    u.cache_hits,
                    u.prompt_tokens + u.completion_tokens,
                    dollars(u.cost_usd)
                ));
            }
            out.push_str(&format!("  split: {}\n", outcome.split.describe()));
            if !outcome.bad_rows.is_empty() {
                out.push_str(&format!(
                    "  {} bad row{} left out (--allow-bad-rows): {}\n",
                    outcome.bad_rows.len(),
                    if outcome.bad_rows.len() == 1 { "" } else { "s" },
                    outcome.bad_rows.join("; ")
                ));
            }
            if let Some(note) = outcome.stop_note() {
                out.push_str(&note);
                out.push('\n');
            }
            if new_source == source {
                out.push_str("no better prompt found; the file is unchanged\n");
            } else if written {
                out.push_str(&format!("wrote {}\n", args.file.display()));
                if job::with_split(&source, &outcome.split) != source {
                    out.push_str(&format!(
                        "  with promptls.split: {{train: {}, seed: {}}} (the rows it was optimized on)\n",
                        job::AUTO_TRAIN_SHARE,
                        outcome.split.seed.unwrap_or(0)
                    ));
                }
            } else if let Some(why) = &not_written {
                out.push_str(why);
                out.push('\n');
            } else {
                out.push('\n');
                out.push_str(&diff);
                if outcome.improved() {
                    out.push_str("(not written: pass --write to apply)\n");
                } else {
                    out.push_str(&format!(
                        "(no improvement: {:.3} → {:.3}; --write --force writes it anyway)\n",
                        outcome.baseline, outcome.score
                    ));
                }
            }
            out
        }
    };
    std::io::stdout()
        .write_all(promptls_core::secrets::redact(&out).as_bytes())
        .map_err(OptimizeError::WriteReport)?;
    if cancelled {
        return Err(OptimizeError::Interrupted);
    }
    Ok(())
}

/// The run in the history (see `Outcome::record`); a failure to record is a warning, not
/// a failed run.
fn record_history(
    file: &Path,
    source: &str,
    config: &Config,
    outcome: &job::Outcome,
    written: Option<&String>,
) -> Option<serde_json::Value> {
    let recorded = promptls_core::store::Store::shared(&config.root).and_then(|shared| {
        shared.with(|store| outcome.record(store, file, source, written.map(String::as_str)))
    });
    match recorded {
        Ok((start, result)) => Some(json!({"start": start, "result": result})),
        Err(e) => {
            eprintln!("warning: the run was not recorded in the history: {e}");
            None
        }
    }
}

/// A unified diff of two texts.
fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (optimized)"))
        .to_string()
}
