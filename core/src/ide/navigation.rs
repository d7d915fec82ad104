//! Go to definition, document links, and the files a prompt depends on.

use std::path::PathBuf;

use super::facts;
use super::locate::{self, At};
use super::{Link, Location};
use crate::check::CheckInput;
use crate::data::dataset::Format;
use crate::settings;
use crate::syntax::handlebars::{NodeKind, PartialNameRef};
use crate::syntax::Span;

pub fn definition(input: &CheckInput, offset: usize) -> Option<Location> {
    let template = facts::template(input);
    match locate::at(input, template, offset)? {
        At::Partial { name, .. } => Some(Location {
            path: facts::partial_file(input, &name)?,
            span: None,
        }),
        At::Value { path, .. } if path == ["promptls.dataset"] => Some(Location {
            path: facts::dataset_path(input)?.1,
            span: None,
        }),
        At::Value { path, text, .. } if path == ["promptls.target"] => column(input, &text),
        At::Variable { name, .. } => match schema_key(input, &name) {
            Some(span) => Some(Location {
                path: input.path()?.to_path_buf(),
                span: Some(span),
            }),
            // Without a schema, variables are the dataset's columns.
            None if facts::schemas(input).input.is_none() => column(input, &name),
            None => None,
        },
        _ => None,
    }
}

/// The dataset file, at `name` in its header (CSV) or first row (JSONL) when it is there.
fn column(input: &CheckInput, name: &str) -> Option<Location> {
    let (_, path) = facts::dataset_path(input)?;
    let text = input.workspace.read_to_string(&path).ok()?;
    let span = match Format::of(&path) {
        Format::Csv => csv_header_field(&text, name),
        Format::Jsonl => {
            let first = text.lines().find(|l| !l.trim().is_empty())?;
            let quoted = serde_json::to_string(name).ok()?;
            let start = first.as_ptr() as usize - text.as_ptr() as usize;
            first
                .find(&format!("{quoted}:"))
                .or_else(|| first.find(&format!("{quoted} :")))
                .map(|i| Span::new(start + i + 1, start + i + quoted.len() - 1))
        }
    };
    if span.is_none()
        && facts::dataset_head(input).is_none_or(|(_, d)| !d.columns.iter().any(|c| c == name))
    {
        return None;
    }
    Some(Location { path, span })
}

/// The span of the header field `name` in CSV `text` (quotes excluded).
fn csv_header_field(text: &str, name: &str) -> Option<Span> {
    let offset = text.len() - text.trim_start_matches('\u{feff}').len();
    let header = text[offset..].lines().next()?;
    let mut start = offset;
    let mut in_quotes = false;
    let mut fields = Vec::new();
    for (i, c) in header.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                fields.push(Span::new(start, offset + i));
                start = offset + i + 1;
            }
            _ => {}
        }
    }
    fields.push(Span::new(start, offset + header.len()));
    fields.into_iter().find_map(|span| {
        let raw = &text[span.start..span.end];
        let trimmed = raw.trim();
        let lead = raw.len() - raw.trim_start().len();
        let span = Span::new(span.start + lead, span.start + lead + trimmed.len());
        let unquoted = trimmed
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .map(|t| {
                (
                    t.replace("\"\"", "\""),
                    Span::new(span.start + 1, span.end - 1),
                )
            });
        match unquoted {
            Some((value, inner)) if value == name => Some(inner),
            None if trimmed == name => Some(span),
            _ => None,
        }
    })
}

/// The key of `field` in `input.schema`.
pub fn schema_key(input: &CheckInput, field: &str) -> Option<Span> {
    crate::check::variables::schema_key_span(input, field)
}

pub fn links(input: &CheckInput) -> Vec<Link> {
    let mut out = Vec::new();
    if input.path().is_none() {
        return out;
    }
    if let Some(written) = settings::span_of(&input.analysis.settings().dataset) {
        if let (Some((_, target)), Some(span)) =
            (facts::dataset_path(input), unquoted(input, written))
        {
            out.push(Link { span, target });
        }
    }
    let template = facts::template(input);
    template.walk(&mut |node, _| {
        if let NodeKind::Partial(p) = node.kind() {
            if let PartialNameRef::Static { name, span } = p.name() {
                if let Some(target) = facts::partial_file(input, name) {
                    out.push(Link { span, target });
                }
            }
        }
    });
    out.sort_by_key(|l| l.span);
    out
}

/// `span` without surrounding quotes.
fn unquoted(input: &CheckInput, span: Span) -> Option<Span> {
    let text = input.source().get(span.start..span.end)?;
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
    input.analysis.dependencies(input.workspace)
}
