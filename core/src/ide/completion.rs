//! Completion. The context comes from the text around the cursor rather than from the
//! parse, because the file is usually broken while it is being typed (a half-written key,
//! an unclosed `{{`).
use super::{CompletionItem, CompletionKind};
use crate::check::CheckInput;
use crate::syntax::Span;

mod frontmatter;
mod template;

use frontmatter::in_frontmatter;
use template::in_template;

pub fn completions(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
    let source = input.source();
    if offset > source.len() || !source.is_char_boundary(offset) {
        return Vec::new();
    }
    match frontmatter_region(source) {
        Some(region) if region.start <= offset && offset <= region.end => {
            in_frontmatter(input, offset)
        }
        _ => in_template(input, offset),
    }
}

/// From after the opening `---` line to the start of the closing one (or the end of the
/// file while it is not yet written). Comment and blank lines may come first, as
/// Dotprompt allows.
pub(super) fn frontmatter_region(source: &str) -> Option<Span> {
    let mut lines = source.split_inclusive('\n');
    let mut at = 0;
    let start = loop {
        let line = lines.next()?;
        at += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim_end() == "---" && line.ends_with('\n') {
            break at;
        }
        if !(content.starts_with('#') || content.trim_matches([' ', '\t']).is_empty()) {
            return None;
        }
    };
    for line in lines {
        if line.trim_end() == "---" {
            return Some(Span::new(start, at));
        }
        at += line.len();
    }
    Some(Span::new(start, source.len()))
}

pub(super) fn item(label: &str, kind: CompletionKind, replace: Span) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind,
        detail: None,
        documentation: None,
        insert_text: label.to_string(),
        is_snippet: false,
        replace,
    }
}

pub(super) fn snippet(it: &mut CompletionItem, text: &str) {
    it.insert_text = text.to_string();
    it.is_snippet = true;
}
