//! One optimization run from start to finish, as the command line and the editor start
//! it: read the settings (`promptls.optimizer`, `promptls.teacher`, the split), score the
//! prompt as it is, run the optimizer, and score the winner. The prompt's text is an
//! input: nothing here writes files.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::bootstrap::Settings as DemoSettings;
use super::session::{Budget, OnTrial, Session, Stop};
use super::{bootstrap, gepa, mipro, random};
use crate::analysis::Analysis;
use crate::config::Config;
use crate::eval::run::{self, Overrides, Plan, Rows};
use crate::llm::client::Client;
use crate::program::Program;
#[cfg(test)]
use crate::settings::PromptSettings;

mod outcome;
mod split;

use outcome::difference;
pub use outcome::Outcome;
pub use split::{with_split, SplitInfo, AUTO_TRAIN_SHARE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    Bootstrap,
    Random,
    Mipro(mipro::Auto),
    Gepa,
}

impl Optimizer {
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Bootstrap => "bootstrap",
            Optimizer::Random => "random",
            Optimizer::Mipro(_) => "mipro",
            Optimizer::Gepa => "gepa",
        }
    }

    pub fn from_name(name: &str) -> Option<Optimizer> {
        Some(match name {
            "bootstrap" => Optimizer::Bootstrap,
            "random" => Optimizer::Random,
            "mipro" => Optimizer::Mipro(mipro::Auto::Light),
            "gepa" => Optimizer::Gepa,
            _ => return None,
        })
    }
}

/// What the caller asks; `None` fields come from `promptls.optimizer` or defaults.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub optimizer: Option<Optimizer>,
    /// Candidates (random), trials (mipro), iterations (gepa).
    pub trials: Option<usize>,
    pub demos: Option<usize>,
    pub dataset: Option<PathBuf>,
    pub valset: Option<PathBuf>,
    pub teacher: Option<String>,
    pub seed: u64,
    pub budget: Budget,
    pub concurrency: Option<usize>,
    /// Dataset rows that cannot be read or rendered are left out (and counted) instead
    /// of failing the run.
    pub allow_bad_rows: bool,
    /// Train and validate on the rows of this file, split by the run (the server's
    /// uploaded datasets); `dataset` and `valset` then stay `None`.
    pub rows: Option<PathBuf>,
    /// Another target column than `promptls.target`.
    pub target: Option<String>,
}

/// Why a run could not start (`Usage`, `BadRows`) or did not finish (`Stopped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    Usage(String),
    /// Dataset rows cannot be read or rendered, and they were not allowed.
    BadRows(String),
    Stopped(Stop),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Usage(m) | JobError::BadRows(m) => f.write_str(m),
            JobError::Stopped(s) => write!(f, "{s}"),
        }
    }
}

/// The rows of `plans` that cannot be read (the dataset's unreadable lines) or rendered
/// (no target value, a render error), each once, as `data.csv line 3: why`, in order.
fn bad_rows(plans: &[&Plan]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut bad = Vec::new();
    for plan in plans {
        let dataset = plan.dataset.display().to_string();
        for e in &plan.dataset_errors {
            if seen.insert((dataset.clone(), e.line)) {
                bad.push(format!("{dataset} {e}"));
            }
        }
        for row in &plan.rows {
            let why = plan.expected(row).and_then(|_| plan.request(row)).err();
            if let Some(why) = why {
                if seen.insert((dataset.clone(), Some(row.line))) {
                    bad.push(format!("{dataset} line {}: {why}", row.line));
                }
            }
        }
    }
    bad
}

/// `plan` without its rows that cannot be rendered.
fn without_bad_rows(plan: &Plan) -> Plan {
    let good: Vec<usize> = (0..plan.rows.len())
        .filter(|&i| {
            let row = &plan.rows[i];
            plan.expected(row).is_ok() && plan.request(row).is_ok()
        })
        .collect();
    plan.with_rows(&good)
}

