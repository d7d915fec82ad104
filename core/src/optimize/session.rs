//! What every optimizer works with: the prompt's text, the validation and training rows,
//! the shared model client (its cache makes a repeated candidate free), the budget, and
//! the accounting of calls, tokens and cost per model and role (task or teacher).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::eval::run::{self, Plan, PlanError, Report};
use crate::llm::client::Client;
use crate::program::Program;

pub use super::budget::{
    estimate_prompt_tokens, max_output_tokens, Budget, Limit, Need, Usage,
    DEFAULT_MAX_OUTPUT_TOKENS,
};
use super::budget::{worst_cost, Attempts, Ledger};

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

impl std::error::Error for Stop {}

/// Why a candidate program is not scored (`Session::admits`).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// It cannot be written into the prompt.
    #[error(transparent)]
    Program(#[from] crate::program::Error),
    /// The prompt it makes fails the pre-call checks.
    #[error(transparent)]
    Plan(#[from] PlanError),
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
    /// The best program scored on every validation row (not pruned), with its score:
    /// what a stopped run keeps.
    best_program: Mutex<Option<(f64, Program)>>,
    ledger: Mutex<Ledger>,
    stopped: Mutex<Option<Limit>>,
    /// The user turns of the validation rows: no demo may show one.
    dev_inputs: std::collections::HashSet<String>,
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
        let dev_inputs = dev
            .rows
            .iter()
            .filter_map(|r| dev.user_turn(r).ok())
            .collect();
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
            best_program: Mutex::new(None),
            ledger: Mutex::new(Ledger::default()),
            stopped: Mutex::new(None),
            dev_inputs,
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

    /// Whether `input` (a demo's) is the user turn of a validation row.
    pub fn is_dev_input(&self, input: &str) -> bool {
        self.dev_inputs.contains(input.trim())
    }

    /// Which budget stopped the run, if one did (or it was cancelled).
    pub fn stopped(&self) -> Option<Limit> {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The best program scored on every validation row so far, with its score.
    pub fn best_so_far(&self) -> Option<(f64, Program)> {
        self.best_program
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls settled so far, and their cost.
    pub fn spent(&self) -> (u64, f64) {
        let ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        (ledger.calls, ledger.cost)
    }

    fn stop(&self, limit: Limit, why: String) -> Stop {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        stopped.get_or_insert(limit);
        if limit == Limit::Cancelled {
            Stop::Cancelled
        } else {
            Stop::Budget(why)
        }
    }

    /// Whether the run was cancelled.
    pub fn check_budget(&self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(self.stop(Limit::Cancelled, String::new()));
        }
        Ok(())
    }

    /// Reserves `need` against the budget, atomically: `Err` (and nothing reserved) when
    /// the calls settled, those in flight and these would go over a ceiling. A need of no
    /// call (every answer cached) always fits.
    pub(super) fn reserve(&self, need: Need) -> Result<(), Stop> {
        self.check_budget()?;
        if need.calls == 0 {
            return Ok(());
        }
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(max) = self.budget.max_calls {
            let after = ledger.calls + ledger.held.calls + need.calls;
            if after > max {
                let made = ledger.calls;
                drop(ledger);
                return Err(self.stop(
                    Limit::MaxCalls,
                    format!(
                        "max-calls reached after {made} calls ({} more needed, --max-calls {max})",
                        need.calls
                    ),
                ));
            }
        }
        if let Some(max) = self.budget.max_cost {
            let after = ledger.cost + ledger.held.cost + need.cost;
            if after > max + 1e-12 {
                let spent = ledger.cost;
                drop(ledger);
                return Err(self.stop(
                    Limit::MaxCost,
                    format!(
                        "max-cost reached after ${spent:.4} (${:.4} more at worst, --max-cost {max})",
                        need.cost
                    ),
                ));
            }
        }
        ledger.held.add(need);
        Ok(())
    }

    /// Holds `need` back for a later call (the final scoring of a result not yet scored);
    /// `false` when it does not fit.
    pub fn hold(&self, need: Need) -> bool {
        self.reserve(need).is_ok()
    }

    /// Gives back what `hold` held.
    pub fn release(&self, need: Need) {
        self.settle(need, 0, 0.0);
    }

    /// Replaces the reservation `held` by what the calls really made and cost.
    fn settle(&self, held: Need, calls: u64, cost: f64) {
        if held.calls == 0 && calls == 0 {
            return;
        }
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        ledger.held.calls = ledger.held.calls.saturating_sub(held.calls);
        ledger.held.cost = (ledger.held.cost - held.cost).max(0.0);
        ledger.calls += calls;
        ledger.cost += cost;
    }

    /// What running `plan` needs at worst: a call for each row without a cached answer
    /// (at its rendered prompt and the config's output tokens) and, with a judge, a
    /// judge call for each row.
    pub fn needs(&self, plan: &Plan) -> Need {
        self.needs_of(plan, true)
    }

    /// As `needs`, as if nothing were cached when `cached` is false.
    pub fn needs_of(&self, plan: &Plan, cached: bool) -> Need {
        let mut need = Need::default();
        let judge = match &plan.scoring {
            crate::eval::run::Scoring::Judge { model, .. } => Some(self.config.price(model)),
            _ => None,
        };
        let price = self.config.price(&plan.model);
        let requests: Vec<_> = plan
            .rows
            .iter()
            .filter_map(|r| plan.request(r).ok())
            .collect();
        let keys: Vec<String> = requests
            .iter()
            .map(|r| crate::llm::cache::key(&plan.provider.name, r))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let hits = if cached {
            self.client.cached_many(&refs)
        } else {
            vec![None; refs.len()]
        };
        for (request, hit) in requests.iter().zip(hits) {
            let prompt = estimate_prompt_tokens(&request.messages);
            let output = max_output_tokens(&request.config);
            if hit.is_none() {
                need.add(Need {
                    calls: 1,
                    cost: worst_cost(price, prompt, output),
                });
            }
            if let Some(judge_price) = judge {
                // The judge reads the row, the answer and its rubric.
                need.add(Need {
                    calls: 1,
                    cost: worst_cost(
                        judge_price,
                        prompt + output + 400,
                        DEFAULT_MAX_OUTPUT_TOKENS,
                    ),
                });
            }
        }
        need
    }

    /// Runs `plan` (the task model unless `role` says otherwise) within the budget and
    /// records its usage.
    pub async fn run(&self, plan: &Plan, role: &str) -> Result<Report, Stop> {
        let need = self.needs(plan);
        self.reserve(need)?;
        let attempts = Attempts::new(self);
        let report = run::run_within(
            plan,
            self.client,
            &attempts,
            self.concurrency,
            &self.cancel,
            &|_, _, _| {},
        )
        .await;
        let mut held = need;
        held.add(attempts.extra());
        let report = match report {
            Ok(r) => r,
            Err(_) => {
                // What the cancelled calls made is unknown: the reservation stands.
                self.settle(held, held.calls, held.cost);
                return Err(self.stop(Limit::Cancelled, String::new()));
            }
        };
        self.settle(held, report.calls, report.cost_usd);
        self.record(&plan.model, role, &report);
        if let Some(stop) = attempts.refused() {
            // Some rows went unanswered: the report is not a score of the plan.
            return Err(stop);
        }
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
        let model = self.config.resolve_model(&self.teacher).to_string();
        let (provider_name, model_name) =
            crate::llm::provider::split_model(&model).ok_or_else(|| {
                Stop::Failed(format!("the teacher `{model}` is not `provider/model`"))
            })?;
        let provider = self
            .config
            .provider(provider_name)
            .map_err(|e| Stop::Failed(e.to_string()))?;
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
        let price = self.config.price(&model);
        let key = crate::llm::cache::key(&provider.name, &request);
        let need = if self.client.cached_many(&[key.as_str()])[0].is_some() {
            Need::default()
        } else {
            Need {
                calls: 1,
                cost: worst_cost(
                    price,
                    estimate_prompt_tokens(&request.messages),
                    max_output_tokens(&request.config),
                ),
            }
        };
        self.reserve(need)?;
        let attempts = Attempts::new(self);
        let answer = tokio::select! {
            _ = self.cancel.cancelled() => {
                let mut held = need;
                held.add(attempts.extra());
                self.settle(held, held.calls, held.cost);
                return Err(self.stop(Limit::Cancelled, String::new()));
            }
            answer = self.client.chat_within(&provider, &request, &attempts, 1) => answer,
        };
        let mut need = need;
        need.add(attempts.extra());
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                self.settle(need, u64::from(e.attempts), 0.0);
                if e.over_budget {
                    return Err(attempts.refused().unwrap_or(Stop::Budget(e.message)));
                }
                return Err(Stop::Failed(format!("the teacher failed: {}", e.message)));
            }
        };
        let cost = if answer.cached {
            0.0
        } else {
            worst_cost(
                price,
                answer.response.prompt_tokens,
                answer.response.completion_tokens,
            )
        };
        self.settle(need, u64::from(answer.attempts), cost);
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
            entry.cost_usd += cost;
        }
        Ok(answer.response.text)
    }

    /// The prompt's template (the body after the frontmatter).
    pub fn template(&self) -> &str {
        let span = crate::syntax::parse(&self.source).template_span;
        &self.source[span.start..span.end]
    }

    /// Whether `program` passes the pre-call checks (`Plan::with_source`); `Err` says
    /// why it would break every row (a proposed instruction that makes a template error).
    pub fn admits(&self, program: &Program) -> Result<(), Refused> {
        let source = program.apply(&self.source)?;
        self.dev.with_source(&source)?;
        Ok(())
    }

    /// The source with `program` written in.
    pub fn source_of(&self, program: &Program) -> Result<String, Stop> {
        program
            .apply(&self.source)
            .map_err(|e| Stop::Failed(e.to_string()))
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
        .map_err(|e| Stop::Failed(e.to_string()))?;
        let report = self.run(&plan, "task").await?;
        let trial = Trial {
            score: report.score,
            minibatch: rows.is_some(),
            rows: report.rows,
            demos: program.demos.len(),
            label: label.to_string(),
            pruned: false,
        };
        if rows.is_none() {
            self.consider(program, report.score);
        }
        self.record_trial(trial);
        Ok(report)
    }

    /// Keeps `program` as the best so far if it scored above it on every validation row
    /// (the earliest on a tie).
    fn consider(&self, program: &Program, score: f64) {
        let mut best = self.best_program.lock().unwrap_or_else(|p| p.into_inner());
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            *best = Some((score, program.clone()));
        }
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
        let candidate = self
            .dev
            .with_source(&source)
            .map_err(|e| Stop::Failed(e.to_string()))?;
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
        if rows.is_none() && !pruned {
            self.consider(program, score);
        }
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

    /// The validation score of the program an optimizer returned (within the budget: a
    /// winner already scored answers from the cache, at no cost).
    pub async fn final_score(&self, program: &Program) -> Result<f64, Stop> {
        let source = self.source_of(program)?;
        let plan = self
            .dev
            .with_source(&source)
            .map_err(|e| Stop::Failed(e.to_string()))?;
        let report = self.run(&plan, "task").await?;
        self.consider(program, report.score);
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
            .map_err(|e| Stop::Failed(e.to_string()))?;
        self.run(&plan, "task").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_worst_case_of_a_call_bounds_the_usual_token_counts() {
        let messages = vec![
            json!({"role": "system", "content": [{"text": "Classify the sentiment of the review."}]}),
            json!({"role": "user", "content": [{"text": "I love this lamp, it works perfectly."}]}),
        ];
        let estimate = estimate_prompt_tokens(&messages);
        // Characters over four is the usual count; the estimate is above it.
        let chars = 37 + 37 + "system".len() + "user".len();
        assert!(estimate as usize >= chars / 4 + 2, "{estimate}");
        let mut config = serde_json::Map::new();
        assert_eq!(max_output_tokens(&config), DEFAULT_MAX_OUTPUT_TOKENS);
        config.insert("maxOutputTokens".into(), json!(64));
        assert_eq!(max_output_tokens(&config), 64);
        let price = crate::catalog::Price {
            input: 1.0,
            output: 2.0,
        };
        assert!((worst_cost(Some(price), 1000, 500) - 0.002).abs() < 1e-12);
        assert_eq!(worst_cost(None, 1000, 500), 0.0);
    }
}
