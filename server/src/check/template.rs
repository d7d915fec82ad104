//! The template body: syntax, helpers (Dotprompt renders with `knownHelpersOnly`), role
//! names, and partials that must exist beside the prompt.

use super::{did_you_mean, CheckInput, Diagnostic};
use crate::render::engine::{unknown_helpers, KNOWN_HELPERS};
use crate::render::partial_path;
use crate::syntax::handlebars::{Call, Expr, Node, PartialName, Template, TemplateError};

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
    walk(input, &template.nodes, &mut block_params, out);
}

fn walk<'t>(
    input: &CheckInput,
    nodes: &'t [Node],
    params: &mut Vec<&'t str>,
    out: &mut Vec<Diagnostic>,
) {
    for node in nodes {
        match node {
            Node::Mustache { call, .. } => {
                check_roles(call, params, out);
                if let Some(name) = call.simple_name().filter(|n| !params.contains(n)) {
                    if BLOCK_HELPERS.iter().any(|(b, _)| *b == name) {
                        out.push(Diagnostic::error(
                            "block-helper-as-mustache",
                            call.path.span(),
                            format!("`{name}` is a block helper: write `{{{{#{name} ...}}}}...{{{{/{name}}}}}`"),
                        ));
                    }
                }
            }
            Node::Block(block) => {
                if !block.partial_block {
                    check_roles(&block.call, params, out);
                    if let Some(name) = block.call.simple_name().filter(|n| !params.contains(n)) {
                        if let Some((_, arity)) = BLOCK_HELPERS.iter().find(|(b, _)| *b == name) {
                            if block.call.params.len() != *arity
                                && !(name == "each" && block.call.params.len() > 1)
                            {
                                let what = if *arity == 1 {
                                    "one argument".to_string()
                                } else {
                                    format!("{arity} arguments")
                                };
                                out.push(Diagnostic::error(
                                    "helper-arguments",
                                    block.open,
                                    format!(
                                        "`#{name}` takes {what}, found {}",
                                        block.call.params.len()
                                    ),
                                ));
                            }
                        }
                    }
                } else {
                    check_partial_name(input, &block.call.path, out);
                }
                let before = params.len();
                params.extend(block.block_params.iter().map(String::as_str));
                walk(input, &block.program, params, out);
                params.truncate(before);
                if let Some(inverse) = &block.inverse {
                    walk(input, inverse, params, out);
                }
            }
            Node::Partial(partial) => match &partial.name {
                PartialName::Static { name, span } => check_partial(input, name, *span, out),
                PartialName::Dynamic(call) => check_roles(call, params, out),
            },
            Node::Text { .. } | Node::Comment { .. } => {}
        }
    }
}

/// `{{role "..."}}` calls, here and in subexpressions.
fn check_roles(call: &Call, params: &[&str], out: &mut Vec<Diagnostic>) {
    let name = call.simple_name();
    let is_param = name.is_some_and(|n| params.contains(&n));
    if name == Some("role") && !is_param {
        match call.params.first() {
            Some(Expr::String { value, span }) if !ROLES.contains(&value.as_str()) => {
                let mut d = Diagnostic::error(
                    "unknown-role",
                    *span,
                    format!("`{value}` is not a role; Dotprompt roles are system, user, model and tool"),
                );
                if let Some(s) = did_you_mean(value, ROLES.iter().copied()).or(match value.as_str() {
                    "assistant" | "ai" | "bot" => Some("model"),
                    "human" => Some("user"),
                    _ => None,
                }) {
                    d.message.push_str(&format!("; did you mean `{s}`?"));
                    d = d.with_fix(format!("Change to `{s}`"), *span, format!("\"{s}\""));
                }
                out.push(d);
            }
            Some(Expr::String { .. }) => {}
            Some(other) => out.push(Diagnostic::warning(
                "dynamic-role",
                other.span(),
                "the role is computed at render time; promptls cannot check it is one of system, user, model, tool",
            )),
            None => out.push(Diagnostic::error("unknown-role", call.span, "`role` needs a role name: `{{role \"user\"}}`")),
        }
    }
    for e in call.params.iter().chain(call.hash.iter().map(|h| &h.value)) {
        if let Expr::SubExpr(sub) = e {
            check_roles(sub, params, out);
        }
    }
}

