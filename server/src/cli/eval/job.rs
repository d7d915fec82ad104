//! Evaluating a plan as a job on the core's engine, the progress bar fed from its status.

use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use super::super::job;
use super::EvalError;
use promptls_core::analysis::Analysis;
use promptls_core::config::Config;
use promptls_core::eval::run::{self, Overrides, Plan, Report};
use promptls_core::jobs::{JobContext, JobKey, Jobs, Kind, Status};
use promptls_core::llm::client::Client;

/// What the command evaluates with, the prompt's run and its baseline's alike: the jobs,
/// the workspace's configuration, the command line's overrides and the model client.
pub(super) struct Evaluator<'a> {
    pub jobs: &'a Jobs,
    pub config: &'a Config,
    pub overrides: &'a Overrides,
    pub client: Arc<Client>,
    pub concurrency: usize,
}

/// The plan of the prompt `source` read from `file`.
pub(super) fn plan(
    source: &str,
    file: &Path,
    config: &Config,
    overrides: &Overrides,
) -> Result<Plan, EvalError> {
    run::plan(&Analysis::new(source, Some(file)), config, overrides).map_err(EvalError::Plan)
}

impl Evaluator<'_> {
    /// The plan of the prompt `source` read from `file`.
    pub fn plan(&self, source: &str, file: &Path) -> Result<Plan, EvalError> {
        plan(source, file, self.config, self.overrides)
    }

    /// Evaluates `plan` as a job, with a progress bar on a terminal when `show`.
    pub async fn run(&self, plan: Arc<Plan>, show: bool) -> Result<Report, EvalError> {
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
        let (client, concurrency) = (self.client.clone(), self.concurrency);
        let work = move |context: JobContext| async move {
            // Rows done, the sum of their scores, how many have one, how many were cached.
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
        let result = job::run(self.jobs, key, work, |status| {
            if let Some(message) = &status.message {
                bar.set_message(message.clone());
            }
            bar.set_position(status.done as u64);
        })
        .await;
        bar.finish_and_clear();
        result?.map_err(|run::Cancelled| EvalError::Interrupted)
    }
}
