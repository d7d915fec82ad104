//! The partials a template includes: each must exist beside the prompt and stay inside
//! the workspace, and together they must render within the renderer's limits (expansions,
//! nesting, a partial that always includes itself).

use std::collections::HashMap;

use crate::check::{CheckInput, Diagnostic};
use crate::render::partial_path;
use crate::syntax::handlebars::{ExprRef, NodeKind, PartialNameRef, Template};
use crate::syntax::Span;

/// The static partials a template includes, in order: name, span of the include, and
/// whether it always renders (not inside a block).
fn includes(template: &Template) -> Vec<(String, Span, bool)> {
    let mut found = Vec::new();
    let inline = template.inline_partial_names();
    template.walk(&mut |node, depth| match node.kind() {
        NodeKind::Partial(p) => {
            if let PartialNameRef::Static { name, span } = p.name() {
                if name != "@partial-block" && !inline.contains(&name) {
                    found.push((name.to_string(), span, depth == 0));
                }
            }
        }
        NodeKind::Block(b) if b.partial_block() => {
            if let Some(p) = b.call().path().as_path() {
                if inline.contains(&p.original()) {
                    return;
                }
                found.push((p.original().to_string(), b.open(), depth == 0));
            }
        }
        _ => {}
    });
    found
}

/// What rendering would expand, from the partial files beside the prompt, each read and
/// parsed once: how many expansions (counting every include as rendering once) and how
/// deep, and partials that always include themselves.
struct PartialGraph<'a, 'i> {
    input: &'a CheckInput<'i>,
    dir: &'a std::path::Path,
    /// Each partial's includes (name, always renders); `None` when it cannot be read.
    edges: HashMap<String, Option<Vec<(String, bool)>>>,
    /// Expansions below each partial (saturating) and its depth, once known.
    done: HashMap<String, (u64, usize)>,
    /// The partials being walked, with whether the include into each always renders.
    stack: Vec<(String, bool)>,
    /// Partials that include themselves unconditionally: the chain, first to repeat.
    cycles: Vec<Vec<String>>,
}

impl PartialGraph<'_, '_> {
    fn edges(&mut self, name: &str) -> Option<Vec<(String, bool)>> {
        if let Some(edges) = self.edges.get(name) {
            return edges.clone();
        }
        let edges = partial_path(self.dir, name)
            .and_then(|file| self.input.workspace.read_to_string(&file).ok())
            .map(|text| {
                let (template, _) = crate::syntax::handlebars::parse_template(&text, 0);
                includes(&template)
                    .into_iter()
                    .map(|(name, _, always)| (name, always))
                    .collect::<Vec<_>>()
            });
        self.edges.insert(name.to_string(), edges.clone());
        edges
    }

    /// (expansions below `name`, depth of `name` counting itself).
    fn visit(&mut self, name: &str, always: bool) -> (u64, usize) {
        if let Some(known) = self.done.get(name) {
            return *known;
        }
        if let Some(at) = self.stack.iter().position(|(n, _)| n == name) {
            // Recursion: data may end it (`{{#each kids}}{{> node}}{{/each}}`), unless
            // every include on the way always renders.
            if always && self.stack[at + 1..].iter().all(|(_, a)| *a) {
                let mut chain: Vec<String> =
                    self.stack[at..].iter().map(|(n, _)| n.clone()).collect();
                chain.push(name.to_string());
                if !self.cycles.contains(&chain) {
                    self.cycles.push(chain);
                }
            }
            return (0, 0);
        }
        self.stack.push((name.to_string(), always));
        let mut expansions = 0u64;
        let mut depth = 0;
        for (child, child_always) in self.edges(name).unwrap_or_default() {
            let (below, child_depth) = self.visit(&child, child_always);
            expansions = expansions.saturating_add(1).saturating_add(below);
            depth = depth.max(child_depth);
        }
        self.stack.pop();
        self.done.insert(name.to_string(), (expansions, depth + 1));
        (expansions, depth + 1)
    }

    /// From `name`, the include that expands most, then the one below it, ...
    fn heaviest_chain(&mut self, name: &str) -> Vec<String> {
        let mut chain = vec![name.to_string()];
        loop {
            let last = chain.last().cloned().unwrap_or_default();
            let next = self
                .edges(&last)
                .unwrap_or_default()
                .into_iter()
                .filter(|(n, _)| !chain.contains(n))
                .max_by_key(|(n, _)| self.done.get(n).map_or((0, 0), |d| *d));
            match next {
                Some((n, _)) => chain.push(n),
                None => return chain,
            }
        }
    }
}

