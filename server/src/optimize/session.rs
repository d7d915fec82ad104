//! What every optimizer works with: the prompt's text, the validation and training rows,
//! the shared model client (its cache makes a repeated candidate free), the budget, and
//! the accounting of calls, tokens and cost per model and role (task or teacher).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::program::Program;
use crate::config::Config;
use crate::eval::run::{self, Plan, Report};
use crate::llm::client::Client;

/// Calls and spend of one model in one role.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Usage {
    pub role: String,
    pub calls: u64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Limits on a run; the optimizer stops (keeping its best so far) when one is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub max_calls: Option<u64>,
    pub max_cost: Option<f64>,
}

/// One scored candidate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trial {
    pub score: f64,
    /// Scored on a minibatch of the validation rows rather than all of them.
    pub minibatch: bool,
    pub rows: usize,
    pub demos: usize,
    /// What was tried, in a few words (`zero-shot`, `bootstrap seed 3`, ...).
    pub label: String,
    /// Stopped before all its rows because it could no longer beat the best score (its
    /// `score` is then the most it could have reached).
    pub pruned: bool,
}

/// Progress as trials finish: trials so far, the best full score so far.
pub type OnTrial<'a> = &'a (dyn Fn(usize, f64, &Trial) + Send + Sync);

/// Why an optimizer stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Cancelled,
    Budget(String),
    Failed(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Cancelled => f.write_str("cancelled"),
            Stop::Budget(why) => write!(f, "budget reached: {why}"),
            Stop::Failed(why) => f.write_str(why),
        }
    }
}

pub struct Session<'a> {
    pub config: &'a Config,
    pub client: &'a Client,
    /// The prompt as it was when the run began.
    pub source: String,
    /// Validation rows: candidates are scored on these.
    pub dev: Plan,
    /// Training rows: demos come from these.
    pub train: Plan,
    /// `provider/model` of the teacher.
    pub teacher: String,
    pub concurrency: usize,
    pub budget: Budget,
    pub cancel: CancellationToken,
    pub seed: u64,
    pub on_trial: OnTrial<'a>,
    usage: Mutex<BTreeMap<String, Usage>>,
    trials: Mutex<Vec<Trial>>,
    best: Mutex<f64>,
    pub started: Instant,
}