/// Runs an optimization of the prompt `source` at `file`.
pub async fn run(
    file: &Path,
    source: &str,
    config: &Config,
    client: &Client,
    request: &Request,
    cancel: CancellationToken,
    on_trial: OnTrial<'_>,
) -> Result<Outcome, JobError> {
    let usage = JobError::Usage;
    let analysis = Analysis::new(source, Some(file));
    let settings = analysis.settings();
    let setting = &settings.optimizer;
    let (named, trials_setting, demos_setting) =
        (setting.name.clone(), setting.trials, setting.demos);
    // The request's budget first, each limit else from `promptls.optimizer`.
    let budget = Budget {
        max_calls: request.budget.max_calls.or(setting.max_calls),
        max_cost: request.budget.max_cost.or(setting.max_cost),
    };
    let optimizer = match (request.optimizer, named.as_deref()) {
        (Some(o), _) => o,
        (None, Some(name)) => Optimizer::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = crate::settings::optimizer_names().collect();
            usage(format!("unknown optimizer `{name}` ({})", known.join(", ")))
        })?,
        (None, None) => Optimizer::Bootstrap,
    };
    let demos = request.demos.or(demos_setting).unwrap_or(4);
    let trials = request.trials.or(trials_setting);
    let plan = |dataset: &Option<PathBuf>, rows: Rows| {
        run::plan(
            &analysis,
            config,
            &Overrides {
                dataset: dataset.clone().or_else(|| request.rows.clone()),
                rows,
                target: request.target.clone(),
                ..Overrides::default()
            },
        )
        .map_err(|e| JobError::Usage(e.to_string()))
    };
    let mut dev = plan(&request.valset, Rows::Dev)?;
    let mut train = plan(&request.dataset, Rows::Train)?;
    // As `promptls eval`: a row that cannot be read or rendered fails the run unless
    // bad rows are allowed, and then it is left out and counted, never scored as 0.
    let bad = bad_rows(&[&dev, &train]);
    if !bad.is_empty() {
        if !request.allow_bad_rows {
            let shown = bad.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
            let more = if bad.len() > 5 {
                format!("; and {} more", bad.len() - 5)
            } else {
                String::new()
            };
            return Err(JobError::BadRows(format!(
                "{} dataset row{} could not be read or rendered: {shown}{more} (--allow-bad-rows optimizes with the others)",
                bad.len(),
                if bad.len() == 1 { "" } else { "s" }
            )));
        }
        dev = without_bad_rows(&dev);
        train = without_bad_rows(&train);
    }
    let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let source_name = if request.rows.is_some() {
        "auto"
    } else if request.valset.is_some() {
        "--valset"
    } else if settings.split.is_some() {
        "promptls.split"
    } else if request.dataset.is_some() && !same_file(&train.dataset, &dev.dataset) {
        "--dataset"
    } else {
        "auto"
    };
    let mut split_seed = match settings.split() {
        crate::data::split::Split::Ratio { seed, .. } if request.valset.is_none() => Some(seed),
        _ => None,
    };
    if source_name == "auto" {
        // No split given: the optimizer splits the rows itself, so no row both trains
        // (gives demos) and validates (is scored).
        let rows = dev.rows.len();
        if rows < 2 {
            return Err(usage(format!(
                "the dataset has {rows} row{}: an optimization needs at least 2 (one to train, one to validate)",
                if rows == 1 { "" } else { "s" }
            )));
        }
        let (train_rows, dev_rows) =
            crate::data::split::split_indices(rows, AUTO_TRAIN_SHARE, request.seed);
        train = dev.with_rows(&train_rows);
        dev = dev.with_rows(&dev_rows);
        split_seed = Some(request.seed);
    }
    if dev.rows.is_empty() || train.rows.is_empty() {
        return Err(usage(
            "the dataset needs training and validation rows".into(),
        ));
    }
    let split = SplitInfo {
        train: train.row_numbers.clone(),
        dev: dev.row_numbers.clone(),
        seed: split_seed,
        source: source_name,
    };
    let teacher = request
        .teacher
        .clone()
        .or_else(|| crate::settings::value(&settings.teacher).cloned())
        .unwrap_or_else(|| dev.model.clone());
    // Every model the run would call, checked before the first call.
    let teacher_refusal = crate::llm::provider::split_model(config.resolve_model(&teacher))
        .and_then(|(name, _)| config.provider(name).ok())
        .and_then(|p| p.refused.map(|r| r.to_string()));
    if let Some(refusal) = dev.refusal().map(|r| r.to_string()).or(teacher_refusal) {
        return Err(usage(refusal));
    }
    let start = Program::read(source).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    let concurrency = request
        .concurrency
        .or(config.file.eval.concurrency)
        .unwrap_or(8)
        .max(1);
    let metric = dev.scoring.name().to_string();
    let (model, dataset, rows) = (dev.model.clone(), dev.dataset.clone(), dev.rows.len());
    let session = Session::new(
        config,
        client,
        source.to_string(),
        dev,
        train,
        teacher,
        concurrency,
        budget,
        cancel,
        request.seed,
        on_trial,
    );
    let settings = DemoSettings {
        max_bootstrapped: demos,
        max_labeled: demos,
    };
    let stopped = JobError::Stopped;
    // A budget that cannot even score the prompt as it is: an error before any call.
    let baseline_plan = session
        .dev
        .with_source(source)
        .map_err(|e| JobError::Usage(e.to_string()))?;
    let need = session.needs(&baseline_plan);
    if let Some(max) = budget.max_calls {
        if need.calls > max {
            let name = if request.budget.max_calls.is_some() {
                "--max-calls"
            } else {
                "promptls.optimizer max_calls:"
            };
            return Err(usage(format!(
                "{name} {max} cannot score the prompt as it is: its {} validation rows need {} calls",
                session.dev.rows.len(),
                need.calls
            )));
        }
    }
    if let Some(max) = budget.max_cost {
        if need.cost > max {
            let name = if request.budget.max_cost.is_some() {
                "--max-cost"
            } else {
                "promptls.optimizer max_cost:"
            };
            return Err(usage(format!(
                "{name} {max} cannot score the prompt as it is: its {} validation rows ({} calls) may cost up to ${:.4} at worst",
                session.dev.rows.len(),
                need.calls,
                need.cost
            )));
        }
    }
    if budget.max_cost.is_some() {
        // A call of a model without a price would count as free: --max-cost could not
        // bound it.
        let mut models = vec![
            session.dev.model.clone(),
            config.resolve_model(&session.teacher).to_string(),
        ];
        if let crate::eval::run::Scoring::Judge { model, .. } = &session.dev.scoring {
            models.push(model.clone());
        }
        if let Some(unpriced) = models.iter().find(|m| config.price(m).is_none()) {
            return Err(usage(format!(
                "--max-cost needs the price of `{unpriced}`: set `prices` for it in promptls.toml"
            )));
        }
    }
    let baseline = session
        .score(&start, None, "baseline")
        .await
        .map_err(stopped)?;
    let before = session.usage();
    let optimizer_started = std::time::Instant::now();
    let best = match optimizer {
        Optimizer::Bootstrap => {
            // The demos it finds are scored after it: room for that scoring is held back
            // (their prompts are longer than the start's, hence twice its worst cost).
            let mut scoring = session.needs_of(&baseline_plan, false);
            scoring.cost *= 2.0;
            if session.hold(scoring) {
                let found = bootstrap::optimize(&session, &start, settings).await;
                session.release(scoring);
                found
            } else {
                Err(Stop::Budget("no room to score demos".into()))
            }
        }
        Optimizer::Random => {
            random::optimize(&session, &start, settings, trials.unwrap_or(8).max(1)).await
        }
        Optimizer::Mipro(auto) => {
            let mut mipro_settings = mipro::Settings::auto(auto, settings);
            if let Some(trials) = trials {
                mipro_settings.trials = trials.max(1);
            }
            mipro::optimize(&session, &start, mipro_settings).await
        }
        Optimizer::Gepa => {
            let mut gepa_settings = gepa::Settings::default();
            if let Some(iterations) = trials {
                gepa_settings.iterations = iterations.max(1);
            }
            gepa::optimize(&session, &start, gepa_settings).await
        }
    };
    let optimizer_usage = difference(&session.usage(), &before);
    let optimizer_ms = optimizer_started.elapsed().as_secs_f64() * 1000.0;
    // A budget or a cancel that stopped the optimizer keeps the best program scored on
    // every validation row so far (at least the start).
    let kept = || {
        session
            .best_so_far()
            .map(|(s, p)| (p, s))
            .unwrap_or((start.clone(), baseline))
    };
    let (program, score) = match best {
        Ok(best) => match session.final_score(&best).await {
            Ok(score) => (best, score),
            Err(Stop::Budget(_) | Stop::Cancelled) => kept(),
            Err(e) => return Err(stopped(e)),
        },
        Err(Stop::Budget(_) | Stop::Cancelled) => kept(),
        Err(e) => return Err(stopped(e)),
    };
    let (program, score) = if score >= baseline {
        (program, score)
    } else {
        (start.clone(), baseline)
    };
    Ok(Outcome {
        optimizer,
        metric,
        model,
        dataset,
        rows,
        baseline,
        score,
        start,
        program,
        usage: session.usage(),
        optimizer_usage,
        optimizer_ms,
        trials: session.trials(),
        wall_ms: session.started.elapsed().as_secs_f64() * 1000.0,
        stopped: session.stopped(),
        calls_made: session.spent().0,
        split,
        bad_rows: bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_optimizer_runs() {
        for name in crate::settings::optimizer_names() {
            let optimizer = Optimizer::from_name(name).expect(name);
            assert_eq!(optimizer.name(), name);
        }
    }

    #[test]
    fn the_budget_comes_from_promptls_optimizer_too() {
        let settings = PromptSettings::of_source(
            "---\npromptls.optimizer: {name: random, trials: 3, max_calls: 40, max_cost: 0.5}\n---\nHi\n",
        );
        assert!(settings.problems.is_empty(), "{:?}", settings.problems);
        let s = settings.optimizer;
        assert_eq!(s.name.as_deref(), Some("random"));
        assert_eq!(s.trials, Some(3));
        assert_eq!((s.max_calls, s.max_cost), (Some(40), Some(0.5)));
    }
}
