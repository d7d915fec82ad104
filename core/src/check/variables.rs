//! Template variables against `input.schema` (and the dataset's columns when there is no
//! schema): used but not declared, declared but never used.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{did_you_mean, CheckInput, Diagnostic};
use crate::analysis::Schemas;
use crate::data::dataset::Dataset;
use crate::syntax::handlebars::{
    parse_template, CallRef, ExprKind, ExprRef, NodeKind, Nodes, PartialNameRef, PathRef, Template,
};
use crate::syntax::yaml::{YamlEntry, YamlNode};
use crate::syntax::Span;

/// Root-context variables a template reads.
#[derive(Debug, Default)]
pub struct Usage<'t> {
    /// First segment of each root path that is not a known name, with where it is used
    /// (borrowed from the template). Uses of known names are not kept one by one: a
    /// large template would hold an entry per mustache.
    pub used: Vec<(Cow<'t, str>, Span)>,
    /// Every first segment used.
    pub names: HashSet<Cow<'t, str>>,
    /// The names the caller knows (declared, defaulted or dataset columns).
    pub known: HashSet<String>,
    /// The whole root context is used (`{{json this}}`, `{{#each this}}`, a dynamic
    /// partial...), so "never used" cannot be decided.
    pub whole_context: bool,
}

impl<'t> Usage<'t> {
    fn add(&mut self, name: Cow<'t, str>, span: Span) {
        if !self.known.contains(name.as_ref()) {
            self.used.push((name.clone(), span));
        }
        self.names.insert(name);
    }
}

pub(super) fn check(
    input: &CheckInput,
    template: &Template,
    schemas: &Schemas,
    dataset: Option<&Dataset>,
    out: &mut Vec<Diagnostic>,
) {
    let is_partial = input
        .path()
        .and_then(|p| p.file_name())
        .is_some_and(|f| f.to_string_lossy().starts_with('_'));
    if is_partial {
        // A partial renders inside some prompt's context; it has no schema of its own.
        return;
    }
    let root = input.parsed().frontmatter.as_ref();
    let defaults: Vec<String> = root
        .and_then(|fm| fm.get("input"))
        .and_then(|i| i.get("default"))
        .map(|d| d.entries().iter().map(|e| e.key.key_string()).collect())
        .unwrap_or_default();
    let mut known: HashSet<String> = defaults.iter().cloned().collect();
    if let Some(fields) = schemas.input_fields() {
        known.extend(fields.iter().map(|f| f.to_string()));
    } else if let Some(dataset) = dataset {
        known.extend(dataset.columns.iter().cloned());
    }

    let mut usage = Usage {
        known,
        ..Usage::default()
    };
    collect(template.nodes(), 0, &mut Vec::new(), &mut usage);
    // Partials render with the same context: their variables count as used here.
    let mut partial_usage = Usage::default();
    collect_partials(input, template, &mut partial_usage, &mut HashSet::new());
    usage.whole_context |= partial_usage.whole_context;

    if let Some(fields) = schemas.input_fields() {
        let mut reported: HashSet<&str> = HashSet::new();
        for (name, span) in &usage.used {
            let name: &str = name;
            if fields.contains(&name)
                || defaults.iter().any(|d| d == name)
                || !reported.insert(name)
            {
                continue;
            }
            let mut d = Diagnostic::warning(
                "undeclared-variable",
                *span,
                format!("`{name}` is not declared in `input.schema`, so it is always empty"),
            );
            d = d.suggest(did_you_mean(name, fields.iter().copied()), "Change", *span);
            out.push(d);
        }
        if !usage.whole_context {
            // Inserted one by one: `collect` would reserve a slot per use.
            let mut used: HashSet<&str> = HashSet::new();
            for name in usage.names.iter().chain(partial_usage.names.iter()) {
                used.insert(name);
            }
            for field in fields {
                if !used.contains(field) {
                    let span =
                        schema_key_span(input, field).unwrap_or(input.parsed().template_span);
                    out.push(Diagnostic::warning(
                        "unused-variable",
                        span,
                        format!("`{field}` is declared in `input.schema` but the template never uses it"),
                    ));
                }
            }
        }
    } else if let (Some(dataset), None) = (dataset, &schemas.input) {
        let mut reported: HashSet<&str> = HashSet::new();
        for (name, span) in &usage.used {
            let name: &str = name;
            if dataset.columns.iter().any(|c| c == name)
                || defaults.iter().any(|d| d == name)
                || !reported.insert(name)
            {
                continue;
            }
            let mut d = Diagnostic::warning(
                "variable-not-in-dataset",
                *span,
                format!(
                    "`{name}` is not a column of the dataset ({}), so it is empty when evaluating",
                    dataset.columns.join(", ")
                ),
            );
            d = d.suggest(
                did_you_mean(name, dataset.columns.iter().map(String::as_str)),
                "Change",
                *span,
            );
            out.push(d);
        }
    }
}

