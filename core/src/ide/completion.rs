//! Completion. The context comes from the text around the cursor rather than from the
//! parse, because the file is usually broken while it is being typed (a half-written key,
//! an unclosed `{{`).

use std::path::Path;

use super::docs;
use super::facts;
use super::{CompletionItem, CompletionKind};
use crate::catalog;
use crate::check::CheckInput;
use crate::settings;
use crate::syntax::handlebars::parse_template;
use crate::syntax::Span;
use serde_json::Value;

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
fn frontmatter_region(source: &str) -> Option<Span> {
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

fn word_before(text: &str, allowed: impl Fn(char) -> bool) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| allowed(*c))
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[start..]
}

fn item(label: &str, kind: CompletionKind, replace: Span) -> CompletionItem {
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

fn in_frontmatter(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
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

fn snippet(it: &mut CompletionItem, text: &str) {
    it.insert_text = text.to_string();
    it.is_snippet = true;
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
                super::hover::model,
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

fn in_template(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
    let source = input.source();
    let before = &source[..offset];
    let Some(open) = before.rfind("{{") else {
        return Vec::new();
    };
    if before[open..].contains("}}") {
        return Vec::new();
    }
    let content = before[open + 2..].trim_start_matches(['{', '~']);
    let closes = source[offset..].trim_start().starts_with("}}");
    let close = if closes { "" } else { "}}" };
    let is_ident = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '/');

    if let Some(rest) = content.strip_prefix('>') {
        let word = word_before(rest, is_ident);
        let replace = Span::new(offset - word.len(), offset);
        return partial_names(input)
            .into_iter()
            .map(|name| {
                let mut it = item(&name, CompletionKind::Partial, replace);
                if let Some(file) = facts::partial_file(input, &name) {
                    it.detail = Some(file.display().to_string());
                }
                it
            })
            .collect();
    }
    let trimmed = content.trim_start();
    if let Some(rest) = trimmed.strip_prefix("role") {
        if let Some(quoted) = rest.trim_start().strip_prefix(['"', '\'']) {
            let replace = Span::new(offset - quoted.len(), offset);
            return crate::check::template::ROLES
                .iter()
                .map(|r| item(r, CompletionKind::Role, replace))
                .collect();
        }
    }
    if content.contains('"') || content.contains('\'') {
        return Vec::new(); // inside some other string literal
    }
    let word = word_before(content, is_ident);
    let replace = Span::new(offset - word.len(), offset);
    let head = &content[..content.len() - word.len()];
    let mut out = Vec::new();
    if let Some(after_hash) = head.trim_start().strip_prefix('#') {
        if after_hash.trim().is_empty() {
            for (name, signature, doc, _) in docs::HELPERS {
                if !matches!(
                    *name,
                    "if" | "unless" | "each" | "with" | "ifEquals" | "unlessEquals"
                ) {
                    continue;
                }
                let arguments = if name.ends_with("Equals") {
                    "${1:a} ${2:b}"
                } else {
                    "${1:value}"
                };
                let mut it = item(name, CompletionKind::Snippet, replace);
                it.detail = Some(signature.to_string());
                it.documentation = Some(doc.to_string());
                snippet(
                    &mut it,
                    &format!("{name} {arguments}}}}}\n$0\n{{{{/{name}{close}"),
                );
                out.push(it);
            }
            return out;
        }
    }
    if head.trim_start().starts_with('/') || head.trim_start().starts_with('!') {
        return out;
    }
    let first_token = head.trim().is_empty() || head.trim() == "#";
    let scope = scope_at(input, open);
    if scope.changed {
        // Inside `{{#each}}`/`{{#with}}` names resolve against the item, not the input.
        for (name, detail) in scope.names {
            let mut it = item(&name, CompletionKind::Variable, replace);
            it.detail = Some(detail);
            out.push(it);
        }
        for name in variables(input) {
            let mut it = item(&format!("@root.{name}"), CompletionKind::Variable, replace);
            it.detail = Some("the prompt's input".into());
            out.push(it);
        }
    } else {
        for (name, detail) in scope.names {
            let mut it = item(&name, CompletionKind::Variable, replace);
            it.detail = Some(detail);
            out.push(it);
        }
        for name in variables(input) {
            out.push(item(&name, CompletionKind::Variable, replace));
        }
    }
    if first_token {
        for (name, signature, doc, snippet_text) in docs::HELPERS {
            if matches!(
                *name,
                "if" | "unless" | "each" | "with" | "ifEquals" | "unlessEquals"
            ) {
                continue; // block helpers complete after `#`
            }
            let mut it = item(name, CompletionKind::Helper, replace);
            it.detail = Some(signature.to_string());
            it.documentation = Some(doc.to_string());
            if *snippet_text != *name {
                snippet(&mut it, &format!("{snippet_text}{close}"));
            }
            out.push(it);
        }
    }
    out
}

/// What names mean at a point of the template.
#[derive(Default)]
struct Scope {
    /// Inside `each`/`with`: the context is no longer the prompt's input.
    changed: bool,
    /// Names to offer there, with a detail: block params, `@index`, `this`, the item's
    /// fields.
    names: Vec<(String, String)>,
}

/// The blocks still open before `open` (the `{{` being typed), read by parsing the
/// template up to it: unclosed blocks are the enclosing ones.
fn scope_at(input: &CheckInput, open: usize) -> Scope {
    let template = input.parsed().template_span;
    let mut scope = Scope::default();
    let Some(text) = input.source().get(template.start..open.max(template.start)) else {
        return scope;
    };
    if !text.contains("{{#") {
        return scope;
    }
    let (parsed, _) = parse_template(text, template.start);
    let schemas = facts::schemas(input);
    // The JSON Schema of the current context, while it is known.
    let mut context: Option<&Value> = schemas.input.as_ref();
    let mut nodes = parsed.nodes();
    while let Some(block) = nodes.last().and_then(|n| n.as_block()) {
        if block.close().is_some() {
            break;
        }
        if let Some(inverse) = block.inverse() {
            nodes = inverse; // `{{else}}` renders with the outer context
            continue;
        }
        let name = block.call().simple_name().unwrap_or("");
        let changes = matches!(name, "each" | "with") && !block.partial_block();
        if changes {
            scope.changed = true;
            let target = match block.call().params().first().and_then(|e| e.as_path()) {
                Some(p) if !p.data() && p.depth() == 0 => Some(p),
                _ => None,
            };
            context = match (context, target) {
                (Some(schema), Some(p)) => p
                    .parts()
                    .iter()
                    .try_fold(schema, |s, part| s.get("properties")?.get(part)),
                _ => None,
            };
            if name == "each" {
                context = context.map(|c| c.get("items").unwrap_or(c));
                scope
                    .names
                    .retain(|(n, _)| !n.starts_with('@') && n != "this");
                for (data, detail) in [
                    ("@index", "the item's position, from 0"),
                    ("@first", "true for the first item"),
                    ("@last", "true for the last item"),
                    ("@key", "the key, when iterating an object"),
                ] {
                    scope.names.push((data.into(), detail.into()));
                }
            }
            scope
                .names
                .push(("this".into(), format!("the current `{name}` item")));
            scope.names.retain(|(_, d)| d != "field");
            if let Some(fields) = context
                .and_then(|c| c.get("properties"))
                .and_then(Value::as_object)
            {
                for field in fields.keys() {
                    scope.names.push((field.clone(), "field".into()));
                }
            }
        }
        for param in block.block_params().iter() {
            scope
                .names
                .push((param.to_string(), format!("`{name}` block parameter")));
        }
        nodes = block.program();
    }
    scope
}

/// Input fields from `input.schema`, or the dataset's columns without one.
fn variables(input: &CheckInput) -> Vec<String> {
    let schemas = facts::schemas(input);
    if let Some(fields) = schemas.input_fields() {
        return fields.into_iter().map(str::to_string).collect();
    }
    facts::dataset_head(input)
        .map(|(_, d)| d.columns)
        .unwrap_or_default()
}

/// `_name.prompt` files beside the prompt (and one folder down, as `dir/name`).
fn partial_names(input: &CheckInput) -> Vec<String> {
    let Some(dir) = input.path().and_then(Path::parent) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut scan = |folder: &Path, prefix: &str| {
        let Ok(entries) = std::fs::read_dir(folder) else {
            return;
        };
        for entry in entries.flatten().take(1000) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = name
                .strip_prefix('_')
                .and_then(|n| n.strip_suffix(".prompt"))
            {
                out.push(format!("{prefix}{base}"));
            }
        }
    };
    scan(dir, "");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten().take(100) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    scan(&entry.path(), &format!("{name}/"));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