fn check_partial_name(input: &CheckInput, path: &Expr, out: &mut Vec<Diagnostic>) {
    if let Expr::Path(p) = path {
        // `{{#> name}}fallback{{/name}}`: a missing partial renders the fallback, so it is
        // only worth a note.
        if let (Some(dir), Some(file)) = (
            input.path.and_then(|p| p.parent()),
            partial_path(std::path::Path::new(""), &p.original),
        ) {
            if let Some(Err(e)) = input.partial_in(dir, &p.original) {
                out.push(outside(&p.original, p.span, &e));
            } else if input.workspace.read_to_string(&dir.join(&file)).is_err() {
                out.push(Diagnostic::info(
                    "missing-partial",
                    p.span,
                    format!(
                        "no partial `{}` (looked for {}); the block's own content renders instead",
                        p.original,
                        dir.join(file).display()
                    ),
                ));
            }
        }
    }
}

fn check_partial(
    input: &CheckInput,
    name: &str,
    span: crate::syntax::Span,
    out: &mut Vec<Diagnostic>,
) {
    if name == "@partial-block" {
        return;
    }
    let Some(dir) = input.path.and_then(|p| p.parent()) else {
        return;
    };
    let file = match input.partial_in(dir, name) {
        Some(Ok(file)) => file,
        Some(Err(e)) => {
            out.push(outside(name, span, &e));
            return;
        }
        None => {
            out.push(Diagnostic::error(
                "missing-partial",
                span,
                format!("`{name}` is not a partial name promptls can resolve (it must stay inside the prompt's folder)"),
            ));
            return;
        }
    };
    if input.workspace.read_to_string(&file).is_err() {
        out.push(Diagnostic::error(
            "missing-partial",
            span,
            format!("partial `{name}` not found: expected {}", file.display()),
        ));
    }
}

/// A partial whose file leads outside the workspace (a symlink): not read, an error.
fn outside(
    name: &str,
    span: crate::syntax::Span,
    e: &crate::confine::OutsideWorkspace,
) -> Diagnostic {
    Diagnostic::error(
        "path-outside-workspace",
        span,
        format!("partial `{name}`: {e}: only files inside the workspace are read"),
    )
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::check::testing::render;
    use crate::check::{check, Workspace};

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

    struct Files(&'static [&'static str]);
    impl Workspace for Files {
        fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
            if self.0.iter().any(|p| Path::new(p) == path) {
                Ok(String::new())
            } else {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
            }
        }
    }

    #[test]
    fn partials_must_exist() {
        let path = PathBuf::from("/p/a.prompt");
        let codes = |src: &str| -> Vec<String> {
            check(src, Some(&path), &Files(&["/p/_header.prompt"]))
                .into_iter()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect()
        };
        assert!(codes("{{> header}} hi").is_empty());
        assert_eq!(
            codes("{{> footer}} hi"),
            ["missing-partial: partial `footer` not found: expected /p/_footer.prompt"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn partials_outside_the_workspace_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("ws");
        let outside = root.with_file_name("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join(crate::config::FILE_NAME), "").unwrap();
        std::fs::write(outside.join("_x.prompt"), "SECRET {{#if").unwrap();
        std::os::unix::fs::symlink(outside.join("_x.prompt"), root.join("_x.prompt")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("sub/out")).unwrap();
        std::fs::write(root.join("_ok.prompt"), "fine").unwrap();
        let path = root.join("a.prompt");
        let codes = |src: &str| -> Vec<String> {
            check(src, Some(&path), &crate::check::Disk)
                .into_iter()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect()
        };
        let refused = |name: &str, file: &str| {
            format!(
                "path-outside-workspace: partial `{name}`: `{file}` is outside the workspace {}: only files inside the workspace are read",
                root.display()
            )
        };
        assert!(codes("{{> ok}}").is_empty());
        assert_eq!(codes("{{> x}}"), [refused("x", "_x.prompt")]);
        assert_eq!(
            codes("{{> sub/out/x}}"),
            [refused("sub/out/x", "sub/out/_x.prompt")]
        );
        assert_eq!(codes("{{#> x}}fallback{{/x}}"), [refused("x", "_x.prompt")]);
        // What the partial says never shows.
        assert!(codes("{{> x}}").iter().all(|d| !d.contains("SECRET")));
    }
}
