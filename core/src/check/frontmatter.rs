//! Frontmatter keys and value types: Dotprompt's own keys, Genkit's, and `promptls.*`.

use super::{did_you_mean, CheckInput, Diagnostic};
use crate::settings;
use crate::syntax::yaml::{YamlKind, YamlNode};

/// Top-level keys Dotprompt reads (RESERVED_METADATA_KEYWORDS) plus `metadata`, and the
/// ones Genkit reads from a prompt file.
pub(crate) const TOP_LEVEL: &[&str] = &[
    "name",
    "variant",
    "version",
    "description",
    "model",
    "tools",
    "toolDefs",
    "config",
    "input",
    "output",
    "raw",
    "ext",
    "metadata",
    "maxTurns",
    "toolChoice",
    "returnToolRequests",
];

pub(crate) const INPUT_KEYS: &[&str] = &["schema", "default", "jsonSchema"];
pub(crate) const OUTPUT_KEYS: &[&str] = &[
    "format",
    "schema",
    "jsonSchema",
    "constrained",
    "contentType",
    "instructions",
];
/// Output formats Dotprompt and Genkit know.
pub(crate) const OUTPUT_FORMATS: &[&str] = &["text", "json", "array", "enum", "jsonl", "media"];

pub(super) fn check(input: &CheckInput, out: &mut Vec<Diagnostic>) {
    let Some(root) = &input.parsed().frontmatter else {
        return;
    };
    if !matches!(root.kind, YamlKind::Map(_)) {
        out.push(Diagnostic::error(
            "frontmatter-not-mapping",
            root.span,
            format!(
                "the frontmatter must be a YAML mapping of keys to values, found a {}",
                root.type_name()
            ),
        ));
        return;
    }
    // `promptls.*`: read once, in `settings`; its problems are diagnostics here.
    let problems = &input.analysis.settings().problems;
    out.extend(problems.iter().cloned().map(Diagnostic::from));
    for entry in root.entries() {
        let key = entry.key.key_string();
        let (k, v) = (&entry.key, &entry.value);
        if key.starts_with("promptls.") {
            continue;
        }
        if key.contains('.') {
            // Another tool's extension field: Dotprompt keeps it in `ext`; not ours to judge.
            continue;
        }
        match key.as_str() {
            "name" | "variant" | "description" | "model" => expect_string(&key, v, out),
            "version" => {
                if v.as_str().is_none() {
                    out.push(Diagnostic::warning(
                        "wrong-type",
                        v.span,
                        format!("`version` should be a string, found a {}; quote it", v.type_name()),
                    ));
                }
            }
            "tools" => expect_string_list("tools", v, out),
            "config" => check_config(v, out),
            "input" => check_section("input", INPUT_KEYS, v, out),
            "output" => {
                check_section("output", OUTPUT_KEYS, v, out);
                check_output_format(v, out);
            }
            "metadata" | "toolDefs" | "maxTurns" | "toolChoice" | "returnToolRequests" => {}
            "raw" | "ext" => out.push(Diagnostic::warning(
                "ignored-key",
                k.span,
                format!("`{key}` is filled in by Dotprompt when the prompt is parsed; this value is ignored"),
            )),
            _ => {
                let mut d = Diagnostic::warning("unknown-key", k.span, format!("unknown frontmatter key `{key}`"));
                if let Some(s) = did_you_mean(&key, TOP_LEVEL.iter().copied()) {
                    d = d.suggest(Some(s), "Rename", k.span);
                } else if let Some(s) = did_you_mean(&key, settings::FIELDS.iter().map(|(f, _)| *f)) {
                    d = d.suggest(Some(&format!("promptls.{s}")), "Rename", k.span);
                }
                out.push(d);
            }
        }
    }
}

fn expect_string(key: &str, v: &YamlNode, out: &mut Vec<Diagnostic>) {
    if v.as_str().is_none() {
        out.push(Diagnostic::error(
            "wrong-type",
            v.span,
            format!("`{key}` must be a string, found a {}", v.type_name()),
        ));
    }
}

