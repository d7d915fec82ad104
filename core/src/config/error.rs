//! Why the configuration could not be loaded or used.

use std::path::PathBuf;

use super::{file, FILE_NAME};

/// Why the configuration could not be loaded or used: the file and line where there is
/// one, the cause as `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What is wrong in the config file at `path` (boxed: toml's error is large).
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: Box<file::Error>,
    },
    #[error("{}: [eval] belongs in a workspace's {FILE_NAME}; the user config holds [providers] and [models]", .path.display())]
    EvalInUserFile { path: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `.env` line that does not parse, at byte `index` of `line` (when it is found).
    /// No source: dotenvy's message quotes the line, which may hold a key.
    #[error("{}: cannot parse the line at byte {index}", .path.display())]
    DotenvLine {
        path: PathBuf,
        line: Option<usize>,
        index: usize,
    },
    #[error("{}: {source}", .path.display())]
    Dotenv {
        path: PathBuf,
        #[source]
        source: dotenvy::Error,
    },
    /// The model-call cache (`[eval] cache`, or a symlinked `.promptls`) leads outside the
    /// workspace.
    #[error("the model-call cache {source}; nothing was written")]
    CacheOutside {
        #[source]
        source: crate::confine::OutsideWorkspace,
    },
    #[error(transparent)]
    CreateFolder(#[from] crate::folder::CannotCreate),
    /// An unknown provider, or the cache file.
    #[error(transparent)]
    Llm(#[from] crate::llm::Error),
}

/// For the callers that still pass errors on as text (`eval::run`, the front-ends).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
