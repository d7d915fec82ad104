//! textDocument/completion.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, CompletionTextEdit,
    Documentation, InsertTextFormat, MarkupContent, MarkupKind, TextEdit,
};

use crate::lsp::analysis::Snapshot;
use crate::lsp::dispatch::SessionView;
use promptls_core::ide::{self, CompletionKind};

pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    if snapshot.too_large() {
        return Ok(None);
    }
    let offset = snapshot.offset(params.text_document_position.position);
    let items = snapshot.analyze(&session.state, |input| ide::completions(input, offset))?;
    Ok(Some(CompletionResponse::Array(to_lsp(
        snapshot,
        items,
        session.client.snippets,
    ))))
}

pub fn to_lsp(
    snapshot: &Snapshot,
    items: Vec<ide::CompletionItem>,
    snippets: bool,
) -> Vec<CompletionItem> {
    items
        .into_iter()
        .map(|item| {
            if snippets {
                item
            } else {
                without_snippet(item)
            }
        })
        .enumerate()
        .map(|(i, item)| CompletionItem {
            label: item.label.clone(),
            kind: Some(kind(item.kind)),
            detail: item.detail,
            documentation: item.documentation.map(|value| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value,
                })
            }),
            // Keep the core's order (most relevant first) rather than the client's
            // alphabetical default.
            sort_text: Some(format!("{i:05}")),
            filter_text: Some(item.label),
            insert_text_format: Some(if item.is_snippet {
                InsertTextFormat::SNIPPET
            } else {
                InsertTextFormat::PLAIN_TEXT
            }),
            text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                range: snapshot.range(item.replace),
                new_text: item.insert_text,
            })),
            ..Default::default()
        })
        .collect()
}

/// For clients without snippet support: the snippet as plain text, its placeholders
/// replaced by their defaults (`${1:x}` → `x`, `${1|a,b|}` → `a`, `$0` → nothing).
fn without_snippet(mut item: ide::CompletionItem) -> ide::CompletionItem {
    if !item.is_snippet {
        return item;
    }
    let mut out = String::new();
    let mut rest = item.insert_text.as_str();
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(body) = rest.strip_prefix('{') {
            let end = body.find('}').unwrap_or(body.len());
            let inner = &body[..end];
            let default = match inner.split_once([':', '|']) {
                Some((_, d)) => d.trim_end_matches('|').split(',').next().unwrap_or(""),
                None => "",
            };
            out.push_str(default);
            rest = body.get(end + 1..).unwrap_or("");
        } else {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    out.push_str(rest);
    item.insert_text = out;
    item.is_snippet = false;
    item
}

fn kind(kind: CompletionKind) -> CompletionItemKind {
    match kind {
        CompletionKind::Key => CompletionItemKind::PROPERTY,
        CompletionKind::Value => CompletionItemKind::VALUE,
        CompletionKind::Model => CompletionItemKind::CONSTANT,
        CompletionKind::Metric | CompletionKind::Optimizer => CompletionItemKind::ENUM_MEMBER,
        CompletionKind::Helper => CompletionItemKind::FUNCTION,
        CompletionKind::Variable => CompletionItemKind::VARIABLE,
        CompletionKind::Column => CompletionItemKind::FIELD,
        CompletionKind::Partial => CompletionItemKind::FILE,
        CompletionKind::Role => CompletionItemKind::KEYWORD,
        CompletionKind::Snippet => CompletionItemKind::SNIPPET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptls_core::syntax::Span;

    #[test]
    fn snippets_become_plain_text() {
        let item = |text: &str| ide::CompletionItem {
            label: "x".into(),
            kind: CompletionKind::Snippet,
            detail: None,
            documentation: None,
            insert_text: text.into(),
            is_snippet: true,
            replace: Span::empty(0),
        };
        let plain = |text: &str| without_snippet(item(text)).insert_text;
        assert_eq!(
            plain("input:\n  schema:\n    ${1:name}: ${2:string}"),
            "input:\n  schema:\n    name: string"
        );
        assert_eq!(plain("format: ${1|text,json|}"), "format: text");
        assert_eq!(
            plain("if ${1:value}}}\n$0\n{{/if}}"),
            "if value}}\n\n{{/if}}"
        );
    }
}
