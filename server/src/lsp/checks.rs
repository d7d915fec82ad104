//! Checking in the background: which files to check after a change (the document, the
//! prompts that depend on it), the check itself on the blocking pool, publishing its
//! diagnostics if the document has not moved on, the live scores after it, and indexing
//! the workspace's prompts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::ls_types::Uri;

use super::document::{self, Document};
use super::navigation::uri_of;
use super::server::Backend;
use super::state::{self, find_prompts, lock, LiveFiles, Shared};
use super::{diagnostics, evaluation, memory};
use promptls_core::check::Workspace;

/// The most `.prompt` files indexed per workspace folder.
const MAX_INDEXED_PROMPTS: usize = 20_000;

/// One file to check: an open document at `version`, or a file on disk (`None`).
pub struct CheckJob {
    uri: Uri,
    version: Option<i32>,
    text: Arc<str>,
    rope: Rope,
    path: Option<PathBuf>,
    /// The document's analysis of this version (a fresh one for a file on disk).
    analysis: document::AnalysisCell,
}

impl Backend {
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
            if !is_current(&state, &uri, Some(version)) {
                return;
            }
            let Ok(_running) = this.inner.checks.acquire().await else {
                return;
            };
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

    pub(super) fn open_job(doc: &Document, uri: &Uri) -> CheckJob {
        CheckJob {
            uri: uri.clone(),
            version: Some(doc.version),
            text: doc.text.clone(),
            rope: doc.rope.clone(),
            path: doc.path.clone(),
            analysis: doc.analysis.clone(),
        }
    }

    /// A job for the file on disk at `path` (a read of the disk: call it on the blocking
    /// pool).
    fn disk_job(path: &Path) -> Option<CheckJob> {
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
    pub(super) fn schedule_check(&self, job: CheckJob, then_dependents: bool) {
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
            // A superseded check (most of a burst of edits) skips the queue too.
            let superseded = || {
                tracing::debug!(
                    "skipped a check of {} (version {version:?} superseded)",
                    uri.as_str()
                );
            };
            if !is_current(&state, &uri, version) {
                return superseded();
            }
            let Ok(running) = this.inner.checks.acquire().await else {
                return;
            };
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
            drop(running);
            let (published, dataset) = match checked {
                Ok(Some(published)) => published,
                Ok(None) => return superseded(),
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

    /// Re-checks every prompt that depends on `path` (open or not): an open one as it is
    /// now, one on disk after reading it on the blocking pool.
    pub(super) fn check_dependents(&self, path: &Path) {
        let dependents = lock(self.state()).deps.dependents(path);
        let mut on_disk = Vec::new();
        for dependent in dependents {
            let open = lock(self.state())
                .doc_by_path(&dependent)
                .map(|(uri, doc)| Backend::open_job(doc, uri));
            match open {
                Some(job) => {
                    log_recheck(&dependent, path);
                    self.schedule_check(job, false);
                }
                None => on_disk.push(dependent),
            }
        }
        if on_disk.is_empty() {
            return;
        }
        let this = self.clone();
        let changed = path.to_path_buf();
        tokio::spawn(async move {
            for dependent in on_disk {
                let read = dependent.clone();
                let job = tokio::task::spawn_blocking(move || Backend::disk_job(&read)).await;
                if let Ok(Some(job)) = job {
                    log_recheck(&dependent, &changed);
                    this.schedule_check(job, false);
                }
            }
        });
    }

    /// Indexes which prompts depend on which files, for every workspace folder.
    pub(super) async fn index_workspace(&self) {
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

    pub(super) fn recheck_open_documents(&self) {
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
}

fn log_recheck(dependent: &Path, changed: &Path) {
    tracing::debug!(
        "re-checking {} after a change to {}",
        dependent.display(),
        changed.display()
    );
}

/// Whether `version` of `uri` is still what the editor has: for an open document, its
/// current version; for a file on disk, that it has not been opened since.
fn is_current(state: &Shared, uri: &Uri, version: Option<i32>) -> bool {
    let now = lock(state).docs.get(uri).map(|d| d.version);
    now == version
}

/// Reads a prompt from disk and records what it depends on.
pub(super) fn index_file(state: &Shared, path: &Path) {
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
