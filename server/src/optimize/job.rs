//! One optimization run from start to finish, as the command line and the editor start
//! it: read the settings (`promptls.optimizer`, `promptls.teacher`, the split), score the
//! prompt as it is, run the optimizer, and score the winner. The prompt's text is an
//! input: nothing here writes files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::bootstrap::Settings as DemoSettings;
use super::program::Program;
use super::session::{Budget, OnTrial, Session, Stop, Trial, Usage};
use super::{bootstrap, gepa, mipro, random};
use crate::config::Config;
use crate::eval::run::{self, Overrides, Rows};
use crate::llm::client::Client;

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
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub optimizer: Optimizer,
    pub metric: String,
    /// The task model and the validation dataset (for the history's scores).
    pub model: String,
    pub dataset: PathBuf,
    /// Validation rows scored.
    pub rows: usize,
    pub baseline: f64,
    pub score: f64,
    pub start: Program,
    /// The winner (the starting program when nothing beat it).
    pub program: Program,
    /// Everything the run spent, by model.
    pub usage: BTreeMap<String, Usage>,
    /// What the optimizer itself spent (without scoring the prompt before and after on
    /// the validation rows).
    pub optimizer_usage: BTreeMap<String, Usage>,
    /// The optimizer's own wall time (without the scoring before and after).
    pub optimizer_ms: f64,
    pub trials: Vec<Trial>,
    pub wall_ms: f64,
}

impl Outcome {
    pub fn improved(&self) -> bool {
        self.score > self.baseline && self.program != self.start
    }

    /// Records the prompt as the run began with its baseline score and, when `result`
    /// (the text applied) is given, that text as its child with the optimizer, what it
    /// spent and its score. Returns the two version numbers.
    pub fn record(
        &self,
        store: &mut crate::store::Store,
        path: &Path,
        start: &str,
        result: Option<&str>,
    ) -> Result<(i64, Option<i64>), String> {
        use crate::store::{self, Origin, Score};
        let score =
            |value: f64| Score::new(&self.dataset, &self.metric, &self.model, value, self.rows);
        let from = store.record_scored(
            path,
            start,
            &Origin::Edit,
            None,
            Some(&score(self.baseline)),
        )?;
        let Some(text) = result else {
            return Ok((from, None));
        };
        let spent = self.usage.values().fold((0u64, 0u64, 0.0f64), |t, u| {
            (
                t.0 + u.calls,
                t.1 + u.prompt_tokens + u.completion_tokens,
                t.2 + u.cost_usd,
            )
        });
        let origin = Origin::Optimizer {
            name: self.optimizer.name().to_string(),
            detail: serde_json::json!({
                "models": self.usage.keys().collect::<Vec<_>>(),
                "calls": spent.0,
                "tokens": spent.1,
                "cost_usd": spent.2,
                "dataset": store::dataset_hash(&self.dataset),
                "trials": self.trials.len(),
            }),
        };
        let to = store.record_scored(path, text, &origin, Some(from), Some(&score(self.score)))?;
        Ok((from, Some(to)))
    }
}

/// `promptls.optimizer` as written: a name or `{name, trials, demos}`.
pub fn optimizer_setting(source: &str) -> (Option<String>, Option<usize>, Option<usize>) {
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

/// `after - before`, per model (models with nothing spent left out).
fn difference(
    after: &BTreeMap<String, Usage>,
    before: &BTreeMap<String, Usage>,
) -> BTreeMap<String, Usage> {
    after
        .iter()
        .filter_map(|(model, a)| {
            let b = before.get(model).cloned().unwrap_or_default();
            let d = Usage {
                role: a.role.clone(),
                calls: a.calls - b.calls,
                cache_hits: a.cache_hits - b.cache_hits,
                prompt_tokens: a.prompt_tokens - b.prompt_tokens,
                completion_tokens: a.completion_tokens - b.completion_tokens,
                cost_usd: a.cost_usd - b.cost_usd,
            };
            (d.calls > 0 || d.cache_hits > 0).then(|| (model.clone(), d))
        })
        .collect()
}

/// Why a run could not start (`Usage`) or did not finish (`Stopped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    Usage(String),
    Stopped(Stop),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Usage(m) => f.write_str(m),
            JobError::Stopped(s) => write!(f, "{s}"),
        }
    }
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
    let (named, trials_setting, demos_setting) = optimizer_setting(source);
    let optimizer = match (request.optimizer, named.as_deref()) {
        (Some(o), _) => o,
        (None, Some(name)) => Optimizer::from_name(name).ok_or_else(|| {
            usage(format!(
                "unknown optimizer `{name}` (bootstrap, random, mipro, gepa)"
            ))
        })?,
        (None, None) => Optimizer::Bootstrap,
    };
    let demos = request.demos.or(demos_setting).unwrap_or(4);
    let trials = request.trials.or(trials_setting);
    let plan = |dataset: &Option<PathBuf>, rows: Rows| {
        run::plan(
            file,
            source,
            config,
            &Overrides {
                dataset: dataset.clone(),
                rows,
                ..Overrides::default()
            },
        )
        .map_err(JobError::Usage)
    };
    let dev = plan(&request.valset, Rows::Dev)?;
    let train = plan(&request.dataset, Rows::Train)?;
    if dev.rows.is_empty() || train.rows.is_empty() {
        return Err(usage(
            "the dataset needs training and validation rows".into(),
        ));
    }
    let teacher = request
        .teacher
        .clone()
        .or_else(|| {
            let parsed = crate::syntax::parse(source);
            parsed
                .frontmatter
                .as_ref()
                .and_then(|fm| crate::settings::get(fm, "teacher"))
                .and_then(|v| v.as_str().map(str::to_string))
        })
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
        request.budget,
        cancel,
        request.seed,
        on_trial,
    );
    let settings = DemoSettings {
        max_bootstrapped: demos,
        max_labeled: demos,
    };
    let stopped = JobError::Stopped;
    let baseline = session
        .score(&start, None, "baseline")
        .await
        .map_err(stopped)?;
    let before = session.usage();
    let optimizer_started = std::time::Instant::now();
    let best = match optimizer {
        Optimizer::Bootstrap => bootstrap::optimize(&session, &start, settings).await,
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
    }
    .map_err(stopped)?;
    let optimizer_usage = difference(&session.usage(), &before);
    let optimizer_ms = optimizer_started.elapsed().as_secs_f64() * 1000.0;
    let score = session.final_score(&best).await.map_err(stopped)?;
    let (program, score) = if score >= baseline {
        (best, score)
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
    })
}
