//! Tier 3: a judge model grades each answer against a rubric (`promptls.judge`):
//!
//! ```yaml
//! promptls.metric: judge
//! promptls.judge: "Is the reply polite, and does it answer the question?"
//! promptls.judge: {rubric: "...", model: openai/gpt-4o-mini}
//! ```
//!
//! The judge is asked for JSON `{"score": 0-10, "reason": ...}`; its answer is read
//! leniently (JSON in prose or a fence, `score: 7`, `7/10`, `8 out of 10`, a bare number),
//! and the score is divided by the scale.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

/// The judge's scale: scores run 0..=SCALE.
pub const SCALE: f64 = 10.0;

pub use crate::settings::Judge;

/// Why a judge's answer gives no score.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A score the judge wrote that is not a number after all.
    #[error("unreadable score")]
    UnreadableScore(#[source] std::num::ParseFloatError),
    /// The start of the judge's answer (80 characters).
    #[error("the judge's answer has no score: {shown:?}")]
    NoScore { shown: String },
}

impl Judge {
    /// The messages asking the judge to grade `output` for `input` (and the reference,
    /// when the row has one), in Dotprompt's message shape.
    pub fn messages(
        &self,
        input: &Map<String, Value>,
        output: &str,
        expected: Option<&str>,
    ) -> Vec<Value> {
        let system = format!(
            "You are a strict, impartial grader. Grade the RESPONSE against the RUBRIC. \
             Reply with JSON only: {{\"score\": <integer from 0 to {scale}>, \"reason\": \"<one sentence>\"}}. \
             {scale} means the rubric is fully met, 0 that it is not met at all.",
            scale = SCALE as u32
        );
        let mut user = format!(
            "RUBRIC:\n{}\n\nINPUT:\n{}\n",
            self.rubric.trim(),
            Value::Object(input.clone())
        );
        if let Some(expected) = expected {
            user.push_str(&format!("\nREFERENCE ANSWER:\n{expected}\n"));
        }
        user.push_str(&format!("\nRESPONSE:\n{output}\n"));
        vec![
            json!({"role": "system", "content": [{"text": system}]}),
            json!({"role": "user", "content": [{"text": user}]}),
        ]
    }
}

/// The judge's score in 0..=1 and its reason, from its answer.
pub fn parse_score(answer: &str) -> Result<(f64, Option<String>), Error> {
    let clamp = |s: f64, scale: f64| (s / scale).clamp(0.0, 1.0);
    let json_text = super::output::json_text(answer);
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json_text) {
        let reason = map
            .get("reason")
            .or_else(|| map.get("explanation"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let score = map
            .get("score")
            .or_else(|| map.get("rating"))
            .or_else(|| map.get("grade"));
        let number = match score {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => fraction(s)
                .map(|(n, d)| n / d * SCALE)
                .or_else(|| s.trim().parse().ok()),
            _ => None,
        };
        if let Some(n) = number {
            return Ok((clamp(n, SCALE), reason));
        }
    }
    static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:score|rating|grade)\b\W{0,3}(\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+(?:\.\d+)?))?")
            .expect("valid regex")
    });
    if let Some(c) = LABELLED.captures(answer) {
        let n: f64 = c[1].parse().map_err(Error::UnreadableScore)?;
        let scale = c
            .get(2)
            .and_then(|d| d.as_str().parse().ok())
            .unwrap_or(SCALE);
        return Ok((clamp(n, scale), None));
    }
    if let Some((n, d)) = fraction(answer) {
        return Ok((clamp(n, d), None));
    }
    static BARE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\s*(\d+(?:\.\d+)?)\s*\.?\s*$").expect("valid regex"));
    if let Some(c) = BARE.captures(answer) {
        let n: f64 = c[1].parse().map_err(Error::UnreadableScore)?;
        return Ok((clamp(n, SCALE), None));
    }
    let shown: String = answer.chars().take(80).collect();
    Err(Error::NoScore { shown })
}

/// `7/10` or `8 out of 10` anywhere in `text`.
fn fraction(text: &str) -> Option<(f64, f64)> {
    static FRACTION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+(?:\.\d+)?)").expect("valid regex")
    });
    let c = FRACTION.captures(text)?;
    let d: f64 = c[2].parse().ok()?;
    (d > 0.0).then_some((c[1].parse().ok()?, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_read_leniently() {
        let cases = [
            (r#"{"score": 7, "reason": "mostly"}"#, 0.7),
            ("```json\n{\"score\": \"10\"}\n```", 1.0),
            (r#"Sure. {"rating": 4} done"#, 0.4),
            ("Score: 8/10. Good.", 0.8),
            ("score = 3 out of 5", 0.6),
            ("I'd give it 9 out of 10", 0.9),
            ("6", 0.6),
            ("Score: 14", 1.0),
        ];
        for (answer, want) in cases {
            let (got, _) = parse_score(answer).unwrap_or_else(|e| panic!("{answer}: {e}"));
            assert!((got - want).abs() < 1e-12, "{answer}: {got} != {want}");
        }
        assert_eq!(
            parse_score(r#"{"score": 5, "reason": "half"}"#)
                .unwrap()
                .1
                .as_deref(),
            Some("half")
        );
        assert!(parse_score("It depends on the reader.").is_err());
    }

    #[test]
    fn settings_forms() {
        let judge = |frontmatter: &str| {
            let settings = crate::settings::PromptSettings::of_source(&format!(
                "---\npromptls.judge: {frontmatter}\n---\n"
            ));
            settings.judge.map(|j| j.map(|w| w.value))
        };
        let j = judge("be kind").unwrap().unwrap();
        assert_eq!((j.rubric.as_str(), j.model), ("be kind", None));
        let j = judge("{rubric: r, model: openai/gpt-4o}").unwrap().unwrap();
        assert_eq!(j.model.as_deref(), Some("openai/gpt-4o"));
        assert!(judge("{rubrik: r}").unwrap().is_err());
        let messages = j.messages(&Map::new(), "hello", Some("hi"));
        let text = messages[1]
            .pointer("/content/0/text")
            .unwrap()
            .as_str()
            .unwrap();
        assert!(text.contains("REFERENCE ANSWER:\nhi") && text.contains("RESPONSE:\nhello"));
    }

    #[test]
    fn errors_say_why_an_answer_has_no_score_and_keep_the_cause() {
        use std::error::Error as _;
        let error = parse_score("no idea").unwrap_err();
        assert_eq!(
            error,
            Error::NoScore {
                shown: "no idea".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "the judge's answer has no score: \"no idea\""
        );
        let unreadable = Error::UnreadableScore("x".parse::<f64>().unwrap_err());
        assert_eq!(unreadable.to_string(), "unreadable score");
        assert!(unreadable
            .source()
            .unwrap()
            .is::<std::num::ParseFloatError>());
    }
}
