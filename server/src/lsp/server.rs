//! The `LanguageServer` implementation: document lifecycle, diagnostics scheduling, and
//! one line of dispatch per request into the method-family modules.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ropey::Rope;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use super::analysis::Snapshot;
use super::commands::Command;
use super::config::Config;
use super::document::Document;
use super::navigation::{path_of, uri_of};
use super::state::{self, find_prompts, lock, LiveFiles, Shared, State};
use super::{
    code_actions, commands, completion, diagnostics, document, evaluation, folding, history, hover,
    memory, navigation, optimization, semantic_tokens, LogHandle,
};
use promptls_core::check::Workspace;
use promptls_core::ide;
use promptls_core::syntax;

/// The most `.prompt` files indexed per workspace folder.
const MAX_INDEXED_PROMPTS: usize = 20_000;

#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    state: Shared,
    /// Held while deciding whether a result is current and handing it to the client, so
    /// an older result never overtakes a newer one.
    publish: tokio::sync::Mutex<()>,
    shutdown: Arc<AtomicBool>,
    log: LogHandle,
}

#[derive(serde::Deserialize)]
pub struct InvalidMessage {
    code: i64,
    message: String,
}

/// One file to check: an open document at `version`, or a file on disk (`None`).
struct CheckJob {
    uri: Uri,
    version: Option<i32>,
    text: Arc<str>,
    rope: Rope,
    path: Option<PathBuf>,
    /// The document's analysis of this version (a fresh one for a file on disk).
    analysis: document::AnalysisCell,
}

