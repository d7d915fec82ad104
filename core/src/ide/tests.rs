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
//! A test file: one snapshot case per editor feature, over the same few prompts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use expect_test::{expect, Expect};

use super::*;
use crate::analysis::Analysis;
use crate::check::{self, Workspace};

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

// ---- the snapshots ----

#[test]
fn hovers() {
    let out = show_hovers(
        PROMPT,
        &[
            ("model:", 1),
            ("openai/gpt-4o-mini", 3),
            ("{{text}}", 3),
            ("#if", 2),
            ("> persona", 3),
            ("exact_match", 2),
            ("promptls.dataset", 10),
            ("data.csv", 2),
            ("format:", 1),
            ("\"system\"", 2),
            // Nothing at plain text.
            ("positive\n{{!--", 2),
        ],
    );
    expect![[r###"
        ## "model:"+1
        2:1-2:6 `model`
        `model`: The model to call, as `provider/model` (e.g. `groq/llama-3.1-8b-instant`, `openai/gpt-4o-mini`, `googleai/gemini-2.0-flash`).
        ## "openai/gpt-4o-mini"+3
        2:8-2:26 `openai/gpt-4o-mini`
        **openai/gpt-4o-mini**

        Provider: OpenAI

        Context window: 128,000 tokens

        List price per million tokens: $0.15 input, $0.6 output
        ## "{{text}}"+3
        22:3-22:7 `text`
        input `text`: string

        the review

        Dataset, first row: `Great phone`
        ## "#if"+2
        21:4-21:6 `if`
        ```handlebars
        {{#if cond}}...{{else}}...{{/if}}
        ```
        Renders the block when `cond` is truthy (JavaScript truthiness; empty arrays are falsy).
        ## "> persona"+3
        13:5-13:12 `persona`
        partial `persona` (/w/_persona.prompt)

        ```handlebars
        You are {{tone}}.
        ```
        ## "exact_match"+2
        10:18-10:29 `exact_match`
        metric `exact_match`: 1 when the answer equals the target (after trimming and normalisation), else 0.
        ## "promptls.dataset"+10
        9:1-9:17 `promptls.dataset`
        `promptls.dataset`: path of a CSV or JSONL file, relative to the prompt.

        Rows are the inputs for evaluation and optimization: CSV with a header row, or JSON Lines. Columns match `input.schema` fields.
        ## "data.csv"+2
        9:19-9:27 `data.csv`
        Dataset `/w/data.csv`: 1 rows; columns `text`, `label`
        ## "format:"+1
        8:3-8:9 `format`
        `output.format`: The answer's format: `text`, `json`, `array`, `enum`, `jsonl` or `media`. With `json`, promptls validates demos (and model outputs) against `output.schema`.
        ## "\"system\""+2
        12:8-12:16 `"system"`
        role `system`: Instructions for the model; sent first.
        ## "positive\n{{!--"+2
        (no hover)
    "###]].assert_eq(&out);
}

#[test]
fn schema_fields_hover_at_any_depth() {
    let source = "---\ninput:\n  schema:\n    who(object):\n      name: string, full name\n    tags?(array): string\noutput:\n  format: json\n  schema:\n    phone?: string, as written\n    people(array):\n      age: integer\n---\n{{who.name}} {{tags}}";
    let out = show_hovers(
        source,
        &[
            ("phone?", 1),
            ("age:", 1),
            ("name: string", 1),
            ("tags?", 1),
        ],
    );
    expect![[r###"
        ## "phone?"+1
        10:5-10:11 `phone?`
        output field `phone`: string (optional)

        as written
        ## "age:"+1
        12:7-12:10 `age`
        output field `people.age`: integer
        ## "name: string"+1
        5:7-5:11 `name`
        input field `who.name`: string

        full name
        ## "tags?"+1
        6:5-6:17 `tags?(array)`
        input `tags`: array of string (optional)
    "###]]
    .assert_eq(&out);
    let json = "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: integer, description: count}\n---\n{{a}}";
    expect![[r###"
        ## "a: {"+0
        6:7-6:8 `a`
        input field `a`: integer (optional)

        count
    "###]]
    .assert_eq(&show_hovers(json, &[("a: {", 0)]));
}

#[test]
fn hovers_on_data_variables_and_root_paths() {
    let source = "---\ninput:\n  schema:\n    text: string, the review\n    xs(array): string\n---\n{{#each xs}}{{@index}} {{this}} {{@root.text}}{{/each}}";
    let out = show_hovers(source, &[("@index", 2), ("this}}", 1), ("@root.text", 7)]);
    expect![[r###"
        ## "@index"+2
        7:15-7:21 `@index`
        `@index`: Inside `{{#each}}`: the item's position, counting from 0.
        ## "this}}"+1
        7:26-7:30 `this`
        `this`: The current context: the prompt's input at the top, the item inside `{{#each}}`, the value inside `{{#with}}`.
        ## "@root.text"+7
        7:35-7:45 `@root.text`
        input `text`: string

        the review
    "###]].assert_eq(&out);
    expect![[r#"
        /w/p.prompt 4:5-4:9 `text`
    "#]]
    .assert_eq(&show_definition(&cursor_in(source, "@root.text", 7), &[]));
}

/// The completions at each cursor, each under a `## ` header with the line typed.
fn completions_at(sources: &[&str]) -> String {
    let mut out = String::new();
    for source in sources {
        let offset = source.find("$0").expect("a $0 cursor");
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..]
            .find('\n')
            .map_or(source.len(), |i| offset + i);
        writeln!(out, "## {:?}", &source[line_start..line_end]).unwrap();
        out.push_str(&show_completions(source));
    }
    out
}

#[test]
fn completes_frontmatter_keys() {
    let out = completions_at(&[
        // Keys already written are not offered again; the one being typed is.
        "---\nmodel: a/b\ninput:\n  schema:\n    x: string\n$0\n---\nHi",
        "---\nmodel: a/b\nmod$0\n---\n",
        // The key on the cursor's own line does not count as written.
        "---\nmodel$0: a/b\n---\n",
        "---\nmod$0\n---\nHi",
        // Unterminated frontmatter, half a key.
        "---\npromptls.me$0",
        "---\noutput:\n  fo$0\n---\n",
    ]);
    expect![[r###"
        ## "$0"
        replaces 6:1-6:1 ``
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "mod$0"
        replaces 3:1-3:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "model$0: a/b"
        replaces 2:1-2:6 `model`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "mod$0"
        replaces 2:1-2:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "promptls.me$0"
        replaces 2:1-2:12 `promptls.me`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "  fo$0"
        replaces 3:3-3:5 `fo`
        format (Key) inserts "format: "
        schema (Key) inserts "schema: "
        jsonSchema (Key) inserts "jsonSchema: "
        constrained (Key) inserts "constrained: "
        contentType (Key) inserts "contentType: "
        instructions (Key) inserts "instructions: "
    "###]].assert_eq(&out);
}

#[test]
fn completes_frontmatter_values() {
    let out = completions_at(&[
        "---\noutput:\n  format: js$0\n---\n",
        "---\npromptls.metric: $0\n---\n",
        "---\npromptls.optimizer: {name: mi$0}\n---\n",
        "---\npromptls.optimizer: {name: mipro, tri$0}\n---\n",
        "---\npromptls.optimizer: $0\n---\n",
        "---\npromptls.dataset: data.csv\npromptls.target: $0\n---\n",
    ]);
    expect![[r###"
        ## "  format: js$0"
        replaces 3:11-3:13 `js`
        text (Value)
        json (Value)
        array (Value)
        enum (Value)
        jsonl (Value)
        media (Value)
        ## "promptls.metric: $0"
        replaces 2:18-2:18 ``
        exact_match (Metric)
        f1 (Metric)
        bleu (Metric)
        chrf (Metric)
        chrf++ (Metric)
        rouge1 (Metric)
        rouge2 (Metric)
        rougeL (Metric)
        rougeLsum (Metric)
        contains (Metric)
        regex (Metric)
        json_match (Metric)
        judge (Metric)
        ## "promptls.optimizer: {name: mi$0}"
        replaces 2:28-2:30 `mi`
        bootstrap (Optimizer)
        random (Optimizer)
        mipro (Optimizer)
        gepa (Optimizer)
        ## "promptls.optimizer: {name: mipro, tri$0}"
        replaces 2:35-2:38 `tri`
        name (Key) inserts "name: "
        trials (Key) inserts "trials: "
        demos (Key) inserts "demos: "
        auto (Key) inserts "auto: "
        seed (Key) inserts "seed: "
        max_bootstrapped_demos (Key) inserts "max_bootstrapped_demos: "
        max_labeled_demos (Key) inserts "max_labeled_demos: "
        minibatch (Key) inserts "minibatch: "
        minibatch_size (Key) inserts "minibatch_size: "
        threshold (Key) inserts "threshold: "
        max_calls (Key) inserts "max_calls: "
        max_cost (Key) inserts "max_cost: "
        ## "promptls.optimizer: $0"
        replaces 2:21-2:21 ``
        bootstrap (Optimizer)
        random (Optimizer)
        mipro (Optimizer)
        gepa (Optimizer)
        ## "promptls.target: $0"
        replaces 3:18-3:18 ``
        text (Column)
        label (Column)
    "###]]
    .assert_eq(&out);
}

#[test]
fn completes_models() {
    // Every model of the catalog; the list is long, so only its size and the ones
    // starting with what is typed.
    with_cursor("---\nmodel: gr$0\n---\n", |input, offset| {
        let items = completions(input, offset);
        let groq: Vec<CompletionItem> = items
            .iter()
            .filter(|i| i.label.starts_with("gr"))
            .cloned()
            .collect();
        let out = format!(
            "{} items, {} starting with `gr`:\n{}",
            items.len(),
            groq.len(),
            render_completions(input, groq)
        );
        expect![[r#"
            16 items, 3 starting with `gr`:
            replaces 2:8-2:10 `gr`
            groq/llama-3.1-8b-instant (Model)
            groq/llama-3.3-70b-versatile (Model)
            groq/gemma2-9b-it (Model)
        "#]]
        .assert_eq(&out);
    });
}

#[test]
fn completes_in_the_template() {
    let out = completions_at(&[
        &cursor_at("{{text}}", 2),
        "{{role \"us$0",
        "Hi {{#e$0",
        // Not inside a mustache: nothing.
        "Hello wor$0ld",
        // The word typed is what the completion replaces.
        "---\ninput:\n  schema:\n    name: string\n---\nHi {{na$0",
        "Hi {{#if$0",
    ]);
    expect![[r###"
        ## "{{$0text}}"
        replaces 22:3-22:3 ``
        text (Variable)
        tone (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{role \"us$0"
        replaces 1:9-1:11 `us`
        system (Role)
        user (Role)
        model (Role)
        tool (Role)
        ## "Hi {{#e$0"
        replaces 1:7-1:8 `e`
        if (Snippet) {{#if cond}}...{{else}}...{{/if}} snippet "if ${1:value}}}\n$0\n{{/if}}"
        unless (Snippet) {{#unless cond}}...{{/unless}} snippet "unless ${1:value}}}\n$0\n{{/unless}}"
        each (Snippet) {{#each items}}...{{/each}} snippet "each ${1:value}}}\n$0\n{{/each}}"
        with (Snippet) {{#with value}}...{{/with}} snippet "with ${1:value}}}\n$0\n{{/with}}"
        ifEquals (Snippet) {{#ifEquals a b}}...{{/ifEquals}} snippet "ifEquals ${1:a} ${2:b}}}\n$0\n{{/ifEquals}}"
        unlessEquals (Snippet) {{#unlessEquals a b}}...{{/unlessEquals}} snippet "unlessEquals ${1:a} ${2:b}}}\n$0\n{{/unlessEquals}}"
        ## "Hello wor$0ld"
        (no completions)
        ## "Hi {{na$0"
        replaces 6:6-6:8 `na`
        name (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "Hi {{#if$0"
        replaces 1:7-1:9 `if`
        if (Snippet) {{#if cond}}...{{else}}...{{/if}} snippet "if ${1:value}}}\n$0\n{{/if}}"
        unless (Snippet) {{#unless cond}}...{{/unless}} snippet "unless ${1:value}}}\n$0\n{{/unless}}"
        each (Snippet) {{#each items}}...{{/each}} snippet "each ${1:value}}}\n$0\n{{/each}}"
        with (Snippet) {{#with value}}...{{/with}} snippet "with ${1:value}}}\n$0\n{{/with}}"
        ifEquals (Snippet) {{#ifEquals a b}}...{{/ifEquals}} snippet "ifEquals ${1:a} ${2:b}}}\n$0\n{{/ifEquals}}"
        unlessEquals (Snippet) {{#unlessEquals a b}}...{{/unlessEquals}} snippet "unlessEquals ${1:a} ${2:b}}}\n$0\n{{/unlessEquals}}"
    "###]].assert_eq(&out);
}

#[test]
fn picoschema_types_complete_in_schemas() {
    let out = completions_at(&[
        "---\ninput:\n  schema:\n    text: str$0\n---\n{{text}}",
        "---\noutput:\n  schema:\n    who(object):\n      name: $0\n---\n",
        // JSON Schema: types after `type:` only.
        "---\ninput:\n  schema:\n    properties:\n      a:\n        type: $0\n---\n",
        "---\ninput:\n  schema:\n    properties:\n      a: $0\n---\n",
        // Not in other sections.
        "---\nconfig:\n  temperature: $0\n---\n",
    ]);
    expect![[r###"
        ## "    text: str$0"
        replaces 4:11-4:14 `str`
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        null (Value)
        any (Value)
        ## "      name: $0"
        replaces 5:13-5:13 ``
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        null (Value)
        any (Value)
        ## "        type: $0"
        replaces 6:15-6:15 ``
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        object (Value)
        array (Value)
        null (Value)
        ## "      a: $0"
        (no completions)
        ## "  temperature: $0"
        (no completions)
    "###]]
    .assert_eq(&out);
}

#[test]
fn completion_inside_each_offers_the_item() {
    let prompt = "---\ninput:\n  schema:\n    title: string\n    people(array):\n      name: string\n      age: integer\n---\n{{title}}\n";
    let out = completions_at(&[
        &format!("{prompt}{{{{#each people as |p|}}}}\n  {{{{na$0"),
        // After the block closes, or in its `{{else}}`, the input again.
        &format!("{prompt}{{{{#each people}}}}{{{{name}}}}{{{{/each}}}} {{{{$0"),
        &format!("{prompt}{{{{#each people}}}}x{{{{else}}}} {{{{$0"),
        // `if` keeps the context.
        &format!("{prompt}{{{{#if title}}}} {{{{$0"),
    ]);
    expect![[r###"
        ## "  {{na$0"
        replaces 11:5-11:7 `na`
        @index (Variable) the item's position, from 0
        @first (Variable) true for the first item
        @last (Variable) true for the last item
        @key (Variable) the key, when iterating an object
        this (Variable) the current `each` item
        name (Variable) field
        age (Variable) field
        p (Variable) `each` block parameter
        @root.title (Variable) the prompt's input
        @root.people (Variable) the prompt's input
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#each people}}{{name}}{{/each}} {{$0"
        replaces 10:37-10:37 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#each people}}x{{else}} {{$0"
        replaces 10:29-10:29 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#if title}} {{$0"
        replaces 10:17-10:17 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
    "###]].assert_eq(&out);
}

#[test]
fn frontmatter_after_leading_comments() {
    let source = "# a comment\n\n---\nmodel: a/b # which model\nmod$0\n---\nHi";
    expect![[r###"
        ## "mod$0"
        replaces 5:1-5:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
    "###]].assert_eq(&completions_at(&[source]));
    let text = source.replacen("$0", "", 1);
    expect![[r#"
        Comment 1:1-1:12 `# a comment`
        Delimiter 3:1-3:4 `---`
        Comment 4:12-4:25 `# which model`
        Delimiter 6:1-6:4 `---`
    "#]]
    .assert_eq(&show_tokens(&text));
    expect![[r#"
        frontmatter (Frontmatter) 3:1-7:1 "---\nmodel: a/b # which model\nmod\n---\n" selects 3:1-3:4 `---`
        fold Frontmatter 3:1-7:1 "---\nmodel: a/b # which model\nmod\n---\n"
    "#]].assert_eq(&show_outline(&text));
    // `#` inside quotes or a word is no comment.
    expect![[r#"
        Delimiter 1:1-1:4 `---`
        Key 2:1-2:2 `a`
        String 2:4-2:11 `"x # y"`
        Key 3:1-3:2 `b`
        String 3:4-3:7 `c#d`
        Delimiter 4:1-4:4 `---`
    "#]]
    .assert_eq(&show_tokens("---\na: \"x # y\"\nb: c#d\n---\n"));
}

#[test]
fn definitions() {
    let out: String = [
        ("> persona", 4),
        ("data.csv", 1),
        ("{{text}}", 3),
        ("positive\n{{!--", 1),
    ]
    .iter()
    .map(|(needle, within)| {
        format!(
            "## {needle:?}+{within}\n{}",
            show_definition(&cursor_at(needle, *within), &[])
        )
    })
    .collect();
    expect![[r###"
        ## "> persona"+4
        /w/_persona.prompt
        ## "data.csv"+1
        /w/data.csv
        ## "{{text}}"+3
        /w/p.prompt 5:5-5:9 `text`
        ## "positive\n{{!--"+1
        (no definition)
    "###]]
    .assert_eq(&out);
}

#[test]
fn definitions_in_the_dataset() {
    let extra = [
        ("/w/q.csv", "\u{feff}id, \"the text\",label\r\n1,a,b\n"),
        (
            "/w/r.jsonl",
            "\n{\"id\": 1, \"question\": \"é?\", \"label\": \"x\"}\n",
        ),
    ];
    let out: String = [
        "---\npromptls.dataset: q.csv\npromptls.target: lab$0el\n---\n",
        "---\npromptls.dataset: q.csv\npromptls.target: the text$0\n---\n",
        // Without a schema a variable is a column.
        "---\npromptls.dataset: r.jsonl\n---\n{{ques$0tion}}",
        "---\npromptls.dataset: r.jsonl\n---\n{{nope$0}}",
        // With a schema, a variable the schema lacks has no definition.
        "---\ninput:\n  schema:\n    a: string\npromptls.dataset: r.jsonl\n---\n{{a}}{{ques$0tion}}",
    ]
    .iter()
    .map(|source| {
        let line = source.lines().find(|l| l.contains("$0")).unwrap();
        format!("## {line:?}\n{}", show_definition(source, &extra))
    })
    .collect();
    expect![[r###"
        ## "promptls.target: lab$0el"
        /w/q.csv 1:17-1:22 `label`
        ## "promptls.target: the text$0"
        /w/q.csv 1:7-1:15 `the text`
        ## "{{ques$0tion}}"
        /w/r.jsonl 2:12-2:20 `question`
        ## "{{nope$0}}"
        (no definition)
        ## "{{a}}{{ques$0tion}}"
        (no definition)
    "###]]
    .assert_eq(&out);
}

#[test]
fn outline_and_folds() {
    expect![[r#"
        frontmatter (Frontmatter) 1:1-12:1 "---\nmodel: openai/gp"…"t_match\n---\n" selects 1:1-1:4 `---`
          model (Key) "openai/gpt-4o-mini" 2:1-2:26 `model: openai/gpt-4o-mini` selects 2:1-2:6 `model`
          input (Key) 3:1-7:1 "input:\n  schema:\n   "…"ne?: string\n" selects 3:1-3:6 `input`
          output (Key) 7:1-9:1 "output:\n  format: text\n" selects 7:1-7:7 `output`
          promptls.dataset (Key) "data.csv" 9:1-9:27 `promptls.dataset: data.csv` selects 9:1-9:17 `promptls.dataset`
          promptls.metric (Key) "exact_match" 10:1-10:29 `promptls.metric: exact_match` selects 10:1-10:16 `promptls.metric`
        system (Role) 12:1-20:1 "{{role \"system\"}}\n{{"…":demos --}}\n" selects 12:1-12:18 `{{role "system"}}`
          > persona (Partial) 13:1-13:24 `{{> persona tone=tone}}` selects 13:5-13:12 `persona`
          demos (Demos) "2 turns" 14:1-19:27 "{{!-- promptls:demos"…"s:demos --}}" selects 14:1-14:26 `{{!-- promptls:demos --}}`
            user (Role) "" 15:1-17:1 "{{role \"user\"}}\nok\n" selects 15:1-15:16 `{{role "user"}}`
            model (Role) "" 17:1-19:1 "{{role \"model\"}}\npositive\n" selects 17:1-17:17 `{{role "model"}}`
        user (Role) 20:1-22:9 "{{role \"user\"}}\n{{#i"…"f}}\n{{text}}" selects 20:1-20:16 `{{role "user"}}`
        fold Frontmatter 1:1-12:1 "---\nmodel: openai/gp"…"t_match\n---\n"
        fold Demos 14:1-19:27 "{{!-- promptls:demos"…"s:demos --}}"
    "#]].assert_eq(&show_outline(PROMPT));
}

#[test]
fn frontmatter_symbols_show_short_values() {
    let source = "---\nmodel: a/b\nconfig: {temperature: 0}\ninput:\n  schema:\n    x: string\nempty:\n---\n{{x}}";
    expect![[r#"
        frontmatter (Frontmatter) 1:1-9:1 "---\nmodel: a/b\nconfi"…"\nempty:\n---\n" selects 1:1-1:4 `---`
          model (Key) "a/b" 2:1-2:11 `model: a/b` selects 2:1-2:6 `model`
          config (Key) "{temperature: 0}" 3:1-3:25 `config: {temperature: 0}` selects 3:1-3:7 `config`
          input (Key) 4:1-7:1 "input:\n  schema:\n    x: string\n" selects 4:1-4:6 `input`
          empty (Key) 7:1-7:6 `empty` selects 7:1-7:6 `empty`
        fold Frontmatter 1:1-9:1 "---\nmodel: a/b\nconfi"…"\nempty:\n---\n"
    "#]].assert_eq(&show_outline(source));
    // Broken YAML: the frontmatter symbol and fold remain.
    expect![[r#"
        frontmatter (Frontmatter) 1:1-4:1 "---\na: [\n---\n" selects 1:1-1:4 `---`
        fold Frontmatter 1:1-4:1 "---\na: [\n---\n"
    "#]]
    .assert_eq(&show_outline("---\na: [\n---\nHi"));
}

#[test]
fn semantic_tokens_of_a_prompt() {
    expect![[r#"
        Delimiter 1:1-1:4 `---`
        Key 2:1-2:6 `model`
        String 2:8-2:26 `openai/gpt-4o-mini`
        Key 3:1-3:6 `input`
        Key 4:3-4:9 `schema`
        Key 5:5-5:9 `text`
        String 5:11-5:29 `string, the review`
        Key 6:5-6:10 `tone?`
        String 6:12-6:18 `string`
        Key 7:1-7:7 `output`
        Key 8:3-8:9 `format`
        String 8:11-8:15 `text`
        Key 9:1-9:17 `promptls.dataset`
        String 9:19-9:27 `data.csv`
        Key 10:1-10:16 `promptls.metric`
        String 10:18-10:29 `exact_match`
        Delimiter 11:1-11:4 `---`
        Delimiter 12:1-12:3 `{{`
        Helper 12:3-12:7 `role`
        Role 12:8-12:16 `"system"`
        Delimiter 12:16-12:18 `}}`
        Delimiter 13:1-13:3 `{{`
        Partial 13:5-13:12 `persona`
        Key 13:13-13:17 `tone`
        Variable 13:18-13:22 `tone`
        Delimiter 13:22-13:24 `}}`
        Demos 14:1-14:26 `{{!-- promptls:demos --}}`
        Delimiter 15:1-15:3 `{{`
        Helper 15:3-15:7 `role`
        Role 15:8-15:14 `"user"`
        Delimiter 15:14-15:16 `}}`
        Delimiter 17:1-17:3 `{{`
        Helper 17:3-17:7 `role`
        Role 17:8-17:15 `"model"`
        Delimiter 17:15-17:17 `}}`
        Demos 19:1-19:27 `{{!-- /promptls:demos --}}`
        Delimiter 20:1-20:3 `{{`
        Helper 20:3-20:7 `role`
        Role 20:8-20:14 `"user"`
        Delimiter 20:14-20:16 `}}`
        Delimiter 21:1-21:3 `{{`
        Helper 21:4-21:6 `if`
        Variable 21:7-21:11 `tone`
        Delimiter 21:11-21:13 `}}`
        Delimiter 21:19-21:21 `{{`
        Variable 21:21-21:25 `tone`
        Delimiter 21:25-21:27 `}}`
        Delimiter 21:27-21:29 `{{`
        Helper 21:30-21:32 `if`
        Delimiter 21:32-21:34 `}}`
        Delimiter 22:1-22:3 `{{`
        Variable 22:3-22:7 `text`
        Delimiter 22:7-22:9 `}}`
    "#]]
    .assert_eq(&show_tokens(PROMPT));
}

#[test]
fn links_and_dependencies() {
    let show = |source: &str, path: &str| {
        analyze(source, path, &[], |input, _| {
            let mut out = String::new();
            for l in links(input) {
                writeln!(
                    out,
                    "link {} → {}",
                    at(input.source(), l.span),
                    l.target.display()
                )
                .unwrap();
            }
            for d in dependencies(input) {
                writeln!(out, "depends on {}", d.display()).unwrap();
            }
            out
        })
    };
    expect![[r#"
        link 9:19-9:27 `data.csv` → /w/data.csv
        link 13:5-13:12 `persona` → /w/_persona.prompt
        depends on /w/_persona.prompt
        depends on /w/data.csv
    "#]]
    .assert_eq(&show(PROMPT, PATH));
    // A variant depends on its base; a missing partial is still a dependency.
    expect![[r#"
        link 1:8-1:15 `missing` → /w/_missing.prompt
        depends on /w/_missing.prompt
        depends on /w/p.prompt
    "#]]
    .assert_eq(&show("Hi {{> missing}}", "/w/p.short.prompt"));
}

#[test]
fn quick_fixes_resolve_their_diagnostics() {
    expect![[r#"
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        after:
        ---
        input:
          schema:
            text: string
            tone: string
        ---
        {{text}} {{tone}}
    "#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n",
        "undeclared-variable",
        "Declare `tone` in input.schema",
    ));
    // The last entry without a trailing line break, and a nested entry.
    expect![[r#"
        "Declare `x` in input.schema" for undeclared-variable at 7:12-7:13 `x` (preferred)
          edit /w/p.prompt 6:1-6:1 `` → "    x: string\n"
        after:
        ---
        input:
          schema:
            tags(array):
              - string
            x: string
        ---
        {{tags}} {{x}}"#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    tags(array):\n      - string\n---\n{{tags}} {{x}}",
        "undeclared-variable",
        "Declare `x` in input.schema",
    ));
    expect![[r#"
        "Remove unused input `unused`" for unused-variable at 5:5-5:12 `unused?` (preferred)
          edit /w/p.prompt 5:1-6:1 "    unused?: integer\n" → ""
        after:
        ---
        input:
          schema:
            text: string
        ---
        {{text}}
    "#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    text: string\n    unused?: integer\n---\n{{text}}\n",
        "unused-variable",
        "Remove unused input `unused`",
    ));
    expect![[r#"
        "Rename to `model`" for unknown-key at 2:1-2:6 `modle` (preferred)
          edit /w/p.prompt 2:1-2:6 `modle` → "model"
        after:
        ---
        model: a/b
        ---
        Hi"#]]
    .assert_eq(&fix(
        "---\nmodle: a/b\n---\nHi",
        "unknown-key",
        "Rename to `model`",
    ));
}

#[test]
fn creates_a_missing_partial() {
    let source = "Hi {{> sig}}";
    expect![[r#"
        "Create partial `_sig.prompt`" for missing-partial at 1:8-1:11 `sig` (preferred)
          create /w/_sig.prompt "{{!-- The partial `sig`, included with {{> sig}}. --}}\n"
    "#]]
    .assert_eq(&show_actions(source, Span::empty(8)));
    // The created file resolves the diagnostic, and is clean itself.
    let created = whole(source, |input| {
        let diagnostics = check::check_parsed(input);
        code_actions(input, &diagnostics, Span::empty(8))
            .into_iter()
            .find(|a| a.code == "missing-partial")
            .expect("an action")
    });
    let [FileChange::Create { path, contents }] = &created.changes[..] else {
        panic!("{created:?}");
    };
    let extra = [(path.to_str().unwrap(), contents.as_str())];
    let after = analyze(source, PATH, &extra, |input, _| check::check_parsed(input));
    assert!(after.is_empty(), "{after:?}");
    let partial = analyze(contents, path.to_str().unwrap(), &extra, |input, _| {
        check::check_parsed(input)
    });
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn code_actions_only_for_diagnostics_at_the_range() {
    let source = "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n";
    let tone = source.find("tone").unwrap();
    let out: String = [
        ("at the start", Span::empty(tone)),
        ("at the end", Span::empty(tone + 4)),
        ("inside", Span::new(tone + 1, tone + 2)),
        // A selection ending where the diagnostic starts does not intersect it.
        ("ending at the start", Span::new(tone - 3, tone)),
        ("elsewhere", Span::empty(0)),
    ]
    .iter()
    .map(|(name, range)| format!("## {name}\n{}", show_actions(source, *range)))
    .collect();
    expect![[r###"
        ## at the start
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## at the end
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## inside
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## ending at the start
        (no actions)
        ## elsewhere
        (no actions)
    "###]]
    .assert_eq(&out);
}

/// Declares the variable `{{x}}` through the quick fix, whatever shape the schema (or
/// its absence) has; the result declares `x`, parses cleanly, and has no
/// `undeclared-variable` left.
fn declare_x(source: &str) -> String {
    let fixed = whole(source, |input| {
        let at = source.rfind("{{x}}").expect("{{x}}") + 2;
        let d = check::Diagnostic::warning("undeclared-variable", Span::new(at, at + 1), "x");
        let actions = code_actions(input, std::slice::from_ref(&d), Span::empty(at));
        let action = actions
            .iter()
            .find(|a| a.title == "Declare `x` in input.schema")
            .unwrap_or_else(|| panic!("no action in {actions:?} for {source:?}"));
        apply(source, action)
    });
    whole(&fixed, |input| {
        assert!(
            input.parsed().errors.is_empty(),
            "{:?}\n{fixed}",
            input.parsed().errors
        );
        let schemas = facts::schemas(input);
        assert!(
            schemas.input_fields().is_some_and(|f| f.contains(&"x")),
            "{fixed}\n{schemas:?}"
        );
        assert!(
            !check::check_parsed(input)
                .iter()
                .any(|d| d.code == "undeclared-variable"),
            "{fixed}"
        );
    });
    fixed
}

#[test]
fn declaring_a_variable_creates_what_is_missing() {
    // A carriage return shows as `\r` (a snapshot cannot hold a bare one).
    let check =
        |source: &str, expect: Expect| expect.assert_eq(&declare_x(source).replace('\r', "\\r"));
    check(
        "Hi {{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        ---
        Hi {{x}}"#]],
    );
    check(
        "---\nmodel: a/b\n---\nHi {{x}}",
        expect![[r#"
        ---
        model: a/b
        input:
          schema:
            x: string
        ---
        Hi {{x}}"#]],
    );
    check(
        "---\ninput:\n  default:\n    x: hi\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          default:
            x: hi
          schema:
            x: string
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\nmodel: a/b\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        model: a/b
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema:\nmodel: a/b\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        model: a/b
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema: {a: string}\n---\n{{a}} {{x}}",
        expect![[r#"
            ---
            input:
              schema: {a: string, x: string}
            ---
            {{a}} {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema: {}\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema: {x: string}
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput: {default: {x: 1}}\n---\n{{x}}",
        expect![[r#"
        ---
        input: {default: {x: 1}, schema: {x: string}}
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: string}\n---\n{{a}} {{x}}",
        expect![[r#"
            ---
            input:
              schema:
                type: object
                properties:
                  a: {type: string}
                  x: {type: string}
            ---
            {{a}} {{x}}"#]],
    );
    // CRLF and a schema as the last key. (The inserted line ends in a bare `\n`, not the
    // file's `\r\n`: reported, not fixed here; a fix shows as a diff of this snapshot.)
    check(
        "---\r\ninput:\r\n  schema:\r\n    a: string\r\n---\r\n{{a}} {{x}}",
        expect![[r#"
            ---\r
            input:\r
              schema:\r
                a: string\r
                x: string
            ---\r
            {{a}} {{x}}"#]],
    );
}

// ---- properties of every input ----

#[test]
fn tokens_are_sorted_and_disjoint_on_every_example_and_broken_input() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut sources: Vec<String> = [
        "sentiment/sentiment.prompt",
        "sentiment/_persona.prompt",
        "extract/extract_contact.prompt",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(examples.join(p)).unwrap())
    .collect();
    sources.extend(
        [
            PROMPT,
            "",
            "---\n",
            "---\na: [\n---\n{{",
            "{{#each x}}{{/if}}",
            "{{> }}",
            "{{role \"user\"}}{{json (lookup a 'b') indent=2}}",
            "é{{~#if a~}}ü{{~/if~}}",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for source in &sources {
        whole(source, |input| {
            let tokens = semantic_tokens(input);
            for pair in tokens.windows(2) {
                assert!(
                    pair[0].span.end <= pair[1].span.start,
                    "{pair:?} in {source:?}"
                );
            }
            for t in &tokens {
                assert!(
                    source.is_char_boundary(t.span.start) && source.is_char_boundary(t.span.end)
                );
            }
        });
    }
}

#[test]
fn nothing_panics_at_any_offset() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut sources: Vec<String> = [
        "sentiment/sentiment.prompt",
        "sentiment/sentiment.concise.prompt",
        "sentiment/_persona.prompt",
        "extract/extract_contact.prompt",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(examples.join(p)).unwrap())
    .collect();
    sources.extend(
        [
            PROMPT,
            "---\nmodel: [\n---\n{{#if",
            "{{",
            "é😀{{> a}}\r\n---",
            "",
            "\u{feff}---\r\nmodel: é\r\n# ü\r\n---\r\n{{#each xs as |x|}}{{x.",
            "# c\n---\ninput:\n  schema: {a: string, b\n---\n{{#with a}}{{#each b}}{{@",
            "---\ninput: ~\n---\n{{role \"",
            "{{!-- é\n\n",
            "---\npromptls.optimizer: {name: \n",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for source in &sources {
        let source = source.as_str();
        assert!(!source.contains("$0"), "a cursor marker in {source:?}");
        whole(source, |input| {
            let diagnostics = check::check_parsed(input);
            for offset in 0..=source.len() + 2 {
                let _ = hover(input, offset);
                let _ = completions(input, offset);
                let _ = definition(input, offset);
                let _ = code_actions(input, &diagnostics, Span::empty(offset.min(source.len())));
            }
            let _ = (folds(input), links(input), dependencies(input));
            // Every fix applies: its spans are in the file, on character boundaries.
            for action in code_actions(input, &diagnostics, Span::new(0, source.len())) {
                for change in &action.changes {
                    if let FileChange::Edit { span, .. } = change {
                        assert!(
                            source.get(span.start..span.end).is_some(),
                            "{action:?} in {source:?}"
                        );
                    }
                }
                let _ = apply(source, &action);
            }
            fn nested(s: &Symbol, source: &str) {
                assert!(
                    s.span.start <= s.selection.start
                        && s.selection.end <= s.span.end
                        && s.span.end <= source.len(),
                    "{s:?} in {source:?}"
                );
                for c in &s.children {
                    assert!(
                        s.span.start <= c.span.start && c.span.end <= s.span.end,
                        "{c:?} in {s:?}"
                    );
                    nested(c, source);
                }
            }
            for s in symbols(input) {
                nested(&s, source);
            }
            let tokens = semantic_tokens(input);
            assert!(tokens.windows(2).all(|p| p[0].span.end <= p[1].span.start));
        });
    }
}

#[test]
fn a_large_dataset_is_read_from_its_head() {
    let mut csv = String::from("text,label\n\"Très bien, merci\",positive\n");
    for i in 0..20_000 {
        csv.push_str(&format!("row é {i},negative\n"));
    }
    let source = "---\ninput:\n  schema:\n    text: string\npromptls.dataset: big.csv\npromptls.target: $0\n---\n{{text}}";
    analyze(source, PATH, &[("/w/big.csv", &csv)], |input, offset| {
        let columns: Vec<String> = completions(input, offset.unwrap())
            .into_iter()
            .map(|c| c.label)
            .collect();
        assert_eq!(columns, vec!["text", "label"]);
        let hover = hover(input, input.source().find("{{text").unwrap() + 3).unwrap();
        assert!(
            hover.markdown.contains("Très bien, merci"),
            "{}",
            hover.markdown
        );
        let (_, head) = facts::dataset_head(input).unwrap();
        assert!(head.rows.len() < 20_000, "{}", head.rows.len());
    });
}
