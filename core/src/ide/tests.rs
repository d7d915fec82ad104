//! Editor features over whole files, with `$0` marking the cursor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::check::{self, Workspace};
use crate::syntax;

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

fn files() -> Files {
    let mut f = Files::default();
    f.0.insert("/w/_persona.prompt".into(), "You are {{tone}}.".into());
    f.0.insert(
        "/w/data.csv".into(),
        "text,label\nGreat phone,positive\n".into(),
    );
    f
}

/// Runs `f` on `source` with `$0` removed, giving the cursor's byte offset.
fn with_cursor<T>(source: &str, f: impl FnOnce(&CheckInput, usize) -> T) -> T {
    let offset = source.find("$0").expect("a $0 cursor");
    let text = source.replacen("$0", "", 1);
    let parsed = syntax::parse(&text);
    let files = files();
    let input = CheckInput {
        source: &text,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    f(&input, offset)
}

const PROMPT: &str = "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string, the review\n    tone?: string\noutput:\n  format: text\npromptls.dataset: data.csv\npromptls.metric: exact_match\n---\n{{role \"system\"}}\n{{> persona tone=tone}}\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nok\n{{role \"model\"}}\npositive\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{#if tone}}Tone: {{tone}}{{/if}}\n{{text}}\n";

fn cursor_at(needle: &str, within: usize) -> String {
    let at = PROMPT
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in PROMPT"))
        + within;
    format!("{}$0{}", &PROMPT[..at], &PROMPT[at..])
}

#[test]
fn hovers() {
    let hover_at = |needle: &str, within: usize| {
        with_cursor(&cursor_at(needle, within), |input, offset| {
            hover(input, offset)
        })
        .map(|h| h.markdown)
        .unwrap_or_default()
    };
    assert!(hover_at("model:", 1).contains("provider/model"));
    let model = hover_at("openai/gpt-4o-mini", 3);
    assert!(
        model.contains("OpenAI") && model.contains("128,000") && model.contains("$0.15"),
        "{model}"
    );
    let variable = hover_at("{{text}}", 3);
    assert!(
        variable.contains("string")
            && variable.contains("the review")
            && variable.contains("Great phone"),
        "{variable}"
    );
    assert!(hover_at("#if", 2).contains("truthy"));
    let partial = hover_at("> persona", 3);
    assert!(partial.contains("You are {{tone}}."), "{partial}");
    assert!(hover_at("exact_match", 2).contains("equals the target"));
    assert!(hover_at("promptls.dataset", 10).contains("CSV"));
    assert!(hover_at("data.csv", 2).contains("1 rows"));
    assert!(hover_at("format:", 1).contains("`output.format`"));
    assert!(hover_at("\"system\"", 2).contains("role `system`"));
    // Nothing at plain text.
    assert_eq!(hover_at("positive\n{{!--", 2), "");
}

fn labels(source: &str) -> Vec<String> {
    with_cursor(source, completions)
        .into_iter()
        .map(|c| c.label)
        .collect()
}

#[test]
fn completes_by_context() {
    // Keys already written are not offered again; the one being typed is.
    let next = labels("---\nmodel: a/b\ninput:\n  schema:\n    x: string\n$0\n---\nHi");
    assert!(
        !next.contains(&"model".to_string()) && !next.contains(&"input".to_string()),
        "{next:?}"
    );
    assert!(
        next.contains(&"output".to_string()) && next.contains(&"config".to_string()),
        "{next:?}"
    );
    assert!(!labels("---\nmodel: a/b\nmod$0\n---\n").contains(&"model".to_string()));
    // The key on the cursor's own line does not count as written.
    assert!(labels("---\nmodel$0: a/b\n---\n").contains(&"model".to_string()));
    let keys = labels("---\nmod$0\n---\nHi");
    assert!(
        keys.contains(&"model".to_string()) && keys.contains(&"promptls.metric".to_string()),
        "{keys:?}"
    );
    // Unterminated frontmatter, half a key.
    assert!(labels("---\npromptls.me$0").contains(&"promptls.metric".to_string()));
    let nested = labels("---\noutput:\n  fo$0\n---\n");
    assert!(
        nested.contains(&"format".to_string()) && !nested.contains(&"model".to_string()),
        "{nested:?}"
    );
    assert!(labels("---\noutput:\n  format: js$0\n---\n").contains(&"json".to_string()));
    assert!(labels("---\nmodel: gr$0\n---\n").contains(&"groq/llama-3.1-8b-instant".to_string()));
    assert!(labels("---\npromptls.metric: $0\n---\n").contains(&"rougeLsum".to_string()));
    assert!(labels("---\npromptls.optimizer: {name: mi$0}\n---\n").contains(&"mipro".to_string()));
    assert!(
        labels("---\npromptls.optimizer: {name: mipro, tri$0}\n---\n")
            .contains(&"trials".to_string())
    );
    assert!(labels("---\npromptls.optimizer: $0\n---\n").contains(&"gepa".to_string()));
    let target = labels("---\npromptls.dataset: data.csv\npromptls.target: $0\n---\n");
    assert_eq!(target, vec!["text", "label"]);

    let in_template = labels(&cursor_at("{{text}}", 2));
    assert!(
        in_template.contains(&"text".to_string()) && in_template.contains(&"tone".to_string()),
        "{in_template:?}"
    );
    assert!(in_template.contains(&"role".to_string()));
    assert_eq!(
        labels("{{role \"us$0"),
        vec!["system", "user", "model", "tool"]
    );
    let blocks = labels("Hi {{#e$0");
    assert!(
        blocks.contains(&"each".to_string()) && !blocks.contains(&"role".to_string()),
        "{blocks:?}"
    );
    // Not inside a mustache: nothing.
    assert!(labels("Hello wor$0ld").is_empty());
}

#[test]
fn completion_replaces_the_word_typed() {
    with_cursor(
        "---\ninput:\n  schema:\n    name: string\n---\nHi {{na$0",
        |input, offset| {
            let items = completions(input, offset);
            let name = items.iter().find(|i| i.label == "name").expect("name");
            assert_eq!(&input.source[name.replace.start..name.replace.end], "na");
        },
    );
    with_cursor("Hi {{#if$0", |input, offset| {
        let items = completions(input, offset);
        let item = items.iter().find(|i| i.label == "if").expect("if");
        assert!(item.is_snippet);
        assert!(
            item.insert_text.starts_with("if ${1:value}}}")
                && item.insert_text.ends_with("{{/if}}"),
            "{}",
            item.insert_text
        );
    });
}

#[test]
fn definitions() {
    let at = |needle: &str, within: usize| {
        with_cursor(&cursor_at(needle, within), |input, offset| {
            definition(input, offset)
        })
    };
    assert_eq!(
        at("> persona", 4).unwrap().path,
        PathBuf::from("/w/_persona.prompt")
    );
    assert_eq!(
        at("data.csv", 1).unwrap().path,
        PathBuf::from("/w/data.csv")
    );
    let variable = at("{{text}}", 3).unwrap();
    let span = variable.span.unwrap();
    assert_eq!(&PROMPT[span.start..span.end], "text");
    assert!(at("positive\n{{!--", 1).is_none());
}

#[test]
fn outline_and_folds() {
    with_cursor(&format!("$0{PROMPT}"), |input, _| {
        let symbols = symbols(input);
        let names: Vec<&str> = symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["frontmatter", "system", "user"]);
        let system = &symbols[1];
        let children: Vec<&str> = system.children.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(children, vec!["> persona", "demos"]);
        for s in &symbols {
            assert!(s.span.start <= s.selection.start && s.selection.end <= s.span.end);
            for c in &s.children {
                assert!(
                    s.span.start <= c.span.start && c.span.end <= s.span.end,
                    "{c:?} in {s:?}"
                );
            }
        }
        let kinds: Vec<FoldKind> = folds(input).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![FoldKind::Frontmatter, FoldKind::Demos]);
    });
}

