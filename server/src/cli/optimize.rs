//! `promptls optimize FILE`: finds a better instruction and demos for a prompt, scored on
//! its validation rows. Without `--write` it prints the candidate's diff; with `--write`
//! it replaces the file atomically (a temporary file renamed over it). Exit codes: 0
//! done, 1 the run stopped without a result, 2 usage and setup errors.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::files;
use crate::config::Config;
use crate::eval::run::{self, dollars, Overrides, Rows};
use crate::optimize::bootstrap::{self, Settings};
use crate::optimize::program::Program;
use crate::optimize::session::{Budget, Session, Stop, Trial};
use crate::optimize::{gepa, mipro, random};

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
    /// Stop (keeping the best so far) after this many model calls.
    #[arg(long, value_name = "N")]
    max_calls: Option<u64>,
    /// Stop after spending this many US dollars.
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Rows evaluated at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Write the result into the file.
    #[arg(long)]
    write: bool,
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 2;
        }
    };
    match runtime.block_on(optimize(&args)) {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

/// `promptls.optimizer` as written: a name or `{name, trials, demos}`.
fn optimizer_setting(source: &str) -> (Option<String>, Option<usize>, Option<usize>) {
    let parsed = crate::syntax::parse(source);
    let Some(value) = parsed
        .frontmatter
        .as_ref()
        .and_then(|fm| crate::settings::get(fm, "optimizer"))
        .map(|v| v.to_json())
    else {
        return (None, None, None);
    };
    match value {
        Value::String(name) => (Some(name), None, None),
        Value::Object(map) => (
            map.get("name").and_then(Value::as_str).map(str::to_string),
            map.get("trials")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            map.get("demos").and_then(Value::as_u64).map(|n| n as usize),
        ),
        _ => (None, None, None),
    }
}

fn read(path: &Path) -> Result<String, (i32, String)> {
    let bytes =
        std::fs::read(path).map_err(|e| (2, format!("cannot read {}: {e}", path.display())))?;
    files::decode(bytes).map_err(|e| (2, format!("{}: {}", path.display(), e.message)))
}

async fn optimize(args: &OptimizeArgs) -> Result<i32, (i32, String)> {
    let usage = |m: String| (2, m);
    let source = read(&args.file)?;
    let config = Config::load(&args.file).map_err(usage)?;
    let (named, trials_setting, demos_setting) = optimizer_setting(&source);
    let optimizer = match (args.optimizer, named.as_deref()) {
        (Some(o), _) => o,
        (None, Some("bootstrap")) => OptimizerArg::Bootstrap,
        (None, Some("random")) => OptimizerArg::Random,
        (None, Some("mipro")) => OptimizerArg::Mipro,
        (None, Some("gepa")) => OptimizerArg::Gepa,
        (None, Some(other)) => {
            return Err(usage(format!(
                "unknown optimizer `{other}` (bootstrap, random, mipro, gepa)"
            )))
        }
        (None, None) => OptimizerArg::Bootstrap,
    };
    let demos = args.demos.or(demos_setting).unwrap_or(4);
    let trials = args.trials.or(trials_setting).unwrap_or(8).max(1);
    let dev = run::plan(
        &args.file,
        &source,
        &config,
        &Overrides {
            dataset: args.valset.clone(),
            rows: Rows::Dev,
            ..Overrides::default()
        },
    )
    .map_err(usage)?;
    let train = run::plan(
        &args.file,
        &source,
        &config,
        &Overrides {
            dataset: args.dataset.clone(),
            rows: Rows::Train,
            ..Overrides::default()
        },
    )
    .map_err(usage)?;
    if dev.rows.is_empty() || train.rows.is_empty() {
        return Err(usage(
            "the dataset needs training and validation rows".into(),
        ));
    }
    let teacher = args
        .teacher
        .clone()
        .or_else(|| {
            let parsed = crate::syntax::parse(&source);
            parsed
                .frontmatter
                .as_ref()
                .and_then(|fm| crate::settings::get(fm, "teacher"))
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| dev.model.clone());
    let start = Program::read(&source).map_err(|e| (2, format!("{}: {e}", args.file.display())))?;
    let client = config.client(true).map_err(usage)?;
    let concurrency = args
        .concurrency
        .or(config.file.eval.concurrency)
        .unwrap_or(8)
        .max(1);

    let bar = if args.format == Format::Human {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let on_trial = |count: usize, best: f64, trial: &Trial| {
        bar.set_message(format!(
            "trial {count}: {} {:.3}{} · best {:.3}",
            trial.label,
            trial.score,
            if trial.minibatch { " (minibatch)" } else { "" },
            best.max(0.0)
        ));
    };
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let session = Session::new(
        &config,
        &client,
        source.clone(),
        dev,
        train,
        teacher,
        concurrency,
        Budget {
            max_calls: args.max_calls,
            max_cost: args.max_cost,
        },
        cancel,
        args.seed,
        &on_trial,
    );
    let settings = Settings {
        max_bootstrapped: demos,
        max_labeled: demos,
    };
    let baseline = session
        .score(&start, None, "baseline")
        .await
        .map_err(|e| (1, e.to_string()))?;
    let result = match optimizer {
        OptimizerArg::Bootstrap => bootstrap::optimize(&session, &start, settings).await,
        OptimizerArg::Random => random::optimize(&session, &start, settings, trials).await,
        OptimizerArg::Mipro => {
            let auto = match args.auto {
                Some(AutoArg::Medium) => mipro::Auto::Medium,
                Some(AutoArg::Heavy) => mipro::Auto::Heavy,
                _ => mipro::Auto::Light,
            };
            let mut mipro_settings = mipro::Settings::auto(auto, settings);
            if let Some(trials) = args.trials.or(trials_setting) {
                mipro_settings.trials = trials.max(1);
            }
            mipro::optimize(&session, &start, mipro_settings).await
        }
        OptimizerArg::Gepa => {
            let mut gepa_settings = gepa::Settings::default();
            if let Some(iterations) = args.trials.or(trials_setting) {
                gepa_settings.iterations = iterations.max(1);
            }
            gepa::optimize(&session, &start, gepa_settings).await
        }
    };
    bar.finish_and_clear();
    let best = result.map_err(|e| match e {
        Stop::Cancelled => (1, "interrupted; the file is unchanged".to_string()),
        other => (1, format!("{other}; the file is unchanged")),
    })?;
    // The best program's full score is the last full trial that scored it; score it
    // again (from the cache) to report it.
    let score = session
        .final_score(&best)
        .await
        .map_err(|e| (1, e.to_string()))?;
    let (program, score) = if score >= baseline {
        (best, score)
    } else {
        (start.clone(), baseline)
    };
    let new_source = program.apply(&source).map_err(|e| (1, e))?;

    let mut written = false;
    if args.write && new_source != source {
        // The file may have been edited while the run went on: apply the program to
        // what is there now (the optimizer owns only the instruction and the demos).
        let now = read(&args.file)?;
        let target = program.apply(&now).map_err(|e| {
            (
                1,
                format!("{}: cannot apply the result: {e}", args.file.display()),
            )
        })?;
        write_atomically(&args.file, &target).map_err(|e| (1, e))?;
        written = true;
    }

    let usage = session.usage();
    let totals = usage.values().fold((0u64, 0u64, 0u64, 0.0f64), |t, u| {
        (
            t.0 + u.calls,
            t.1 + u.prompt_tokens,
            t.2 + u.completion_tokens,
            t.3 + u.cost_usd,
        )
    });
    let diff = unified_diff(&source, &new_source, &args.file.display().to_string());
    let name = match optimizer {
        OptimizerArg::Bootstrap => "bootstrap",
        OptimizerArg::Random => "random",
        OptimizerArg::Mipro => "mipro",
        OptimizerArg::Gepa => "gepa",
    };
    let out = match args.format {
        Format::Json => {
            let value = json!({
                "optimizer": name,
                "baseline_score": baseline,
                "score": score,
                "improved": score > baseline,
                "calls": usage,
                "total_calls": totals.0,
                "prompt_tokens": totals.1,
                "completion_tokens": totals.2,
                "cost_usd": totals.3,
                "wall_ms": session.started.elapsed().as_secs_f64() * 1000.0,
                "trials": session.trials(),
                "instruction": program.instruction,
                "demos": program.demos,
                "written": written,
                "diff": diff,
            });
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
        Format::Human => {
            let mut out = format!(
                "{}: {name}: {} {:.3} → {:.3} ({} trials, {:.1} s)\n",
                args.file.display(),
                session.dev.scoring.name(),
                baseline,
                score,
                session.trials().len(),
                session.started.elapsed().as_secs_f64()
            );
            for (model, u) in &usage {
                out.push_str(&format!(
                    "  {model} ({}): {} calls, {} cached, {} tokens, {}\n",
                    u.role,
                    u.calls,
                    u.cache_hits,
                    u.prompt_tokens + u.completion_tokens,
                    dollars(u.cost_usd)
                ));
            }
            if new_source == source {
                out.push_str("no better prompt found; the file is unchanged\n");
            } else if written {
                out.push_str(&format!("wrote {}\n", args.file.display()));
            } else {
                out.push('\n');
                out.push_str(&diff);
                out.push_str("(not written: pass --write to apply)\n");
            }
            out
        }
    };
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(|e| (2, format!("cannot write the report: {e}")))?;
    Ok(0)
}

/// Writes `text` to a temporary file next to `path`, then renames it over `path`, so the
/// file is never half-written.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(folder)
        .map_err(|e| format!("cannot write next to {}: {e}", path.display()))?;
    temp.write_all(text.as_bytes())
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(temp.path(), meta.permissions());
    }
    temp.persist(path)
        .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
    Ok(())
}

/// A unified diff of two texts.
fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (optimized)"))
        .to_string()
}