/// `p0 > p1 > … > p30`, shortened in the middle when long.
fn chain_text(chain: &[String]) -> String {
    if chain.len() <= 32 {
        chain.join(" > ")
    } else {
        format!(
            "{} > … > {}",
            chain[..16].join(" > "),
            chain[chain.len() - 8..].join(" > ")
        )
    }
}

/// Partials that would make a render fail at its limits (`render::engine::MAX_*`): an
/// exponential number of expansions, nesting too deep, a partial that always includes
/// itself. Each partial file is read and walked once, however often it is included.
pub(super) fn partial_graph(input: &CheckInput, template: &Template, out: &mut Vec<Diagnostic>) {
    let Some(dir) = input.path().and_then(|p| p.parent()) else {
        return;
    };
    let top = includes(template);
    if top.is_empty() {
        return;
    }
    let mut graph = PartialGraph {
        input,
        dir,
        edges: HashMap::new(),
        done: HashMap::new(),
        stack: Vec::new(),
        cycles: Vec::new(),
    };
    let mut total = 0u64;
    let mut heaviest: Option<(u64, usize)> = None;
    let mut deepest: Option<(usize, usize)> = None;
    for (i, (name, span, always)) in top.iter().enumerate() {
        let before = graph.cycles.len();
        let (below, depth) = graph.visit(name, *always);
        for chain in &graph.cycles[before..] {
            let first = chain.last().cloned().unwrap_or_default();
            out.push(Diagnostic::error(
                "partial-recursion",
                *span,
                format!(
                    "partial `{first}` always includes itself ({}), so rendering never finishes",
                    chain_text(chain)
                ),
            ));
        }
        let expansions = below.saturating_add(1);
        total = total.saturating_add(expansions);
        if heaviest.is_none_or(|(most, _)| expansions > most) {
            heaviest = Some((expansions, i));
        }
        if deepest.is_none_or(|(most, _)| depth > most) {
            deepest = Some((depth, i));
        }
    }
    use crate::render::engine::{MAX_PARTIAL_DEPTH, MAX_PARTIAL_EXPANSIONS};
    if total > MAX_PARTIAL_EXPANSIONS as u64 {
        if let Some((expansions, i)) = heaviest {
            let (name, span, _) = &top[i];
            let chain = graph.heaviest_chain(name);
            let count = if expansions == u64::MAX {
                "more than 18446744073709551615".to_string()
            } else {
                expansions.to_string()
            };
            out.push(Diagnostic::error(
                "partial-expansion",
                *span,
                format!(
                    "rendering expands partials {count} times through {}, over the limit of {MAX_PARTIAL_EXPANSIONS}: partials that include others several times grow exponentially",
                    chain_text(&chain)
                ),
            ));
        }
    }
    if let Some((depth, i)) = deepest.filter(|(d, _)| *d > MAX_PARTIAL_DEPTH) {
        let (name, span, _) = &top[i];
        let mut chain = vec![name.clone()];
        while chain.len() < depth {
            let last = chain.last().cloned().unwrap_or_default();
            let next = graph
                .edges(&last)
                .unwrap_or_default()
                .into_iter()
                .filter(|(n, _)| !chain.contains(n))
                .max_by_key(|(n, _)| graph.done.get(n).map_or(0, |d| d.1));
            match next {
                Some((n, _)) => chain.push(n),
                None => break,
            }
        }
        out.push(Diagnostic::error(
            "partial-expansion",
            *span,
            format!(
                "partials nest {depth} deep through {}, over the limit of {MAX_PARTIAL_DEPTH}",
                chain_text(&chain)
            ),
        ));
    }
}

pub(super) fn check_partial_name(input: &CheckInput, path: ExprRef, out: &mut Vec<Diagnostic>) {
    if let Some(p) = path.as_path() {
        let original = p.original();
        // `{{#> name}}fallback{{/name}}`: a missing partial renders the fallback, so it is
        // only worth a note.
        if let (Some(dir), Some(file)) = (
            input.path().and_then(|p| p.parent()),
            partial_path(std::path::Path::new(""), original),
        ) {
            if let Some(Err(e)) = input.partial_in(dir, original) {
                out.push(outside(original, p.span(), &e));
            } else if input.workspace.read_to_string(&dir.join(&file)).is_err() {
                out.push(Diagnostic::info(
                    "missing-partial",
                    p.span(),
                    format!(
                        "no partial `{}` (looked for {}); the block's own content renders instead",
                        original,
                        dir.join(file).display()
                    ),
                ));
            }
        }
    }
}

