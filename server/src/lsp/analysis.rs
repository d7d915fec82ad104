//! A consistent view of one document for answering a request: its text, rope, parse,
//! and the version it came from. Results computed from it are returned only if the
//! document is still at that version (otherwise the request fails with ContentModified
//! and the client asks again).

use std::path::PathBuf;
use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::{Position, Range, Uri};

use super::document::{self, AnalysisCell};
use super::position::{self, Encoding};
use super::state::{lock, LiveFiles, Shared};
use promptls_core::analysis::Analysis;
use promptls_core::check::{self, CheckInput};
use promptls_core::syntax::Span;

pub struct Snapshot {
    pub uri: Uri,
    /// `None` for a file read from disk (not open in the editor).
    pub version: Option<i32>,
    pub text: Arc<str>,
    pub rope: Rope,
    pub path: Option<PathBuf>,
    pub encoding: Encoding,
    /// The last check of this version, if it has finished.
    pub diagnostics: Option<Arc<Vec<check::Diagnostic>>>,
    /// The document's analysis of this version, shared with its check and the other
    /// requests (a file from disk gets its own).
    pub analysis: AnalysisCell,
}

impl Snapshot {
    /// The open document, or the file on disk when it is not open (a read of the disk:
    /// call it off the async workers, or take `open` there first).
    pub fn take(state: &Shared, uri: &Uri) -> Result<Snapshot> {
        if let Some(open) = Snapshot::open(state, uri) {
            return Ok(open);
        }
        let encoding = lock(state).encoding;
        let path = uri.to_file_path().map(|p| p.into_owned()).ok_or_else(|| {
            invalid_params(format!("{} is not open and not a file", uri.as_str()))
        })?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            invalid_params(format!(
                "{} is not open and cannot be read: {e}",
                path.display()
            ))
        })?;
        Ok(Snapshot {
            uri: uri.clone(),
            version: None,
            rope: Rope::from_str(&text),
            text: text.into(),
            path: Some(path),
            encoding,
            diagnostics: None,
            analysis: AnalysisCell::default(),
        })
    }

    /// The open document `uri` as it is now (clones of `Arc`s and a rope: cheap), or
    /// `None` when it is not open.
    pub fn open(state: &Shared, uri: &Uri) -> Option<Snapshot> {
        let (open, encoding) = {
            let st = lock(state);
            let open = st.docs.get(uri).map(|d| {
                (
                    d.version,
                    d.text.clone(),
                    d.rope.clone(),
                    d.path.clone(),
                    d.diagnostics.clone(),
                    d.analysis.clone(),
                )
            });
            (open, st.encoding)
        };
        let (version, text, rope, path, diagnostics, analysis) = open?;
        Some(Snapshot {
            uri: uri.clone(),
            version: Some(version),
            text,
            rope,
            path,
            encoding,
            diagnostics,
            analysis,
        })
    }

    /// Whether the document is over the size the server analyzes; requests on it are
    /// answered with nothing (see `document::MAX_ANALYZED_BYTES`).
    pub fn too_large(&self) -> bool {
        super::document::too_large(self.text.len())
    }

    pub fn offset(&self, position: Position) -> usize {
        position::to_offset(&self.rope, position, self.encoding).byte
    }

    pub fn span(&self, range: Range) -> Span {
        position::to_span(&self.rope, range, self.encoding).0
    }

    pub fn range(&self, span: Span) -> Range {
        position::to_range(&self.rope, span, self.encoding)
    }

    /// This version's analysis (made now if neither its check nor another request has).
    pub fn analysis(&self) -> &Analysis {
        document::analysis(&self.analysis, &self.text, self.path.as_deref())
    }

    /// Runs `f` over the document's analysis; fails with ContentModified if the document
    /// changed while `f` ran.
    pub fn analyze<T>(&self, state: &Shared, f: impl FnOnce(&CheckInput) -> T) -> Result<T> {
        let files = LiveFiles(state.clone());
        let fresh = self.analysis.get().is_none();
        // A bug in one feature must cost one answer, not the session.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(&CheckInput::new(self.analysis(), &files))
        }))
        .map_err(|_| {
            tracing::error!(
                "a request on {} panicked; answered with an error",
                self.uri.as_str()
            );
            Error {
                code: ErrorCode::InternalError,
                message: "promptls hit an internal error on this request (see its log)".into(),
                data: None,
            }
        })?;
        self.still_current(state)?;
        if fresh && self.version.is_some() {
            lock(state).keep_analysis(&self.uri);
        }
        Ok(out)
    }

    pub fn still_current(&self, state: &Shared) -> Result<()> {
        let now = lock(state).docs.get(&self.uri).map(|d| d.version);
        if now == self.version {
            Ok(())
        } else {
            Err(Error {
                code: ErrorCode::ContentModified,
                message: "the document changed while the request was computed".into(),
                data: None,
            })
        }
    }
}

pub fn invalid_params(message: String) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into(),
        data: None,
    }
}
