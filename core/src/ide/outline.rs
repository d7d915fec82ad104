//! The document outline (symbols) and folding ranges.

use super::facts;
use super::{Fold, FoldKind, Symbol, SymbolKind};
use crate::check::CheckInput;
use crate::syntax::demos::demos;
use crate::syntax::handlebars::{NodeKind, PartialNameRef};
use crate::syntax::Span;

/// The whole frontmatter block with its fences, and the opening fence, when there is one.
fn frontmatter_block(input: &CheckInput) -> Option<(Span, Span)> {
    let (open, _) = facts::fences(input)?;
    Some((Span::new(open.start, input.parsed().split.body.start), open))
}

fn short(text: &str) -> String {
    // The first line with something on it: a turn's text starts after its role's tag,
    // usually with a line break.
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > 40 {
        format!("{}…", line.chars().take(39).collect::<String>())
    } else {
        line.to_string()
    }
}

pub fn symbols(input: &CheckInput) -> Vec<Symbol> {
    let mut out = Vec::new();
    if let Some((block, fence)) = frontmatter_block(input) {
        // Broken YAML has no tree: the frontmatter is still there, without its keys.
        let entries = input
            .parsed()
            .frontmatter
            .as_ref()
            .map_or(&[][..], |root| root.entries());
        let source = input.source();
        let children = entries
            .iter()
            .map(|e| {
                let span = e.key.span.cover(e.value.span);
                // A value on the key's line (`config: {temperature: 0}`), as written.
                let same_line = source
                    .get(e.key.span.end..e.value.span.start)
                    .is_some_and(|between| !between.contains('\n'));
                let written = source
                    .get(e.value.span.start..e.value.span.end)
                    .filter(|_| same_line && !e.value.span.is_empty());
                Symbol {
                    name: e.key.key_string(),
                    detail: e
                        .value
                        .scalar_text()
                        .or(written)
                        .map(short)
                        .filter(|d| !d.is_empty()),
                    kind: SymbolKind::Key,
                    span,
                    selection: e.key.span,
                    children: Vec::new(),
                }
            })
            .collect();
        out.push(Symbol {
            name: "frontmatter".into(),
            detail: None,
            kind: SymbolKind::Frontmatter,
            span: block,
            selection: fence,
            children,
        });
    }

    let template = facts::template(input);
    let (regions, _) = demos(template);
    let in_demos = |at: usize| regions.iter().any(|r| r.span.contains(at));
    let end = input.parsed().template_span.end;

    // Role turns outside the demos regions, each up to the next one.
    let mut markers: Vec<(String, Span)> = Vec::new();
    let mut partials: Vec<Symbol> = Vec::new();
    template.walk(&mut |node, _| match node.kind() {
        NodeKind::Mustache(call)
            if call.simple_name() == Some("role") && !in_demos(node.span().start) =>
        {
            let role = match call.params().first().and_then(|e| e.as_string()) {
                Some(value) => value.to_string(),
                _ => "role".to_string(),
            };
            markers.push((role, node.span()));
        }
        NodeKind::Partial(p) => {
            if let PartialNameRef::Static { name, span } = p.name() {
                partials.push(Symbol {
                    name: format!("> {name}"),
                    detail: None,
                    kind: SymbolKind::Partial,
                    span: p.span(),
                    selection: span,
                    children: Vec::new(),
                });
            }
        }
        _ => {}
    });
    markers.sort_by_key(|(_, s)| *s);
    let mut turns: Vec<Symbol> = markers
        .iter()
        .enumerate()
        .map(|(i, (role, span))| {
            let until = markers
                .get(i + 1)
                .map_or(end, |(_, next)| next.start)
                .max(span.end);
            Symbol {
                name: role.clone(),
                detail: None,
                kind: SymbolKind::Role,
                span: Span::new(span.start, until),
                selection: *span,
                children: Vec::new(),
            }
        })
        .collect();

    let mut loose: Vec<Symbol> = Vec::new();
    for region in &regions {
        let children = region
            .turns
            .iter()
            .map(|t| Symbol {
                name: t.role.clone(),
                detail: input
                    .source()
                    .get(t.content.start..t.content.end)
                    .map(short)
                    .filter(|d| !d.is_empty()),
                kind: SymbolKind::Role,
                span: t.role_span.cover(t.content),
                selection: t.role_span,
                children: Vec::new(),
            })
            .collect();
        loose.push(Symbol {
            name: "demos".into(),
            detail: Some(match region.turns.len() {
                1 => "1 turn".to_string(),
                n => format!("{n} turns"),
            }),
            kind: SymbolKind::Demos,
            span: region.span,
            selection: region.start_marker,
            children,
        });
    }
    loose.extend(partials.into_iter().filter(|p| !in_demos(p.span.start)));
    loose.sort_by_key(|s| s.span);
    for symbol in loose {
        match turns
            .iter_mut()
            .find(|t| t.span.start <= symbol.span.start && symbol.span.end <= t.span.end)
        {
            Some(turn) => turn.children.push(symbol),
            None => out.push(symbol),
        }
    }
    out.extend(turns);
    out.sort_by_key(|s| s.span);
    out
}

pub fn folds(input: &CheckInput) -> Vec<Fold> {
    let mut out = Vec::new();
    if let Some((block, _)) = frontmatter_block(input) {
        out.push(Fold {
            span: block,
            kind: FoldKind::Frontmatter,
        });
    }
    let template = facts::template(input);
    let (regions, _) = demos(template);
    for region in &regions {
        out.push(Fold {
            span: region.span,
            kind: FoldKind::Demos,
        });
    }
    let multi_line = |span: Span| {
        input
            .source()
            .get(span.start..span.end)
            .is_some_and(|t| t.trim_end().contains('\n'))
    };
    template.walk(&mut |node, _| match node.kind() {
        NodeKind::Block(b) if multi_line(b.span()) => out.push(Fold {
            span: b.span(),
            kind: FoldKind::Block,
        }),
        NodeKind::Comment(_) if multi_line(node.span()) => out.push(Fold {
            span: node.span(),
            kind: FoldKind::Comment,
        }),
        _ => {}
    });
    out.sort_by_key(|f| f.span);
    out
}
