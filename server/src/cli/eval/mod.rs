//! `promptls eval FILE`: runs the prompt over its dataset and scores it, as a CI gate.
//! Exit codes: 0 when every gate passes, 1 when a gate fails, rows could not be read,
//! rendered or evaluated, no row has a score, or the run failed with an internal error;
//! 2 for usage and setup errors found before any call (no dataset, unknown provider, a
//! missing key, a template problem that would break every row, ...) and an interrupted
//! run.
//!
//! Each evaluation (the prompt's, a baseline's) runs as a job on the core's engine,
//! which feeds the progress bar and contains a panic.

mod baseline;
mod error;
mod job;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::files;

use error::EvalError;
use job::Evaluator;
use promptls_core::config::Config;
use promptls_core::eval::gate;
use promptls_core::eval::metrics::{Normalize, Options};
use promptls_core::eval::run::{Overrides, Rows};
use promptls_core::jobs::Jobs;
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
        target: None,
        metric: None,
    }
}

async fn evaluate(args: &EvalArgs, jobs: &Jobs) -> Result<i32, EvalError> {
    if args.max_drop.is_some() && args.baseline.is_none() {
        return Err(EvalError::MaxDropWithoutBaseline);
    }
    for (flag, value) in [
        ("--min-score", args.min_score),
        ("--max-drop", args.max_drop),
    ] {
        if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
            return Err(EvalError::OutOfRange { flag });
        }
    }
    let source = files::read_prompt(&args.file)?;
    let config = Config::load(&args.file)?;
    let overrides = overrides(args);
    let plan = Arc::new(job::plan(&source, &args.file, &config, &overrides)?);
    if let Some(refusal) = plan.refusal() {
        return Err(EvalError::Refused(refusal.clone()));
    }
    // (A provider that needs a key and has none stopped `plan` already.)
    if plan.rows.is_empty() && plan.dataset_errors.is_empty() {
        return Err(EvalError::NoRows {
            dataset: plan.dataset.clone(),
        });
    }
    let evaluator = Evaluator {
        jobs,
        config: &config,
        overrides: &overrides,
        client: Arc::new(config.client(!args.no_cache)?),
        concurrency: args
            .concurrency
            .or(config.file.eval.concurrency)
            .unwrap_or(8)
            .max(1),
    };

    let report = evaluator
        .run(plan.clone(), args.format == EvalFormat::Human)
        .await?;

    let baseline = match &args.baseline {
        None => None,
        Some(path) => Some(baseline::score(&evaluator, &args.file, &source, &plan, path).await?),
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
    let version = if let Some(score) = report.to_record(args.limit.is_none()) {
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
            report::human(&report, &gates, baseline.as_ref().map(|b| b.1))
                + &version.map_or(String::new(), |n| format!("recorded as v{n}\n"))
        }
        EvalFormat::Json => report::json(&report, &gates, baseline.as_ref().map(|b| b.1), version)?,
        EvalFormat::Junit => report::junit(&report, &gates),
    };
    // Answers and errors are masked already; the whole report is too, in case a secret
    // came in another way (a dataset, a file name).
    std::io::stdout()
        .write_all(promptls_core::secrets::redact(&out).as_bytes())
        .map_err(EvalError::WriteReport)?;
    Ok(if failed { 1 } else { 0 })
}