impl<'a> Session<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &'a Config,
        client: &'a Client,
        source: String,
        dev: Plan,
        train: Plan,
        teacher: String,
        concurrency: usize,
        budget: Budget,
        cancel: CancellationToken,
        seed: u64,
        on_trial: OnTrial<'a>,
    ) -> Session<'a> {
        Session {
            config,
            client,
            source,
            dev,
            train,
            teacher,
            concurrency,
            budget,
            cancel,
            seed,
            on_trial,
            usage: Mutex::new(BTreeMap::new()),
            trials: Mutex::new(Vec::new()),
            best: Mutex::new(f64::NEG_INFINITY),
            started: Instant::now(),
        }
    }

    /// Calls, tokens and cost by model.
    pub fn usage(&self) -> BTreeMap<String, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn trials(&self) -> Vec<Trial> {
        self.trials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(&self, model: &str, role: &str, report: &Report) {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let entry = usage.entry(model.to_string()).or_default();
        if entry.role.is_empty() {
            entry.role = role.to_string();
        } else if entry.role != role && !entry.role.contains(role) {
            entry.role = format!("{}+{role}", entry.role);
        }
        entry.calls += report.calls;
        entry.cache_hits += report.cache_hits;
        entry.prompt_tokens += report.prompt_tokens;
        entry.completion_tokens += report.completion_tokens;
        entry.cost_usd += report.cost_usd;
    }

    /// Whether the budget allows another run.
    pub fn check_budget(&self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let usage = self.usage();
        let calls: u64 = usage.values().map(|u| u.calls).sum();
        let cost: f64 = usage.values().map(|u| u.cost_usd).sum();
        if let Some(max) = self.budget.max_calls {
            if calls >= max {
                return Err(Stop::Budget(format!("{calls} calls of --max-calls {max}")));
            }
        }
        if let Some(max) = self.budget.max_cost {
            if cost >= max {
                return Err(Stop::Budget(format!("${cost:.4} of --max-cost {max}")));
            }
        }
        Ok(())
    }

    /// Runs `plan` (the task model unless `role` says otherwise) and records its usage.
    pub async fn run(&self, plan: &Plan, role: &str) -> Result<Report, Stop> {
        self.check_budget()?;
        self.run_unchecked(plan, role).await
    }

    /// `run` without the budget check: the final score of the winner (already scored,
    /// so normally from the cache) is reported even when the budget is spent.
    async fn run_unchecked(&self, plan: &Plan, role: &str) -> Result<Report, Stop> {
        let report = run::run(
            plan,
            self.client,
            self.concurrency,
            &self.cancel,
            &|_, _, _| {},
        )
        .await
        .map_err(|_| Stop::Cancelled)?;
        self.record(&plan.model, role, &report);
        if report.error_rows > 0 && report.error_rows == report.rows {
            let first = report
                .per_row
                .iter()
                .find_map(|r| r.error.as_deref())
                .unwrap_or("");
            return Err(Stop::Failed(format!("every row failed: {first}")));
        }
        Ok(report)
    }

    /// Asks the teacher directly (a data summary, an instruction proposal, a reflection),
    /// through the shared client (cached, paced, retried), and records the call.
    pub async fn ask_teacher(&self, system: &str, user: &str) -> Result<String, Stop> {
        self.check_budget()?;
        let model = self.config.resolve_model(&self.teacher).to_string();
        let (provider_name, model_name) =
            crate::llm::provider::split_model(&model).ok_or_else(|| {
                Stop::Failed(format!("the teacher `{model}` is not `provider/model`"))
            })?;
        let provider = self.config.provider(provider_name).map_err(Stop::Failed)?;
        let mut config = serde_json::Map::new();
        config.insert("temperature".into(), serde_json::Value::from(0.7));
        let request = crate::llm::wire::ChatRequest {
            model: model_name.to_string(),
            messages: vec![
                serde_json::json!({"role": "system", "content": [{"text": system}]}),
                serde_json::json!({"role": "user", "content": [{"text": user}]}),
            ],
            config,
            json_output: false,
        };
        let answer = tokio::select! {
            _ = self.cancel.cancelled() => return Err(Stop::Cancelled),
            answer = self.client.chat(&provider, &request) => answer,
        }
        .map_err(|e| Stop::Failed(format!("the teacher failed: {}", e.message)))?;
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let entry = usage.entry(model.clone()).or_default();
        if entry.role.is_empty() {
            entry.role = "teacher".into();
        } else if !entry.role.contains("teacher") {
            entry.role = format!("{}+teacher", entry.role);
        }
        entry.calls += u64::from(answer.attempts);
        if answer.cached {
            entry.cache_hits += 1;
        } else {
            entry.prompt_tokens += answer.response.prompt_tokens;
            entry.completion_tokens += answer.response.completion_tokens;
            if let Some(price) = self.config.price(&model) {
                entry.cost_usd += (answer.response.prompt_tokens as f64 * price.input
                    + answer.response.completion_tokens as f64 * price.output)
                    / 1_000_000.0;
            }
        }
        Ok(answer.response.text)
    }

    /// The prompt's template (the body after the frontmatter).
    pub fn template(&self) -> &str {
        let span = crate::syntax::parse(&self.source).template_span;
        &self.source[span.start..span.end]
    }

    /// The source with `program` written in.
    pub fn source_of(&self, program: &Program) -> Result<String, Stop> {
        program.apply(&self.source).map_err(Stop::Failed)
    }

    /// Scores `program` on `rows` of the validation set (all of them when `None`), and
    /// records the trial.
    pub async fn score(
        &self,
        program: &Program,
        rows: Option<&[usize]>,
        label: &str,
    ) -> Result<f64, Stop> {
        Ok(self.evaluate(program, rows, label).await?.score)
    }

    /// As `score`, with the whole report (each row's output and score).
    pub async fn evaluate(
        &self,
        program: &Program,
        rows: Option<&[usize]>,
        label: &str,
    ) -> Result<Report, Stop> {
        let source = self.source_of(program)?;
        let plan = match rows {
            Some(indices) => self.dev.with_rows(indices),
            None => self.dev.clone(),
        }
        .with_source(&source)
        .map_err(Stop::Failed)?;
        let report = self.run(&plan, "task").await?;
        let trial = Trial {
            score: report.score,
            minibatch: rows.is_some(),
            rows: report.rows,
            demos: program.demos.len(),
            label: label.to_string(),
            pruned: false,
        };
        self.record_trial(trial);
        Ok(report)
    }

    fn record_trial(&self, trial: Trial) {
        let (count, best) = {
            let mut trials = self.trials.lock().unwrap_or_else(|p| p.into_inner());
            trials.push(trial.clone());
            let mut best = self.best.lock().unwrap_or_else(|p| p.into_inner());
            if !trial.minibatch && trial.score > *best {
                *best = trial.score;
            }
            (trials.len(), *best)
        };
        (self.on_trial)(count, best, &trial);
    }

    /// Scores `program` on `rows` of the validation set (all when `None`) in chunks, and
    /// stops as soon as it can no longer score above `beat` even if every remaining row
    /// passed ("racing"; only for metrics that average row scores). Returns the score, or
    /// the most it could have reached when stopped, and whether it stopped.
    pub async fn race(
        &self,
        program: &Program,
        rows: Option<&[usize]>,
        beat: f64,
        label: &str,
    ) -> Result<(f64, bool), Stop> {
        let averaged = !matches!(
            self.dev.scoring,
            crate::eval::run::Scoring::Metric(
                crate::eval::metrics::Metric::Bleu
                    | crate::eval::metrics::Metric::Chrf
                    | crate::eval::metrics::Metric::ChrfPlusPlus
            )
        );
        if !averaged || !beat.is_finite() {
            return Ok((self.score(program, rows, label).await?, false));
        }
        let all: Vec<usize> = match rows {
            Some(r) => r.to_vec(),
            None => (0..self.dev.rows.len()).collect(),
        };
        let total = all.len().max(1) as f64;
        let source = self.source_of(program)?;
        let candidate = self.dev.with_source(&source).map_err(Stop::Failed)?;
        let (mut sum, mut done) = (0.0, 0usize);
        let mut pruned = false;
        for chunk in all.chunks(self.concurrency.max(1)) {
            let report = self.run(&candidate.with_rows(chunk), "task").await?;
            sum += report
                .per_row
                .iter()
                .map(|r| r.score.unwrap_or(0.0))
                .sum::<f64>();
            done += chunk.len();
            let bound = (sum + (all.len() - done) as f64) / total;
            if done < all.len() && bound <= beat + 1e-12 {
                pruned = true;
                break;
            }
        }
        let score = if pruned {
            (sum + (all.len() - done) as f64) / total
        } else {
            sum / total
        };
        self.record_trial(Trial {
            score,
            minibatch: rows.is_some(),
            rows: done,
            demos: program.demos.len(),
            label: if pruned {
                format!("{label} (stopped: cannot beat {beat:.3})")
            } else {
                label.to_string()
            },
            pruned,
        });
        Ok((score, pruned))
    }

    /// The validation score of the program an optimizer returned (outside the budget).
    pub async fn final_score(&self, program: &Program) -> Result<f64, Stop> {
        let source = self.source_of(program)?;
        let plan = self.dev.with_source(&source).map_err(Stop::Failed)?;
        let report = self.run_unchecked(&plan, "task").await?;
        let trial = Trial {
            score: report.score,
            minibatch: false,
            rows: report.rows,
            demos: program.demos.len(),
            label: "final".into(),
            pruned: false,
        };
        self.trials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(trial);
        Ok(report.score)
    }

    /// Runs `program` on training rows (GEPA's rollouts), without recording a trial.
    pub async fn rollout(&self, program: &Program, rows: &[usize]) -> Result<Report, Stop> {
        let source = self.source_of(program)?;
        let plan = self
            .train
            .with_rows(rows)
            .with_source(&source)
            .map_err(Stop::Failed)?;
        self.run(&plan, "task").await
    }
}
