//! Everything the server knows between messages: open documents, the negotiated encoding,
//! settings, workspace folders, and which prompts depend on which files. Guarded by one
//! `std::sync::Mutex` that is never held across an `.await`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tower_lsp_server::ls_types::Uri;

use super::config::Config;
use super::document::Document;
use super::position::Encoding;
use promptls_core::check::Workspace;

#[derive(Default)]
pub struct State {
    pub docs: HashMap<Uri, Document>,
    pub encoding: Encoding,
    pub config: Arc<Config>,
    pub roots: Vec<PathBuf>,
    pub deps: DependencyIndex,
    /// Client capabilities that change what the server sends.
    pub client: ClientFeatures,
    /// What is shown in each dataset file: its bad rows (from checks) and its failing
    /// rows (from evaluations).
    pub dataset_diagnostics: HashMap<Uri, DatasetDiagnostics>,
    /// Evaluations by prompt file: the last report, live scores.
    pub evals: HashMap<PathBuf, super::evaluation::PromptEval>,
    /// The running evaluations and optimizations (one per prompt and kind).
    pub jobs: promptls_core::jobs::Jobs,
    /// One model client per workspace root, so pacing and the cache are shared by every
    /// evaluation in the process.
    pub llm_clients: promptls_core::llm::clients::Clients,
    /// Trust refusals already shown to the user (each is said once per session).
    pub refusals_shown: std::collections::HashSet<String>,
    /// The documents whose analysis is kept, least recently made first (see
    /// `keep_analysis`).
    pub analyzed: std::collections::VecDeque<Uri>,
}

/// The most documents whose analysis the server keeps at once. An analysis is made per
/// version and shared by its check and every request; the bound keeps the memory of
/// hundreds of open files nobody looks at from growing with their number (as
/// rust-analyzer bounds its parse trees with an LRU).
pub const KEPT_ANALYSES: usize = 64;

/// Diagnostics of one dataset file, from two sources published together.
#[derive(Debug, Default)]
pub struct DatasetDiagnostics {
    pub check: Vec<tower_lsp_server::ls_types::Diagnostic>,
    pub eval: Vec<tower_lsp_server::ls_types::Diagnostic>,
    /// Whether something was published, so a file that became clean is cleared (and
    /// nothing is sent for clean datasets on every keystroke).
    shown: bool,
}

/// Which source of dataset diagnostics changed.
#[derive(Debug, Clone, Copy)]
pub enum DatasetSource {
    Check,
    Eval,
}

