//! Where files are: URIs and paths, and another file's text as the editor sees it. (The
//! requests that navigate are in `requests/navigation.rs`.)

use std::path::Path;

use ropey::Rope;
use tower_lsp_server::ls_types::Uri;

use super::state::{lock, normalize, Shared};

/// A `file:` URI's path (other schemes, e.g. `untitled:`, have none).
pub fn path_of(uri: &Uri) -> Option<std::path::PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file") {
        return None;
    }
    uri.to_file_path().map(|p| normalize(&p))
}

pub fn uri_of(path: &Path) -> Option<Uri> {
    Uri::from_file_path(normalize(path))
}

/// The text of `path` as the editor sees it (open buffer first).
pub fn rope_of(state: &Shared, path: &Path) -> Option<Rope> {
    let open = lock(state).doc_by_path(path).map(|(_, d)| d.rope.clone());
    open.or_else(|| {
        std::fs::read_to_string(path)
            .ok()
            .map(|t| Rope::from_str(&t))
    })
}
