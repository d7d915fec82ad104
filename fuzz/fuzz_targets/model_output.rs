//! What a model, a judge or a user can hand promptls after a call: answers read per
//! `output.format`, judge scores, scored rows, and promptls.toml. Nothing may panic; a
//! judge score is always within 0..=1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promptls_core::eval::metrics::{self, Metric, Options};
use promptls_core::eval::{judge, output};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (answer, reference) = text.split_once('\u{1}').unwrap_or((text, "x"));
    if let Ok((score, _)) = judge::parse_score(answer) {
        assert!((0.0..=1.0).contains(&score));
    }
    let inner = output::json_text(answer);
    assert!(answer.contains(inner));
    let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let validator = jsonschema::validator_for(&schema).unwrap();
    let read = output::read(answer, true, Some(&validator));
    for metric in [Metric::JsonMatch, Metric::ExactMatch, Metric::F1, Metric::RougeL, Metric::Bleu] {
        if let Ok(score) = metrics::score_row(metric, &read.text, &[reference], &Options::default()) {
            assert!((0.0..=1.0 + 1e-9).contains(&score), "{metric:?} {score}");
        }
    }
    let _ = promptls_core::config::parse_file(text);
});