fn expect_string_list(key: &str, v: &YamlNode, out: &mut Vec<Diagnostic>) {
    if !matches!(v.kind, YamlKind::Seq(_)) {
        out.push(Diagnostic::error(
            "wrong-type",
            v.span,
            format!("`{key}` must be a list of names, found a {}", v.type_name()),
        ));
        return;
    }
    for item in v.items() {
        expect_string(&format!("{key}[]"), item, out);
    }
}

fn expect_mapping(key: &str, v: &YamlNode, out: &mut Vec<Diagnostic>) -> bool {
    let ok = matches!(v.kind, YamlKind::Map(_));
    if !ok {
        out.push(Diagnostic::error(
            "wrong-type",
            v.span,
            format!("`{key}` must be a mapping, found a {}", v.type_name()),
        ));
    }
    ok
}

fn check_section(key: &str, known: &[&str], v: &YamlNode, out: &mut Vec<Diagnostic>) {
    if !expect_mapping(key, v, out) {
        return;
    }
    for e in v.entries() {
        let sub = e.key.key_string();
        if !known.contains(&sub.as_str()) {
            let mut d = Diagnostic::warning(
                "unknown-key",
                e.key.span,
                format!("unknown key `{sub}` in `{key}`"),
            );
            d = d.suggest(
                did_you_mean(&sub, known.iter().copied()),
                "Rename",
                e.key.span,
            );
            out.push(d);
        }
    }
    if key == "input" {
        if let Some(default) = v.get("default") {
            expect_mapping("input.default", default, out);
        }
    }
}

fn check_output_format(output: &YamlNode, out: &mut Vec<Diagnostic>) {
    let Some(format) = output.get("format") else {
        return;
    };
    let Some(name) = format.as_str() else {
        expect_string("output.format", format, out);
        return;
    };
    if !OUTPUT_FORMATS.contains(&name) {
        let mut d = Diagnostic::error(
            "unknown-output-format",
            format.span,
            format!(
                "unknown output format `{name}` (known: {})",
                OUTPUT_FORMATS.join(", ")
            ),
        );
        d = d.suggest(
            did_you_mean(name, OUTPUT_FORMATS.iter().copied()),
            "Change",
            format.span,
        );
        out.push(d);
    }
}

