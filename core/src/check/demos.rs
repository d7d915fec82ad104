//! The `promptls:demos` region: balanced markers, user/model turns, outputs that obey
//! `output.format`/`output.schema`, no duplicates, and no leakage into the dataset.

use serde_json::Value;

use super::{CheckInput, Diagnostic};
use crate::analysis::Schemas;
use crate::data::dataset::Dataset;
use crate::syntax::demos::{self, DemoTurn};
use crate::syntax::handlebars::Template;
use crate::syntax::Span;

pub(super) fn check(
    input: &CheckInput,
    template: &Template,
    schemas: &Schemas,
    dataset: Option<&Dataset>,
    out: &mut Vec<Diagnostic>,
) {
    // With `promptls.split` as a share, only the validation rows are scored: a demo
    // from a training row leaks nothing.
    let validation = dataset.and_then(|d| {
        let crate::data::split::Split::Ratio { train, seed } = input.analysis.settings().split()
        else {
            return None;
        };
        let (_, dev) = crate::data::split::split_indices(d.rows.len(), train, seed);
        Some(Dataset {
            columns: d.columns.clone(),
            rows: dev
                .into_iter()
                .filter_map(|i| d.rows.get(i).cloned())
                .collect(),
            errors: Vec::new(),
        })
    });
    let dataset = validation.as_ref().or(dataset);
    let (regions, strays) = demos::demos(template);
    for stray in strays {
        out.push(Diagnostic::error(
            "demos-unbalanced",
            stray,
            "`/promptls:demos` closes a demos region that was never opened",
        ));
    }
    let format = input
        .parsed()
        .frontmatter
        .as_ref()
        .and_then(|fm| fm.get("output"))
        .and_then(|o| o.get("format"))
        .and_then(|f| f.as_str())
        .unwrap_or(if schemas.output.is_some() {
            "json"
        } else {
            "text"
        });
    let validator = schemas
        .output
        .as_ref()
        .and_then(|s| jsonschema::validator_for(s).ok());
    let mut seen_inputs: Vec<(String, Span)> = Vec::new();
    for region in &regions {
        if region.end_marker.is_none() {
            out.push(Diagnostic::error(
                "demos-unbalanced",
                region.start_marker,
                "the demos region is never closed: add `{{!-- /promptls:demos --}}` after the last demo",
            ));
        }
        let text = |t: &DemoTurn| input.source()[t.content.start..t.content.end].trim();
        let mut turns = region.turns.iter().peekable();
        while let Some(turn) = turns.next() {
            match turn.role.as_str() {
                "user" => {
                    let answer = turns.next_if(|t| t.role == "model");
                    let Some(answer) = answer else {
                        out.push(Diagnostic::warning(
                            "demo-incomplete",
                            turn.role_span,
                            "this demo has no `{{role \"model\"}}` answer after it",
                        ));
                        continue;
                    };
                    let question = text(turn);
                    if !turn.templated {
                        let key = normalize(question);
                        if let Some((_, first)) = seen_inputs.iter().find(|(k, _)| *k == key) {
                            let line = 1 + input.source()[..first.start].matches('\n').count();
                            out.push(Diagnostic::warning(
                                "duplicate-demo",
                                trimmed(input.source(), turn.content),
                                format!("the same demo input already appears on line {line}"),
                            ));
                        } else {
                            seen_inputs.push((key, trimmed(input.source(), turn.content)));
                        }
                        if let Some(dataset) = dataset {
                            check_leak(input, dataset, question, trimmed(input.source(), turn.content), out);
                        }
                    }
                    if !answer.templated {
                        check_output(format, validator.as_ref(), text(answer), trimmed(input.source(), answer.content), out);
                    }
                }
                "model" => out.push(Diagnostic::warning(
                    "demo-incomplete",
                    turn.role_span,
                    "this model answer has no `{{role \"user\"}}` turn before it",
                )),
                other => out.push(Diagnostic::warning(
                    "demo-role",
                    turn.role_span,
                    format!("demos are `user`/`model` pairs; a `{other}` turn here is sent as part of every demo"),
                )),
            }
        }
    }
}

/// The span without surrounding whitespace (what a person sees as the text).
fn trimmed(source: &str, span: Span) -> Span {
    let text = &source[span.start..span.end];
    let start = span.start + (text.len() - text.trim_start().len());
    Span::new(start, start + text.trim().len())
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn check_output(
    format: &str,
    validator: Option<&jsonschema::Validator>,
    text: &str,
    span: Span,
    out: &mut Vec<Diagnostic>,
) {
    let values: Vec<Value> = match format {
        "json" | "array" => match serde_json::from_str::<Value>(text) {
            Ok(v) => {
                if format == "array" && !v.is_array() {
                    out.push(Diagnostic::error(
                        "demo-output-format",
                        span,
                        "`output.format: array` needs a JSON array here",
                    ));
                    return;
                }
                vec![v]
            }
            Err(e) => {
                out.push(Diagnostic::error(
                    "demo-output-format",
                    span,
                    format!(
                        "`output.format: {format}` but this demo answer is not valid JSON: {e}"
                    ),
                ));
                return;
            }
        },
        "jsonl" => {
            let mut values = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        out.push(Diagnostic::error(
                            "demo-output-format",
                            span,
                            format!("`output.format: jsonl` but line {} of this demo answer is not JSON: {e}", i + 1),
                        ));
                        return;
                    }
                }
            }
            values
        }
        _ => return,
    };
    let Some(validator) = validator else { return };
    for value in values {
        // For `array`, the schema describes each item (as Genkit's array format does).
        let items: Vec<&Value> = match (format, &value) {
            ("array", Value::Array(items)) => items.iter().collect(),
            _ => vec![&value],
        };
        for item in items {
            if let Some(error) = validator.iter_errors(item).next() {
                let at = error.instance_path().to_string();
                let at = if at.is_empty() {
                    String::new()
                } else {
                    format!(" at `{at}`")
                };
                out.push(Diagnostic::error(
                    "demo-output-schema",
                    span,
                    format!("this demo answer does not match `output.schema`{at}: {error}"),
                ));
                return;
            }
        }
    }
}

