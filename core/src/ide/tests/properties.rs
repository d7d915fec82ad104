//! Properties that hold on every input: tokens sorted and disjoint, nothing panics at
//! any offset, a large dataset read from its head.

use super::*;

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
