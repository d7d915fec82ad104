//! Live tier-2 scores while typing: rows whose rendered prompt is unchanged are scored
//! from the cache, the rest are counted as stale. No model call is made.

use std::path::Path;

use tower_lsp_server::ls_types::*;

use super::{client_for, workspace_config};
use crate::lsp::progress::refresh_lenses;
use crate::lsp::state::{lock, Shared};
use promptls_core::analysis::Analysis;
use promptls_core::eval::run::{self, Overrides};

/// Live scores are computed for datasets up to this many rows (the cache is read for
/// each row on every edit).
const LIVE_MAX_ROWS: usize = 2_000;
/// Scores of the current text from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub version: Option<i32>,
    pub metric: String,
    pub score: f64,
    /// Rows answered from the cache (scored), and rows whose prompt changed (stale).
    pub cached: usize,
    pub passed: usize,
    pub stale: usize,
}

/// Recomputes the live scores of an open prompt from the cache (blocking: renders every
/// row and reads the cache). `None` when the prompt cannot be evaluated, the dataset is
/// too large, or there is no cache yet.
pub fn live_scores(state: &Shared, analysis: &Analysis, version: Option<i32>) -> Option<Live> {
    analysis.settings().dataset.as_ref()?;
    let path = analysis.path()?;
    let config = workspace_config(state, path).ok()?;
    if !config.cache_path().is_file() {
        return None;
    }
    let overrides = Overrides {
        offline: true,
        ..Overrides::default()
    };
    let plan = run::plan(analysis, &config, &overrides).ok()?;
    if plan.rows.len() > LIVE_MAX_ROWS {
        return None;
    }
    let llm = client_for(state, &config).ok()?;
    // The judge needs calls; live scores are tier 2 only.
    if matches!(plan.scoring, run::Scoring::Judge { .. }) {
        return None;
    }
    let cached = run::from_cache(&plan, &llm);
    let report = cached.report;
    if report.per_row.is_empty() {
        return None;
    }
    let stale = cached.stale;
    Some(Live {
        version,
        metric: report.metric,
        score: report.score,
        cached: report.scored,
        passed: report.passed_rows,
        stale,
    })
}

/// Stores live scores computed for `version` of `uri` if that is still the document's
/// version (a slow computation for an older version, say one that read the cache while an
/// evaluation was filling it, must not replace a newer one); whether they changed (so the
/// lenses need a refresh).
pub fn set_live(state: &Shared, uri: &Uri, version: i32, path: &Path, live: Option<Live>) -> bool {
    let mut st = lock(state);
    if st.docs.get(uri).map(|d| d.version) != Some(version) {
        return false;
    }
    let entry = st.evals.entry(path.to_path_buf()).or_default();
    let changed = entry
        .live
        .as_ref()
        .map(|l| (&l.metric, l.score, l.cached, l.stale))
        != live
            .as_ref()
            .map(|l| (&l.metric, l.score, l.cached, l.stale));
    entry.live = live;
    changed
}

pub async fn refresh_after_live(client: &tower_lsp_server::Client, state: &Shared) {
    refresh_lenses(client, state).await;
}
