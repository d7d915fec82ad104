//! The notifications that change the session: they run on the protocol side, apply their
//! change to the state under its lock before their first `.await` (handlers start in
//! message order, so the next request sees it), and leave the work to the blocking pool
//! (`checks.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::analysis::Snapshot;
use super::capabilities::{capabilities, client_features};
use super::checks::index_file;
use super::config::Config;
use super::document::Document;
use super::navigation::path_of;
use super::server::Backend;
use super::state::lock;
use super::{commands, evaluation, history, memory};

pub fn initialize(backend: &Backend, params: InitializeParams) -> Result<InitializeResult> {
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
        backend.inner.log.set(level);
    }
    {
        let mut st = lock(backend.state());
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

pub fn initialized(backend: &Backend) {
    // Not awaited here: a notification handler that waits for the client would hold
    // up shutdown if the client never answers.
    let this = backend.clone();
    tracing::debug!("initialized; indexing the workspace");
    tokio::spawn(async move {
        register_file_watchers(&this).await;
        this.index_workspace().await;
    });
}

pub fn did_open(backend: &Backend, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    let job = {
        let mut st = lock(backend.state());
        let document = Document::new(doc.text, doc.version, path_of(&doc.uri));
        let job = Backend::open_job(&document, &doc.uri);
        st.docs.insert(doc.uri, document);
        job
    };
    backend.schedule_check(job, true);
}

pub fn did_change(backend: &Backend, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri;
    let version = params.text_document.version;
    let job = {
        let mut st = lock(backend.state());
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
    backend.schedule_check(job, true);
}

pub async fn did_save(backend: &Backend, params: DidSaveTextDocumentParams) {
    // Saved content becomes a version (never on keystrokes).
    if let Some(path) = path_of(&params.text_document.uri) {
        let uri = params.text_document.uri.clone();
        let open = Snapshot::open(backend.state(), &uri);
        let state = backend.state().clone();
        // SQLite, and the disk if the file is not open: on the blocking pool.
        let recorded = tokio::task::spawn_blocking(move || {
            let snapshot = match open {
                Some(snapshot) => snapshot,
                None => Snapshot::take(&state, &uri).ok()?,
            };
            history::record_saved(&path, &snapshot.text);
            Some(())
        })
        .await;
        if recorded.unwrap_or(Some(())).is_some() {
            evaluation::refresh_after_live(&backend.inner.client, backend.state()).await;
        }
    }
    let evaluate = lock(backend.state()).config.evaluate.clone();
    let is_prompt = path_of(&params.text_document.uri)
        .is_some_and(|p| p.extension().is_some_and(|e| e == "prompt"));
    if !evaluate.on_save || !is_prompt {
        return;
    }
    let args = commands::EvaluateArgs {
        uri: params.text_document.uri,
        limit: Some(evaluate.row_budget.unwrap_or(20)),
    };
    match evaluation::start(backend.inner.client.clone(), backend.state().clone(), args).await {
        Ok(v) if v["started"] == true => {}
        Ok(v) => tracing::info!("evaluate on save: {}", v["reason"]),
        Err(e) => tracing::warn!("evaluate on save: {}", e.message),
    }
}

pub async fn did_close(backend: &Backend, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    // Everything of the document (rope, text, tree, diagnostics) is dropped here; a
    // check still running on it holds its text until it ends, and then publishes
    // nothing (the document is no longer current).
    let closed = lock(backend.state()).docs.remove(&uri);
    let path = closed.as_ref().and_then(|d| d.path.clone());
    let len = closed.as_ref().map_or(0, |d| d.text.len());
    drop(closed);
    memory::release_after(len);
    // The checks ran on the blocking pool; one of its threads collects too.
    if len > 0 {
        tokio::task::spawn_blocking(move || memory::release_after(len));
    }
    backend
        .inner
        .client
        .publish_diagnostics(uri, Vec::new(), None)
        .await;
    // Dependents saw the unsaved buffer; now they see the file on disk.
    if let Some(path) = path {
        backend.check_dependents(&path);
    }
}

pub async fn did_change_configuration(backend: &Backend, params: DidChangeConfigurationParams) {
    apply_settings(backend, &params.settings).await;
}

pub async fn did_change_watched_files(backend: &Backend, params: DidChangeWatchedFilesParams) {
    for change in params.changes {
        let Some(path) = path_of(&change.uri) else {
            continue;
        };
        let open = lock(backend.state()).docs.contains_key(&change.uri);
        if path.extension().is_some_and(|e| e == "prompt") && !open {
            if change.typ == FileChangeType::DELETED {
                lock(backend.state()).deps.remove(&path);
                backend
                    .inner
                    .client
                    .publish_diagnostics(change.uri.clone(), Vec::new(), None)
                    .await;
            } else {
                let state = backend.state().clone();
                let indexed = path.clone();
                let _ = tokio::task::spawn_blocking(move || index_file(&state, &indexed)).await;
            }
        }
        if !open {
            backend.check_dependents(&path);
        }
    }
}

pub async fn did_change_workspace_folders(
    backend: &Backend,
    params: DidChangeWorkspaceFoldersParams,
) {
    {
        let mut st = lock(backend.state());
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
    backend.index_workspace().await;
}

/// Asks the client to tell us about changes to prompts and datasets on disk.
async fn register_file_watchers(backend: &Backend) {
    if !lock(backend.state()).client.watched_files_registration {
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
    if let Err(e) = backend
        .inner
        .client
        .register_capability(vec![registration])
        .await
    {
        tracing::warn!("the client refused file watching: {e}");
    }
}

async fn apply_settings(backend: &Backend, value: &Value) {
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
                backend.inner.log.set(level);
            }
            let mut st = lock(backend.state());
            // The editor's word on trust is given at `initialize`; a settings section
            // without it keeps it.
            config.workspace_trusted = config.workspace_trusted.or(st.config.workspace_trusted);
            st.config = Arc::new(config);
            drop(st);
            backend.recheck_open_documents();
        }
        Err(message) => {
            tracing::warn!("{message}");
            backend
                .inner
                .client
                .show_message(
                    MessageType::WARNING,
                    format!("{message} (the previous settings stay in effect)"),
                )
                .await;
        }
    }
}
