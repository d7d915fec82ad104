//! textDocument/foldingRange: the tree-sitter grammar's folds (from the incrementally
//! reparsed tree) and the core's (frontmatter, demos), as whole lines.

use std::collections::BTreeMap;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind, FoldingRangeParams};
use tree_sitter::Tree;

use crate::lsp::analysis::Snapshot;
use crate::lsp::dispatch::SessionView;
use crate::lsp::memory;
use crate::lsp::position;
use crate::lsp::state::lock;
use promptls_core::ide::{self, FoldKind};
use promptls_core::syntax::{self, Span};

pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    _: FoldingRangeParams,
) -> Result<Option<Vec<FoldingRange>>> {
    if snapshot.too_large() {
        // Declined: no ranges (the diagnostic on line 1 says why).
        return Ok(Some(Vec::new()));
    }
    let tree_folds = tree_folds(&tree_of(snapshot, session));
    let core = snapshot.analyze(&session.state, ide::folds)?;
    let folds = to_lsp(snapshot, tree_folds, core);
    memory::release_after(snapshot.text.len());
    Ok(Some(folds))
}

/// The snapshot's tree: the open document's, kept current by incremental reparsing (done
/// here, outside the session's lock, and kept for the next request), or a fresh parse.
fn tree_of(snapshot: &Snapshot, session: &SessionView) -> Tree {
    let pending = lock(&session.state)
        .docs
        .get(&snapshot.uri)
        .filter(|doc| Some(doc.version) == snapshot.version)
        .and_then(|doc| doc.pending_tree());
    let Some(pending) = pending else {
        return syntax::tree::parse_tree(&snapshot.text);
    };
    let version = pending.version;
    let tree = pending.finish();
    if let Some(doc) = lock(&session.state).docs.get_mut(&snapshot.uri) {
        doc.store_tree(version, &tree);
    }
    tree
}

/// The node kinds the grammar's `queries/folds.scm` captures (a test keeps the two equal).
const FOLDED_KINDS: [&str; 6] = [
    "frontmatter",
    "block",
    "else_clause",
    "demos_block",
    "raw_block",
    "comment",
];

/// The spans of the nodes `folds.scm` folds, sorted, as `syntax::tree::folds` gives them,
/// by a walk of the tree rather than running the query: tree-sitter's query cursor spends
/// time on each node in proportion to its earlier siblings (`ts_tree_cursor_current_status`),
/// so on the flat top level of a large document it was quadratic (3 minutes for 50 MB of
/// mustaches). The walk visits each node once.
pub fn tree_folds(tree: &Tree) -> Vec<Span> {
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    'walk: loop {
        let node = cursor.node();
        if FOLDED_KINDS.contains(&node.kind()) {
            out.push(Span::new(node.start_byte(), node.end_byte()));
        }
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                continue 'walk;
            }
            if !cursor.goto_parent() {
                break 'walk;
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

pub fn to_lsp(
    snapshot: &Snapshot,
    tree_folds: Vec<Span>,
    core: Vec<ide::Fold>,
) -> Vec<FoldingRange> {
    // Keyed by start line; a fold from the core wins over the tree's at the same line
    // because it knows the kind.
    let mut by_line: BTreeMap<u32, FoldingRange> = BTreeMap::new();
    let spans = tree_folds
        .into_iter()
        .map(|s| (s, None))
        .chain(core.into_iter().map(|f| (f.span, Some(f.kind))));
    for (span, kind) in spans {
        if span.is_empty() {
            continue;
        }
        let start = position::to_position(&snapshot.rope, span.start, snapshot.encoding).line;
        // The line of the last character (a fold ending with a line break ends there).
        let end = position::to_position(&snapshot.rope, span.end - 1, snapshot.encoding).line;
        if end <= start {
            continue;
        }
        let kind = match kind {
            Some(FoldKind::Comment) => Some(FoldingRangeKind::Comment),
            Some(FoldKind::Frontmatter) => Some(FoldingRangeKind::Imports),
            Some(FoldKind::Demos) | Some(FoldKind::Block) => Some(FoldingRangeKind::Region),
            None => None,
        };
        let range = FoldingRange {
            start_line: start,
            end_line: end,
            kind,
            ..Default::default()
        };
        let better = match by_line.get(&start) {
            None => true,
            Some(existing) => match (existing.kind.is_some(), range.kind.is_some()) {
                (false, true) => true,
                (true, false) => false,
                _ => end > existing.end_line,
            },
        };
        if better {
            by_line.insert(start, range);
        }
    }
    by_line.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptls_core::syntax::tree;

    #[test]
    fn the_walk_finds_what_the_folds_query_finds() {
        let src = "---\na: 1\n---\n{{#if x}}\ny\n{{else}}\nz\n{{/if}}\n{{!-- a\ncomment --}}\n\
                   {{{{raw}}}}\n{{x}}\n{{{{/raw}}}}\n{{#each xs}}{{#if a}}\nb{{/if}}{{/each}}\n\
                   {{!-- promptls:demos --}}\nd\n{{!-- /promptls:demos --}}\n{{#if broken}}\n";
        let parsed = tree::parse_tree(src);
        let walked = tree_folds(&parsed);
        assert_eq!(walked, tree::folds(&parsed, src));
        assert!(walked.len() >= 7, "{walked:?}");
        // The same kinds as folds.scm.
        let query = tree_sitter_prompt::FOLDS_QUERY;
        for kind in FOLDED_KINDS {
            assert!(
                query.contains(&format!("({kind})")),
                "{kind} is not in folds.scm"
            );
        }
        assert_eq!(query.matches(')').count(), FOLDED_KINDS.len());
    }
}
