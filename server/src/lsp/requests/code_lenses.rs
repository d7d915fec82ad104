//! textDocument/codeLens: evaluate and optimize (with their progress and scores), and the
//! prompt's history.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{CodeLens, CodeLensParams};

use crate::lsp::analysis::Snapshot;
use crate::lsp::dispatch::SessionView;
use crate::lsp::{evaluation, history};

pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    _: CodeLensParams,
) -> Result<Option<Vec<CodeLens>>> {
    if snapshot.too_large() {
        return Ok(Some(Vec::new()));
    }
    let mut lenses = evaluation::lenses(&session.state, snapshot);
    // Reads SQLite (this runs on the blocking pool).
    lenses.extend(history::lens(snapshot));
    Ok(Some(lenses))
}
