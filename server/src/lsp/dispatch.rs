//! Running a request that reads a document: the snapshot is taken on the protocol side
//! (cheap: `Arc`s and a rope), the handler runs on the blocking pool (parsing, checking,
//! reading other files and SQLite happen there, never on an async worker), and a handler
//! that panicked or was dropped becomes an error answer rather than a lost session.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::Uri;

use super::analysis::Snapshot;
use super::config::Config;
use super::server::Backend;
use super::state::{lock, ClientFeatures, Shared};

/// What a request handler knows of the session besides its document: the settings and
/// the client's features copied out when the request came in, and the state for short
/// lookups (another file's text, an evaluation's report). No handler holds the state's
/// lock for the duration of its work.
pub struct SessionView {
    pub state: Shared,
    pub config: Arc<Config>,
    pub client: ClientFeatures,
}

impl SessionView {
    pub fn of(state: &Shared) -> SessionView {
        let st = lock(state);
        SessionView {
            state: state.clone(),
            config: st.config.clone(),
            client: st.client,
        }
    }
}

impl Backend {
    /// Answers a request on `uri` with `handler`, run on the blocking pool against the
    /// document as it is now.
    pub(super) async fn read<P, R, H>(&self, uri: &Uri, params: P, handler: H) -> Result<R>
    where
        P: Send + 'static,
        R: Send + 'static,
        H: FnOnce(&Snapshot, &SessionView, P) -> Result<R> + Send + 'static,
    {
        // Before the first `.await`: handlers start in message order, so the request sees
        // every edit sent before it and none sent after.
        let open = Snapshot::open(self.state(), uri);
        let session = SessionView::of(self.state());
        let uri = uri.clone();
        blocking(std::any::type_name::<H>(), move || {
            let snapshot = match open {
                Some(snapshot) => snapshot,
                // Not open: read from disk, here rather than on the async worker.
                None => Snapshot::take(&session.state, &uri)?,
            };
            handler(&snapshot, &session, params)
        })
        .await
    }
}

/// The document at `uri` as `Snapshot::take` gives it, for a command: the open document
/// is taken at once (the command sees every edit sent before it), a file that is not
/// open is read on the blocking pool.
pub async fn snapshot(state: &Shared, uri: &Uri) -> Result<Snapshot> {
    if let Some(open) = Snapshot::open(state, uri) {
        return Ok(open);
    }
    let (state, uri) = (state.clone(), uri.clone());
    blocking("reading a file that is not open", move || {
        Snapshot::take(&state, &uri)
    })
    .await
}

/// Runs `work` on the blocking pool; a panic in it (or its being dropped at shutdown) is
/// an error answer naming `what`.
pub async fn blocking<R: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        tracing::error!("the request {what} failed: {e}");
        Err(Error {
            code: ErrorCode::InternalError,
            message: if e.is_panic() {
                "promptls hit an internal error on this request (see its log)".into()
            } else {
                "promptls stopped this request (it is shutting down)".into()
            },
            data: None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::LspService;

    #[tokio::test]
    async fn a_panicking_handler_is_an_internal_error_and_the_session_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.prompt");
        std::fs::write(&path, "Hello {{name}}\n").unwrap();
        let uri = Uri::from_file_path(&path).unwrap();
        let (service, _socket) =
            LspService::new(|client| Backend::new(client, crate::lsp::LogHandle(None)));
        let backend = service.inner();

        let failed = backend
            .read(
                &uri,
                (),
                |_: &Snapshot, _: &SessionView, ()| -> Result<()> { panic!("a bug in a handler") },
            )
            .await
            .unwrap_err();
        assert_eq!(failed.code, ErrorCode::InternalError);
        assert!(failed.message.contains("internal error"), "{failed:?}");

        // The file is not open: read from disk, inside the blocking task.
        let text = backend
            .read(&uri, (), |snapshot: &Snapshot, _: &SessionView, ()| {
                Ok((snapshot.version, snapshot.text.to_string()))
            })
            .await
            .unwrap();
        assert_eq!(text, (None, "Hello {{name}}\n".to_string()));
    }
}
