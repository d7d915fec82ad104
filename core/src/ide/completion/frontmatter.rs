//! Completion in the frontmatter: the keys a level takes (with snippets), and the values
//! a key takes (models, metrics, dataset files, Picoschema types).

use std::path::Path;

use super::{frontmatter_region, item, snippet};
use crate::catalog;
use crate::check::CheckInput;
use crate::ide::docs;
use crate::ide::facts;
use crate::ide::{CompletionItem, CompletionKind};
use crate::settings;
use crate::syntax::Span;

fn line_start(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |i| i + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The keys enclosing the line at `offset`: the nearest earlier lines with less
/// indentation that end in `key:`.
fn parents(source: &str, offset: usize, region: Span) -> Vec<String> {
    let start = line_start(source, offset);
    let mut indent = indent_of(&source[start..offset]);
    let mut out = Vec::new();
    for line in source[region.start..start].lines().rev() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let this = indent_of(line);
        if this < indent {
            if let Some(key) = line.trim().strip_suffix(':') {
                out.push(key.trim().to_string());
            }
            indent = this;
            if indent == 0 {
                break;
            }
        }
    }
    out.reverse();
    out
}

pub(super) fn in_frontmatter(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
    let source = input.source();
    let Some(region) = frontmatter_region(source) else {
        return Vec::new();
    };
    let start = line_start(source, offset);
    let prefix = &source[start..offset];
    let parents = parents(source, offset, region);
    match prefix.find(':') {
        None => {
            let word = prefix.trim_start();
            let replace = Span::new(offset - word.len(), offset);
            let present = present_keys(source, region, offset, &parents);
            keys(&parents, replace)
                .into_iter()
                .filter(|item| !present.contains(&item.label))
                .collect()
        }
        Some(colon) => {
            let key = prefix[..colon].trim().trim_start_matches("- ");
            let value = prefix[colon + 1..].trim_start();
            // A flow mapping (`key: {name: mi`): complete inside it.
            if let Some(open) = value.rfind(['{', ',']) {
                let inner = value[open + 1..].trim_start();
                let mut parents = parents.clone();
                parents.push(key.to_string());
                return match inner.split_once(':') {
                    Some((inner_key, inner_value)) => {
                        let inner_value = inner_value.trim_start().trim_start_matches(['"', '\'']);
                        let replace = Span::new(offset - inner_value.len(), offset);
                        values(input, &parents, inner_key.trim(), replace)
                    }
                    None => keys(&parents, Span::new(offset - inner.len(), offset)),
                };
            }
            let value = value.trim_start_matches(['"', '\'']);
            let replace = Span::new(offset - value.len(), offset);
            values(input, &parents, key, replace)
        }
    }
}

/// Keys already written at the cursor's level of the same mapping (other lines only).
fn present_keys(source: &str, region: Span, offset: usize, parents: &[String]) -> Vec<String> {
    let this_line = line_start(source, offset);
    let indent = indent_of(&source[this_line..offset]);
    let mut out = Vec::new();
    let mut at = region.start;
    for line in source[region.start..region.end].split_inclusive('\n') {
        let start = at;
        at += line.len();
        if start == this_line || indent_of(line) != indent {
            continue;
        }
        let Some((key, _)) = line.trim().split_once(':') else {
            continue;
        };
        // Only siblings: the same enclosing keys.
        if parents_at(source, start, region) == parents {
            out.push(key.trim().to_string());
        }
    }
    out
}

fn parents_at(source: &str, line_begin: usize, region: Span) -> Vec<String> {
    let end = source[line_begin..]
        .find('\n')
        .map_or(source.len(), |i| line_begin + i);
    let key_end = source[line_begin..end]
        .find(':')
        .map_or(end, |i| line_begin + i);
    parents(source, key_end.max(line_begin), region)
}

fn keys(parents: &[String], replace: Span) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    match parents
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            for key in docs::top_level_keys() {
                if matches!(*key, "raw" | "ext") {
                    continue; // filled in by Dotprompt, never written by hand
                }
                let mut it = item(key, CompletionKind::Key, replace);
                it.documentation = Some(docs::top_level_key(key).to_string());
                match *key {
                    "input" => snippet(&mut it, "input:\n  schema:\n    ${1:name}: ${2:string}"),
                    "output" => snippet(
                        &mut it,
                        "output:\n  format: ${1|text,json,array,enum,jsonl,media|}",
                    ),
                    "config" => snippet(&mut it, "config:\n  temperature: ${1:0}"),
                    _ => it.insert_text = format!("{key}: "),
                }
                out.push(it);
            }
            for (field, _) in settings::FIELDS {
                let label = format!("promptls.{field}");
                let mut it = item(&label, CompletionKind::Key, replace);
                it.documentation = Some(docs::promptls_field(field));
                match *field {
                    "optimizer" => snippet(
                        &mut it,
                        "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}",
                    ),
                    _ => it.insert_text = format!("{label}: "),
                }
                out.push(it);
            }
        }
        [section] if matches!(*section, "input" | "output" | "config") => {
            for key in docs::section_keys(section) {
                let mut it = item(key, CompletionKind::Key, replace);
                it.documentation = Some(docs::section_key_doc(section, key).to_string());
                it.insert_text = format!("{key}: ");
                out.push(it);
            }
        }
        ["promptls.optimizer"] => {
            for key in docs::optimizer_keys() {
                let mut it = item(key, CompletionKind::Key, replace);
                it.documentation = Some(docs::optimizer_key(key).to_string());
                it.insert_text = format!("{key}: ");
                out.push(it);
            }
        }
        _ => {}
    }
    out
}

