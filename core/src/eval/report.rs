//! What a run reports: each row's result, and the aggregate with its 95% interval, calls,
//! cache hits, tokens, latency and cost.

use serde::Serialize;
use serde_json::{Map, Value};

use super::interval;
use super::metrics::{bleu, chrf, Metric};
use super::output;

use super::plan::{Plan, Scoring};

/// An answer after tier 1 and tier 2.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredAnswer {
    /// What the metric compared (for JSON, the JSON text).
    pub text: String,
    pub problems: Vec<String>,
    pub score: Option<f64>,
    pub error: Option<String>,
}

/// One row's result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowResult {
    /// The row's number in the dataset file (1-based, data rows only).
    pub row: usize,
    /// The row's line in the dataset file.
    pub line: usize,
    pub input: Map<String, Value>,
    /// The model's answer as it came.
    pub output: Option<String>,
    /// The expected output (the first, when there are several).
    pub expected: String,
    pub score: Option<f64>,
    pub passed: bool,
    /// Tier-1 output problems (the row scores 0).
    pub problems: Vec<String>,
    /// Why the row has no score: the call failed, the row could not be rendered, ...
    pub error: Option<String>,
    /// The judge's reason, for `judge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub cached: bool,
    /// HTTP requests made for this row (retries and the judge included).
    pub calls: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    /// The row could not be rendered (or has no target value): it was never sent.
    pub bad_row: bool,
    /// The row's call ran out of attempts on transient faults (429, 5xx, timeouts) and
    /// was tried again in the run's final round.
    pub retried: bool,
    /// The error is a transient fault that ran out of attempts (the final round tries it
    /// again).
    #[serde(skip)]
    pub transient: bool,
    /// The cache key of the row's request.
    #[serde(skip)]
    pub key: String,
}

/// A dataset line that could not be read (it has no row in `per_row`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unreadable {
    pub line: Option<usize>,
    pub error: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub file: String,
    pub dataset: String,
    pub model: String,
    pub metric: String,
    /// The aggregate: corpus BLEU or chrF, else the mean of row scores.
    pub score: f64,
    /// 95% confidence interval of the score.
    pub interval: [f64; 2],
    pub threshold: f64,
    pub rows: usize,
    pub scored: usize,
    pub passed_rows: usize,
    pub failed_rows: usize,
    /// Rows without a score (call or render errors).
    pub error_rows: usize,
    /// Rows that could not be read or rendered: the dataset's unreadable lines
    /// (`unreadable`) and the rows of `per_row` marked `bad_row`. The score is over the
    /// other rows (`scored`).
    pub bad_rows: usize,
    pub unreadable: Vec<Unreadable>,
    /// Rows whose calls ran out of attempts and were tried again in the final round.
    pub retried_rows: usize,
    /// HTTP requests made (retries included; cache hits are not calls).
    pub calls: u64,
    pub cache_hits: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub wall_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub per_row: Vec<RowResult>,
}

impl Report {
    /// The run's score as the history records it.
    pub fn score(&self) -> crate::store::Score {
        crate::store::Score::new(
            std::path::Path::new(&self.dataset),
            &self.metric,
            &self.model,
            self.score,
            self.rows,
        )
    }

    /// What the history keeps of this run: nothing (`None`) when a row's call failed or
    /// no row has a score; else the file as a version, with the run's score when it
    /// covered every row (`all_rows`) and none was bad.
    pub fn to_record(&self, all_rows: bool) -> Option<Option<crate::store::Score>> {
        let call_errors = self
            .per_row
            .iter()
            .filter(|r| r.score.is_none() && !r.bad_row)
            .count();
        (call_errors == 0 && self.scored > 0)
            .then(|| (all_rows && self.bad_rows == 0).then(|| self.score()))
    }
}

/// A cost with the digits that matter: `$0.0412`, `$0.000011`, `$0`.
pub fn dollars(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_string()
    } else if usd < 0.0001 {
        format!("${usd:.6}")
    } else {
        format!("${usd:.4}")
    }
}

