//! Quick fixes: the checks' own fixes, and the ones that need more of the file
//! (declaring a variable, removing an unused input, creating a missing partial).

use std::path::PathBuf;

use super::facts;
use super::{Action, FileChange};
use crate::check::{variables, CheckInput, Diagnostic};
use crate::syntax::yaml::YamlKind;
use crate::syntax::Span;

/// The checked file's path for edits (empty for unsaved text; the LSP layer reads an
/// empty path as "this document").
fn this_file(input: &CheckInput) -> PathBuf {
    input.path.map(PathBuf::from).unwrap_or_default()
}

fn overlaps(a: Span, b: Span) -> bool {
    a.start <= b.end && b.start <= a.end
}

pub fn code_actions(input: &CheckInput, diagnostics: &[Diagnostic], range: Span) -> Vec<Action> {
    let mut out = Vec::new();
    for d in diagnostics.iter().filter(|d| overlaps(d.span, range)) {
        if let Some(fix) = &d.fix {
            out.push(Action {
                title: fix.title.clone(),
                code: d.code,
                diagnostic_span: d.span,
                preferred: true,
                changes: fix
                    .edits
                    .iter()
                    .map(|e| FileChange::Edit {
                        path: this_file(input),
                        span: e.span,
                        new_text: e.new_text.clone(),
                    })
                    .collect(),
            });
        }
        let extra = match d.code {
            "undeclared-variable" => declare_variable(input, d),
            "unused-variable" => remove_input(input, d),
            "missing-partial" => create_partial(input, d),
            _ => None,
        };
        if let Some(mut action) = extra {
            // A "did you mean" rename is the likelier intent when there is one.
            action.preferred = d.fix.is_none();
            out.push(action);
        }
    }
    out
}

fn action(title: String, d: &Diagnostic, changes: Vec<FileChange>) -> Action {
    Action {
        title,
        code: d.code,
        diagnostic_span: d.span,
        preferred: true,
        changes,
    }
}

fn line_start(source: &str, at: usize) -> usize {
    source[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The offset after the line break that ends the line holding `at` (or the end).
fn next_line(source: &str, at: usize) -> usize {
    source[at..].find('\n').map_or(source.len(), |i| at + i + 1)
}

fn declare_variable(input: &CheckInput, d: &Diagnostic) -> Option<Action> {
    let source = input.source;
    let written = source.get(d.span.start..d.span.end)?;
    let name = written.split(['.', '/', '[']).next()?.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    let title = format!("Declare `{name}` in input.schema");
    let root = input.parsed.frontmatter.as_ref()?;
    let input_node = root.entry("input")?;
    let schema = input_node.value.entry("schema")?;
    let (insert_at, text) = match &schema.value.kind {
        YamlKind::Map(entries)
            if !entries.is_empty() && schema.value.get("properties").is_none() =>
        {
            let first = &entries[0].key;
            if source[first.span.start..].starts_with('{')
                || source[schema.value.span.start..].starts_with('{')
            {
                return None; // flow style: leave it to the user
            }
            let indent = first.span.start - line_start(source, first.span.start);
            let last = entries.last()?;
            let last_byte = last.value.span.end.max(last.key.span.end).saturating_sub(1);
            let at = next_line(source, last_byte.max(last.key.span.start));
            let newline = if at == source.len() && !source.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            (
                at,
                format!("{newline}{}{name}: string\n", " ".repeat(indent)),
            )
        }
        _ => return None,
    };
    Some(action(
        title,
        d,
        vec![FileChange::Edit {
            path: this_file(input),
            span: Span::empty(insert_at),
            new_text: text,
        }],
    ))
}

fn remove_input(input: &CheckInput, d: &Diagnostic) -> Option<Action> {
    let source = input.source;
    let (schema, entries) = variables::input_schema(input)?;
    let entry = entries.iter().find(|e| e.key.span == d.span)?;
    if source[schema.span.start..].starts_with('{') {
        return None;
    }
    let start = line_start(source, entry.key.span.start);
    let last_byte = entry
        .value
        .span
        .end
        .max(entry.key.span.end)
        .saturating_sub(1);
    let end = next_line(source, last_byte.max(entry.key.span.start));
    let key = entry.key.key_string();
    let name = variables::field_name(&key).to_string();
    Some(action(
        format!("Remove unused input `{name}`"),
        d,
        vec![FileChange::Edit {
            path: this_file(input),
            span: Span::new(start, end),
            new_text: String::new(),
        }],
    ))
}

fn create_partial(input: &CheckInput, d: &Diagnostic) -> Option<Action> {
    let name = input.source.get(d.span.start..d.span.end)?.trim();
    let path = facts::partial_file(input, name)?;
    if input.workspace.read_to_string(&path).is_ok() {
        return None;
    }
    let file = path.file_name()?.to_string_lossy().into_owned();
    Some(action(
        format!("Create partial `{file}`"),
        d,
        vec![FileChange::Create {
            path,
            contents: format!(
                "{{{{!-- The partial `{name}`, included with {{{{> {name}}}}}. --}}}}\n"
            ),
        }],
    ))
}
