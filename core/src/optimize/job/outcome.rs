//! What a run found (`Outcome`): the scores before and after, the winner, what was
//! spent, why it stopped, and its record in the history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Optimizer, SplitInfo};
use crate::optimize::session::{Limit, Trial, Usage};
use crate::program::Program;

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
    /// Why the run stopped before the optimizer was done, if it did.
    pub stopped: Option<Limit>,
    /// Calls the run made when it stopped (every call, the scoring included).
    pub calls_made: u64,
    pub split: SplitInfo,
    /// The dataset rows left out because they could not be read or rendered
    /// (`allow_bad_rows`), each as `data.csv line 3: why`.
    pub bad_rows: Vec<String>,
}

impl Outcome {
    /// Whether the result scores strictly better than the start on the validation rows.
    pub fn improved(&self) -> bool {
        self.score > self.baseline && self.program != self.start
    }

    /// "stopped: max-calls reached after 40 calls; kept the best of 5 trials", if the
    /// run stopped early.
    pub fn stop_note(&self) -> Option<String> {
        let limit = self.stopped?;
        let full = self
            .trials
            .iter()
            .filter(|t| !t.minibatch && !t.pruned && t.label != "final")
            .count();
        Some(match limit {
            Limit::Cancelled => format!(
                "stopped: cancelled after {} calls; kept the best of {full} trials",
                self.calls_made
            ),
            limit => format!(
                "stopped: {} reached after {} calls; kept the best of {full} trials",
                limit.name(),
                self.calls_made
            ),
        })
    }

    /// Why the result is not written: it is no better than the start.
    pub fn not_written_note(&self) -> Option<String> {
        (!self.improved()).then(|| {
            format!(
                "not written: {:.3} → {:.3} is no improvement; --force writes it anyway",
                self.baseline, self.score
            )
        })
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
    ) -> Result<(i64, Option<i64>), crate::store::Error> {
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

/// `after - before`, per model (models with nothing spent left out).
pub(super) fn difference(
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