impl Backend {
    pub fn new(client: Client, log: LogHandle) -> Backend {
        Backend {
            inner: Arc::new(Inner {
                client,
                state: Arc::new(Mutex::new(State::default())),
                publish: tokio::sync::Mutex::new(()),
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

    /// Recomputes an open prompt's live scores from the cache, and refreshes the lenses
    /// when they changed.
    fn schedule_live_scores(
        &self,
        uri: Uri,
        version: i32,
        text: Arc<str>,
        path: PathBuf,
        analysis: document::AnalysisCell,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let state = this.state().clone();
            let changed = tokio::task::spawn_blocking(move || {
                if !is_current(&state, &uri, Some(version)) {
                    return false;
                }
                let analysis = document::analysis(&analysis, &text, Some(&path));
                let live = evaluation::live_scores(&state, analysis, Some(version));
                evaluation::set_live(&state, &uri, version, &path, live)
            })
            .await
            .unwrap_or(false);
            if changed {
                evaluation::refresh_after_live(&this.inner.client, this.state()).await;
            }
        });
    }

    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.inner.shutdown.clone()
    }

    fn state(&self) -> &Shared {
        &self.inner.state
    }

    fn open_job(doc: &Document, uri: &Uri) -> CheckJob {
        CheckJob {
            uri: uri.clone(),
            version: Some(doc.version),
            text: doc.text.clone(),
            rope: doc.rope.clone(),
            path: doc.path.clone(),
            analysis: doc.analysis.clone(),
        }
    }

    /// A job for `path` as the editor sees it: the open document, or the file on disk.
    fn job_for_path(&self, path: &Path) -> Option<CheckJob> {
        {
            let st = lock(self.state());
            if let Some((uri, doc)) = st.doc_by_path(path) {
                return Some(Backend::open_job(doc, uri));
            }
        }
        let text = std::fs::read_to_string(path).ok()?;
        Some(CheckJob {
            uri: uri_of(path)?,
            version: None,
            rope: Rope::from_str(&text),
            text: text.into(),
            path: Some(path.to_path_buf()),
            analysis: document::AnalysisCell::default(),
        })
    }

    /// Checks in the background and publishes if still current; then, if asked,
    /// re-checks the prompts that depend on this file.
    fn schedule_check(&self, job: CheckJob, then_dependents: bool) {
        let this = self.clone();
        tokio::spawn(async move {
            let state = this.state().clone();
            let uri = job.uri.clone();
            let uri_for_live = job.uri.clone();
            let text_for_live = job.text.clone();
            let analysis_for_live = job.analysis.clone();
            let version = job.version;
            let path = job.path.clone();
            let too_large = document::too_large(job.text.len());
            let checked = tokio::task::spawn_blocking(move || {
                if !is_current(&state, &job.uri, job.version) {
                    return None;
                }
                if too_large {
                    // Not checked (seconds and gigabytes at 50 MB): one diagnostic saying so.
                    let encoding = lock(&state).encoding;
                    let note = diagnostics::too_large(job.text.len(), &job.rope, encoding);
                    return Some((vec![note], None));
                }
                let analysis = document::analysis(&job.analysis, &job.text, job.path.as_deref());
                let checked = diagnostics::run(analysis, &LiveFiles(state.clone()));
                let result = Arc::new(checked.diagnostics);
                let (config, encoding) = {
                    let mut st = lock(&state);
                    if let Some(path) = &job.path {
                        st.deps
                            .set(path.clone(), checked.dependencies.iter().cloned());
                    }
                    let current = st
                        .docs
                        .get_mut(&job.uri)
                        .filter(|d| Some(d.version) == job.version);
                    if let Some(doc) = current {
                        doc.diagnostics = Some(result.clone());
                        st.keep_analysis(&job.uri);
                    }
                    (st.config.clone(), st.encoding)
                };
                let published =
                    diagnostics::to_lsp(&result, &job.text, &job.rope, encoding, &config);
                // Bad dataset rows are shown on their own lines in the dataset file.
                let dataset = checked.dataset.and_then(|(path, problems)| {
                    let text = LiveFiles(state.clone()).read_to_string(&path).ok()?;
                    Some((
                        uri_of(&path)?,
                        diagnostics::dataset_to_lsp(&problems, &text),
                    ))
                });
                // The check's parse is freed by now; a large one's pages go back at once.
                memory::release_after(job.text.len());
                Some((published, dataset))
            })
            .await;
            let (published, dataset) = match checked {
                Ok(Some(published)) => published,
                Ok(None) => {
                    tracing::debug!(
                        "skipped a check of {} (version {version:?} superseded)",
                        uri.as_str()
                    );
                    return;
                }
                Err(e) => {
                    tracing::error!("the check of {} failed: {e}", uri.as_str());
                    return;
                }
            };
            {
                let _gate = this.inner.publish.lock().await;
                if !is_current(this.state(), &uri, version) {
                    tracing::debug!(
                        "dropped diagnostics of {} version {version:?}: superseded",
                        uri.as_str()
                    );
                    return;
                }
                this.inner
                    .client
                    .publish_diagnostics(uri, published, version)
                    .await;
                if let Some((dataset_uri, rows)) = dataset {
                    let send = lock(this.state()).set_dataset_diagnostics(
                        &dataset_uri,
                        state::DatasetSource::Check,
                        rows,
                    );
                    if let Some(all) = send {
                        this.inner
                            .client
                            .publish_diagnostics(dataset_uri, all, None)
                            .await;
                    }
                }
            }
            if let (Some(version), Some(path), false) = (version, &path, too_large) {
                if path.extension().is_some_and(|e| e == "prompt") {
                    this.schedule_live_scores(
                        uri_for_live,
                        version,
                        text_for_live,
                        path.clone(),
                        analysis_for_live,
                    );
                }
            }
            if then_dependents {
                if let Some(path) = path {
                    this.check_dependents(&path);
                }
            }
        });
    }

    /// Re-checks every prompt that depends on `path` (open or not).
    fn check_dependents(&self, path: &Path) {
        let dependents = lock(self.state()).deps.dependents(path);
        for dependent in dependents {
            if let Some(job) = self.job_for_path(&dependent) {
                tracing::debug!(
                    "re-checking {} after a change to {}",
                    dependent.display(),
                    path.display()
                );
                self.schedule_check(job, false);
            }
        }
    }

    /// Asks the client to tell us about changes to prompts and datasets on disk.
    async fn register_file_watchers(&self) {
        if !lock(self.state()).client.watched_files_registration {
            return;
        }
        let watchers = ["**/*.prompt", "**/*.csv", "**/*.jsonl"]
            .iter()
            .map(|glob| FileSystemWatcher {
                glob_pattern: GlobPattern::String(glob.to_string()),
                kind: None,
            })
            .collect();
        let registration = Registration {
            id: "promptls-watched-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
                watchers,
            })
            .ok(),
        };
        if let Err(e) = self
            .inner
            .client
            .register_capability(vec![registration])
            .await
        {
            tracing::warn!("the client refused file watching: {e}");
        }
    }

    /// Indexes which prompts depend on which files, for every workspace folder.
    async fn index_workspace(&self) {
        let state = self.state().clone();
        let roots = lock(&state).roots.clone();
        let indexed = tokio::task::spawn_blocking(move || {
            let mut count = 0;
            for root in roots {
                for prompt in find_prompts(&root, MAX_INDEXED_PROMPTS) {
                    index_file(&state, &prompt);
                    count += 1;
                }
            }
            count
        })
        .await;
        match indexed {
            Ok(count) => tracing::info!("indexed {count} prompt files"),
            Err(e) => tracing::debug!("indexing the workspace stopped: {e}"),
        }
    }

    fn recheck_open_documents(&self) {
        let jobs: Vec<CheckJob> = {
            let st = lock(self.state());
            st.docs
                .iter()
                .map(|(uri, doc)| Backend::open_job(doc, uri))
                .collect()
        };
        for job in jobs {
            self.schedule_check(job, false);
        }
    }

    async fn apply_settings(&self, value: &Value) {
        // Some clients send an empty notification (null or `{}`) just to say "ask me";
        // that must not wipe the settings given at `initialize`.
        let empty = match value {
            Value::Null => true,
            Value::Object(map) => map.is_empty() || map.get("promptls").is_some_and(Value::is_null),
            _ => false,
        };
        if empty {
            return;
        }
        match Config::from_json(value) {
            Ok(mut config) => {
                if let Some(level) = config.log_level {
                    self.inner.log.set(level);
                }
                let mut st = lock(self.state());
                // The editor's word on trust is given at `initialize`; a settings section
                // without it keeps it.
                config.workspace_trusted = config.workspace_trusted.or(st.config.workspace_trusted);
                st.config = Arc::new(config);
                drop(st);
                self.recheck_open_documents();
            }
            Err(message) => {
                tracing::warn!("{message}");
                self.inner
                    .client
                    .show_message(
                        MessageType::WARNING,
                        format!("{message} (the previous settings stay in effect)"),
                    )
                    .await;
            }
        }
    }
}

