//! A problem found while reading a document below the checks (its `promptls.*` settings,
//! its schemas): plain data with a stable code and a span, which `check` turns into a
//! diagnostic and `eval` or `optimize` into an error message. One reading serves all.

use crate::syntax::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub level: Level,
    /// Stable kebab-case code, e.g. `unknown-metric`.
    pub code: &'static str,
    pub span: Span,
    pub message: String,
    /// A likely intended value: "did you mean" and a fix replacing `span` with it.
    pub suggestion: Option<Suggestion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// How the fix is titled: "{verb} to `{replacement}`".
    pub verb: &'static str,
    pub replacement: String,
}

impl Problem {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Problem {
        Problem {
            level: Level::Error,
            code,
            span,
            message: message.into(),
            suggestion: None,
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Problem {
        Problem {
            level: Level::Warning,
            ..Problem::error(code, span, message)
        }
    }

    /// With `replacement` (when there is one) as the suggestion.
    pub fn suggest(mut self, verb: &'static str, replacement: Option<&str>) -> Problem {
        self.suggestion = replacement.map(|r| Suggestion {
            verb,
            replacement: r.to_string(),
        });
        self
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
