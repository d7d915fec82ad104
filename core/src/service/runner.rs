//! Running one job of the queue: an evaluation of a prompt on an uploaded dataset, or an
//! optimization of it, with the engine the command line uses; the result is the JSON
//! the API answers with, and the history records what `promptls eval` and `promptls
//! optimize` would record.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{Error, Job, JobKind, Progress, Service};
use crate::analysis::Analysis;
use crate::config::Config;
use crate::eval::run::{self, Overrides, RowResult, Rows};
use crate::llm::client::Client;
use crate::optimize::job::{self as optimization, JobError, Optimizer, Request};
use crate::optimize::mipro;
use crate::optimize::session::{Budget, Limit, Stop, Trial};
use crate::store::{self, Origin, Store};

/// How a job ended without its result.
#[derive(Debug)]
pub enum Ended {
    Cancelled,
    Failed(String),
}

impl From<Error> for Ended {
    fn from(e: Error) -> Ended {
        Ended::Failed(e.to_string())
    }
}

/// An optimization's `config` as the API takes it; unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizationConfig {
    /// bootstrap, random, mipro or gepa (default: the prompt's `promptls.optimizer`,
    /// else bootstrap).
    pub optimizer_type: Option<String>,
    /// Demos at most.
    pub num_fewshot_examples: Option<usize>,
    /// MIPRO's budget: light, medium or heavy.
    pub auto: Option<String>,
    /// Candidates (random), trials (mipro), iterations (gepa).
    pub num_trials: Option<usize>,
    pub teacher: Option<String>,
    pub max_calls: Option<u64>,
    pub max_cost: Option<f64>,
    pub seed: Option<u64>,
}

impl OptimizationConfig {
    /// The engine's request, or what is wrong with the config.
    pub fn request(&self) -> Result<Request, Error> {
        let invalid = |m: String| Error::Invalid(m);
        let auto = match self.auto.as_deref() {
            None | Some("light") => mipro::Auto::Light,
            Some("medium") => mipro::Auto::Medium,
            Some("heavy") => mipro::Auto::Heavy,
            Some(other) => {
                return Err(invalid(format!(
                    "`auto` is `{other}`: use light, medium or heavy"
                )))
            }
        };
        let optimizer = match self.optimizer_type.as_deref() {
            None => None,
            Some("mipro") => Some(Optimizer::Mipro(auto)),
            Some(name) => Some(Optimizer::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = crate::settings::optimizer_names().collect();
                invalid(format!(
                    "`optimizer_type` is `{name}`: use one of {}",
                    known.join(", ")
                ))
            })?),
        };
        if self.num_fewshot_examples.is_some_and(|n| n > 32) {
            return Err(invalid("`num_fewshot_examples` is at most 32".into()));
        }
        if self.num_trials.is_some_and(|n| n == 0 || n > 1000) {
            return Err(invalid("`num_trials` is 1 to 1000".into()));
        }
        if self.max_cost.is_some_and(|c| !(c >= 0.0 && c.is_finite())) {
            return Err(invalid(
                "`max_cost` must be a number of US dollars, 0 or more".into(),
            ));
        }
        Ok(Request {
            optimizer,
            trials: self.num_trials,
            demos: self.num_fewshot_examples,
            teacher: self.teacher.clone(),
            seed: self.seed.unwrap_or(0),
            budget: Budget {
                max_calls: self.max_calls,
                max_cost: self.max_cost,
            },
            ..Request::default()
        })
    }
}

/// An evaluation's `config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    pub metric: Option<String>,
}

