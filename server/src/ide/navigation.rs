//! Go to definition, document links, and the files a prompt depends on.

use std::collections::HashSet;
use std::path::PathBuf;

use super::facts;
use super::locate::{self, At};
use super::{Link, Location};
use crate::check::CheckInput;
use crate::render::prompt_name_and_variant;
use crate::settings;
use crate::syntax::handlebars::{parse_template, Node, PartialName, Template};
use crate::syntax::Span;

pub fn definition(input: &CheckInput, offset: usize) -> Option<Location> {
    let template = facts::template(input);
    match locate::at(input, &template, offset)? {
        At::Partial { name, .. } => Some(Location {
            path: facts::partial_file(input, &name)?,
            span: None,
        }),
        At::Value { path, .. } if path == ["promptls.dataset"] => Some(Location {
            path: facts::dataset_path(input)?.1,
            span: None,
        }),
        At::Value { path, .. } if path == ["promptls.target"] => Some(Location {
            path: facts::dataset_path(input)?.1,
            span: None,
        }),
        At::Variable { name, .. } => Some(Location {
            path: input.path?.to_path_buf(),
            span: Some(schema_key(input, &name)?),
        }),
        _ => None,
    }
}

/// The key of `field` in `input.schema`.
pub fn schema_key(input: &CheckInput, field: &str) -> Option<Span> {
    crate::check::variables::schema_key_span(input, field)
}

pub fn links(input: &CheckInput) -> Vec<Link> {
    let mut out = Vec::new();
    if input.path.is_none() {
        return out;
    }
    if let Some(node) = input
        .parsed
        .frontmatter
        .as_ref()
        .and_then(|fm| settings::get(fm, "dataset"))
    {
        if let (Some((_, target)), Some(span)) =
            (facts::dataset_path(input), unquoted(input, node.span))
        {
            out.push(Link { span, target });
        }
    }
    let template = facts::template(input);
    template.walk(&mut |node, _| {
        if let Node::Partial(p) = node {
            if let PartialName::Static { name, span } = &p.name {
                if let Some(target) = facts::partial_file(input, name) {
                    out.push(Link {
                        span: *span,
                        target,
                    });
                }
            }
        }
    });
    out.sort_by_key(|l| l.span);
    out
}

/// `span` without surrounding quotes.
fn unquoted(input: &CheckInput, span: Span) -> Option<Span> {
    let text = input.source.get(span.start..span.end)?;
    let quoted = text.len() >= 2
        && (text.starts_with('"') && text.ends_with('"')
            || text.starts_with('\'') && text.ends_with('\''));
    Some(if quoted {
        Span::new(span.start + 1, span.end - 1)
    } else {
        span
    })
}

pub fn dependencies(input: &CheckInput) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some((_, dataset)) = facts::dataset_path(input) {
        out.push(dataset);
    }
    if let Some(path) = input.path {
        // A variant's base: `name.variant.prompt` -> `name.prompt`.
        if let (name, Some(_)) = prompt_name_and_variant(path) {
            if let Some(dir) = path.parent() {
                out.push(dir.join(format!("{name}.prompt")));
            }
        }
    }
    // Partials, and the partials they use, missing ones included (creating one changes
    // this file's diagnostics).
    let template = facts::template(input);
    let mut seen = HashSet::new();
    let mut queue: Vec<PathBuf> = partials_of(input, &template);
    while let Some(file) = queue.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        if let Ok(text) = input.workspace.read_to_string(&file) {
            let body = crate::syntax::parse(&text);
            let (nested, _) = parse_template(body.template_text(&text), 0);
            if let Some(dir) = file.parent() {
                for name in nested.partial_names() {
                    if let Some(p) = crate::render::partial_path(dir, name) {
                        queue.push(p);
                    }
                }
            }
        }
        out.push(file);
    }
    out.sort();
    out.dedup();
    out
}

fn partials_of(input: &CheckInput, template: &Template) -> Vec<PathBuf> {
    template
        .partial_names()
        .into_iter()
        .filter_map(|name| facts::partial_file(input, name))
        .collect()
}
