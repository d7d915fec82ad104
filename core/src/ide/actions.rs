//! Quick fixes: the checks' own fixes, and the ones that need more of the file
//! (declaring a variable, removing an unused input, creating a missing partial).

use std::path::PathBuf;

use super::facts;
use super::{Action, FileChange};
use crate::check::{variables, CheckInput, Diagnostic};
use crate::syntax::yaml::{YamlEntry, YamlKind, YamlNode};
use crate::syntax::Span;

/// The checked file's path for edits (empty for unsaved text; the LSP layer reads an
/// empty path as "this document").
fn this_file(input: &CheckInput) -> PathBuf {
    input.path().map(PathBuf::from).unwrap_or_default()
}

/// Whether a diagnostic at `d` is one the editor asks about at `range`: they intersect,
/// or touch when either is empty (a cursor just after a word is on it).
fn overlaps(d: Span, range: Span) -> bool {
    if d.is_empty() || range.is_empty() {
        d.start <= range.end && range.start <= d.end
    } else {
        d.start < range.end && range.start < d.end
    }
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

/// Whether the file's first line ends in `\r\n` (its lines are taken to end alike).
fn uses_crlf(source: &str) -> bool {
    source
        .find('\n')
        .is_some_and(|i| source[..i].ends_with('\r'))
}

/// The offset after the line break that ends the line holding `at` (or the end).
fn next_line(source: &str, at: usize) -> usize {
    source[at..].find('\n').map_or(source.len(), |i| at + i + 1)
}

fn declare_variable(input: &CheckInput, d: &Diagnostic) -> Option<Action> {
    let source = input.source();
    let written = source.get(d.span.start..d.span.end)?;
    let name = written.split(['.', '/', '[']).next()?.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    let (at, text) = declaration(input, name)?;
    // The inserted lines end as the file's lines do.
    let text = if uses_crlf(source) {
        text.replace('\n', "\r\n")
    } else {
        text
    };
    Some(action(
        format!("Declare `{name}` in input.schema"),
        d,
        vec![FileChange::Edit {
            path: this_file(input),
            span: Span::empty(at),
            new_text: text,
        }],
    ))
}

fn is_null(node: &YamlNode) -> bool {
    matches!(&node.kind, YamlKind::Scalar(s) if s.plain && matches!(s.text.as_str(), "" | "~" | "null"))
}

/// Columns before `at` on its line.
fn column(source: &str, at: usize) -> usize {
    at - line_start(source, at)
}

/// After the line holding the last byte of `entries` (a non-empty block mapping), a line
/// `entry` at the entries' indentation.
fn append_to_block(source: &str, entries: &[YamlEntry], entry: &str) -> Option<(usize, String)> {
    let first = &entries.first()?.key;
    let indent = column(source, first.span.start);
    let last = entries.last()?;
    let last_byte = last.value.span.end.max(last.key.span.end).saturating_sub(1);
    let at = next_line(source, last_byte.max(last.key.span.start));
    let newline = if at == source.len() && !source.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    Some((at, format!("{newline}{}{entry}\n", " ".repeat(indent))))
}

/// Before the closing `}` of a flow mapping, `entry` (after a comma when not empty).
fn append_to_flow(source: &str, map: &YamlNode, entry: &str) -> Option<(usize, String)> {
    let close = map.span.start + source.get(map.span.start..map.span.end)?.rfind('}')?;
    let empty = map.entries().is_empty();
    let before = source[..close].trim_end_matches([' ', '\t']);
    let at = before.len();
    Some(if empty {
        (at, entry.to_string())
    } else {
        (at, format!(", {entry}"))
    })
}

/// Adds `entry` to the mapping `node`, the value of `key`: a line under a block mapping,
/// an entry in a flow one, or a first line under a key with no value yet.
fn add_entry(
    source: &str,
    key: &YamlNode,
    node: &YamlNode,
    entry: &str,
) -> Option<(usize, String)> {
    if is_null(node) {
        if !source
            .get(key.span.end..node.span.end.max(key.span.end))?
            .trim_start_matches(':')
            .trim()
            .is_empty()
        {
            return None; // `key: ~` or `key: null`: leave it to the user
        }
        let indent = column(source, key.span.start) + 2;
        let at = next_line(source, key.span.start);
        let newline = if at == source.len() && !source.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        return Some((at, format!("{newline}{}{entry}\n", " ".repeat(indent))));
    }
    match &node.kind {
        YamlKind::Map(_) if source[node.span.start..].starts_with('{') => {
            append_to_flow(source, node, entry)
        }
        YamlKind::Map(entries) => append_to_block(source, entries, entry),
        _ => None,
    }
}

/// Where and what to insert to declare `name: string` in `input.schema`, creating the
/// schema, `input` and the frontmatter as needed.
fn declaration(input: &CheckInput, name: &str) -> Option<(usize, String)> {
    let source = input.source();
    let Some(root) = input.parsed().frontmatter.as_ref() else {
        if input.parsed().split.frontmatter.is_some() || input.parsed().frontmatter_failed {
            return None; // broken YAML: no safe place to edit
        }
        let block = format!("input:\n  schema:\n    {name}: string\n");
        // `---\n---\n` (an empty frontmatter) gets the block between its fences.
        for fence in ["---\n", "---\r\n"] {
            if let Some(rest) = source.strip_prefix(fence) {
                if rest.starts_with("---") {
                    return Some((fence.len(), block));
                }
            }
        }
        return Some((0, format!("---\n{block}---\n")));
    };
    let YamlKind::Map(top) = &root.kind else {
        return None;
    };
    let Some(input_entry) = root.entry("input") else {
        let fm = input.parsed().split.frontmatter?;
        let lines = format!("\ninput:\n  schema:\n    {name}: string");
        // Block frontmatter gets the lines after its last key.
        return if top.is_empty() || !source[root.span.start..].starts_with('{') {
            Some((fm.end, lines))
        } else {
            None
        };
    };
    let Some(schema) = input_entry.value.entry("schema") else {
        return add_entry(
            source,
            &input_entry.key,
            &input_entry.value,
            &if source[input_entry.value.span.start..].starts_with('{') {
                format!("schema: {{{name}: string}}")
            } else {
                let indent = if is_null(&input_entry.value) {
                    column(source, input_entry.key.span.start) + 2
                } else {
                    column(source, input_entry.value.entries().first()?.key.span.start)
                };
                format!("schema:\n{}  {name}: string", " ".repeat(indent))
            },
        );
    };
    // JSON Schema: a property under `properties`.
    if let Some(properties) = schema.value.entry("properties") {
        return add_entry(
            source,
            &properties.key,
            &properties.value,
            &format!("{name}: {{type: string}}"),
        );
    }
    add_entry(
        source,
        &schema.key,
        &schema.value,
        &format!("{name}: string"),
    )
}

fn remove_input(input: &CheckInput, d: &Diagnostic) -> Option<Action> {
    let source = input.source();
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
    let name = input.source().get(d.span.start..d.span.end)?.trim();
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
