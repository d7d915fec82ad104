//! Completion in the template: variables in scope (input fields, block parameters,
//! `@` variables), helpers, and partial names.

use std::path::Path;

use serde_json::Value;

use super::{item, snippet};
use crate::check::CheckInput;
use crate::ide::docs;
use crate::ide::facts;
use crate::ide::{CompletionItem, CompletionKind};
use crate::syntax::handlebars::parse_template;
use crate::syntax::Span;

fn word_before(text: &str, allowed: impl Fn(char) -> bool) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| allowed(*c))
        .last()
        .map_or(text.len(), |(i, _)| i);
    &text[start..]
}

pub(super) fn in_template(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
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
