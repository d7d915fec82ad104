//! What every optimizer works with: the prompt's text, the validation and training rows,
//! the shared model client (its cache makes a repeated candidate free), the budget, and
//! the accounting of calls, tokens and cost per model and role (task or teacher).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::eval::run::{Plan, PlanError, Report};
use crate::llm::client::Client;
use crate::program::Program;

mod calls;
mod ledger;
mod trials;

use super::budget::Ledger;
pub use super::budget::{
    estimate_prompt_tokens, max_output_tokens, Budget, Limit, Need, Usage,
    DEFAULT_MAX_OUTPUT_TOKENS,
};

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
    /// Model calls the run had made when the trial ended, and their cost (progress for
    /// the server's job page).
    pub calls_so_far: u64,
    pub cost_so_far: f64,
}

impl Trial {
    /// "trial 3: bootstrap seed 1 0.750 · best 0.800", the `count`th trial with the best
    /// full score so far, as progress shows it.
    pub fn progress_text(&self, count: usize, best: f64) -> String {
        format!(
            "trial {count}: {} {:.3}{} · best {:.3}",
            self.label,
            self.score,
            if self.minibatch { " (minibatch)" } else { "" },
            best.max(0.0)
        )
    }
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
}