/// `input.schema` and its field entries (under `properties` in a JSON Schema).
pub(crate) fn input_schema<'a>(input: &CheckInput<'a>) -> Option<(&'a YamlNode, &'a [YamlEntry])> {
    let schema = input
        .parsed()
        .frontmatter
        .as_ref()?
        .get("input")?
        .get("schema")?;
    let entries = schema
        .get("properties")
        .map_or(schema.entries(), |p| p.entries());
    Some((schema, entries))
}

/// The field a schema key declares: `field`, `field?`, `field(array)`, ... → `field`.
pub(crate) fn field_name(key: &str) -> &str {
    key.split('(').next().unwrap_or("").trim_end_matches('?')
}

/// The key of `field` in `input.schema`.
pub(crate) fn schema_key_span(input: &CheckInput, field: &str) -> Option<Span> {
    input_schema(input)?
        .1
        .iter()
        .find(|e| field_name(&e.key.key_string()) == field)
        .map(|e| e.key.span)
}

/// Walks `nodes` at context level `level` (0 = the root input).
fn collect<'t>(nodes: Nodes<'t>, level: usize, params: &mut Vec<&'t str>, usage: &mut Usage<'t>) {
    for node in nodes {
        match node.kind() {
            NodeKind::Mustache(call) => call_usage(call, level, params, usage),
            NodeKind::Block(block) => {
                // `{{#*inline "name"}}` and `{{#> name}}` name partials, not variables.
                if block.inline_partial() || block.partial_block() {
                    for e in block.call().arguments() {
                        if !block.inline_partial() {
                            expr_usage(e, level, params, usage);
                        }
                    }
                } else {
                    call_usage(block.call(), level, params, usage);
                }
                let name = block.call().simple_name().filter(|n| !params.contains(n));
                // Blocks that keep the context; every other block (each, with, sections)
                // renders its program in a new one.
                // An inline partial's body renders where `{{> name}}` is, usually here.
                let keeps = block.partial_block()
                    || block.inline_partial()
                    || matches!(name, Some("if" | "unless" | "ifEquals" | "unlessEquals"))
                    || block.inverted();
                let inner = if keeps { level } else { level + 1 };
                let before = params.len();
                params.extend(block.block_params().iter());
                collect(block.program(), inner, params, usage);
                params.truncate(before);
                if let Some(inverse) = block.inverse() {
                    collect(inverse, level, params, usage);
                }
            }
            NodeKind::Partial(partial) => {
                if let PartialNameRef::Dynamic(call) = partial.name() {
                    call_usage(call, level, params, usage);
                }
                for e in partial
                    .context()
                    .into_iter()
                    .chain(partial.hash().iter().map(|h| h.value()))
                {
                    expr_usage(e, level, params, usage);
                }
            }
            NodeKind::Text(_) | NodeKind::Comment(_) => {}
        }
    }
}

fn call_usage<'t>(call: CallRef<'t>, level: usize, params: &[&str], usage: &mut Usage<'t>) {
    let helper = call
        .simple_name()
        .is_some_and(|n| !params.contains(&n) && crate::render::engine::is_known_helper(n));
    if !helper {
        expr_usage(call.path(), level, params, usage);
    }
    for e in call.arguments() {
        expr_usage(e, level, params, usage);
    }
}

fn expr_usage<'t>(expr: ExprRef<'t>, level: usize, params: &[&str], usage: &mut Usage<'t>) {
    match expr.kind() {
        ExprKind::Path(p) => path_usage(p, level, params, usage),
        ExprKind::SubExpr(call) => call_usage(call, level, params, usage),
        _ => {}
    }
}

