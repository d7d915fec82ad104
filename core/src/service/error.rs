//! Why a service call failed; each kind is one answer a front-end gives (the HTTP
//! status, the exit code).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names something wrongly (a bad field, a dataset file
    /// with a problem: the message names the line).
    #[error("{0}")]
    Invalid(String),
    #[error("no {what} `{id}`")]
    NotFound { what: &'static str, id: String },
    /// A name already taken, a job not finished or already over.
    #[error("{0}")]
    Conflict(String),
    /// Well formed, but it cannot run (the prompt has a problem, too few rows).
    #[error("{0}")]
    CannotRun(String),
    /// Too many jobs at once for one key.
    #[error("{0}")]
    TooMany(String),
    #[error(transparent)]
    Open(#[from] crate::sqlite::Error),
    #[error("the server state: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Create(#[from] crate::folder::CannotCreate),
    #[error(transparent)]
    Outside(#[from] crate::confine::OutsideWorkspace),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(super) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
