//! What went wrong with the history, and SQLite's errors sorted into busy, read-only
//! and the rest.

use std::path::PathBuf;

use super::SCHEMA_VERSION;
use crate::sqlite;

/// What went wrong with the history: the file (`File`, with its path), SQLite (busy,
/// read-only, other; the rusqlite error is the `source()`), or what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `.promptls` that leads out of the workspace; `written`: whether it was to be
    /// written (else read).
    #[error("the history folder {source}; nothing was {}", if *.written { "written" } else { "read" })]
    Outside {
        written: bool,
        #[source]
        source: crate::confine::OutsideWorkspace,
    },
    #[error(transparent)]
    CreateFolder(#[from] crate::folder::CannotCreate),
    /// Opening the file (not there, not ours, cannot be read).
    #[error(transparent)]
    File(#[from] sqlite::Error),
    /// Preparing an opened file failed.
    #[error("{}: {source}", .path.display())]
    At {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error("the history is busy (another promptls is writing it); try again")]
    Busy(#[source] rusqlite::Error),
    #[error("the history is read-only here (promptls may not write the file or its folder)")]
    ReadOnly(#[source] rusqlite::Error),
    #[error("history: {0}")]
    Sql(#[source] rusqlite::Error),
    #[error("not a promptls history (it has other tables); it was left untouched")]
    OtherTables,
    #[error("the history has schema version {version}, newer than this promptls ({SCHEMA_VERSION}); upgrade promptls")]
    Newer { version: i64 },
    #[error("the prompt has no history")]
    NoHistory,
    #[error("{} has no history yet (run `promptls eval` or save it in the editor)", .path.display())]
    NotRecorded { path: PathBuf },
    #[error("no version `{selector}` of {} (give v3, a tag, or a hash prefix)", .path.display())]
    NoSuchVersion { selector: String, path: PathBuf },
    #[error("no version v{0}")]
    NoVersion(i64),
    #[error("`{0}` is not a tag name (no spaces)")]
    BadTag(String),
    #[error("not a promptls history export (no `promptls_history`)")]
    NotAnExport,
    /// An export's prompt or version without a field it needs.
    #[error("{what} without `{field}`")]
    ExportField {
        what: &'static str,
        field: &'static str,
    },
    #[error("version {hash} of {identity}: its content does not match its hash")]
    HashMismatch { hash: String, identity: String },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        sql(e)
    }
}

/// For the callers that still pass errors on as text (`optimize`, `eval::run`).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

pub(super) fn sql(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) => Error::Busy(e),
        Some(rusqlite::ErrorCode::ReadOnly) => Error::ReadOnly(e),
        _ => Error::Sql(e),
    }
}
