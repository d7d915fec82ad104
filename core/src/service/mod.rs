//! What `promptls serve` does with a workspace, as plain data: API keys, uploaded
//! datasets, prompts created and listed by name, and a persisted queue of evaluation and
//! optimization jobs run by a worker pool over the same engine as the editor and the
//! command line. The HTTP front-end translates these calls and their errors; it decides
//! nothing itself.
//!
//! The server's own state (keys, datasets, jobs) is in `.promptls/server.sqlite`, beside
//! the history (`.promptls/history.sqlite`), which it shares with the editor and the
//! command line: versions, scores and tags written through the API are the ones
//! `promptls history` shows.

mod datasets;
mod db;
mod error;
mod keys;
mod names;
mod prompts;
mod queue;
mod runner;

pub use datasets::{Dataset, Upload};
pub use db::{ServerDb, FILE_NAME};
pub use error::Error;
pub use keys::{ApiKey, Scope};
pub use prompts::{
    Created, NewPrompt, PromptDetail, PromptDiff, PromptSummary, VersionContent, PROMPTS_FOLDER,
};
pub use queue::{Job, JobKind, JobState, Progress};
pub use runner::{Ended, EvaluationConfig, OptimizationConfig, Runner};

use std::path::{Path, PathBuf};

/// A workspace served: its root, its prompts folder and its server state.
#[derive(Clone)]
pub struct Service {
    pub root: PathBuf,
    /// Where the served prompts are (`prompts/` in the root): a prompt's id is its path
    /// in this folder without `.prompt`.
    pub prompts: PathBuf,
    pub db: ServerDb,
}

impl Service {
    /// Opens the server state of the workspace at `root` (creating it when missing).
    pub fn open(root: &Path) -> Result<Service, Error> {
        let root = std::fs::canonicalize(root).map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let db = ServerDb::open(&root)?;
        Ok(Service {
            prompts: root.join(PROMPTS_FOLDER),
            root,
            db,
        })
    }
}
