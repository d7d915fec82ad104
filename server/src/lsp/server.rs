//! The `LanguageServer` implementation: a table from each method to the place that
//! handles it. Requests that read a document go through `Backend::read` (`dispatch.rs`) to
//! a handler in `requests/`; notifications that change the session are in `session.rs`;
//! checks and indexing are scheduled from `checks.rs`; commands are typed in
//! `commands.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::analysis::Snapshot;
use super::commands::Command;
use super::navigation::path_of;
use super::requests::{
    code_actions, code_lenses, completion, folding, hover, navigation, semantic_tokens,
};
use super::state::{Shared, State};
use super::{commands, dispatch, evaluation, history, optimization, session, LogHandle};

/// The most checks run at once (a check each of a burst of opened files would start a
/// thread, with its own parser and allocator caches, per file).
const CONCURRENT_CHECKS: usize = 3;

#[derive(Clone)]
pub struct Backend {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) client: Client,
    state: Shared,
    /// Held while deciding whether a result is current and handing it to the client, so
    /// an older result never overtakes a newer one.
    pub(super) publish: tokio::sync::Mutex<()>,
    /// Bounds the checks (and live scores) running at once on the blocking pool, so that
    /// a burst of them leaves threads to the requests and to stdout.
    pub(super) checks: tokio::sync::Semaphore,
    shutdown: Arc<AtomicBool>,
    pub(super) log: LogHandle,
}

#[derive(serde::Deserialize)]
pub struct InvalidMessage {
    code: i64,
    message: String,
}

impl Backend {
    pub fn new(client: Client, log: LogHandle) -> Backend {
        Backend {
            inner: Arc::new(Inner {
                client,
                state: Arc::new(Mutex::new(State::default())),
                publish: tokio::sync::Mutex::new(()),
                checks: tokio::sync::Semaphore::new(CONCURRENT_CHECKS),
                shutdown: Arc::new(AtomicBool::new(false)),
                log,
            }),
        }
    }

    /// The answer to a message the transport guard could not pass on (see `transport`).
    pub async fn invalid_message(&self, params: InvalidMessage) -> Result<()> {
        Err(Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::from(params.code),
            message: params.message.into(),
            data: None,
        })
    }

    /// `window/workDoneProgress/cancel`: the user cancelled an evaluation's progress.
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        if !evaluation::cancel_by_token(self.state(), &params.token) {
            tracing::debug!("no running job has progress token {:?}", params.token);
        }
    }

    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.inner.shutdown.clone()
    }

    pub(super) fn state(&self) -> &Shared {
        &self.inner.state
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        session::initialize(self, params)
    }

    async fn initialized(&self, _: InitializedParams) {
        session::initialized(self);
    }

    async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        evaluation::cancel_all(self.state());
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        session::did_open(self, params);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        session::did_change(self, params);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        session::did_save(self, params).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        session::did_close(self, params).await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        session::did_change_configuration(self, params).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        session::did_change_watched_files(self, params).await;
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        session::did_change_workspace_folders(self, params).await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = &params.text_document_position_params;
        let is_prompt = path_of(&at.text_document.uri)
            .is_some_and(|p| p.extension().is_some_and(|e| e == "prompt"));
        if !is_prompt {
            // A dataset file's failing rows: from the session's reports (cloned: off the
            // async workers), without reading the file.
            let (state, uri, position) = (
                self.state().clone(),
                at.text_document.uri.clone(),
                at.position,
            );
            let hover = move || Ok(evaluation::dataset_hover(&state, &uri, position));
            return dispatch::blocking("dataset hover", hover).await;
        }
        let uri = at.text_document.uri.clone();
        self.read(&uri, params, hover::handle).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let uri = params.text_document_position.text_document.uri.clone();
        self.read(&uri, params, completion::handle).await
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let uri = params
            .text_document_position_params
            .text_document
            .uri
            .clone();
        self.read(&uri, params, navigation::definition).await
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, navigation::document_symbols).await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, folding::handle).await
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, semantic_tokens::handle).await
    }

    async fn document_link(&self, params: DocumentLinkParams) -> Result<Option<Vec<DocumentLink>>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, navigation::document_links).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, code_actions::handle).await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri.clone();
        self.read(&uri, params, code_lenses::handle).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let (client, state) = (&self.inner.client, self.state());
        let answer = match Command::parse(&params.command, params.arguments)? {
            Command::Render(args) => {
                // Taken before the first `.await`, as a request's (`Backend::read`).
                let open = Snapshot::open(state, &args.uri);
                let state = state.clone();
                dispatch::blocking("promptls.render", move || {
                    let snapshot = match open {
                        Some(snapshot) => snapshot,
                        None => Snapshot::take(&state, &args.uri)?,
                    };
                    commands::render(&snapshot, args)
                })
                .await
            }
            Command::Evaluate(args) => evaluation::start(client.clone(), state.clone(), args).await,
            Command::CancelEvaluation(args) => evaluation::cancel(state, &args.uri),
            Command::ShowEvaluation(args) => evaluation::show(state, &args.uri),
            Command::Optimize(args) => {
                optimization::start(client.clone(), state.clone(), args).await
            }
            Command::CancelOptimization(args) => optimization::cancel(state, &args.uri),
            Command::ShowHistory(args) => history::show_history(client, state, args).await,
            Command::CompareVersion(args) => history::compare(client, state, args).await,
            Command::RestoreVersion(args) => history::restore(client, state, args).await,
            Command::Promote(args) => history::promote(client, state, args).await,
        };
        answer.map(Some)
    }
}
