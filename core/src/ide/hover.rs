//! Hover: what the thing under the cursor is.

use super::docs;
use super::facts;
use super::locate::{self, At};
use super::Hover;
use crate::catalog;
use crate::check::CheckInput;
use crate::settings;

pub fn hover(input: &CheckInput, offset: usize) -> Option<Hover> {
    let template = facts::template(input);
    let at = locate::at(input, template, offset)?;
    let (span, markdown) = match at {
        At::Key { path, span } => (span, key(input, &path)?),
        At::Value { path, span, text } => (span, value(input, &path, &text)?),
        At::Variable { name, span } => (span, variable(input, &name)),
        At::Helper { name, span } => {
            let (signature, doc) = docs::helper(&name)?;
            (span, format!("```handlebars\n{signature}\n```\n{doc}"))
        }
        At::Partial { name, span } => (span, partial(input, &name)),
        At::Data { name, span } => (span, data(&name)?),
        At::Role { name, span } => (span, role(&name)?),
    };
    Some(Hover { span, markdown })
}

fn key(input: &CheckInput, path: &[String]) -> Option<String> {
    let first = path.first()?;
    if let Some(field) = first.strip_prefix("promptls.") {
        return Some(match path.get(1) {
            Some(sub) if field == "optimizer" => {
                format!("`{sub}`: {}", docs::optimizer_key(sub))
            }
            _ => docs::promptls_field(field),
        });
    }
    Some(match path {
        [k] => format!("`{k}`: {}", docs::top_level_key(k)),
        [section, k] if section == "input" || section == "output" || section == "config" => {
            format!("`{section}.{k}`: {}", docs::section_key_doc(section, k))
        }
        [section, schema, field] if section == "input" && schema == "schema" => {
            variable(input, facts::field_name(field))
        }
        [section, schema, fields @ ..] if schema == "schema" => {
            let schemas = facts::schemas(input);
            let json = match section.as_str() {
                "input" => schemas.input.as_ref()?,
                "output" => schemas.output.as_ref()?,
                _ => return None,
            };
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            let (kind, description) = facts::nested_field_info(json, &fields)?;
            let name = fields
                .iter()
                .filter(|f| **f != "properties")
                .map(|f| facts::field_name(f))
                .collect::<Vec<_>>()
                .join(".");
            let mut out = format!("{section} field `{name}`: {kind}");
            if let Some(d) = description {
                out.push_str(&format!("\n\n{d}"));
            }
            out
        }
        _ => return None,
    })
}

fn value(input: &CheckInput, path: &[String], text: &str) -> Option<String> {
    let joined = path.join(".");
    match joined.as_str() {
        "model" | "promptls.teacher" => Some(model(text)),
        "promptls.metric" => {
            let name = settings::canonical_metric(text)?;
            Some(format!("metric `{name}`: {}", docs::metric(name)))
        }
        "promptls.optimizer" | "promptls.optimizer.name" => {
            Some(format!("optimizer `{text}`: {}", docs::optimizer(text)))
        }
        "output.format" => Some(format!(
            "output format `{text}`: {}",
            docs::output_format(text)
        )),
        "promptls.dataset" => Some(dataset(input)),
        "promptls.target" => Some(format!(
            "The dataset column `{text}` holds the expected answer.{}",
            facts::dataset_head(input)
                .and_then(|(_, d)| d
                    .rows
                    .first()
                    .and_then(|r| r.values.get(text))
                    .map(facts::sample))
                .map(|s| format!("\n\nFirst row: `{s}`"))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

pub fn model(name: &str) -> String {
    let mut out = format!("**{name}**");
    match catalog::provider_name(name) {
        Some(provider) => out.push_str(&format!("\n\nProvider: {provider}")),
        None if !name.contains('/') => {
            out.push_str("\n\nModel names are `provider/model`, e.g. `openai/gpt-4o-mini`.")
        }
        None => {}
    }
    if let Some(info) = catalog::lookup(name) {
        out.push_str(&format!(
            "\n\nContext window: {} tokens",
            group(info.context_window)
        ));
    }
    if let Some(price) = catalog::price(name) {
        out.push_str(&format!(
            "\n\nList price per million tokens: ${} input, ${} output",
            price.input, price.output
        ));
    }
    out
}

fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn dataset(input: &CheckInput) -> String {
    match facts::dataset(input) {
        Some((path, data)) => format!(
            "Dataset `{}`: {} {}; columns {}",
            path.display(),
            data.rows,
            if data.rows == 1 { "row" } else { "rows" },
            data.columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => docs::promptls_field("dataset"),
    }
}

fn variable(input: &CheckInput, name: &str) -> String {
    let schemas = facts::schemas(input);
    let mut out = match facts::field_info(schemas, name) {
        Some((kind, description)) => {
            let mut s = format!("input `{name}`: {kind}");
            if let Some(d) = description {
                s.push_str(&format!("\n\n{d}"));
            }
            s
        }
        None if schemas.input.is_some() => {
            format!("`{name}` is not declared in `input.schema`")
        }
        None => format!("input `{name}`"),
    };
    if let Some((_, data)) = facts::dataset_head(input) {
        if let Some(v) = data.rows.first().and_then(|r| r.values.get(name)) {
            out.push_str(&format!("\n\nDataset, first row: `{}`", facts::sample(v)));
        }
    }
    out
}

fn partial(input: &CheckInput, name: &str) -> String {
    match facts::partial_file(input, name) {
        Some(path) => match input.workspace.read_to_string(&path) {
            Ok(text) => format!(
                "partial `{name}` ({})\n\n```handlebars\n{}\n```",
                path.display(),
                text.trim_end()
            ),
            Err(_) => format!("partial `{name}`: {} does not exist", path.display()),
        },
        None => format!("partial `{name}`"),
    }
}

fn role(name: &str) -> Option<String> {
    let doc = match name {
        "system" => "Instructions for the model; sent first.",
        "user" => "What the user says.",
        "model" => "What the model said (in demos: the expected answer).",
        "tool" => "A tool's result.",
        _ => return None,
    };
    Some(format!("role `{name}`: {doc}"))
}

fn data(name: &str) -> Option<String> {
    let doc = match name {
        "this" => "The current context: the prompt's input at the top, the item inside `{{#each}}`, the value inside `{{#with}}`.",
        "@index" => "Inside `{{#each}}`: the item's position, counting from 0.",
        "@first" => "Inside `{{#each}}`: true for the first item.",
        "@last" => "Inside `{{#each}}`: true for the last item.",
        "@key" => "Inside `{{#each}}` over an object: the current key.",
        "@root" => "The prompt's input, from anywhere (`{{@root.name}}`).",
        "@state" => "Dotprompt: the session state passed at render time.",
        "@metadata" => "Dotprompt: the prompt's metadata (`@metadata.prompt`, `@metadata.docs`, `@metadata.messages`).",
        _ => return None,
    };
    Some(format!("`{name}`: {doc}"))
}