pub(super) fn check_partial(
    input: &CheckInput,
    name: &str,
    span: crate::syntax::Span,
    out: &mut Vec<Diagnostic>,
) {
    if name == "@partial-block" {
        return;
    }
    let Some(dir) = input.path().and_then(|p| p.parent()) else {
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

    use crate::check::{check, Workspace};

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
        // Inline partials, partial blocks over them, raw blocks and `{{~{x}~}}` are
        // Handlebars Dotprompt renders: no missing partial, no unknown helper.
        assert!(
            codes("{{#*inline \"row\"}}- {{x}}{{/inline}}{{> row}}{{#> row}}fb{{/row}}").is_empty()
        );
        assert!(codes("a {{~{html}~}} b {{{{raw}}}} {{x}} {{{{/raw}}}}").is_empty());
        assert_eq!(
            codes("{{#*decorate}}x{{/decorate}}"),
            [
                "invalid-expression: Dotprompt's only decorator is `{{#*inline \"name\"}}`",
                "unexpected-close: `{{/decorate}}` closes a block that was never opened"
            ]
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
        std::fs::write(root.join(crate::confine::CONFIG_FILE), "").unwrap();
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

    /// Partial files from memory, counting reads.
    struct Mem(
        std::collections::HashMap<PathBuf, String>,
        std::cell::Cell<usize>,
    );
    impl Workspace for Mem {
        fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
            self.1.set(self.1.get() + 1);
            self.0
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    fn mem(files: &[(&str, String)]) -> Mem {
        Mem(
            files
                .iter()
                .map(|(n, t)| (PathBuf::from(format!("/p/_{n}.prompt")), t.clone()))
                .collect(),
            std::cell::Cell::new(0),
        )
    }

    fn partial_codes(src: &str, ws: &Mem) -> Vec<String> {
        check(src, Some(Path::new("/p/a.prompt")), ws)
            .into_iter()
            .filter(|d| d.code.starts_with("partial-"))
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect()
    }

    #[test]
    fn exponential_partials_are_found_reading_each_file_once() {
        let mut files: Vec<(String, String)> = (0..30)
            .map(|i| {
                (
                    format!("p{i}"),
                    format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1),
                )
            })
            .collect();
        files.push(("p30".into(), "leaf".into()));
        let files: Vec<(&str, String)> =
            files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let ws = mem(&files);
        let started = std::time::Instant::now();
        let got = partial_codes("hello {{> p0}}", &ws);
        assert!(started.elapsed().as_secs() < 5);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("partial-expansion: rendering expands partials 2147483647 times through p0 > p1 > p2"), "{got:?}");
        assert!(
            got[0].contains("p29 > p30, over the limit of 100000"),
            "{got:?}"
        );
        // Each partial file read a bounded number of times (by each check that reads
        // partials), not once per expansion.
        assert!(ws.1.get() <= 31 * 4, "{} reads", ws.1.get());
        // A few doublings are fine.
        assert!(partial_codes("{{> p20}}", &ws).is_empty());
    }

    #[test]
    fn partials_that_always_include_themselves_are_errors() {
        let ws = mem(&[
            ("a", "x{{> a}}".into()),
            ("b", "{{> c}}".into()),
            ("c", "{{#if x}}{{/if}}{{> b}}".into()),
        ]);
        assert_eq!(
            partial_codes("{{> a}}", &ws),
            ["partial-recursion: partial `a` always includes itself (a > a), so rendering never finishes"]
        );
        assert_eq!(
            partial_codes("{{> b}}", &ws),
            ["partial-recursion: partial `b` always includes itself (b > c > b), so rendering never finishes"]
        );
        // Recursion under a block may end with the data.
        let ws = mem(&[("node", "{{name}}{{#each kids}}{{> node}}{{/each}}".into())]);
        assert!(partial_codes("{{> node}}", &ws).is_empty());
        // A chain deeper than the renderer nests.
        let chain: Vec<(String, String)> = (0..70)
            .map(|i| (format!("d{i}"), format!("{{{{> d{}}}}}", i + 1)))
            .collect();
        let chain: Vec<(&str, String)> =
            chain.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let got = partial_codes("{{> d0}}", &mem(&chain));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("partial-expansion: partials nest 71 deep through d0 > d1"),
            "{got:?}"
        );
    }
}