fn values(input: &CheckInput, parents: &[String], key: &str, replace: Span) -> Vec<CompletionItem> {
    let parent = parents.last().map(String::as_str);
    let mut out = Vec::new();
    let simple = |names: &[&str], kind: CompletionKind, doc: fn(&str) -> String| {
        names
            .iter()
            .map(|n| {
                let mut it = item(n, kind, replace);
                it.documentation = Some(doc(n));
                it
            })
            .collect::<Vec<_>>()
    };
    match (parent, key) {
        (None, "model") | (None, "promptls.teacher") => {
            out = simple(
                catalog::KNOWN_MODELS,
                CompletionKind::Model,
                crate::ide::hover::model,
            );
        }
        (None, "promptls.metric") => {
            out = simple(settings::METRICS, CompletionKind::Metric, |m| {
                docs::metric(m).to_string()
            });
        }
        (None, "promptls.optimizer") | (Some("promptls.optimizer"), "name") => {
            let names: Vec<&str> = settings::optimizer_names().collect();
            out = simple(&names, CompletionKind::Optimizer, |o| {
                docs::optimizer(o).to_string()
            });
        }
        (Some("promptls.optimizer"), "auto") => {
            out = simple(&["light", "medium", "heavy"], CompletionKind::Value, |a| {
                format!("`{a}` budget")
            });
        }
        (Some("output"), "format") => {
            out = simple(docs::output_formats(), CompletionKind::Value, |f| {
                docs::output_format(f).to_string()
            });
        }
        _ if in_schema(parents) => {
            let json_schema = parents.iter().any(|p| p == "properties");
            let names: &[&str] = if json_schema || key == "type" {
                &[
                    "string", "number", "integer", "boolean", "object", "array", "null",
                ]
            } else {
                PICOSCHEMA_TYPES
            };
            if json_schema && key != "type" {
                return out;
            }
            for &t in names {
                let doc = match t {
                    "string" => "Text.",
                    "number" => "Any number.",
                    "integer" => "A whole number.",
                    "boolean" => "`true` or `false`.",
                    "null" => "Only `null`.",
                    "any" => "Any value.",
                    "object" => "A mapping of named fields.",
                    "array" => "A list.",
                    _ => "",
                };
                let picoschema = if json_schema {
                    ""
                } else {
                    "\n\nPicoschema: `name: type, description`; `name?:` is optional; \
                     `name(array): type` and `name(object):` nest."
                };
                let mut it = item(t, CompletionKind::Value, replace);
                it.documentation = Some(format!("`{t}`: {doc}{picoschema}"));
                out.push(it);
            }
        }
        (None, "promptls.dataset") => {
            if let Some(dir) = input.path().and_then(Path::parent) {
                for file in dataset_files(dir) {
                    out.push(item(&file, CompletionKind::Value, replace));
                }
            }
        }
        (None, "promptls.target") => {
            if let Some((_, data)) = facts::dataset_head(input) {
                for column in &data.columns {
                    out.push(item(column, CompletionKind::Column, replace));
                }
            }
        }
        _ => {}
    }
    out
}

/// Picoschema's scalar types.
const PICOSCHEMA_TYPES: &[&str] = &["string", "number", "integer", "boolean", "null", "any"];

/// Whether the enclosing keys are inside `input.schema` or `output.schema`.
fn in_schema(parents: &[String]) -> bool {
    matches!(parents, [section, schema, ..] if (section == "input" || section == "output") && schema == "schema")
}

/// CSV and JSONL files under `dir` (three levels deep at most), relative, sorted.
fn dataset_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0)];
    while let Some((folder, relative, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten().take(1000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "node_modules" || name == "target" {
                continue;
            }
            let path = format!("{relative}{name}");
            match entry.file_type() {
                Ok(t) if t.is_dir() && depth < 3 => {
                    stack.push((entry.path(), format!("{path}/"), depth + 1))
                }
                Ok(t) if t.is_file() && (name.ends_with(".csv") || name.ends_with(".jsonl")) => {
                    out.push(path)
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}