#[test]
fn links_and_dependencies() {
    with_cursor(&format!("$0{PROMPT}"), |input, _| {
        let targets: Vec<PathBuf> = links(input).into_iter().map(|l| l.target).collect();
        assert_eq!(
            targets,
            vec![
                PathBuf::from("/w/data.csv"),
                PathBuf::from("/w/_persona.prompt")
            ]
        );
        assert_eq!(
            dependencies(input),
            vec![
                PathBuf::from("/w/_persona.prompt"),
                PathBuf::from("/w/data.csv")
            ]
        );
    });
    // A variant depends on its base; a missing partial is still a dependency.
    let text = "Hi {{> missing}}";
    let parsed = syntax::parse(text);
    let files = files();
    let input = CheckInput {
        source: text,
        path: Some(Path::new("/w/p.short.prompt")),
        parsed: &parsed,
        workspace: &files,
    };
    assert_eq!(
        dependencies(&input),
        vec![
            PathBuf::from("/w/_missing.prompt"),
            PathBuf::from("/w/p.prompt")
        ]
    );
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

fn fix(source: &str, code: &str, title_has: &str) -> String {
    let parsed = syntax::parse(source);
    let files = files();
    let input = CheckInput {
        source,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let diagnostics = check::check_parsed(&input);
    let d = diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {diagnostics:?}"));
    let actions = code_actions(&input, &diagnostics, d.span);
    let action = actions
        .iter()
        .find(|a| a.title.contains(title_has) && a.code == code)
        .unwrap_or_else(|| panic!("no action with {title_has:?} in {actions:?}"));
    assert_eq!(action.diagnostic_span, d.span);
    let fixed = apply(source, action);
    let after = check::check(&fixed, Some(Path::new(PATH)), &files);
    assert!(
        !after.iter().any(|d| d.code == code),
        "{code} still there after {:?}:\n{fixed}\n{after:?}",
        action.title
    );
    fixed
}

#[test]
fn quick_fixes_resolve_their_diagnostics() {
    let declared = fix(
        "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n",
        "undeclared-variable",
        "Declare `tone`",
    );
    assert!(
        declared.contains("    text: string\n    tone: string\n"),
        "{declared}"
    );
    // The last entry without a trailing line break, and a nested entry.
    fix(
        "---\ninput:\n  schema:\n    tags(array):\n      - string\n---\n{{tags}} {{x}}",
        "undeclared-variable",
        "Declare `x`",
    );
    let removed = fix(
        "---\ninput:\n  schema:\n    text: string\n    unused?: integer\n---\n{{text}}\n",
        "unused-variable",
        "Remove unused input `unused`",
    );
    assert_eq!(
        removed,
        "---\ninput:\n  schema:\n    text: string\n---\n{{text}}\n"
    );
    fix("---\nmodle: a/b\n---\nHi", "unknown-key", "`model`");
}

#[test]
fn creates_a_missing_partial() {
    let source = "Hi {{> sig}}";
    let parsed = syntax::parse(source);
    let files = files();
    let input = CheckInput {
        source,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let diagnostics = check::check_parsed(&input);
    let actions = code_actions(&input, &diagnostics, Span::empty(8));
    let create = actions
        .iter()
        .find(|a| a.code == "missing-partial")
        .expect("an action");
    match &create.changes[..] {
        [FileChange::Create { path, contents }] => {
            assert_eq!(path, &PathBuf::from("/w/_sig.prompt"));
            let mut with_partial = files;
            with_partial.0.insert(path.clone(), contents.clone());
            let after = check::check(source, Some(Path::new(PATH)), &with_partial);
            assert!(after.is_empty(), "{after:?}");
            assert!(check::check(contents, Some(path), &with_partial).is_empty());
        }
        other => panic!("{other:?}"),
    }
}

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
        with_cursor(&format!("$0{source}"), |input, _| {
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
    with_cursor(&format!("$0{PROMPT}"), |input, _| {
        let tokens = semantic_tokens(input);
        let text_of = |kind: TokenKind| -> Vec<&str> {
            tokens
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| &PROMPT[t.span.start..t.span.end])
                .collect()
        };
        assert!(text_of(TokenKind::Key).contains(&"model"));
        assert!(text_of(TokenKind::Role).contains(&"\"system\""));
        assert!(text_of(TokenKind::Partial).contains(&"persona"));
        assert!(text_of(TokenKind::Variable).contains(&"text"));
        assert!(text_of(TokenKind::Helper).contains(&"if"));
        assert_eq!(text_of(TokenKind::Demos).len(), 2);
    });
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
        let parsed = syntax::parse(source);
        let files = files();
        let input = CheckInput {
            source,
            path: Some(Path::new(PATH)),
            parsed: &parsed,
            workspace: &files,
        };
        let diagnostics = check::check_parsed(&input);
        for offset in 0..=source.len() + 2 {
            let _ = hover(&input, offset);
            let _ = completions(&input, offset);
            let _ = definition(&input, offset);
            let _ = code_actions(&input, &diagnostics, Span::empty(offset.min(source.len())));
        }
        let _ = (folds(&input), links(&input), dependencies(&input));
        // Every fix applies: its spans are in the file, on character boundaries.
        for action in code_actions(&input, &diagnostics, Span::new(0, source.len())) {
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
        for s in symbols(&input) {
            nested(&s, source);
        }
        let tokens = semantic_tokens(&input);
        assert!(tokens.windows(2).all(|p| p[0].span.end <= p[1].span.start));
    }
}

#[test]
fn picoschema_types_complete_in_schemas() {
    let types = labels("---\ninput:\n  schema:\n    text: str$0\n---\n{{text}}");
    assert!(
        types.contains(&"string".to_string()) && types.contains(&"any".to_string()),
        "{types:?}"
    );
    let nested = labels("---\noutput:\n  schema:\n    who(object):\n      name: $0\n---\n");
    assert!(nested.contains(&"integer".to_string()), "{nested:?}");
    // JSON Schema: types after `type:` only.
    let json = labels("---\ninput:\n  schema:\n    properties:\n      a:\n        type: $0\n---\n");
    assert!(json.contains(&"object".to_string()), "{json:?}");
    assert!(labels("---\ninput:\n  schema:\n    properties:\n      a: $0\n---\n").is_empty());
    // Not in other sections.
    assert!(!labels("---\nconfig:\n  temperature: $0\n---\n").contains(&"string".to_string()));
}

#[test]
fn frontmatter_after_leading_comments() {
    let source = "# a comment\n\n---\nmodel: a/b # which model\nmod$0\n---\nHi";
    let keys = labels(source);
    assert!(keys.contains(&"config".to_string()), "{keys:?}");
    with_cursor(source, |input, _| {
        let text = input.source;
        let tokens = semantic_tokens(input);
        let of = |kind: TokenKind| -> Vec<&str> {
            tokens
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| &text[t.span.start..t.span.end])
                .collect()
        };
        assert_eq!(of(TokenKind::Delimiter), vec!["---", "---"]);
        assert_eq!(of(TokenKind::Comment), vec!["# a comment", "# which model"]);
        let symbols = symbols(input);
        let fm = &symbols[0];
        assert_eq!(&text[fm.selection.start..fm.selection.end], "---");
        assert_eq!(fm.span.start, text.find("---").unwrap());
    });
    // `#` inside quotes or a word is no comment.
    with_cursor("$0---\na: \"x # y\"\nb: c#d\n---\n", |input, _| {
        assert!(!semantic_tokens(input)
            .iter()
            .any(|t| t.kind == TokenKind::Comment));
    });
}

#[test]
fn a_large_dataset_is_read_from_its_head() {
    let mut csv = String::from("text,label\n\"Très bien, merci\",positive\n");
    for i in 0..20_000 {
        csv.push_str(&format!("row é {i},negative\n"));
    }
    let source = "---\ninput:\n  schema:\n    text: string\npromptls.dataset: big.csv\npromptls.target: $0\n---\n{{text}}";
    let offset = source.find("$0").unwrap();
    let text = source.replacen("$0", "", 1);
    let parsed = syntax::parse(&text);
    let mut files = files();
    files.0.insert("/w/big.csv".into(), csv);
    let input = CheckInput {
        source: &text,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let columns: Vec<String> = completions(&input, offset)
        .into_iter()
        .map(|c| c.label)
        .collect();
    assert_eq!(columns, vec!["text", "label"]);
    let hover = hover(&input, text.find("{{text").unwrap() + 3).unwrap();
    assert!(
        hover.markdown.contains("Très bien, merci"),
        "{}",
        hover.markdown
    );
    let (_, head) = facts::dataset_head(&input).unwrap();
    assert!(head.rows.len() < 20_000, "{}", head.rows.len());
}

#[test]
fn frontmatter_symbols_show_short_values() {
    let source = "$0---\nmodel: a/b\nconfig: {temperature: 0}\ninput:\n  schema:\n    x: string\nempty:\n---\n{{x}}";
    with_cursor(source, |input, _| {
        let symbols = symbols(input);
        let details: Vec<(&str, Option<&str>)> = symbols[0]
            .children
            .iter()
            .map(|c| (c.name.as_str(), c.detail.as_deref()))
            .collect();
        assert_eq!(
            details,
            vec![
                ("model", Some("a/b")),
                ("config", Some("{temperature: 0}")),
                ("input", None),
                ("empty", None)
            ]
        );
    });
    // Broken YAML: the frontmatter symbol and fold remain.
    with_cursor("$0---\na: [\n---\nHi", |input, _| {
        assert_eq!(symbols(input)[0].kind, SymbolKind::Frontmatter);
        assert_eq!(folds(input)[0].kind, FoldKind::Frontmatter);
    });
}

/// Declares the variable `{{x}}` through the quick fix, whatever shape the schema (or
/// its absence) has; the result declares `x` and parses cleanly.
fn declare_x(source: &str) -> String {
    let parsed = syntax::parse(source);
    let files = files();
    let input = CheckInput {
        source,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let at = source.rfind("{{x}}").expect("{{x}}") + 2;
    let d = check::Diagnostic::warning("undeclared-variable", Span::new(at, at + 1), "x");
    let actions = code_actions(&input, std::slice::from_ref(&d), Span::empty(at));
    let action = actions
        .iter()
        .find(|a| a.title == "Declare `x` in input.schema")
        .unwrap_or_else(|| panic!("no action in {actions:?} for {source:?}"));
    let fixed = apply(source, action);
    let parsed = syntax::parse(&fixed);
    assert!(parsed.errors.is_empty(), "{:?}\n{fixed}", parsed.errors);
    let input = CheckInput {
        source: &fixed,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let schemas = facts::schemas(&input);
    assert!(
        schemas.input_fields().is_some_and(|f| f.contains(&"x")),
        "{fixed}\n{schemas:?}"
    );
    assert!(
        !check::check(&fixed, Some(Path::new(PATH)), &files)
            .iter()
            .any(|d| d.code == "undeclared-variable"),
        "{fixed}"
    );
    fixed
}

#[test]
fn declaring_a_variable_creates_what_is_missing() {
    assert_eq!(
        declare_x("Hi {{x}}"),
        "---\ninput:\n  schema:\n    x: string\n---\nHi {{x}}"
    );
    assert_eq!(
        declare_x("---\nmodel: a/b\n---\nHi {{x}}"),
        "---\nmodel: a/b\ninput:\n  schema:\n    x: string\n---\nHi {{x}}"
    );
    assert_eq!(
        declare_x("---\ninput:\n  default:\n    x: hi\n---\n{{x}}"),
        "---\ninput:\n  default:\n    x: hi\n  schema:\n    x: string\n---\n{{x}}"
    );
    assert_eq!(
        declare_x("---\ninput:\nmodel: a/b\n---\n{{x}}"),
        "---\ninput:\n  schema:\n    x: string\nmodel: a/b\n---\n{{x}}"
    );
    assert_eq!(
        declare_x("---\ninput:\n  schema:\nmodel: a/b\n---\n{{x}}"),
        "---\ninput:\n  schema:\n    x: string\nmodel: a/b\n---\n{{x}}"
    );
    assert_eq!(
        declare_x("---\ninput:\n  schema: {a: string}\n---\n{{a}} {{x}}"),
        "---\ninput:\n  schema: {a: string, x: string}\n---\n{{a}} {{x}}"
    );
    assert_eq!(
        declare_x("---\ninput:\n  schema: {}\n---\n{{x}}"),
        "---\ninput:\n  schema: {x: string}\n---\n{{x}}"
    );
    assert_eq!(
        declare_x("---\ninput: {default: {x: 1}}\n---\n{{x}}"),
        "---\ninput: {default: {x: 1}, schema: {x: string}}\n---\n{{x}}"
    );
    assert_eq!(
        declare_x(
            "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: string}\n---\n{{a}} {{x}}"
        ),
        "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: string}\n      x: {type: string}\n---\n{{a}} {{x}}"
    );
    // CRLF and a schema as the last key.
    let crlf = declare_x("---\r\ninput:\r\n  schema:\r\n    a: string\r\n---\r\n{{a}} {{x}}");
    assert!(crlf.contains("    x: string"), "{crlf}");
}

#[test]
fn code_actions_only_for_diagnostics_at_the_range() {
    let source = "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n";
    let parsed = syntax::parse(source);
    let files = files();
    let input = CheckInput {
        source,
        path: Some(Path::new(PATH)),
        parsed: &parsed,
        workspace: &files,
    };
    let diagnostics = check::check_parsed(&input);
    let tone = source.find("tone").unwrap();
    let count = |range: Span| code_actions(&input, &diagnostics, range).len();
    assert_eq!(count(Span::empty(tone)), 1);
    assert_eq!(count(Span::empty(tone + 4)), 1);
    assert_eq!(count(Span::new(tone + 1, tone + 2)), 1);
    // A selection ending where the diagnostic starts does not intersect it.
    assert_eq!(count(Span::new(tone - 3, tone)), 0);
    assert_eq!(count(Span::empty(0)), 0);
}

#[test]
fn schema_fields_hover_at_any_depth() {
    let source = "---\ninput:\n  schema:\n    who(object):\n      name: string, full name\n    tags?(array): string\noutput:\n  format: json\n  schema:\n    phone?: string, as written\n    people(array):\n      age: integer\n---\n{{who.name}} {{tags}}";
    let hover_on = |needle: &str| {
        let at = source.find(needle).unwrap() + 1;
        with_cursor(
            &format!("{}$0{}", &source[..at], &source[at..]),
            |input, offset| hover(input, offset).map(|h| h.markdown).unwrap_or_default(),
        )
    };
    let phone = hover_on("phone?");
    assert!(
        phone.contains("output field `phone`: string (optional)") && phone.contains("as written"),
        "{phone}"
    );
    let age = hover_on("age:");
    assert!(age.contains("`people.age`: integer"), "{age}");
    let name = hover_on("name: string");
    assert!(
        name.contains("`who.name`: string") && name.contains("full name"),
        "{name}"
    );
    let tags = hover_on("tags?");
    assert!(
        tags.contains("input `tags`: array of string (optional)"),
        "{tags}"
    );
    let json = "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: integer, description: count}\n---\n{{a}}";
    let at = json.find("a: {").unwrap();
    let a = with_cursor(
        &format!("{}$0{}", &json[..at], &json[at..]),
        |input, offset| hover(input, offset).map(|h| h.markdown).unwrap_or_default(),
    );
    assert!(a.contains("`a`: integer") && a.contains("count"), "{a}");
}

#[test]
fn definitions_in_the_dataset() {
    let mut files = files();
    files.0.insert(
        "/w/q.csv".into(),
        "\u{feff}id, \"the text\",label\r\n1,a,b\n".into(),
    );
    files.0.insert(
        "/w/r.jsonl".into(),
        "\n{\"id\": 1, \"question\": \"é?\", \"label\": \"x\"}\n".into(),
    );
    let at = |source: &str, dataset: &str| {
        let offset = source.find("$0").unwrap();
        let text = source.replacen("$0", "", 1);
        let parsed = syntax::parse(&text);
        let input = CheckInput {
            source: &text,
            path: Some(Path::new(PATH)),
            parsed: &parsed,
            workspace: &files,
        };
        let location = definition(&input, offset)?;
        assert_eq!(location.path, PathBuf::from(dataset));
        let file = &files.0[&location.path];
        Some(location.span.map(|s| file[s.start..s.end].to_string()))
    };
    assert_eq!(
        at(
            "---\npromptls.dataset: q.csv\npromptls.target: lab$0el\n---\n",
            "/w/q.csv"
        ),
        Some(Some("label".into()))
    );
    assert_eq!(
        at(
            "---\npromptls.dataset: q.csv\npromptls.target: the text$0\n---\n",
            "/w/q.csv"
        ),
        Some(Some("the text".into()))
    );
    // Without a schema a variable is a column.
    assert_eq!(
        at(
            "---\npromptls.dataset: r.jsonl\n---\n{{ques$0tion}}",
            "/w/r.jsonl"
        ),
        Some(Some("question".into()))
    );
    assert_eq!(
        at(
            "---\npromptls.dataset: r.jsonl\n---\n{{nope$0}}",
            "/w/r.jsonl"
        ),
        None
    );
    // With a schema, a variable the schema lacks has no definition.
    assert_eq!(
        at("---\ninput:\n  schema:\n    a: string\npromptls.dataset: r.jsonl\n---\n{{a}}{{ques$0tion}}", "/w/r.jsonl"),
        None
    );
}

#[test]
fn completion_inside_each_offers_the_item() {
    let prompt = "---\ninput:\n  schema:\n    title: string\n    people(array):\n      name: string\n      age: integer\n---\n{{title}}\n";
    let inside = labels(&format!("{prompt}{{{{#each people as |p|}}}}\n  {{{{na$0"));
    for expected in [
        "name",
        "age",
        "@index",
        "this",
        "p",
        "@root.title",
        "@root.people",
    ] {
        assert!(
            inside.contains(&expected.to_string()),
            "{expected} in {inside:?}"
        );
    }
    assert!(!inside.contains(&"title".to_string()), "{inside:?}");
    // After the block closes, or in its `{{else}}`, the input again.
    let after = labels(&format!(
        "{prompt}{{{{#each people}}}}{{{{name}}}}{{{{/each}}}} {{{{$0"
    ));
    assert!(
        after.contains(&"title".to_string()) && !after.contains(&"@index".to_string()),
        "{after:?}"
    );
    let otherwise = labels(&format!("{prompt}{{{{#each people}}}}x{{{{else}}}} {{{{$0"));
    assert!(otherwise.contains(&"title".to_string()), "{otherwise:?}");
    // `if` keeps the context.
    let in_if = labels(&format!("{prompt}{{{{#if title}}}} {{{{$0"));
    assert!(
        in_if.contains(&"title".to_string()) && !in_if.contains(&"this".to_string()),
        "{in_if:?}"
    );
}

#[test]
fn hovers_on_data_variables_and_root_paths() {
    let source = "---\ninput:\n  schema:\n    text: string, the review\n    xs(array): string\n---\n{{#each xs}}{{@index}} {{this}} {{@root.text}}{{/each}}";
    let hover_on = |needle: &str, within: usize| {
        let at = source.find(needle).unwrap() + within;
        with_cursor(
            &format!("{}$0{}", &source[..at], &source[at..]),
            |input, offset| hover(input, offset).map(|h| h.markdown).unwrap_or_default(),
        )
    };
    assert!(hover_on("@index", 2).contains("counting from 0"));
    assert!(hover_on("this}}", 1).contains("current context"));
    let root = hover_on("@root.text", 7);
    assert!(
        root.contains("input `text`: string") && root.contains("the review"),
        "{root}"
    );
    let location = with_cursor(
        &format!(
            "{}$0{}",
            &source[..source.find("@root").unwrap() + 7],
            &source[source.find("@root").unwrap() + 7..]
        ),
        definition,
    )
    .unwrap();
    let span = location.span.unwrap();
    assert_eq!(&source[span.start..span.end], "text");
}
