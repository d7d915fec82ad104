//! Evaluations in the editor: the "▶ Evaluate" lens and `promptls.evaluate` command, a
//! background run with work-done progress that the user can cancel, the score lens
//! afterwards, failing rows as diagnostics in the dataset file (their message and the
//! hover on the row show input, output and expected), and live tier-2 scores while
//! typing: rows whose rendered prompt is unchanged are scored from the cache, the rest
//! are counted as stale. The run itself is `eval::run`; this module only translates.
//!
//! `job` runs the evaluation on the core's job engine, `rows` shows the failing rows,
//! `live` computes the live scores and `lenses` shows all of it on the prompt.

mod job;
mod lenses;
mod live;
mod rows;

pub use job::start;
pub use lenses::lenses;
pub use live::{live_scores, refresh_after_live, set_live, Live};
pub use rows::dataset_hover;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::analysis::invalid_params;
use super::navigation::path_of;
use super::progress;
use super::state::{lock, Shared};
use promptls_core::eval::run::Report;
use promptls_core::jobs::{JobKey, Kind};
use promptls_core::llm::client::Client as LlmClient;

/// What the server knows about a prompt's evaluations: their results (a running one is
/// a job of `State::jobs`).
#[derive(Default)]
pub struct PromptEval {
    pub last: Option<Arc<Report>>,
    pub live: Option<Live>,
}

/// The key of the evaluation of the prompt at `path`.
pub fn key(path: &Path) -> JobKey {
    JobKey {
        path: path.to_path_buf(),
        kind: Kind::Evaluation,
    }
}

/// The workspace configuration for `path`, with the editor's settings over it.
pub fn workspace_config(
    state: &Shared,
    path: &Path,
) -> std::result::Result<promptls_core::config::Config, String> {
    let editor = lock(state).config.editor_settings();
    Ok(promptls_core::config::editor::load(path, &editor)?)
}

/// The workspace's model client, made on first use and shared by every run.
pub fn client_for(
    state: &Shared,
    config: &promptls_core::config::Config,
) -> std::result::Result<Arc<LlmClient>, String> {
    let clients = lock(state).llm_clients.clone();
    Ok(clients.get_or_make(&config.root, || config.client(true))?)
}
/// Cancels the job with this progress token (`window/workDoneProgress/cancel`).
pub fn cancel_by_token(state: &Shared, token: &ProgressToken) -> bool {
    progress::job_of(token).is_some_and(|id| lock(state).jobs.cancel_by_id(id))
}

/// Cancels the evaluation of the prompt at `uri`.
pub fn cancel(state: &Shared, uri: &Uri) -> Result<Value> {
    let path =
        path_of(uri).ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    let cancelled = lock(state).jobs.cancel(&key(&path));
    Ok(json!({"cancelled": cancelled}))
}

/// Cancels every running job (shutdown).
pub fn cancel_all(state: &Shared) {
    lock(state).jobs.cancel_all();
}

pub fn show(state: &Shared, uri: &Uri) -> Result<Value> {
    let path =
        path_of(uri).ok_or_else(|| invalid_params(format!("{} is not a file", uri.as_str())))?;
    let last = lock(state).evals.get(&path).and_then(|e| e.last.clone());
    Ok(last.map_or(Value::Null, |r| {
        serde_json::to_value(&*r).unwrap_or(Value::Null)
    }))
}
