//! textDocument/hover.

use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use super::analysis::Snapshot;
use super::config::Config;
use promptls_core::ide;

/// A hover on a model alias (setting `models.aliases`) describes the model it stands for.
pub fn resolve_alias(snapshot: &Snapshot, mut hover: ide::Hover, config: &Config) -> ide::Hover {
    let written = snapshot
        .text
        .get(hover.span.start..hover.span.end)
        .unwrap_or("")
        .trim_matches(|c| c == '"' || c == '\'');
    if let Some(target) = config.models.aliases.get(written) {
        hover.markdown = format!(
            "`{written}` is an alias (setting `models.aliases`) for `{target}`\n\n{}",
            ide::describe_model(target)
        );
    }
    hover
}

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
