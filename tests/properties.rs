//! Property tests over parse -> check -> render: random mixtures of the constructs that
//! break parsers (fences, mustaches, blocks, comments, YAML, Unicode) never panic, and
//! every diagnostic points inside the file. The long-running coverage-guided fuzzer is
//! `fuzz/` (cargo fuzz); this runs a few hundred cases on every test run.

use promptls::check::{self, Workspace};
use promptls::render::{DataArgument, Renderer};
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
        let parsed = promptls::syntax::parse(&source);
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
