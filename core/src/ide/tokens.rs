//! Semantic tokens: frontmatter keys and values, and the parts of every Handlebars tag.

use super::facts;
use super::{Token, TokenKind};
use crate::check::CheckInput;
use crate::render::engine::is_known_helper;
use crate::syntax::demos::{END, START};
use crate::syntax::handlebars::{CallRef, ExprKind, ExprRef, NodeKind, Nodes, PartialNameRef};
use crate::syntax::yaml::{YamlKind, YamlNode};
use crate::syntax::Span;

pub fn semantic_tokens(input: &CheckInput) -> Vec<Token> {
    let mut out = Vec::new();
    let source = input.source();
    if let Some((open, close)) = facts::fences(input) {
        out.push(token(open, TokenKind::Delimiter));
        out.push(token(close, TokenKind::Delimiter));
        yaml_comments(source, Span::new(0, close.start), &mut out);
        if let Some(root) = &input.parsed().frontmatter {
            yaml(root, &mut out);
        }
    }
    let template = facts::template(input);
    nodes(template.nodes(), source, &mut out);
    out.retain(|t| !t.span.is_empty() && t.span.end <= source.len());
    out.sort_by_key(|t| (t.span.start, std::cmp::Reverse(t.span.end)));
    let mut kept: Vec<Token> = Vec::with_capacity(out.len());
    for t in out {
        if kept.last().is_none_or(|last| last.span.end <= t.span.start) {
            kept.push(t);
        }
    }
    kept
}

/// `# comments` in the frontmatter lines of `region` (a `#` at the start of a line or
/// after a space, outside quotes). Ones inside multi-line strings lose to the string's
/// token when overlaps are dropped.
fn yaml_comments(source: &str, region: Span, out: &mut Vec<Token>) {
    let Some(text) = source.get(region.start..region.end) else {
        return;
    };
    let mut at = region.start;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (i, c) in content.char_indices() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                // A quote opens a string only where a value can start (`it's` is no string).
                None if matches!(c, '"' | '\'')
                    && matches!(previous, ' ' | ':' | '[' | '{' | ',' | '-') =>
                {
                    quote = Some(c);
                }
                None if c == '#' && (previous == ' ' || previous == '\t') => {
                    out.push(token(
                        Span::new(start + i, start + content.len()),
                        TokenKind::Comment,
                    ));
                    break;
                }
                None => {}
            }
            previous = c;
        }
    }
}

fn token(span: Span, kind: TokenKind) -> Token {
    Token { span, kind }
}

fn yaml(node: &YamlNode, out: &mut Vec<Token>) {
    match &node.kind {
        YamlKind::Map(entries) => {
            for e in entries {
                out.push(token(e.key.span, TokenKind::Key));
                yaml(&e.value, out);
            }
        }
        YamlKind::Seq(items) => items.iter().for_each(|i| yaml(i, out)),
        YamlKind::Scalar(s) => {
            let kind = if !s.plain {
                TokenKind::String
            } else if matches!(
                s.text.as_str(),
                "true"
                    | "false"
                    | "null"
                    | "~"
                    | "True"
                    | "False"
                    | "Null"
                    | "NULL"
                    | "TRUE"
                    | "FALSE"
            ) {
                TokenKind::Keyword
            } else if s.text.parse::<f64>().is_ok() {
                TokenKind::Number
            } else {
                TokenKind::String
            };
            out.push(token(node.span, kind));
        }
    }
}

/// `{{` and `}}` (with `{{{`, `}}}`, `~`) at the ends of a tag.
fn delimiters(span: Span, source: &str, out: &mut Vec<Token>) {
    let Some(text) = source.get(span.start..span.end) else {
        return;
    };
    let open = text.len() - text.trim_start_matches(['{', '~']).len();
    let close = text.len() - text.trim_end_matches(['}', '~']).len();
    if open > 0 && open + close <= text.len() {
        out.push(token(
            Span::new(span.start, span.start + open),
            TokenKind::Delimiter,
        ));
        out.push(token(
            Span::new(span.end - close, span.end),
            TokenKind::Delimiter,
        ));
    }
}

fn nodes(nodes: Nodes, source: &str, out: &mut Vec<Token>) {
    for node in nodes {
        match node.kind() {
            NodeKind::Text(_) => {}
            NodeKind::Comment(text) => {
                let kind = match text.trim() {
                    START | END => TokenKind::Demos,
                    _ => TokenKind::Comment,
                };
                out.push(token(node.span(), kind));
            }
            NodeKind::Mustache(call) => {
                delimiters(node.span(), source, out);
                let helper =
                    call.has_arguments() || call.simple_name().is_some_and(is_known_helper);
                self::call(call, helper, out);
            }
            NodeKind::Block(b) => {
                delimiters(b.open(), source, out);
                self::call(b.call(), true, out);
                if let Some(close) = b.close() {
                    delimiters(close, source, out);
                    if let Some(name) = b.call().simple_name() {
                        if let Some(i) = source
                            .get(close.start..close.end)
                            .and_then(|t| t.find(name))
                        {
                            out.push(token(
                                Span::new(close.start + i, close.start + i + name.len()),
                                TokenKind::Helper,
                            ));
                        }
                    }
                }
                self::nodes(b.program(), source, out);
                if let Some(inverse) = b.inverse() {
                    self::nodes(inverse, source, out);
                }
            }
            NodeKind::Partial(p) => {
                delimiters(p.span(), source, out);
                match p.name() {
                    PartialNameRef::Static { span, .. } => {
                        out.push(token(span, TokenKind::Partial))
                    }
                    PartialNameRef::Dynamic(call) => self::call(call, true, out),
                }
                if let Some(context) = p.context() {
                    expr(context, false, out);
                }
                for pair in p.hash().iter() {
                    out.push(token(pair.key_span(), TokenKind::Key));
                    expr(pair.value(), false, out);
                }
            }
        }
    }
}

fn call(call: CallRef, helper: bool, out: &mut Vec<Token>) {
    match call.path().kind() {
        ExprKind::Path(p) => out.push(token(
            p.span(),
            if helper {
                TokenKind::Helper
            } else {
                TokenKind::Variable
            },
        )),
        _ => expr(call.path(), false, out),
    }
    let role = call.simple_name() == Some("role");
    for param in call.params().iter() {
        expr(param, role, out);
    }
    for pair in call.hash().iter() {
        out.push(token(pair.key_span(), TokenKind::Key));
        expr(pair.value(), false, out);
    }
}

fn expr(e: ExprRef, role: bool, out: &mut Vec<Token>) {
    let span = e.span();
    match e.kind() {
        ExprKind::Path(_) => out.push(token(span, TokenKind::Variable)),
        ExprKind::String(_) => out.push(token(
            span,
            if role {
                TokenKind::Role
            } else {
                TokenKind::String
            },
        )),
        ExprKind::Number(_) => out.push(token(span, TokenKind::Number)),
        ExprKind::Boolean(_) | ExprKind::Null | ExprKind::Undefined => {
            out.push(token(span, TokenKind::Keyword))
        }
        ExprKind::SubExpr(c) => call(c, true, out),
    }
}
