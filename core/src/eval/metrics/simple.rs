//! The metrics without a reference package: exact match, token F1 (SQuAD v2), contains,
//! regex, and field-wise JSON match.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::text::py_split;

/// How `exact_match` and `contains` compare text. The defaults: surrounding whitespace
/// is ignored and inner runs of whitespace count as one space; case is ignored;
/// punctuation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalize {
    pub ignore_case: bool,
    pub ignore_punctuation: bool,
}

impl Default for Normalize {
    fn default() -> Normalize {
        Normalize {
            ignore_case: true,
            ignore_punctuation: false,
        }
    }
}

pub fn normalize(text: &str, how: Normalize) -> String {
    let mut s: String = if how.ignore_punctuation {
        text.chars().filter(|c| !c.is_ascii_punctuation()).collect()
    } else {
        text.to_string()
    };
    if how.ignore_case {
        s = s.to_lowercase();
    }
    py_split(&s).collect::<Vec<_>>().join(" ")
}

pub fn exact_match(prediction: &str, reference: &str, how: Normalize) -> f64 {
    f64::from(u8::from(
        normalize(prediction, how) == normalize(reference, how),
    ))
}

pub fn contains(prediction: &str, reference: &str, how: Normalize) -> f64 {
    f64::from(u8::from(
        normalize(prediction, how).contains(&normalize(reference, how)),
    ))
}

/// Why a reference cannot be compared with: the pattern or text, and the parser's error as
/// `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid regex `{pattern}`: {source}")]
    Regex {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("the reference is not JSON: {0}")]
    ReferenceNotJson(#[source] serde_json::Error),
}

/// 1 when the reference, as a regular expression, matches somewhere in the prediction.
pub fn regex(prediction: &str, pattern: &str) -> Result<f64, Error> {
    let re = Regex::new(pattern).map_err(|source| Error::Regex {
        pattern: pattern.to_string(),
        source,
    })?;
    Ok(f64::from(u8::from(re.is_match(prediction))))
}

/// SQuAD's answer normalisation: lowercase, drop punctuation and articles, squash spaces.
fn squad_normalize(text: &str) -> String {
    static ARTICLES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(a|an|the)\b").unwrap());
    let lower = text.to_lowercase();
    let no_punct: String = lower
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    let no_articles = ARTICLES.replace_all(&no_punct, " ");
    py_split(&no_articles).collect::<Vec<_>>().join(" ")
}

/// Token F1 as the SQuAD v2 evaluation computes it (two empty answers agree).
pub fn f1(prediction: &str, reference: &str) -> f64 {
    let p = squad_normalize(prediction);
    let r = squad_normalize(reference);
    let p_tokens: Vec<&str> = py_split(&p).collect();
    let r_tokens: Vec<&str> = py_split(&r).collect();
    if p_tokens.is_empty() || r_tokens.is_empty() {
        return f64::from(u8::from(p_tokens == r_tokens));
    }
    let mut available: HashMap<&str, usize> = HashMap::new();
    for t in &r_tokens {
        *available.entry(t).or_insert(0) += 1;
    }
    let mut same = 0usize;
    for t in &p_tokens {
        if let Some(n) = available.get_mut(t) {
            if *n > 0 {
                *n -= 1;
                same += 1;
            }
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / p_tokens.len() as f64;
    let recall = same as f64 / r_tokens.len() as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// The share of the reference's leaf fields (by JSON path) the prediction has equal.
/// A reference that is not an object or array is compared whole. A prediction that is
/// not JSON scores 0.
pub fn json_match(prediction: &str, reference: &str) -> Result<f64, Error> {
    let expected: Value =
        serde_json::from_str(reference.trim()).map_err(Error::ReferenceNotJson)?;
    let Ok(got) = serde_json::from_str::<Value>(strip_fences(prediction)) else {
        return Ok(0.0);
    };
    let mut leaves = Vec::new();
    flatten(&expected, String::new(), &mut leaves);
    if leaves.is_empty() {
        return Ok(f64::from(u8::from(expected == got)));
    }
    let matched = leaves
        .iter()
        .filter(|(path, value)| got.pointer(path) == Some(*value))
        .count();
    Ok(matched as f64 / leaves.len() as f64)
}

/// A model's ```json fenced answer, unwrapped.
fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

fn flatten<'v>(value: &'v Value, path: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                flatten(v, format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{path}/{i}"), out);
            }
        }
        _ if path.is_empty() => {}
        _ => out.push((path, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_contains() {
        let d = Normalize::default();
        assert_eq!(exact_match("  Positive \n", "positive", d), 1.0);
        assert_eq!(exact_match("Positive.", "positive", d), 0.0);
        let loose = Normalize {
            ignore_case: true,
            ignore_punctuation: true,
        };
        assert_eq!(exact_match("Positive.", "positive", loose), 1.0);
        let strict = Normalize {
            ignore_case: false,
            ignore_punctuation: false,
        };
        assert_eq!(exact_match("Positive", "positive", strict), 0.0);
        assert_eq!(
            contains("It is clearly POSITIVE overall", "positive", d),
            1.0
        );
    }

    #[test]
    fn squad_f1() {
        assert_eq!(
            f1("The cat sat", "a cat sat down"),
            2.0 * (2.0 / 2.0) * (2.0 / 3.0) / (1.0 + 2.0 / 3.0)
        );
        assert_eq!(f1("", ""), 1.0);
        assert_eq!(f1("the", ""), 1.0); // both normalise to nothing
        assert_eq!(f1("x", "y"), 0.0);
    }

    #[test]
    fn json_fields() {
        let reference = r#"{"name": "Ada", "email": "ada@x.org", "tags": ["a", "b"]}"#;
        assert_eq!(
            json_match(
                r#"{"name": "Ada", "email": "ada@x.org", "tags": ["a", "b"]}"#,
                reference
            )
            .ok(),
            Some(1.0)
        );
        assert_eq!(
            json_match("```json\n{\"name\": \"Ada\"}\n```", reference).ok(),
            Some(0.25)
        );
        assert_eq!(json_match("not json", reference).ok(), Some(0.0));
        assert_eq!(json_match("5", "5").ok(), Some(1.0));
        assert!(json_match("{}", "{oops").is_err());
        assert_eq!(regex("order #123", r"#\d+").ok(), Some(1.0));
        assert!(regex("x", "(").is_err());
    }

    #[test]
    fn errors_keep_the_pattern_and_the_parser_error() {
        use std::error::Error as _;
        let error = regex("x", "(").unwrap_err();
        let Error::Regex { pattern, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(pattern, "(");
        assert_eq!(error.to_string(), format!("invalid regex `(`: {source}"));
        assert!(error.source().unwrap().is::<regex::Error>());
        let error = json_match("{}", "{oops").unwrap_err();
        assert!(
            error.to_string().starts_with("the reference is not JSON: "),
            "{error}"
        );
        assert!(error.source().is_some());
    }
}
