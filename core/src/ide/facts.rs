//! Facts about a prompt that several features need: its schemas, its dataset, its
//! partials' files.

use std::path::PathBuf;

use serde_json::Value;

use crate::analysis::Schemas;
use crate::check::CheckInput;
use crate::data::dataset::{Dataset, Format, Summary};
use crate::syntax::handlebars::Template;
use crate::syntax::Span;

pub fn schemas<'a>(input: &CheckInput<'a>) -> &'a Schemas {
    input.analysis.schemas()
}

pub fn template<'a>(input: &CheckInput<'a>) -> &'a Template {
    input.analysis.template()
}

/// The `promptls.dataset` path as written, and resolved against the prompt's folder;
/// `None` when it leads outside the workspace (the check reports that).
pub fn dataset_path(input: &CheckInput) -> Option<(String, PathBuf)> {
    input.analysis.dataset_path()
}

/// The dataset's columns, row count and bad rows, read as a stream (no row is kept).
pub fn dataset(input: &CheckInput) -> Option<(PathBuf, Summary)> {
    let (_, path) = dataset_path(input)?;
    let file = input.workspace.open(&path).ok()?;
    let summary = Summary::read(file, Format::of(&path)).ok()?;
    Some((path, summary))
}

/// Bytes of a dataset read for its columns and first rows (hovers and completion run
/// per keystroke; a whole 10,000-row file takes milliseconds to parse). When no whole
/// row fits, the next size is tried.
const HEAD_BYTES: [u64; 3] = [8 * 1024, 256 * 1024, 4 * 1024 * 1024];

/// The dataset's first rows, with the columns they show. JSONL columns that first
/// appear further down are missing.
pub fn dataset_head(input: &CheckInput) -> Option<(PathBuf, Dataset)> {
    let (_, path) = dataset_path(input)?;
    let file = input.workspace.open(&path).ok()?;
    let dataset = Dataset::head(file, Format::of(&path), &HEAD_BYTES).ok()?;
    Some((path, dataset))
}

/// The file `{{> name}}` reads; `None` when it is outside the workspace.
pub fn partial_file(input: &CheckInput, name: &str) -> Option<PathBuf> {
    input.partial_in(input.path()?.parent()?, name)?.ok()
}

/// (type, description) of an input field from the converted JSON Schema.
pub fn field_info(schemas: &Schemas, name: &str) -> Option<(String, Option<String>)> {
    nested_field_info(schemas.input.as_ref()?, &[name])
}

/// A Picoschema key without its decorations: `name?`, `name(array, text)` -> `name`.
pub fn field_name(key: &str) -> &str {
    key.split('(')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('?')
}

/// (type, description) of the field at `path` (keys as written; JSON Schema's
/// `properties` levels are skipped) in a converted JSON Schema.
pub fn nested_field_info(schema: &Value, path: &[&str]) -> Option<(String, Option<String>)> {
    let mut parent = schema;
    let mut property = None;
    let mut name = "";
    for key in path {
        if *key == "properties" && property.is_none_or(|p: &Value| p.get("properties").is_some()) {
            continue;
        }
        if let Some(p) = property {
            parent = p;
        }
        // An array's fields are its items' fields.
        let holder = match parent.get("items") {
            Some(items) if parent.get("properties").is_none() => items,
            _ => parent,
        };
        name = field_name(key);
        property = Some(holder.get("properties")?.get(name)?);
        parent = holder;
    }
    let property = property?;
    let required = parent
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v == name));
    let mut types: Vec<&str> = match property.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if property.get("enum").is_some() => vec!["enum"],
        _ => vec!["any"],
    };
    // Optional fields convert to `type | null`; "(optional)" says it already.
    if !required && types.len() > 1 {
        types.retain(|t| *t != "null");
    }
    let item = property
        .get("items")
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str);
    let kind = types
        .iter()
        .map(|t| match (*t, item) {
            ("array", Some(item)) => format!("array of {item}"),
            (t, _) => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" | ");
    let kind = if required {
        kind
    } else {
        format!("{kind} (optional)")
    };
    let description = property
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some((kind, description))
}

/// A value as one short line, for hovers.
pub fn sample(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        let cut: String = one_line.chars().take(117).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// The `---` fences around the frontmatter: (opening, closing). Comment and blank lines
/// may come before the opening one.
pub fn fences(input: &CheckInput) -> Option<(Span, Span)> {
    let source = input.source();
    let fm = input.parsed().split.frontmatter?;
    let body = input.parsed().split.body.start;
    let before = source.get(..fm.start)?;
    let before = before
        .strip_suffix('\n')
        .map(|b| b.strip_suffix('\r').unwrap_or(b))
        .or_else(|| before.strip_suffix('\r'))?;
    let open = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let close = fm.end + source.get(fm.end..body)?.find("---")?;
    if source.get(open..open + 3) != Some("---") {
        return None;
    }
    Some((Span::new(open, open + 3), Span::new(close, close + 3)))
}
