//! Editor features over whole files, with `$0` marking the cursor: each feature's output
//! rendered as text and compared with a snapshot (`expect![[...]]`), plus properties
//! that hold on every input (nothing panics, tokens are sorted, fixes resolve their
//! diagnostic).
//!
//! Every test builds its `CheckInput` through `analyze`, the one harness. After a
//! deliberate change of the output, rewrite the snapshots with
//!
//!     UPDATE_EXPECT=1 cargo test -p promptls-core ide::tests
//!
//! and read the diff before committing it. Positions are `line:column` (1-based, columns
//! in characters, ends exclusive), followed by the text under the span.
//!
//! One file per editor feature (and `properties.rs` for what holds on every input), over
//! the same few prompts; this file holds the harness and the renderers they share.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use expect_test::{expect, Expect};

use super::*;
use crate::analysis::Analysis;
use crate::check::{self, Workspace};

mod actions;
mod completion;
mod hover;
mod navigation;
mod outline;
mod properties;
mod tokens;

/// Files in memory, as the language server's open buffers would be.
#[derive(Default)]
struct Files(HashMap<PathBuf, String>);

impl Workspace for Files {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }
}

const PATH: &str = "/w/p.prompt";

/// The workspace of every test: a partial and a dataset beside `/w/p.prompt`, and the
/// `extra` files.
fn files(extra: &[(&str, &str)]) -> Files {
    let mut f = Files::default();
    f.0.insert("/w/_persona.prompt".into(), "You are {{tone}}.".into());
    f.0.insert(
        "/w/data.csv".into(),
        "text,label\nGreat phone,positive\n".into(),
    );
    for (path, text) in extra {
        f.0.insert(path.into(), text.to_string());
    }
    f
}

/// The harness: runs `f` on `source` (with its `$0` cursor removed, the cursor's byte
/// offset given to `f`; `None` without one) as the file `path` in `files(extra)`.
/// The only place a test builds a `CheckInput`.
fn analyze<T>(
    source: &str,
    path: &str,
    extra: &[(&str, &str)],
    f: impl FnOnce(&CheckInput, Option<usize>) -> T,
) -> T {
    let offset = source.find("$0");
    let text = source.replacen("$0", "", 1);
    let files = files(extra);
    let analysis = Analysis::new(&text, Some(Path::new(path)));
    f(&CheckInput::new(&analysis, &files), offset)
}

/// `analyze` at the `$0` cursor of `source`, as `/w/p.prompt`.
fn with_cursor<T>(source: &str, f: impl FnOnce(&CheckInput, usize) -> T) -> T {
    analyze(source, PATH, &[], |input, offset| {
        f(input, offset.expect("a $0 cursor"))
    })
}

/// `analyze` on a whole file (no cursor), as `/w/p.prompt`.
fn whole<T>(source: &str, f: impl FnOnce(&CheckInput) -> T) -> T {
    analyze(source, PATH, &[], |input, _| f(input))
}

const PROMPT: &str = "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string, the review\n    tone?: string\noutput:\n  format: text\npromptls.dataset: data.csv\npromptls.metric: exact_match\n---\n{{role \"system\"}}\n{{> persona tone=tone}}\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nok\n{{role \"model\"}}\npositive\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{#if tone}}Tone: {{tone}}{{/if}}\n{{text}}\n";

/// `source` with `$0` inserted `within` bytes into the first `needle`.
fn cursor_in(source: &str, needle: &str, within: usize) -> String {
    let at = source
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {source:?}"))
        + within;
    format!("{}$0{}", &source[..at], &source[at..])
}

fn cursor_at(needle: &str, within: usize) -> String {
    cursor_in(PROMPT, needle, within)
}

// ---- rendering the features' output as text ----

/// 1-based line and character column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    format!("{line}:{}", before[start..].chars().count() + 1)
}

/// A span as `line:col-line:col` and the text under it (escaped and shortened when it
/// is long or spans lines).
fn at(text: &str, span: Span) -> String {
    let under = &text[span.start..span.end];
    let chars: Vec<char> = under.chars().collect();
    let quoted = if chars.len() <= 40 && !under.contains(['\n', '\r', '`']) {
        format!("`{under}`")
    } else if chars.len() <= 40 {
        format!("{under:?}")
    } else {
        let head: String = chars[..20].iter().collect();
        let tail: String = chars[chars.len() - 12..].iter().collect();
        format!("{head:?}…{tail:?}")
    };
    format!(
        "{}-{} {quoted}",
        line_col(text, span.start),
        line_col(text, span.end)
    )
}

/// The hover at the cursor: the span it is about, then its markdown.
fn show_hover(source: &str) -> String {
    with_cursor(source, |input, offset| match hover(input, offset) {
        Some(h) => format!(
            "{}\n{}\n",
            at(input.source(), h.span),
            h.markdown.trim_end()
        ),
        None => "(no hover)\n".into(),
    })
}

/// The hovers at `needle`+`within` cursors of `source`, each under a `## ` header.
fn show_hovers(source: &str, cursors: &[(&str, usize)]) -> String {
    let mut out = String::new();
    for (needle, within) in cursors {
        writeln!(out, "## {needle:?}+{within}").unwrap();
        out.push_str(&show_hover(&cursor_in(source, needle, *within)));
    }
    out
}

/// The completions at the cursor, one a line: label, kind, detail, and the inserted
/// text when it is not the label; the range they replace first (documentation is left
/// out).
fn show_completions(source: &str) -> String {
    with_cursor(source, |input, offset| {
        render_completions(input, completions(input, offset))
    })
}

