//! Scoring candidate programs on the validation rows (whole, by minibatch, or raced
//! against the best so far), and recording each trial.

use super::{Session, Stop, Trial};
use crate::eval::run::Report;
use crate::program::Program;

impl Session<'_> {
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
            calls_so_far: 0,
            cost_so_far: 0.0,
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

    fn record_trial(&self, mut trial: Trial) {
        (trial.calls_so_far, trial.cost_so_far) = self.spent();
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
            calls_so_far: 0,
            cost_so_far: 0.0,
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
            calls_so_far: 0,
            cost_so_far: 0.0,
        };
        let mut trial = trial;
        (trial.calls_so_far, trial.cost_so_far) = self.spent();
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