/// The aggregate of finished rows (also used for live scores from the cache).
pub fn summarise(plan: &Plan, per_row: Vec<RowResult>, wall_ms: f64) -> Report {
    let scored: Vec<&RowResult> = per_row.iter().filter(|r| r.score.is_some()).collect();
    let scores: Vec<f64> = scored.iter().filter_map(|r| r.score).collect();
    let texts: Vec<(String, Vec<String>)> = scored
        .iter()
        .map(|r| {
            let text = r
                .output
                .as_deref()
                .map(|o| {
                    if plan.json_output {
                        output::json_text(o).to_string()
                    } else {
                        o.to_string()
                    }
                })
                .unwrap_or_default();
            (text, vec![r.expected.clone()])
        })
        .collect();
    let (score, interval) = aggregate_with_interval(plan, &scores, &texts);
    let mut latencies: Vec<f64> = per_row
        .iter()
        .filter(|r| !r.cached && r.output.is_some())
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |q: f64| -> f64 {
        if latencies.is_empty() {
            0.0
        } else {
            latencies
                [((q * (latencies.len() - 1) as f64).round() as usize).min(latencies.len() - 1)]
        }
    };
    Report {
        file: plan.file.display().to_string(),
        dataset: plan.dataset.display().to_string(),
        model: plan.model.clone(),
        metric: plan.scoring.name().to_string(),
        score,
        interval,
        threshold: plan.threshold,
        rows: per_row.len(),
        scored: scores.len(),
        passed_rows: per_row.iter().filter(|r| r.passed).count(),
        failed_rows: per_row
            .iter()
            .filter(|r| !r.passed && r.score.is_some())
            .count(),
        error_rows: per_row.iter().filter(|r| r.score.is_none()).count(),
        bad_rows: per_row.iter().filter(|r| r.bad_row).count() + plan.dataset_errors.len(),
        unreadable: plan
            .dataset_errors
            .iter()
            .map(|e| Unreadable {
                line: e.line,
                error: e.message.clone(),
            })
            .collect(),
        retried_rows: per_row.iter().filter(|r| r.retried).count(),
        calls: per_row.iter().map(|r| u64::from(r.calls)).sum(),
        cache_hits: per_row.iter().filter(|r| r.cached).count() as u64,
        prompt_tokens: per_row.iter().map(|r| r.prompt_tokens).sum(),
        completion_tokens: per_row.iter().map(|r| r.completion_tokens).sum(),
        cost_usd: per_row.iter().map(|r| r.cost_usd).sum(),
        wall_ms,
        latency_p50_ms: percentile(0.5),
        latency_p95_ms: percentile(0.95),
        per_row,
    }
}

/// The score and its interval. Corpus BLEU and chrF come from summed statistics, so rows
/// whose output failed the tier-1 checks still enter them with their text; the other
/// metrics average row scores, where such rows count 0.
fn aggregate_with_interval(
    plan: &Plan,
    scores: &[f64],
    texts: &[(String, Vec<String>)],
) -> (f64, [f64; 2]) {
    if scores.is_empty() {
        return (0.0, [0.0, 0.0]);
    }
    let pairs = || {
        texts
            .iter()
            .map(|(p, r)| (p.as_str(), r.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    match plan.scoring {
        Scoring::Metric(Metric::Bleu) => {
            let stats: Vec<bleu::Stats> =
                pairs().map(|(p, r)| bleu::segment_stats(p, &r)).collect();
            let corpus = |sample: &mut dyn Iterator<Item = usize>| {
                let mut total = bleu::Stats::default();
                for i in sample {
                    total += stats[i];
                }
                bleu::score(&total, false) / 100.0
            };
            let score = corpus(&mut (0..stats.len()));
            let (lo, hi) = interval::bootstrap(stats.len(), &|s| corpus(&mut s.iter().copied()));
            (score, [lo, hi])
        }
        Scoring::Metric(m @ (Metric::Chrf | Metric::ChrfPlusPlus)) => {
            let order = if m == Metric::Chrf { 0 } else { 2 };
            let stats: Vec<chrf::Stats> = pairs()
                .map(|(p, r)| chrf::segment_stats(p, &r, order))
                .collect();
            let corpus = |sample: &mut dyn Iterator<Item = usize>| {
                let mut total: chrf::Stats = Vec::new();
                for i in sample {
                    if total.len() < stats[i].len() {
                        total.resize(stats[i].len(), [0; 3]);
                    }
                    for (t, s) in total.iter_mut().zip(&stats[i]) {
                        for k in 0..3 {
                            t[k] += s[k];
                        }
                    }
                }
                chrf::score(&total) / 100.0
            };
            let score = corpus(&mut (0..stats.len()));
            let (lo, hi) = interval::bootstrap(stats.len(), &|s| corpus(&mut s.iter().copied()));
            (score, [lo, hi])
        }
        _ => {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let (lo, hi) = interval::for_mean(scores);
            (mean, [lo, hi])
        }
    }
}