/// Whether `version` of `uri` is still what the editor has: for an open document, its
/// current version; for a file on disk, that it has not been opened since.
fn is_current(state: &Shared, uri: &Uri, version: Option<i32>) -> bool {
    let now = lock(state).docs.get(uri).map(|d| d.version);
    now == version
}

/// Reads a prompt from disk and records what it depends on.
fn index_file(state: &Shared, path: &Path) {
    // A file too large to analyze when open is not parsed for the index either.
    let readable = std::fs::metadata(path).is_ok_and(|m| !document::too_large(m.len() as usize));
    let text = if readable {
        std::fs::read_to_string(path).ok()
    } else {
        None
    };
    let Some(text) = text else {
        lock(state).deps.remove(path);
        return;
    };
    let analysis = promptls_core::analysis::Analysis::new(&text, Some(path));
    let deps = analysis.dependencies(&promptls_core::check::Disk);
    lock(state).deps.set(path.to_path_buf(), deps);
}

fn client_features(caps: &ClientCapabilities) -> state::ClientFeatures {
    let text = caps.text_document.as_ref();
    let workspace = caps.workspace.as_ref();
    state::ClientFeatures {
        create_files: workspace
            .and_then(|w| w.workspace_edit.as_ref())
            .map(|e| {
                e.document_changes == Some(true)
                    && e.resource_operations
                        .as_ref()
                        .is_some_and(|ops| ops.contains(&ResourceOperationKind::Create))
            })
            .unwrap_or(false),
        hierarchical_symbols: text
            .and_then(|t| t.document_symbol.as_ref())
            .and_then(|s| s.hierarchical_document_symbol_support)
            .unwrap_or(false),
        snippets: text
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|i| i.snippet_support)
            .unwrap_or(false),
        markdown_hover: text
            .and_then(|t| t.hover.as_ref())
            .and_then(|h| h.content_format.as_ref())
            .is_some_and(|f| f.contains(&MarkupKind::Markdown)),
        watched_files_registration: workspace
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|d| d.dynamic_registration)
            .unwrap_or(false),
        work_done_progress: caps
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false),
        code_lens_refresh: workspace
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            .unwrap_or(false),
    }
}

