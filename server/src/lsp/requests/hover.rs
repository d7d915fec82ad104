//! textDocument/hover.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use crate::lsp::analysis::Snapshot;
use crate::lsp::config::Config;
use crate::lsp::dispatch::SessionView;
use crate::lsp::history;
use promptls_core::ide;

/// The hover in a prompt (a dataset file's hover needs no snapshot: see the server).
pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    params: HoverParams,
) -> Result<Option<Hover>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let position = params.text_document_position_params.position;
    let offset = snapshot.offset(position);
    let found = snapshot.analyze(&session.state, |input| ide::hover(input, offset))?;
    if found.is_none() && position.line == 0 {
        // The first line: the history (diff against production, changelog).
        return Ok(history::hover(snapshot));
    }
    Ok(found.map(|h| {
        let h = resolve_alias(snapshot, h, &session.config);
        to_lsp(snapshot, h, session.client.markdown_hover)
    }))
}

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
