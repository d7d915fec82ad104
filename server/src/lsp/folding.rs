//! textDocument/foldingRange: the tree-sitter grammar's folds (from the incrementally
//! reparsed tree) and the core's (frontmatter, demos), as whole lines.

use std::collections::BTreeMap;

use tower_lsp_server::ls_types::{FoldingRange, FoldingRangeKind};

use super::analysis::Snapshot;
use super::position;
use crate::ide::{self, FoldKind};
use crate::syntax::Span;

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