fn capabilities(encoding: super::position::Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(
                ["{", ">", "\"", ":", ".", "@", " "]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: semantic_tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..Default::default()
            },
        )),
        document_link_provider: Some(DocumentLinkOptions {
            resolve_provider: Some(false),
            work_done_progress_options: Default::default(),
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![
                CodeActionKind::QUICKFIX,
                CodeActionKind::REFACTOR_REWRITE,
            ]),
            ..Default::default()
        })),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: Command::ALL.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }),
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        ..Default::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = super::position::Encoding::negotiate(
            params
                .capabilities
                .general
                .as_ref()
                .and_then(|g| g.position_encodings.as_deref()),
        );
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| path_of(&f.uri))
            .collect();
        #[allow(deprecated)] // older clients send only rootUri
        if roots.is_empty() {
            roots.extend(params.root_uri.as_ref().and_then(path_of));
        }
        let config = match params.initialization_options.as_ref() {
            Some(options) => Config::from_json(options).unwrap_or_else(|message| {
                tracing::warn!("{message}; using the default settings");
                Config::default()
            }),
            None => Config::default(),
        };
        if let Some(level) = config.log_level {
            self.inner.log.set(level);
        }
        {
            let mut st = lock(self.state());
            st.encoding = encoding;
            st.roots = roots;
            st.config = Arc::new(config);
            st.client = client_features(&params.capabilities);
        }
        Ok(InitializeResult {
            capabilities: capabilities(encoding),
            server_info: Some(ServerInfo {
                name: "promptls".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        // Not awaited here: a notification handler that waits for the client would hold
        // up shutdown if the client never answers.
        let this = self.clone();
        tracing::debug!("initialized; indexing the workspace");
        tokio::spawn(async move {
            this.register_file_watchers().await;
            this.index_workspace().await;
        });
    }

    async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        evaluation::cancel_all(self.state());
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let job = {
            let mut st = lock(self.state());
            let document = Document::new(doc.text, doc.version, path_of(&doc.uri));
            let job = Backend::open_job(&document, &doc.uri);
            st.docs.insert(doc.uri, document);
            job
        };
        self.schedule_check(job, true);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let version = params.text_document.version;
        let job = {
            let mut st = lock(self.state());
            let encoding = st.encoding;
            let Some(doc) = st.docs.get_mut(&uri) else {
                tracing::warn!("ignored an edit to {}, which is not open", uri.as_str());
                return;
            };
            if version <= doc.version {
                tracing::warn!(
                    "edit to {} has version {version}, not after {}; applying it anyway",
                    uri.as_str(),
                    doc.version
                );
            }
            if doc
                .apply_changes(params.content_changes, version, encoding)
                .is_err()
            {
                tracing::warn!(
                    "an edit to {} was outside the document; clamped it",
                    uri.as_str()
                );
            }
            Backend::open_job(doc, &uri)
        };
        self.schedule_check(job, true);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        // Saved content becomes a version (never on keystrokes).
        if let (Some(path), Ok(snapshot)) = (
            path_of(&params.text_document.uri),
            Snapshot::take(self.state(), &params.text_document.uri),
        ) {
            let text = snapshot.text.to_string();
            let _ = tokio::task::spawn_blocking(move || history::record_saved(&path, &text)).await;
            evaluation::refresh_after_live(&self.inner.client, self.state()).await;
        }
        let evaluate = lock(self.state()).config.evaluate.clone();
        let is_prompt = path_of(&params.text_document.uri)
            .is_some_and(|p| p.extension().is_some_and(|e| e == "prompt"));
        if !evaluate.on_save || !is_prompt {
            return;
        }
        let args = commands::EvaluateArgs {
            uri: params.text_document.uri,
            limit: Some(evaluate.row_budget.unwrap_or(20)),
        };
        match evaluation::start(self.inner.client.clone(), self.state().clone(), args) {
            Ok(v) if v["started"] == true => {}
            Ok(v) => tracing::info!("evaluate on save: {}", v["reason"]),
            Err(e) => tracing::warn!("evaluate on save: {}", e.message),
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        // Everything of the document (rope, text, tree, diagnostics) is dropped here; a
        // check still running on it holds its text until it ends, and then publishes
        // nothing (the document is no longer current).
        let closed = lock(self.state()).docs.remove(&uri);
        let path = closed.as_ref().and_then(|d| d.path.clone());
        let len = closed.as_ref().map_or(0, |d| d.text.len());
        drop(closed);
        memory::release_after(len);
        // The checks ran on the blocking pool; one of its threads collects too.
        if len > 0 {
            tokio::task::spawn_blocking(move || memory::release_after(len));
        }
        self.inner
            .client
            .publish_diagnostics(uri, Vec::new(), None)
            .await;
        // Dependents saw the unsaved buffer; now they see the file on disk.
        if let Some(path) = path {
            self.check_dependents(&path);
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.apply_settings(&params.settings).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        for change in params.changes {
            let Some(path) = path_of(&change.uri) else {
                continue;
            };
            let open = lock(self.state()).docs.contains_key(&change.uri);
            if path.extension().is_some_and(|e| e == "prompt") && !open {
                if change.typ == FileChangeType::DELETED {
                    lock(self.state()).deps.remove(&path);
                    self.inner
                        .client
                        .publish_diagnostics(change.uri.clone(), Vec::new(), None)
                        .await;
                } else {
                    let state = self.state().clone();
                    let indexed = path.clone();
                    let _ = tokio::task::spawn_blocking(move || index_file(&state, &indexed)).await;
                }
            }
            if !open {
                self.check_dependents(&path);
            }
        }
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        {
            let mut st = lock(self.state());
            let removed: Vec<PathBuf> = params
                .event
                .removed
                .iter()
                .filter_map(|f| path_of(&f.uri))
                .collect();
            st.roots.retain(|r| !removed.contains(r));
            st.roots
                .extend(params.event.added.iter().filter_map(|f| path_of(&f.uri)));
        }
        self.index_workspace().await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        let is_prompt = path_of(&at.text_document.uri)
            .is_some_and(|p| p.extension().is_some_and(|e| e == "prompt"));
        if !is_prompt {
            return Ok(evaluation::dataset_hover(
                self.state(),
                &at.text_document.uri,
                at.position,
            ));
        }
        let snapshot = Snapshot::take(self.state(), &at.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let (markdown, config) = {
            let st = lock(self.state());
            (st.client.markdown_hover, st.config.clone())
        };
        let offset = snapshot.offset(at.position);
        let found = snapshot.analyze(self.state(), |input| ide::hover(input, offset))?;
        if found.is_none() && at.position.line == 0 {
            // The first line: the history (diff against production, changelog).
            let snapshot = std::sync::Arc::new(snapshot);
            return Ok(
                tokio::task::spawn_blocking(move || history::hover(&snapshot))
                    .await
                    .ok()
                    .flatten(),
            );
        }
        Ok(found.map(|h| {
            let h = hover::resolve_alias(&snapshot, h, &config);
            hover::to_lsp(&snapshot, h, markdown)
        }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let snapshot = Snapshot::take(self.state(), &at.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let snippets = lock(self.state()).client.snippets;
        let offset = snapshot.offset(at.position);
        let items = snapshot.analyze(self.state(), |input| ide::completions(input, offset))?;
        Ok(Some(CompletionResponse::Array(completion::to_lsp(
            &snapshot, items, snippets,
        ))))
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        let snapshot = Snapshot::take(self.state(), &at.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let offset = snapshot.offset(at.position);
        let target = snapshot.analyze(self.state(), |input| ide::definition(input, offset))?;
        Ok(target
            .and_then(|t| navigation::location(self.state(), &snapshot, t))
            .map(GotoDefinitionResponse::Scalar))
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let snapshot = Snapshot::take(self.state(), &params.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let hierarchical = lock(self.state()).client.hierarchical_symbols;
        let symbols = snapshot.analyze(self.state(), ide::symbols)?;
        Ok(Some(if hierarchical {
            DocumentSymbolResponse::Nested(navigation::symbols(&snapshot, symbols))
        } else {
            DocumentSymbolResponse::Flat(navigation::flat_symbols(&snapshot, symbols))
        }))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let uri = params.text_document.uri;
        let snapshot = Snapshot::take(self.state(), &uri)?;
        if snapshot.too_large() {
            // Declined: no ranges (the diagnostic on line 1 says why).
            return Ok(Some(Vec::new()));
        }
        // The open document's tree is kept current by incremental reparsing.
        let tree_folds = {
            let mut st = lock(self.state());
            let open = st.docs.get_mut(&uri);
            match open {
                Some(doc) if Some(doc.version) == snapshot.version => {
                    doc.tree().map(folding::tree_folds).unwrap_or_default()
                }
                _ => folding::tree_folds(&syntax::tree::parse_tree(&snapshot.text)),
            }
        };
        let core = snapshot.analyze(self.state(), ide::folds)?;
        let folds = folding::to_lsp(&snapshot, tree_folds, core);
        memory::release_after(snapshot.text.len());
        Ok(Some(folds))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        let snapshot = Snapshot::take(self.state(), &params.text_document.uri)?;
        if snapshot.too_large() {
            // Declined: no tokens (the diagnostic on line 1 says why).
            return Ok(Some(
                SemanticTokensResult::Tokens(SemanticTokens::default()),
            ));
        }
        let tokens = snapshot.analyze(self.state(), ide::semantic_tokens)?;
        let tokens = semantic_tokens::to_lsp(&snapshot, tokens);
        memory::release_after(snapshot.text.len());
        Ok(Some(SemanticTokensResult::Tokens(tokens)))
    }

    async fn document_link(&self, params: DocumentLinkParams) -> Result<Option<Vec<DocumentLink>>> {
        let snapshot = Snapshot::take(self.state(), &params.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let links = snapshot.analyze(self.state(), ide::links)?;
        Ok(Some(navigation::links(&snapshot, links)))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let snapshot = Snapshot::take(self.state(), &params.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(None);
        }
        let range = snapshot.span(params.range);
        let (config, create_files) = {
            let st = lock(self.state());
            (st.config.clone(), st.client.create_files)
        };
        let (actions, all) = snapshot.analyze(self.state(), |input| {
            // The finished check of this version if there is one, else check now.
            let all = match &snapshot.diagnostics {
                Some(d) => d.clone(),
                None => Arc::new(promptls_core::check::check_parsed(input)),
            };
            let kept: Vec<promptls_core::check::Diagnostic> = all
                .iter()
                .filter(|d| diagnostics::keep(d, &snapshot.text, &config))
                .cloned()
                .collect();
            (ide::code_actions(input, &kept, range), kept)
        })?;
        let mut out = code_actions::to_lsp(
            self.state(),
            &snapshot,
            actions,
            &all,
            &config,
            create_files,
        );
        out.extend(optimization::actions(&snapshot));
        Ok(Some(out))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let snapshot = Snapshot::take(self.state(), &params.text_document.uri)?;
        if snapshot.too_large() {
            return Ok(Some(Vec::new()));
        }
        let mut lenses = evaluation::lenses(self.state(), &snapshot);
        let snapshot = std::sync::Arc::new(snapshot);
        let for_history = snapshot.clone();
        // The history lens reads SQLite: off the async threads.
        if let Ok(Some(lens)) =
            tokio::task::spawn_blocking(move || history::lens(&for_history)).await
        {
            lenses.push(lens);
        }
        Ok(Some(lenses))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let (client, state) = (&self.inner.client, self.state());
        let answer = match Command::parse(&params.command, params.arguments)? {
            Command::Render(args) => commands::render(state, args),
            Command::Evaluate(args) => evaluation::start(client.clone(), state.clone(), args),
            Command::CancelEvaluation(args) => evaluation::cancel(state, &args.uri),
            Command::ShowEvaluation(args) => evaluation::show(state, &args.uri),
            Command::Optimize(args) => optimization::start(client.clone(), state.clone(), args),
            Command::CancelOptimization(args) => optimization::cancel(state, &args.uri),
            Command::ShowHistory(args) => history::show_history(client, state, args).await,
            Command::CompareVersion(args) => history::compare(client, state, args).await,
            Command::RestoreVersion(args) => history::restore(client, state, args).await,
            Command::Promote(args) => history::promote(client, state, args).await,
        };
        answer.map(Some)
    }
}