/// Generation settings common to the providers; other keys are model-specific and pass.
fn check_config(v: &YamlNode, out: &mut Vec<Diagnostic>) {
    if !expect_mapping("config", v, out) {
        return;
    }
    for e in v.entries() {
        let key = e.key.key_string();
        let value = e.value.to_json();
        let number = value.as_f64();
        let problem = match key.as_str() {
            "temperature" => match number {
                None => Some("must be a number".to_string()),
                Some(t) if !(0.0..=2.0).contains(&t) => Some(format!("{t} is outside 0..2")),
                _ => None,
            },
            "topP" | "top_p" => match number {
                None => Some("must be a number".to_string()),
                Some(p) if !(0.0..=1.0).contains(&p) => Some(format!("{p} is outside 0..1")),
                _ => None,
            },
            "topK" | "top_k" | "maxOutputTokens" | "max_tokens" | "candidateCount" => {
                match value.as_u64() {
                    None => Some("must be a positive whole number".to_string()),
                    Some(0) if key != "topK" => Some("must be at least 1".to_string()),
                    _ => None,
                }
            }
            "stopSequences" | "stop" => (!(value.is_string()
                || value
                    .as_array()
                    .is_some_and(|a| a.iter().all(|s| s.is_string()))))
            .then(|| "must be a list of strings".to_string()),
            _ => None,
        };
        if let Some(problem) = problem {
            // A value of the wrong type is an error; an unusual range is only a warning,
            // since what a model accepts is the provider's business.
            let message = format!("`config.{key}` {problem}");
            out.push(if problem.contains("outside") {
                Diagnostic::warning(
                    "config-range",
                    e.value.span,
                    format!("{message} (most providers reject it)"),
                )
            } else {
                Diagnostic::error("wrong-type", e.value.span, message)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::testing::render;

    #[test]
    fn frontmatter_keys_and_types() {
        let cases: &[(&str, &[&str])] = &[
            ("---\nmodel: openai/gpt-4o\nconfig: {temperature: 0}\n---\nHi", &[]),
            ("---\nmodle: x\n---\nHi", &["unknown-key@modle: unknown frontmatter key `modle`; did you mean `model`?"]),
            ("---\ndataset: x.csv\n---\nHi", &["unknown-key@dataset: unknown frontmatter key `dataset`; did you mean `promptls.dataset`?"]),
            ("---\nmodel: 3\n---\nHi", &["wrong-type@3: `model` must be a string, found a number"]),
            ("---\nconfig: {temperature: 5}\n---\nHi", &["config-range@5: `config.temperature` 5 is outside 0..2 (most providers reject it)"]),
            ("---\nconfig: {temperature: hot}\n---\nHi", &["wrong-type@hot: `config.temperature` must be a number"]),
            ("---\ntools: search\n---\nHi", &["wrong-type@search: `tools` must be a list of names, found a string"]),
            ("---\noutput: {format: jsno}\n---\nHi", &["unknown-output-format@jsno: unknown output format `jsno` (known: text, json, array, enum, jsonl, media); did you mean `json`?"]),
            ("---\ninput: {shema: {a: string}}\n---\n{{a}}", &["unknown-key@shema: unknown key `shema` in `input`; did you mean `schema`?"]),
            ("---\n- a\n---\nHi", &["frontmatter-not-mapping@- a: the frontmatter must be a YAML mapping of keys to values, found a list"]),
            ("---\nmycompany.owner: me\n---\nHi", &[]),
            ("---\npromptls.metric: rouge_l\npromptls.optimizer: {name: mipro, trials: 20, demos: 3}\n---\nHi", &[]),
            ("---\npromptls.metric: exactmatch2\n---\nHi", &["unknown-metric@exactmatch2: unknown metric `exactmatch2` (known: exact_match, f1, bleu, chrf, chrf++, rouge1, rouge2, rougeL, rougeLsum, contains, regex, json_match, judge); did you mean `exact_match`?"]),
            ("---\npromptls.optimizer: miprov\n---\nHi", &["unknown-optimizer@miprov: unknown optimizer `miprov` (known: bootstrap, random, mipro, gepa); did you mean `mipro`?"]),
            ("---\npromptls.optimizer: {name: mipro, trails: 3}\n---\nHi", &["unknown-key@trails: unknown optimizer setting `trails`; did you mean `trials`?"]),
            ("---\npromptls.optimizer.trials: 3\n---\nHi", &["extension-key-dots@promptls.optimizer.trials: Dotprompt splits extension keys at the last dot, so this is not `promptls.optimizer`; nest it instead: `promptls.optimizer: {...}`"]),
            ("---\npromptls.datset: a.csv\n---\nHi", &["unknown-key@promptls.datset: unknown promptls setting `promptls.datset`; did you mean `promptls.dataset`?"]),
            ("---\npromptls.teacher: gpt-4o\n---\nHi", &["model-name@gpt-4o: model names are `provider/model`, e.g. `openai/gpt-4o`"]),
            ("---\npromptls.metric: judge\n---\nHi", &["judge-rubric@judge: the judge metric needs `promptls.judge`: the rubric the judge model grades against"]),
            ("---\npromptls.metric: judge\npromptls.judge: {rubric: Be kind, model: openai/gpt-4o}\npromptls.threshold: 0.7\n---\nHi", &[]),
            ("---\npromptls.judge: {rubrik: x}\n---\nHi", &["wrong-type@{rubrik: x}: `promptls.judge`: unknown judge setting `rubrik` (rubric, model)"]),
            ("---\npromptls.threshold: 2\n---\nHi", &["wrong-type@2: `promptls.threshold` must be a number from 0 to 1 (the score a row needs to pass)"]),
            ("---\nraw: {a: 1}\n---\nHi", &["ignored-key@raw: `raw` is filled in by Dotprompt when the prompt is parsed; this value is ignored"]),
        ];
        for (source, expected) in cases {
            let got = render(source);
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(&got, expected, "for {source:?}");
        }
    }
}
