//! Reading a model's answer per `output.format`: text as it came, or JSON (taken out of a
//! Markdown fence or surrounding prose if the model added one) validated against
//! `output.schema`. The problems found are the tier-1 output checks.

use serde_json::Value;

/// An answer read for scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// What the metric compares: the text, or for JSON the JSON text itself.
    pub text: String,
    /// The parsed JSON, for `output.format: json`.
    pub json: Option<Value>,
    /// Tier-1 problems: empty output, not JSON, not matching the schema. A row with a
    /// problem scores 0 (its output is unusable as asked).
    pub problems: Vec<String>,
}

/// Reads `answer`; `schema` is the resolved `output.schema` (JSON Schema) when the
/// format is JSON.
pub fn read(answer: &str, json_format: bool, schema: Option<&jsonschema::Validator>) -> Output {
    let mut problems = Vec::new();
    if answer.trim().is_empty() {
        problems.push("the model answered nothing".to_string());
    }
    if !json_format {
        return Output {
            text: answer.to_string(),
            json: None,
            problems,
        };
    }
    let candidate = json_text(answer);
    let json = match serde_json::from_str::<Value>(candidate) {
        Ok(value) => Some(value),
        Err(e) => {
            if problems.is_empty() {
                problems.push(format!("the output is not JSON ({e})"));
            }
            None
        }
    };
    if let (Some(value), Some(validator)) = (&json, schema) {
        for error in validator.iter_errors(value).take(3) {
            let at = error.instance_path().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            problems.push(format!(
                "the output does not match output.schema at {at}: {error}"
            ));
        }
    }
    Output {
        text: candidate.to_string(),
        json,
        problems,
    }
}

/// The JSON inside `answer`: a fenced block's body, else the span from the first `{` or
/// `[` to the matching last `}` or `]`, else the trimmed answer.
pub fn json_text(answer: &str) -> &str {
    let trimmed = answer.trim();
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let body = &after[body_start..];
        if let Some(end) = body.find("```") {
            return body[..end].trim();
        }
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return trimmed;
    }
    let open = trimmed.find(['{', '[']);
    if let Some(open) = open {
        let close_char = if trimmed[open..].starts_with('{') {
            '}'
        } else {
            ']'
        };
        if let Some(close) = trimmed.rfind(close_char) {
            if close > open {
                return &trimmed[open..=close];
            }
        }
    }
    trimmed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_passes_through_and_empty_is_a_problem() {
        let out = read("  positive\n", false, None);
        assert_eq!((out.text.as_str(), out.problems.len()), ("  positive\n", 0));
        assert_eq!(read(" \n", false, None).problems.len(), 1);
    }

    #[test]
    fn json_is_found_in_fences_and_prose_and_checked() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let fenced = read(
            "Here you go:\n```json\n{\"name\": \"Ana\"}\n```\n",
            true,
            Some(&validator),
        );
        assert_eq!(fenced.json, Some(json!({"name": "Ana"})));
        assert!(fenced.problems.is_empty(), "{:?}", fenced.problems);
        let prose = read("Sure! {\"name\": 3} hope it helps", true, Some(&validator));
        assert_eq!(prose.text, "{\"name\": 3}");
        assert!(
            prose.problems[0].contains("at /name"),
            "{:?}",
            prose.problems
        );
        let broken = read("{\"name\": ", true, Some(&validator));
        assert!(broken.json.is_none());
        assert!(
            broken.problems[0].contains("not JSON"),
            "{:?}",
            broken.problems
        );
        let missing = read("{}", true, Some(&validator));
        assert!(
            missing.problems[0].contains("name"),
            "{:?}",
            missing.problems
        );
    }
}
