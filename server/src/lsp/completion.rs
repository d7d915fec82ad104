//! textDocument/completion.

use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, InsertTextFormat,
    MarkupContent, MarkupKind, TextEdit,
};

use super::analysis::Snapshot;
use crate::ide::{self, CompletionKind};

pub fn to_lsp(
    snapshot: &Snapshot,
    items: Vec<ide::CompletionItem>,
    snippets: bool,
) -> Vec<CompletionItem> {
    items
        .into_iter()
        .filter(|item| snippets || !item.is_snippet)
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
