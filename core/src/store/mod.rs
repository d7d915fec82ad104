//! The version history of prompts, in SQLite at `.promptls/history.sqlite` in the
//! workspace root. A version is a content-addressed snapshot of a prompt file; versions
//! form a DAG (an edit's parent is the prompt's previous recorded version, an optimizer's
//! result is a child of the version it started from, and returning to earlier content
//! reuses that version). Scores are kept per (version, dataset hash, metric, model); tags
//! (`production`, `staging`, custom) point at versions and every move is kept.
//!
//! Writers are short `BEGIN IMMEDIATE` transactions with a busy timeout, so several
//! servers and command-line runs share one file. A file that is not a promptls history is
//! refused and left untouched.

pub mod diff;
mod error;
mod exchange;
mod record;
mod schema;
mod shared;
mod tags;
#[cfg(test)]
mod tests;
mod time;
mod versions;

use error::sql;
pub use error::Error;
pub use schema::SCHEMA_VERSION;
pub use shared::SharedStore;
pub use time::now;
pub use versions::Summary;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const FILE_NAME: &str = "history.sqlite";

/// How a version came to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Saved by a person (or recorded by an eval run).
    Edit,
    /// Written by an optimizer: its name, settings and what it spent.
    Optimizer { name: String, detail: Value },
    /// Imported from an export.
    Import,
}

impl Origin {
    fn kind(&self) -> &'static str {
        match self {
            Origin::Edit => "edit",
            Origin::Optimizer { .. } => "optimizer",
            Origin::Import => "import",
        }
    }

    /// The stored detail, with secrets masked (it may quote a model's words).
    fn detail(&self) -> Option<String> {
        match self {
            Origin::Optimizer { name, detail } => Some(crate::secrets::redact_owned(
                json!({"optimizer": name, "detail": detail}).to_string(),
            )),
            _ => None,
        }
    }
}

/// A score of a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub dataset: String,
    pub metric: String,
    pub model: String,
    pub score: f64,
    pub rows: i64,
    pub created: String,
}

impl Score {
    /// A score measured now on the dataset at `dataset`.
    pub fn new(dataset: &Path, metric: &str, model: &str, score: f64, rows: usize) -> Score {
        Score {
            dataset: dataset_hash(dataset),
            metric: metric.to_string(),
            model: model.to_string(),
            score,
            rows: rows as i64,
            created: now(),
        }
    }

    /// A score from the columns `dataset, metric, model, score, rows, created` starting
    /// at `first`.
    fn from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Score> {
        Ok(Score {
            dataset: r.get(first)?,
            metric: r.get(first + 1)?,
            model: r.get(first + 2)?,
            score: r.get(first + 3)?,
            rows: r.get(first + 4)?,
            created: r.get(first + 5)?,
        })
    }
}

/// A version as the history lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// `v1`, `v2`, ... per prompt.
    pub number: i64,
    pub hash: String,
    pub parents: Vec<i64>,
    pub origin: String,
    pub detail: Option<Value>,
    pub created: String,
    pub author: String,
    pub tags: Vec<String>,
    pub scores: Vec<Score>,
    #[serde(skip)]
    pub id: i64,
}

/// A tag move, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagMove {
    pub tag: String,
    pub from: Option<i64>,
    pub to: i64,
    pub author: String,
    pub at: String,
}

pub struct Store {
    db: Connection,
    root: PathBuf,
    /// Who records, found once (it may ask git).
    author: std::sync::OnceLock<String>,
}

/// The hash of a prompt's content.
pub fn content_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A dataset's hash (its bytes), for scores.
pub fn dataset_hash(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let digest = Sha256::digest(&bytes);
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
        }
        Err(_) => "missing".into(),
    }
}

/// Who records: git's `user.email` in the workspace, else the OS user.
pub fn author(root: &Path) -> String {
    let git = std::process::Command::new("git")
        .args(["config", "user.email"])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    git.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A prompt's identity: its frontmatter `name`, else its path relative to the root.
pub fn identity(root: &Path, path: &Path, source: &str) -> String {
    let parsed = crate::syntax::parse(source);
    if let Some(name) = parsed
        .frontmatter_json()
        .and_then(|fm| fm.get("name").and_then(Value::as_str).map(str::to_string))
    {
        return format!("name:{name}");
    }
    format!("path:{}", relative(root, path))
}

pub(super) fn relative(root: &Path, path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .strip_prefix(root)
        .unwrap_or(&absolute)
        .to_string_lossy()
        .replace('\\', "/")
}

impl Store {
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn author(&self) -> String {
        self.author
            .get_or_init(|| crate::secrets::redact_owned(author(&self.root)))
            .clone()
    }
}