fn path_usage<'t>(path: PathRef<'t>, level: usize, params: &[&str], usage: &mut Usage<'t>) {
    let parts = path.parts();
    if path.data() {
        if parts.first().is_some_and(|p| p == "root") {
            match parts.get(1) {
                Some(name) => usage.add(Cow::Borrowed(name), path.span()),
                None => usage.whole_context = true,
            }
        }
        return;
    }
    if path.depth() == 0
        && !path.this_relative()
        && parts.first().is_some_and(|p| params.contains(&p))
    {
        return;
    }
    if path.depth() > level || level - path.depth() != 0 {
        return;
    }
    match parts.first() {
        Some(name) => usage.add(Cow::Borrowed(name), path.span()),
        None => usage.whole_context = true,
    }
}

/// Variables used by the partials a template includes (recursively), read from disk.
fn collect_partials(
    input: &CheckInput,
    template: &Template,
    usage: &mut Usage,
    seen: &mut HashSet<String>,
) {
    let Some(dir) = input.path().and_then(|p| p.parent()) else {
        if !template.partial_names().is_empty() {
            usage.whole_context = true;
        }
        return;
    };
    template.walk(&mut |node, _| {
        if let NodeKind::Partial(p) = node.kind() {
            match p.name() {
                PartialNameRef::Dynamic(_) => usage.whole_context = true,
                // A partial given its own context does not read ours.
                PartialNameRef::Static { .. } if p.context().is_some() => {}
                PartialNameRef::Static { name, .. } => {
                    if !seen.insert(name.to_string()) {
                        return;
                    }
                    let Some(text) = input
                        .partial_in(dir, name)
                        .and_then(Result::ok)
                        .and_then(|f| input.workspace.read_to_string(&f).ok())
                    else {
                        usage.whole_context = true;
                        return;
                    };
                    let (partial, _) = parse_template(&text, 0);
                    let mut inner = Usage::default();
                    collect(partial.nodes(), 0, &mut Vec::new(), &mut inner);
                    let owned = inner.names.into_iter().map(|n| Cow::Owned(n.into_owned()));
                    usage.names.extend(owned);
                    usage.whole_context |= inner.whole_context;
                    collect_partials(input, &partial, usage, seen);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::check::testing::render;
    use crate::check::{check, Workspace};

    const SCHEMA: &str = "---\ninput:\n  schema:\n    name: string\n    items?(array): string\n    mood?: string\n---\n";

    #[test]
    fn variables_against_the_schema() {
        let cases: &[(&str, &[&str])] = &[
            ("Hi {{name}} {{#each items}}{{this}}{{/each}} {{#if mood}}{{mood}}{{/if}}", &[]),
            ("Hi {{nmae}} {{items}} {{mood}}", &[
                "unused-variable@name: `name` is declared in `input.schema` but the template never uses it",
                "undeclared-variable@nmae: `nmae` is not declared in `input.schema`, so it is always empty; did you mean `name`?",
            ]),
            ("{{name}}{{#each items as |it|}}{{it}}{{../mood}}{{x}}{{/each}}", &[]),
            ("{{#with name}}{{length}}{{/with}} {{@root.items}} {{json @root.mood}}", &[]),
            ("{{json this}} {{other}}", &["undeclared-variable@other: `other` is not declared in `input.schema`, so it is always empty"]),
            ("{{#*inline \"row\"}}{{name}} {{items}}{{/inline}}{{> row}}{{#> row}}{{mood}}{{/row}}", &[]),
        ];
        for (body, expected) in cases {
            let source = format!("{SCHEMA}{body}");
            let got = render(&source);
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(&got, expected, "for {body:?}");
        }
        // Without a schema nothing is undeclared.
        assert!(render("Hello {{anything}}").is_empty());
        // input.default counts as declared.
        assert!(render("---\ninput:\n  default: {tone: calm}\n  schema:\n    name: string\n---\n{{name}} {{tone}}").is_empty());
    }

    struct Partial;
    impl Workspace for Partial {
        fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
            if path == Path::new("/p/_sig.prompt") {
                Ok("Regards, {{mood}}".into())
            } else {
                Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
            }
        }
    }

    #[test]
    fn partials_use_variables_too() {
        let src = format!("{SCHEMA}{{{{name}}}} {{{{items}}}} {{{{> sig}}}}");
        let diags = check(&src, Some(&PathBuf::from("/p/a.prompt")), &Partial);
        assert!(diags.is_empty(), "{diags:?}");
    }
}