/// A demo whose input is also a dataset row: the prompt sees the answer to that row,
/// so its score is inflated.
fn check_leak(
    input: &CheckInput,
    dataset: &Dataset,
    question: &str,
    span: Span,
    out: &mut Vec<Diagnostic>,
) {
    let question = normalize(question);
    if question.is_empty() {
        return;
    }
    let target = crate::settings::value(&input.analysis.settings().target).map(String::as_str);
    for row in &dataset.rows {
        let inputs: Vec<String> = row
            .values
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != target)
            .map(|(_, v)| match v {
                Value::String(s) => normalize(s),
                other => normalize(&other.to_string()),
            })
            .filter(|v| !v.is_empty())
            .collect();
        let leaked = inputs.contains(&question)
            || (inputs.len() > 1 && inputs.iter().all(|v| question.contains(v.as_str())));
        if leaked {
            out.push(Diagnostic::warning(
                "demo-leak",
                span,
                format!(
                    "this demo's input is also in the dataset (line {}): scores on that row will be inflated",
                    row.line
                ),
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::check::{check, testing::render, Workspace};

    fn demo(frontmatter: &str, demos: &str) -> String {
        format!("---\n{frontmatter}---\n{{{{role \"system\"}}}}\nDo it.\n{{{{!-- promptls:demos --}}}}\n{demos}{{{{!-- /promptls:demos --}}}}\n{{{{role \"user\"}}}}\n{{{{text}}}}\n")
    }

    #[test]
    fn demo_problems() {
        let json_schema = "input:\n  schema:\n    text: string\noutput:\n  format: json\n  schema:\n    name: string\n    age?: integer\n";
        let cases: Vec<(String, Vec<&str>)> = vec![
            (demo(json_schema, "{{role \"user\"}}\nBob, 42\n{{role \"model\"}}\n{\"name\": \"Bob\", \"age\": 42}\n"), vec![]),
            (
                demo(json_schema, "{{role \"user\"}}\nBob\n{{role \"model\"}}\n{name: Bob}\n"),
                vec!["demo-output-format@{name: Bob}: `output.format: json` but this demo answer is not valid JSON: key must be a string at line 1 column 2"],
            ),
            (
                demo(json_schema, "{{role \"user\"}}\nBob\n{{role \"model\"}}\n{\"name\": \"Bob\", \"age\": \"old\"}\n"),
                vec!["demo-output-schema@{\"name\": \"Bob\", \"age\": \"old\"}: this demo answer does not match `output.schema` at `/age`: \"old\" is not of types \"null\", \"integer\""],
            ),
            (
                demo("input:\n  schema:\n    text: string\n", "{{role \"user\"}}\nHi there\n{{role \"model\"}}\nA\n{{role \"user\"}}\nhi   THERE\n{{role \"model\"}}\nB\n"),
                vec!["duplicate-demo@hi   THERE: the same demo input already appears on line 10"],
            ),
            (
                demo("input:\n  schema:\n    text: string\n", "{{role \"user\"}}\nQ\n{{role \"model\"}}\nA\n{{role \"user\"}}\nQ2\n"),
                vec!["demo-incomplete@{{role \"user\"}}: this demo has no `{{role \"model\"}}` answer after it"],
            ),
            (
                "{{!-- promptls:demos --}}\n{{role \"user\"}}\nQ\n".to_string(),
                vec![
                    "demos-unbalanced@{{!-- promptls:demos --}}: the demos region is never closed: add `{{!-- /promptls:demos --}}` after the last demo",
                    "demo-incomplete@{{role \"user\"}}: this demo has no `{{role \"model\"}}` answer after it",
                ],
            ),
        ];
        for (source, expected) in cases {
            let got = render(&source);
            let got: Vec<&str> = got
                .iter()
                .map(String::as_str)
                .filter(|d| d.contains("demo"))
                .collect();
            assert_eq!(got, expected, "for {source}");
        }
    }

    struct OneFile(&'static str);
    impl Workspace for OneFile {
        fn read_to_string(&self, _: &Path) -> std::io::Result<String> {
            Ok(self.0.to_string())
        }
    }

    #[test]
    fn demo_inputs_leaking_into_the_dataset() {
        let src = demo(
            "input:\n  schema:\n    text: string\npromptls.dataset: d.csv\npromptls.target: label\n",
            "{{role \"user\"}}\nI loved it.\n{{role \"model\"}}\npositive\n",
        );
        let path = PathBuf::from("/p/a.prompt");
        let diags = check(
            &src,
            Some(&path),
            &OneFile("text,label\nmeh,neutral\ni LOVED it.,positive\n"),
        );
        let leak = diags
            .iter()
            .find(|d| d.code == "demo-leak")
            .expect("leak found");
        assert_eq!(&src[leak.span.start..leak.span.end], "I loved it.");
        assert!(leak.message.contains("line 3"), "{}", leak.message);
        let diags = check(&src, Some(&path), &OneFile("text,label\nmeh,neutral\n"));
        assert!(!diags.iter().any(|d| d.code == "demo-leak"));
    }
}
