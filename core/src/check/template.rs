//! The template body: syntax, helpers (Dotprompt renders with `knownHelpersOnly`) and
//! role names. The partials it includes are checked in `template/partials.rs`.

mod partials;

use super::{did_you_mean, CheckInput, Diagnostic};
use crate::render::engine::{unknown_helpers, KNOWN_HELPERS};
use crate::syntax::handlebars::{
    CallRef, NodeKind, Nodes, PartialNameRef, Template, TemplateError,
};
use partials::{check_partial, check_partial_name, partial_graph};

/// The roles Dotprompt messages have.
pub(crate) const ROLES: &[&str] = &["system", "user", "model", "tool"];
/// Helpers that only work as blocks, and how many arguments they take.
const BLOCK_HELPERS: &[(&str, usize)] = &[
    ("if", 1),
    ("unless", 1),
    ("with", 1),
    ("each", 1),
    ("ifEquals", 2),
    ("unlessEquals", 2),
];

pub(super) fn check(
    input: &CheckInput,
    template: &Template,
    errors: &[TemplateError],
    out: &mut Vec<Diagnostic>,
) {
    for e in errors {
        out.push(Diagnostic::error(e.code, e.span, e.message.clone()));
    }
    for (span, helper) in unknown_helpers(template) {
        let mut d = Diagnostic::error(
            "unknown-helper",
            span,
            format!("unknown helper `{helper}`: Dotprompt renders with known helpers only, so this fails to render"),
        );
        d = d.suggest(
            did_you_mean(&helper, KNOWN_HELPERS.iter().copied()),
            "Change",
            span,
        );
        out.push(d);
    }
    let mut block_params: Vec<&str> = Vec::new();
    let inline = template.inline_partial_names();
    walk(input, template.nodes(), &mut block_params, &inline, out);
    partial_graph(input, template, out);
}

fn walk<'t>(
    input: &CheckInput,
    nodes: Nodes<'t>,
    params: &mut Vec<&'t str>,
    inline: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    for node in nodes {
        match node.kind() {
            NodeKind::Mustache(call) => {
                check_roles(call, params, out);
                if let Some(name) = call.simple_name().filter(|n| !params.contains(n)) {
                    if BLOCK_HELPERS.iter().any(|(b, _)| *b == name) {
                        out.push(Diagnostic::error(
                            "block-helper-as-mustache",
                            call.path().span(),
                            format!("`{name}` is a block helper: write `{{{{#{name} ...}}}}...{{{{/{name}}}}}`"),
                        ));
                    }
                }
            }
            NodeKind::Block(block) => {
                let call = block.call();
                if block.inline_partial() {
                } else if !block.partial_block() {
                    check_roles(call, params, out);
                    if let Some(name) = call.simple_name().filter(|n| !params.contains(n)) {
                        if let Some((_, arity)) = BLOCK_HELPERS.iter().find(|(b, _)| *b == name) {
                            if call.params().len() != *arity
                                && !(name == "each" && call.params().len() > 1)
                            {
                                let what = if *arity == 1 {
                                    "one argument".to_string()
                                } else {
                                    format!("{arity} arguments")
                                };
                                out.push(Diagnostic::error(
                                    "helper-arguments",
                                    block.open(),
                                    format!(
                                        "`#{name}` takes {what}, found {}",
                                        call.params().len()
                                    ),
                                ));
                            }
                        }
                    }
                } else if !call
                    .path()
                    .as_path()
                    .is_some_and(|p| inline.contains(&p.original()))
                {
                    check_partial_name(input, call.path(), out);
                }
                let before = params.len();
                params.extend(block.block_params().iter());
                walk(input, block.program(), params, inline, out);
                params.truncate(before);
                if let Some(inverse) = block.inverse() {
                    walk(input, inverse, params, inline, out);
                }
            }
            NodeKind::Partial(partial) => match partial.name() {
                PartialNameRef::Static { name, .. } if inline.contains(&name) => {}
                PartialNameRef::Static { name, span } => check_partial(input, name, span, out),
                PartialNameRef::Dynamic(call) => check_roles(call, params, out),
            },
            NodeKind::Text(_) | NodeKind::Comment(_) => {}
        }
    }
}

/// `{{role "..."}}` calls, here and in subexpressions.
fn check_roles(call: CallRef, params: &[&str], out: &mut Vec<Diagnostic>) {
    let name = call.simple_name();
    let is_param = name.is_some_and(|n| params.contains(&n));
    if name == Some("role") && !is_param {
        match call.params().first().map(|e| (e, e.as_string())) {
            Some((e, Some(value))) if !ROLES.contains(&value) => {
                let span = e.span();
                let mut d = Diagnostic::error(
                    "unknown-role",
                    span,
                    format!("`{value}` is not a role; Dotprompt roles are system, user, model and tool"),
                );
                if let Some(s) = did_you_mean(value, ROLES.iter().copied()).or(match value {
                    "assistant" | "ai" | "bot" => Some("model"),
                    "human" => Some("user"),
                    _ => None,
                }) {
                    d.message.push_str(&format!("; did you mean `{s}`?"));
                    d = d.with_fix(format!("Change to `{s}`"), span, format!("\"{s}\""));
                }
                out.push(d);
            }
            Some((_, Some(_))) => {}
            Some((other, None)) => out.push(Diagnostic::warning(
                "dynamic-role",
                other.span(),
                "the role is computed at render time; promptls cannot check it is one of system, user, model, tool",
            )),
            None => out.push(Diagnostic::error("unknown-role", call.span(), "`role` needs a role name: `{{role \"user\"}}`")),
        }
    }
    for e in call.arguments() {
        if let Some(sub) = e.as_call() {
            check_roles(sub, params, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::testing::render;

    #[test]
    fn template_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello {{name}} {{#if x}}y{{/if}} {{json o indent=2}}", &[]),
            ("Hello {{name", &["unterminated-mustache@{{name: `{{` is never closed with `}}`"]),
            ("{{#each xs}}{{/if}}", &[
                "unclosed-block@{{#each xs}}: `{{#each}}` is never closed with `{{/each}}`",
                "unexpected-close@{{/if}}: `{{/if}}` does not match the open `{{#each}}`",
            ]),
            ("{{uppercase name}}", &["unknown-helper@uppercase: unknown helper `uppercase`: Dotprompt renders with known helpers only, so this fails to render"]),
            ("{{#ifEqual a b}}x{{/ifEqual}}", &["unknown-helper@ifEqual: unknown helper `ifEqual`: Dotprompt renders with known helpers only, so this fails to render; did you mean `ifEquals`?"]),
            ("{{json (shout a)}}", &["unknown-helper@shout: unknown helper `shout`: Dotprompt renders with known helpers only, so this fails to render"]),
            ("{{role \"assistant\"}}hi", &["unknown-role@\"assistant\": `assistant` is not a role; Dotprompt roles are system, user, model and tool; did you mean `model`?"]),
            ("{{role \"sytem\"}}hi", &["unknown-role@\"sytem\": `sytem` is not a role; Dotprompt roles are system, user, model and tool; did you mean `system`?"]),
            ("{{if x}}", &["block-helper-as-mustache@if: `if` is a block helper: write `{{#if ...}}...{{/if}}`"]),
            ("{{#if a b}}x{{/if}}", &["helper-arguments@{{#if a b}}: `#if` takes one argument, found 2"]),
            ("{{#each xs as |shout|}}{{shout x}}{{/each}}", &[]),
        ];
        for (source, expected) in cases {
            let got = render(source);
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(&got, expected, "for {source:?}");
        }
    }
}