impl EvaluationConfig {
    pub fn check(&self) -> Result<(), Error> {
        match &self.metric {
            Some(m) if crate::settings::canonical_metric(m).is_none() => {
                Err(Error::Invalid(format!(
                    "`metric` is `{m}`: use one of {}",
                    crate::settings::METRICS.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }
}

/// What runs the jobs of one workspace: its configuration and one model client, so
/// every job shares the providers' rate limits and the call cache.
pub struct Runner {
    pub service: Service,
    pub config: Config,
    pub client: Arc<Client>,
}

type OnProgress<'a> = &'a (dyn Fn(Progress) + Send + Sync);

impl Runner {
    /// The runner of `service`'s workspace, its configuration read once.
    pub fn new(service: Service) -> Result<Runner, Error> {
        let config =
            Config::load_root(&service.root).map_err(|e| Error::CannotRun(e.to_string()))?;
        let client = Arc::new(
            config
                .client(true)
                .map_err(|e| Error::CannotRun(e.to_string()))?,
        );
        Ok(Runner {
            service,
            config,
            client,
        })
    }

    /// The providers the workspace configures or has keys for, and whether each can be
    /// called (its key is there, and the workspace may use it).
    pub fn providers(&self) -> Vec<(String, bool)> {
        let mut names: Vec<String> = self.config.file.providers.keys().cloned().collect();
        for name in crate::llm::provider::known_names() {
            if let Ok(p) = self.config.provider(name) {
                if p.key.is_some() && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let usable = self
                    .config
                    .provider(&name)
                    .is_ok_and(|p| p.refused.is_none() && (p.key.is_some() || p.key_env.is_none()));
                (name, usable)
            })
            .collect()
    }

    /// Runs `job` to its result.
    pub async fn run(
        &self,
        job: &Job,
        cancel: &CancellationToken,
        on_progress: OnProgress<'_>,
    ) -> Result<Value, Ended> {
        match job.kind {
            JobKind::Evaluation => self.evaluate(job, cancel, on_progress).await,
            JobKind::Optimization => self.optimize(job, cancel, on_progress).await,
        }
    }

    fn concurrency(&self) -> usize {
        self.config.file.eval.concurrency.unwrap_or(8).max(1)
    }

    async fn evaluate(
        &self,
        job: &Job,
        cancel: &CancellationToken,
        on_progress: OnProgress<'_>,
    ) -> Result<Value, Ended> {
        let config: EvaluationConfig =
            serde_json::from_value(job.config.clone()).map_err(|e| Ended::Failed(e.to_string()))?;
        let path = self.service.prompt_path(&job.prompt)?;
        let source = read(&path)?;
        let (dataset, file) = self.service.dataset_file(&job.dataset)?;
        let overrides = Overrides {
            dataset: Some(file),
            rows: Rows::All,
            target: dataset.output_fields.first().cloned(),
            metric: config.metric,
            ..Overrides::default()
        };
        let plan = run::plan(
            &Analysis::new(&source, Some(&path)),
            &self.config,
            &overrides,
        )
        .map_err(|e| Ended::Failed(e.to_string()))?;
        if let Some(refusal) = plan.refusal() {
            return Err(Ended::Failed(refusal.to_string()));
        }
        let total = plan.rows.len();
        let progress = Mutex::new(Progress {
            total,
            ..Progress::default()
        });
        let on_row = |row: &RowResult, _done: usize, _total: usize| {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            p.done += 1;
            p.calls += u64::from(row.calls);
            p.cost_usd += row.cost_usd;
            p.message = Some(format!("{}/{total} rows", p.done));
            on_progress(p.clone());
        };
        let report = run::run(&plan, &self.client, self.concurrency(), cancel, &on_row)
            .await
            .map_err(|run::Cancelled| Ended::Cancelled)?;
        // Recorded as `promptls eval` records it: a complete run's version and score.
        let version = match report.to_record(true) {
            Some(score) => {
                let shared = Store::shared(&self.service.root).map_err(Error::from)?;
                Some(
                    shared
                        .with(|s| {
                            s.record_scored(&path, &source, &Origin::Edit, None, score.as_ref())
                        })
                        .map_err(Error::from)?,
                )
            }
            None => None,
        };
        Ok(json!({
            "job_id": job.job_id,
            "prompt": job.prompt,
            "dataset": job.dataset,
            "version": version,
            "report": report,
        }))
    }

    async fn optimize(
        &self,
        job: &Job,
        cancel: &CancellationToken,
        on_progress: OnProgress<'_>,
    ) -> Result<Value, Ended> {
        let config: OptimizationConfig =
            serde_json::from_value(job.config.clone()).map_err(|e| Ended::Failed(e.to_string()))?;
        let mut request = config.request()?;
        let path = self.service.prompt_path(&job.prompt)?;
        let source = read(&path)?;
        let (dataset, file) = self.service.dataset_file(&job.dataset)?;
        request.rows = Some(file);
        request.target = dataset.output_fields.first().cloned();
        let on_trial = |count: usize, best: f64, trial: &Trial| {
            on_progress(Progress {
                done: count,
                total: 0,
                trial: count,
                best_score: Some(best.max(0.0)),
                calls: trial.calls_so_far,
                cost_usd: trial.cost_so_far,
                message: Some(trial.progress_text(count, best)),
            });
        };
        let outcome = optimization::run(
            &path,
            &source,
            &self.config,
            &self.client,
            &request,
            cancel.clone(),
            &on_trial,
        )
        .await
        .map_err(|e| match e {
            JobError::Stopped(Stop::Cancelled) => Ended::Cancelled,
            other => Ended::Failed(other.to_string()),
        })?;
        if outcome.stopped == Some(Limit::Cancelled) {
            return Err(Ended::Cancelled);
        }
        let program = &outcome.program;
        let candidate = if *program == outcome.start {
            None
        } else {
            let applied = program
                .apply(&source)
                .map_err(|e| Ended::Failed(e.to_string()))?;
            Some(optimization::with_split(&applied, &outcome.split))
        };
        // The start and the result as versions (the file itself is left as it is: a
        // promotion points a tag at the result).
        let shared = Store::shared(&self.service.root).map_err(Error::from)?;
        let (start_version, version) = shared
            .with(|s| {
                let recorded = outcome.record(s, &path, &source, candidate.as_deref())?;
                // The file still holds the start: its next edit is the start's child.
                s.set_head(&path, &source, recorded.0)?;
                Ok::<_, store::Error>(recorded)
            })
            .map_err(Error::from)?;
        let parts = store::diff::diff(&source, candidate.as_deref().unwrap_or(&source), &[], &[]);
        let calls: BTreeMap<_, _> = outcome.usage.clone();
        let total_calls: u64 = calls.values().map(|u| u.calls).sum();
        let cost: f64 = calls.values().map(|u| u.cost_usd).sum();
        Ok(json!({
            "job_id": job.job_id,
            "prompt": job.prompt,
            "dataset": job.dataset,
            "optimizer": outcome.optimizer.name(),
            "metric": outcome.metric,
            "model": outcome.model,
            "baseline_score": outcome.baseline,
            "final_score": outcome.score,
            "improved": outcome.improved(),
            "instruction": program.instruction,
            "demos": program.demos,
            "diff": store::diff::render(&parts, &format!("v{start_version}"), &version.map_or("unchanged".to_string(), |v| format!("v{v}"))),
            "changelog": store::diff::changelog(&parts),
            "start_version": start_version,
            "version": version,
            "trials": outcome.trials,
            "calls": calls,
            "total_calls": total_calls,
            "cost_usd": cost,
            "split": outcome.split,
            "stopped": outcome.stop_note(),
            "bad_rows": outcome.bad_rows,
        }))
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(Error::io(path))
}