fn render_completions(input: &CheckInput, items: Vec<CompletionItem>) -> String {
    let Some(first) = items.first() else {
        return "(no completions)\n".into();
    };
    let mut out = String::new();
    let same = items.iter().all(|i| i.replace == first.replace);
    if same {
        writeln!(out, "replaces {}", at(input.source(), first.replace)).unwrap();
    }
    for i in &items {
        write!(out, "{} ({:?})", i.label, i.kind).unwrap();
        if let Some(d) = &i.detail {
            write!(out, " {d}").unwrap();
        }
        if i.is_snippet {
            write!(out, " snippet {:?}", i.insert_text).unwrap();
        } else if i.insert_text != i.label {
            write!(out, " inserts {:?}", i.insert_text).unwrap();
        }
        if !same {
            write!(out, " replaces {}", at(input.source(), i.replace)).unwrap();
        }
        out.push('\n');
    }
    out
}

/// The definition at the cursor: the file, and the span in it with its text.
fn show_definition(source: &str, extra: &[(&str, &str)]) -> String {
    analyze(source, PATH, extra, |input, offset| {
        let offset = offset.expect("a $0 cursor");
        let Some(location) = definition(input, offset) else {
            return "(no definition)\n".into();
        };
        let mut out = location.path.display().to_string();
        if let Some(span) = location.span {
            let target = if location.path == Path::new(PATH) {
                input.source().to_string()
            } else {
                files(extra).read_to_string(&location.path).unwrap()
            };
            write!(out, " {}", at(&target, span)).unwrap();
        }
        out.push('\n');
        out
    })
}

/// The outline as an indented tree (name, kind, detail, the whole span and the
/// selection), then the folds. Checks on the way that every selection is inside its
/// symbol and every child inside its parent.
fn show_outline(source: &str) -> String {
    whole(source, |input| {
        fn walk(s: &Symbol, text: &str, depth: usize, out: &mut String) {
            assert!(
                s.span.start <= s.selection.start
                    && s.selection.end <= s.span.end
                    && s.span.end <= text.len(),
                "{s:?}"
            );
            write!(out, "{}{} ({:?})", "  ".repeat(depth), s.name, s.kind).unwrap();
            if let Some(d) = &s.detail {
                write!(out, " {d:?}").unwrap();
            }
            writeln!(
                out,
                " {} selects {}",
                at(text, s.span),
                at(text, s.selection)
            )
            .unwrap();
            for c in &s.children {
                assert!(
                    s.span.start <= c.span.start && c.span.end <= s.span.end,
                    "{c:?} in {s:?}"
                );
                walk(c, text, depth + 1, out);
            }
        }
        let mut out = String::new();
        for s in symbols(input) {
            walk(&s, input.source(), 0, &mut out);
        }
        for f in folds(input) {
            writeln!(out, "fold {:?} {}", f.kind, at(input.source(), f.span)).unwrap();
        }
        out
    })
}

/// The semantic tokens, one a line.
fn show_tokens(source: &str) -> String {
    whole(source, |input| {
        semantic_tokens(input)
            .iter()
            .map(|t| format!("{:?} {}\n", t.kind, at(input.source(), t.span)))
            .collect()
    })
}

/// Applies an action's edits to the checked file.
fn apply(source: &str, action: &Action) -> String {
    let mut edits: Vec<(Span, String)> = action
        .changes
        .iter()
        .filter_map(|c| match c {
            FileChange::Edit { span, new_text, .. } => Some((*span, new_text.clone())),
            FileChange::Create { .. } => None,
        })
        .collect();
    edits.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
    let mut out = source.to_string();
    for (span, text) in edits {
        out.replace_range(span.start..span.end, &text);
    }
    out
}

/// An action: its title, code, whether preferred, and its changes.
fn render_action(source: &str, a: &Action) -> String {
    let mut out = format!(
        "{:?} for {} at {}{}\n",
        a.title,
        a.code,
        at(source, a.diagnostic_span),
        if a.preferred { " (preferred)" } else { "" }
    );
    for c in &a.changes {
        match c {
            FileChange::Edit {
                path,
                span,
                new_text,
            } => writeln!(
                out,
                "  edit {} {} → {new_text:?}",
                path.display(),
                at(source, *span)
            ),
            FileChange::Create { path, contents } => {
                writeln!(out, "  create {} {contents:?}", path.display())
            }
        }
        .unwrap();
    }
    out
}

/// The code actions for the diagnostics at `range` of `source` (checked first).
fn show_actions(source: &str, range: Span) -> String {
    whole(source, |input| {
        let diagnostics = check::check_parsed(input);
        let actions = code_actions(input, &diagnostics, range);
        if actions.is_empty() {
            return "(no actions)\n".into();
        }
        actions.iter().map(|a| render_action(source, a)).collect()
    })
}

/// Applies the action titled `title` for the diagnostic `code` of `source`: shows the
/// action and the file after it, and checks that the diagnostic is gone.
fn fix(source: &str, code: &str, title: &str) -> String {
    let (action, fixed) = whole(source, |input| {
        let diagnostics = check::check_parsed(input);
        let d = diagnostics
            .iter()
            .find(|d| d.code == code)
            .unwrap_or_else(|| panic!("no {code} in {diagnostics:?}"));
        let actions = code_actions(input, &diagnostics, d.span);
        let action = actions
            .iter()
            .find(|a| a.title == title && a.code == code)
            .unwrap_or_else(|| panic!("no action {title:?} in {actions:?}"))
            .clone();
        assert_eq!(action.diagnostic_span, d.span);
        let fixed = apply(source, &action);
        (render_action(source, &action), fixed)
    });
    let after = whole(&fixed, check::check_parsed);
    assert!(
        !after.iter().any(|d| d.code == code),
        "{code} still there after {title:?}:\n{fixed}\n{after:?}"
    );
    format!("{action}after:\n{fixed}")
}
