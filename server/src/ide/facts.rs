//! Facts about a prompt that several features need: its schemas, its dataset, its
//! partials' files.

use std::path::PathBuf;

use serde_json::Value;

use crate::check::schema::{self, Schemas};
use crate::check::CheckInput;
use crate::eval::dataset::{Dataset, Format};
use crate::render::partial_path;
use crate::settings;
use crate::syntax::handlebars::{parse_template, Template};

pub fn schemas(input: &CheckInput) -> Schemas {
    schema::check(input, &mut Vec::new())
}

pub fn template(input: &CheckInput) -> Template {
    let span = input.parsed.template_span;
    parse_template(&input.source[span.start..span.end], span.start).0
}

/// The `promptls.dataset` path as written, and resolved against the prompt's folder.
pub fn dataset_path(input: &CheckInput) -> Option<(String, PathBuf)> {
    let written = settings::get(input.parsed.frontmatter.as_ref()?, "dataset")?
        .as_str()?
        .to_string();
    let resolved = input.resolve(&written)?;
    Some((written, resolved))
}

pub fn dataset(input: &CheckInput) -> Option<(PathBuf, Dataset)> {
    let (_, path) = dataset_path(input)?;
    let text = input.workspace.read_to_string(&path).ok()?;
    let dataset = Dataset::parse(&text, Format::of(&path)).ok()?;
    Some((path, dataset))
}

/// The file `{{> name}}` reads.
pub fn partial_file(input: &CheckInput, name: &str) -> Option<PathBuf> {
    partial_path(input.path?.parent()?, name)
}

/// (type, description) of an input field from the converted JSON Schema.
pub fn field_info(schemas: &Schemas, name: &str) -> Option<(String, Option<String>)> {
    let property = schemas.input.as_ref()?.get("properties")?.get(name)?;
    let kind = match property.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ if property.get("enum").is_some() => "enum".to_string(),
        _ => "any".to_string(),
    };
    let kind = match (
        kind.as_str(),
        property.get("items").and_then(|i| i.get("type")),
    ) {
        ("array", Some(Value::String(item))) => format!("array of {item}"),
        _ => kind,
    };
    let required = schemas
        .input
        .as_ref()
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|v| v == name));
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
