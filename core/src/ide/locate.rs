//! What is at a byte offset: a frontmatter key or value, or a template variable, helper,
//! partial or role name.

use crate::check::CheckInput;
use crate::render::engine::is_known_helper;
use crate::syntax::handlebars::{
    CallRef, ExprKind, ExprRef, NodeKind, Nodes, PartialNameRef, PathRef, Template,
};
use crate::syntax::yaml::{YamlKind, YamlNode};
use crate::syntax::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum At {
    /// A frontmatter key; `path` runs from the top-level key to this one.
    Key {
        path: Vec<String>,
        span: Span,
    },
    /// A scalar frontmatter value under the key `path`.
    Value {
        path: Vec<String>,
        span: Span,
        text: String,
    },
    /// A template variable of the root input (`{{text}}`, `{{#if tier}}`); `name` is
    /// its first segment.
    Variable {
        name: String,
        span: Span,
    },
    Helper {
        name: String,
        span: Span,
    },
    /// A data variable (`@index`, `@root`) or `this`.
    Data {
        name: String,
        span: Span,
    },
    Partial {
        name: String,
        span: Span,
    },
    Role {
        name: String,
        span: Span,
    },
}

/// Whether `offset` is in `span`, counting its end (a cursor just after a word is on it).
pub fn touches(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

pub fn at(input: &CheckInput, template: &Template, offset: usize) -> Option<At> {
    if let Some(root) = &input.parsed().frontmatter {
        if touches(root.span, offset) {
            if let Some(found) = in_yaml(root, &mut Vec::new(), offset) {
                return Some(found);
            }
        }
    }
    in_nodes(template.nodes(), false, offset)
}

fn in_yaml(node: &YamlNode, path: &mut Vec<String>, offset: usize) -> Option<At> {
    match &node.kind {
        YamlKind::Map(entries) => {
            for entry in entries {
                let key = entry.key.key_string();
                if touches(entry.key.span, offset) {
                    let mut path = path.clone();
                    path.push(key);
                    return Some(At::Key {
                        path,
                        span: entry.key.span,
                    });
                }
                if touches(entry.value.span, offset) && !entry.value.span.is_empty() {
                    path.push(key);
                    let found = in_yaml(&entry.value, path, offset);
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                }
            }
            None
        }
        YamlKind::Seq(items) => items
            .iter()
            .find(|i| touches(i.span, offset))
            .and_then(|i| in_yaml(i, path, offset)),
        YamlKind::Scalar(s) => Some(At::Value {
            path: path.clone(),
            span: node.span,
            text: s.text.clone(),
        }),
    }
}

fn in_nodes(nodes: Nodes, child_context: bool, offset: usize) -> Option<At> {
    for node in nodes {
        match node.kind() {
            NodeKind::Mustache(call) if touches(node.span(), offset) => {
                return in_call(call, true, child_context, offset);
            }
            NodeKind::Block(block) if touches(block.span(), offset) => {
                if touches(block.open(), offset) {
                    return in_call(block.call(), false, child_context, offset);
                }
                if let Some(close) = block.close() {
                    if touches(close, offset) {
                        let name = block.call().simple_name()?.to_string();
                        return Some(At::Helper { name, span: close });
                    }
                }
                let name = block.call().simple_name().unwrap_or("");
                // `each` and `with` change the context: names inside are not root inputs.
                let inner = child_context || matches!(name, "each" | "with");
                if let Some(found) = in_nodes(block.program(), inner, offset) {
                    return Some(found);
                }
                if let Some(inverse) = block.inverse() {
                    return in_nodes(inverse, child_context, offset);
                }
                return None;
            }
            NodeKind::Partial(partial) if touches(partial.span(), offset) => {
                if let PartialNameRef::Static { name, span } = partial.name() {
                    if touches(span, offset) {
                        return Some(At::Partial {
                            name: name.to_string(),
                            span,
                        });
                    }
                }
                let exprs = partial
                    .context()
                    .into_iter()
                    .chain(partial.hash().iter().map(|h| h.value()));
                for expr in exprs {
                    if let Some(found) = in_expr(expr, child_context, offset) {
                        return Some(found);
                    }
                }
                return None;
            }
            _ => {}
        }
    }
    None
}

/// `mustache`: a `{{x}}` (a helper only with arguments or a known name) rather than the
/// open tag of a block (always a helper).
fn in_call(call: CallRef, mustache: bool, child_context: bool, offset: usize) -> Option<At> {
    if let Some(p) = call.path().as_path() {
        if touches(p.span(), offset) {
            let Some(name) = p.parts().first() else {
                return variable(p, child_context); // `this`
            };
            let helper = !mustache || call.has_arguments() || is_known_helper(name);
            if helper && p.is_simple() {
                return Some(At::Helper {
                    name: name.to_string(),
                    span: p.span(),
                });
            }
            return variable(p, child_context);
        }
    }
    if call.simple_name() == Some("role") {
        if let Some(first) = call.params().first() {
            if let Some(value) = first.as_string() {
                if touches(first.span(), offset) {
                    return Some(At::Role {
                        name: value.to_string(),
                        span: first.span(),
                    });
                }
            }
        }
    }
    for expr in call.arguments() {
        if let Some(found) = in_expr(expr, child_context, offset) {
            return Some(found);
        }
    }
    None
}

fn in_expr(expr: ExprRef, child_context: bool, offset: usize) -> Option<At> {
    if !touches(expr.span(), offset) {
        return None;
    }
    match expr.kind() {
        ExprKind::Path(p) => variable(p, child_context),
        ExprKind::SubExpr(call) => in_call(call, false, child_context, offset),
        _ => None,
    }
}

fn variable(p: PathRef, child_context: bool) -> Option<At> {
    let parts = p.parts();
    // `@root.x` is the input `x` anywhere.
    if p.data() && parts.first().is_some_and(|r| r == "root") {
        return match parts.get(1) {
            Some(name) => Some(At::Variable {
                name: name.to_string(),
                span: p.span(),
            }),
            None => Some(At::Data {
                name: "@root".into(),
                span: p.span(),
            }),
        };
    }
    if p.data() {
        return Some(At::Data {
            name: format!("@{}", parts.first()?),
            span: p.span(),
        });
    }
    if p.this_relative() && parts.is_empty() {
        return Some(At::Data {
            name: "this".into(),
            span: p.span(),
        });
    }
    let root_input = !p.this_relative() && (!child_context || p.depth() > 0);
    if !root_input {
        return None;
    }
    let name = parts.first()?;
    Some(At::Variable {
        name: name.to_string(),
        span: p.span(),
    })
}
