//! Property tests over parse -> check -> render: random mixtures of the constructs that
//! break parsers (fences, mustaches, blocks, comments, YAML, Unicode) never panic, and
//! every diagnostic points inside the file. The long-running coverage-guided fuzzer is
//! `fuzz/` (cargo fuzz); this runs a few hundred cases on every test run.

use promptls_core::check::{self, Workspace};
use promptls_core::render::{DataArgument, Renderer};
use proptest::prelude::*;

struct NoFiles;

impl Workspace for NoFiles {
    fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            path.display().to_string(),
        ))
    }
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("---\n".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{{{".to_string()),
        Just("{{#if x}}".to_string()),
        Just("{{#each items as |i|}}".to_string()),
        Just("{{else}}".to_string()),
        Just("{{/if}}".to_string()),
        Just("{{/each}}".to_string()),
        Just("{{role \"user\"}}".to_string()),
        Just("{{role \"model\"}}".to_string()),
        Just("{{history}}".to_string()),
        Just("{{json a indent=2}}".to_string()),
        Just("{{> self}}".to_string()),
        Just("{{!-- promptls:demos --}}".to_string()),
        Just("{{!-- /promptls:demos --}}".to_string()),
        Just("{{!-- ".to_string()),
        Just("{{#*inline \"self\"}}".to_string()),
        Just("{{/inline}}".to_string()),
        Just("{{#> self}}".to_string()),
        Just("{{/self}}".to_string()),
        Just("{{> @partial-block}}".to_string()),
        Just("{{~{a}~}}".to_string()),
        Just("{{{{raw}}}}".to_string()),
        Just("{{{{/raw}}}}".to_string()),
        Just("{{^a}}".to_string()),
        Just("{{~else if b~}}".to_string()),
        Just("\\{{".to_string()),
        Just("model: x\n".to_string()),
        Just("input:\n  schema:\n    a: string\n".to_string()),
        Just("output: {format: json, schema: {n: integer}}\n".to_string()),
        Just("promptls.dataset: d.csv\n".to_string()),
        Just("- [".to_string()),
        Just("\n".to_string()),
        Just("  ".to_string()),
        Just("é😀\u{FEFF}".to_string()),
        "[a-z{}#/\"'=.@ ~!|()^&>-]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_check_render_never_panic(pieces in prop::collection::vec(piece(), 0..40)) {
        let source: String = pieces.concat();
        let parsed = promptls_core::syntax::parse(&source);
        prop_assert!(parsed.template_span.end <= source.len());
        for d in check::check(&source, None, &NoFiles) {
            prop_assert!(d.span.start <= d.span.end && d.span.end <= source.len(), "{:?}", d);
            prop_assert!(source.is_char_boundary(d.span.start) && source.is_char_boundary(d.span.end), "{:?}", d);
        }
        let mut renderer = Renderer::new();
        let _ = renderer.define_partial("self", "{{> self}}");
        if let Ok(compiled) = renderer.compile(&source) {
            let input = serde_json::json!({"x": true, "a": [1, "b"], "items": [1, 2]});
            let data = DataArgument { input: input.as_object().unwrap().clone(), ..Default::default() };
            let _ = compiled.render(&data, None);
        }
    }
}

/// Pieces of what models answer and what people write in promptls.toml.
fn answer_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("```".to_string()),
        Just("```json\n".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"score\"".to_string()),
        Just("score".to_string()),
        Just(": ".to_string()),
        Just("/".to_string()),
        Just(" out of ".to_string()),
        Just("\"reason\": \"ok\"".to_string()),
        Just(",".to_string()),
        Just("\n".to_string()),
        Just("[providers.x]\n".to_string()),
        Just("rpm = ".to_string()),
        Just("api_key = \"k\"\n".to_string()),
        Just("prices = { \"m\" = { input = 1, output = 2 } }\n".to_string()),
        Just("é".to_string()),
        Just("🙂".to_string()),
        (0u32..2000).prop_map(|n| n.to_string()),
        (0u32..100).prop_map(|n| format!("{}.{}", n / 10, n % 10)),
        "[a-z ]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Whatever a model or a judge answers: no panic, a score in 0..=1, and the JSON
    /// taken out of an answer is a piece of it.
    #[test]
    fn model_answers_are_read_without_panics(pieces in prop::collection::vec(answer_piece(), 0..24)) {
        use promptls_core::eval::{judge, output};
        let answer: String = pieces.concat();
        if let Ok((score, _)) = judge::parse_score(&answer) {
            prop_assert!((0.0..=1.0).contains(&score), "{score} from {answer:?}");
        }
        let inner = output::json_text(&answer);
        prop_assert!(answer.contains(inner));
        let schema = serde_json::json!({"type": "object", "required": ["score"]});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let read = output::read(&answer, true, Some(&validator));
        prop_assert!(read.json.is_some() || !read.problems.is_empty());
        let _ = promptls_core::config::parse_file(&answer);
    }
}
