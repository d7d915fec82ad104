//! Models and providers: what is known about each model offline (`catalog`), which API a
//! `provider/model` name reaches (`provider`), the request and response bodies of each
//! API (`wire`), and calls over HTTP with retries (`client`, `retry`).

pub mod cache;
pub mod client;
pub mod clients;
pub mod limits;
pub mod provider;
pub mod retry;
pub mod wire;

use std::path::PathBuf;

/// What went wrong in this layer outside a model call (a call's failure is a
/// `client::CallError`): the cache file, a response body, or a probe. Causes are the
/// `source()`; the cache file's path is kept.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening the cache file (not there, not ours, cannot be read).
    #[error(transparent)]
    CacheFile(#[from] crate::sqlite::Error),
    /// Preparing the opened cache file at `path` failed.
    #[error("{}: {source}", .path.display())]
    CacheAt {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error("{0}")]
    CacheSql(#[source] rusqlite::Error),
    #[error("this SQLite file is not a promptls cache; it was left untouched")]
    NotACache,
    #[error(
        "the cache has schema version {version}, newer than this promptls ({})",
        cache::SCHEMA_VERSION
    )]
    CacheNewer { version: i64 },
    #[error("cannot write the cache: {0}")]
    CacheWrite(#[source] rusqlite::Error),
    /// A provider name that is neither known nor given a base URL.
    #[error("unknown provider `{name}`: give it a base URL (settings `providers.{name}.baseUrl`)")]
    UnknownProvider { name: String },
    /// A response body without the answer where its API puts it (`field`).
    #[error("no `{field}` in the response")]
    NoAnswer { field: &'static str },
    /// A probe of a route the workspace may not send the user's key to.
    #[error(transparent)]
    Refused(std::sync::Arc<crate::trust::Refusal>),
    /// A probe that nothing answered.
    #[error(transparent)]
    Unreachable(client::CallError),
}

/// For the callers that still pass errors on as text.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