impl State {
    /// Records `diagnostics` from `source` for the dataset `uri`; returns what to publish
    /// for it, if anything.
    pub fn set_dataset_diagnostics(
        &mut self,
        uri: &Uri,
        source: DatasetSource,
        diagnostics: Vec<tower_lsp_server::ls_types::Diagnostic>,
    ) -> Option<Vec<tower_lsp_server::ls_types::Diagnostic>> {
        let entry = self.dataset_diagnostics.entry(uri.clone()).or_default();
        match source {
            DatasetSource::Check => entry.check = diagnostics,
            DatasetSource::Eval => entry.eval = diagnostics,
        }
        let all: Vec<_> = entry.check.iter().chain(&entry.eval).cloned().collect();
        if all.is_empty() && !entry.shown {
            return None;
        }
        entry.shown = !all.is_empty();
        Some(all)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct ClientFeatures {
    /// `WorkspaceEdit.documentChanges` with `create` operations.
    pub create_files: bool,
    pub hierarchical_symbols: bool,
    pub snippets: bool,
    pub markdown_hover: bool,
    pub watched_files_registration: bool,
    /// `window/workDoneProgress/create` (progress of evaluations).
    pub work_done_progress: bool,
    /// `workspace/codeLens/refresh`.
    pub code_lens_refresh: bool,
}

impl State {
    /// Notes that the open document `uri` has made its analysis; the analysis of the
    /// document made longest ago, past `KEPT_ANALYSES`, is let go (made again if asked).
    pub fn keep_analysis(&mut self, uri: &Uri) {
        if !self.docs.contains_key(uri) {
            return;
        }
        self.analyzed.retain(|u| u != uri);
        self.analyzed.push_back(uri.clone());
        while self.analyzed.len() > KEPT_ANALYSES {
            let Some(oldest) = self.analyzed.pop_front() else {
                break;
            };
            if let Some(doc) = self.docs.get_mut(&oldest) {
                doc.analysis = Default::default();
            }
        }
    }

    /// The open document of the file at `path` (normalized), with its URI.
    pub fn doc_by_path(&self, path: &Path) -> Option<(&Uri, &Document)> {
        self.docs
            .iter()
            .find(|(_, d)| d.path.as_deref() == Some(path))
    }

    pub fn open_text(&self, path: &Path) -> Option<Arc<str>> {
        self.doc_by_path(path).map(|(_, d)| d.text.clone())
    }
}

pub type Shared = Arc<Mutex<State>>;

pub fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock would poison it; the state is still usable (each
    // update is a single assignment), so keep serving rather than fail every request.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Files as the editor sees them: open documents' unsaved text first, then the disk.
pub struct LiveFiles(pub Shared);

impl Workspace for LiveFiles {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        let open = lock(&self.0).open_text(&normalize(path));
        match open {
            Some(text) => Ok(text.to_string()),
            None => std::fs::read_to_string(path),
        }
    }
}

/// `a/./b/../c` -> `a/c`, without touching the file system (the file may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Which prompt depends on which files (partials, datasets, variant bases), so that a
/// change to one re-checks the others.
#[derive(Default)]
pub struct DependencyIndex {
    depends_on: HashMap<PathBuf, BTreeSet<PathBuf>>,
}

impl DependencyIndex {
    pub fn set(&mut self, prompt: PathBuf, deps: impl IntoIterator<Item = PathBuf>) {
        let deps: BTreeSet<PathBuf> = deps.into_iter().map(|p| normalize(&p)).collect();
        self.depends_on.insert(prompt, deps);
    }

    pub fn remove(&mut self, prompt: &Path) {
        self.depends_on.remove(prompt);
    }

    /// The prompts that depend on `path`, sorted.
    pub fn dependents(&self, path: &Path) -> Vec<PathBuf> {
        let path = normalize(path);
        let mut out: Vec<PathBuf> = self
            .depends_on
            .iter()
            .filter(|(prompt, deps)| **prompt != path && deps.contains(&path))
            .map(|(prompt, _)| prompt.clone())
            .collect();
        out.sort();
        out
    }
}

/// The `.prompt` files under `root`, skipping hidden folders and build output; at most
/// `limit` of them (a huge folder opened by mistake must not stall the server).
pub fn find_prompts(root: &Path, limit: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !name.starts_with('.') && name != "node_modules" && name != "target" {
                    stack.push(entry.path());
                }
            } else if kind.is_file() && name.ends_with(".prompt") {
                out.push(entry.path());
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(
            normalize(Path::new("/a/./b/../c.csv")),
            PathBuf::from("/a/c.csv")
        );
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    }

    #[test]
    fn dependents_are_found_through_normalized_paths() {
        let mut index = DependencyIndex::default();
        index.set("/w/a.prompt".into(), [PathBuf::from("/w/./_p.prompt")]);
        index.set(
            "/w/sub/b.prompt".into(),
            [PathBuf::from("/w/sub/../_p.prompt")],
        );
        index.set("/w/c.prompt".into(), [PathBuf::from("/w/data.csv")]);
        assert_eq!(
            index.dependents(Path::new("/w/_p.prompt")),
            vec![
                PathBuf::from("/w/a.prompt"),
                PathBuf::from("/w/sub/b.prompt")
            ]
        );
        index.remove(Path::new("/w/a.prompt"));
        assert_eq!(index.dependents(Path::new("/w/_p.prompt")).len(), 1);
    }
}
