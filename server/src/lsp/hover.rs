//! textDocument/hover.

use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use super::analysis::Snapshot;
use crate::ide;

pub fn to_lsp(snapshot: &Snapshot, hover: ide::Hover, markdown: bool) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: if markdown {
                MarkupKind::Markdown
            } else {
                MarkupKind::PlainText
            },
            value: hover.markdown,
        }),
        range: Some(snapshot.range(hover.span)),
    }
}
