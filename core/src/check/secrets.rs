//! API key literals pasted into a prompt. The message names the kind of key but never
//! repeats the key itself (diagnostics end up in CI logs), no other diagnostic's message
//! or fix quotes it whole, and `masked_source` gives the text to show in snippets.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::{CheckInput, Diagnostic};
use crate::syntax::Span;

static KEY_PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("an Anthropic API key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
        (
            "an OpenAI API key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
        ),
        ("a Groq API key", r"\bgsk_[A-Za-z0-9]{20,}"),
        ("a Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
        ("an AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        (
            "a GitHub token",
            r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}",
        ),
        ("a Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}"),
        ("a Slack token", r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
        ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    ]
    .into_iter()
    .map(|(what, pattern)| (what, Regex::new(pattern).expect("valid key pattern")))
    .collect()
});

pub(super) fn check(input: &CheckInput, out: &mut Vec<Diagnostic>) {
    let mut taken: Vec<Span> = Vec::new();
    for (what, pattern) in KEY_PATTERNS.iter() {
        for m in pattern.find_iter(input.source()) {
            let span = Span::new(m.start(), m.end());
            if taken
                .iter()
                .any(|t| t.start < span.end && span.start < t.end)
            {
                continue;
            }
            taken.push(span);
            out.push(Diagnostic::error(
                "api-key-literal",
                span,
                format!(
                    "this looks like {what}; never put secrets in a prompt file: \
                     read it from the environment and revoke this one"
                ),
            ));
        }
    }
}

/// Characters of a key literal that stay readable in masked text.
const SHOWN: usize = 4;

/// `literal` with everything after its first `SHOWN` characters replaced by `*`, one per
/// byte: the masked text is as long as the literal, so every byte range into the source
/// still holds.
fn mask(literal: &str) -> String {
    let keep = literal
        .char_indices()
        .nth(SHOWN)
        .map_or(literal.len(), |(i, _)| i);
    let mut out = String::with_capacity(literal.len());
    out.push_str(&literal[..keep]);
    out.extend(std::iter::repeat_n('*', literal.len() - keep));
    out
}

/// The key literals `diagnostics` found in `source`, each with its mask.
fn literals<'s>(source: &'s str, diagnostics: &[Diagnostic]) -> Vec<(&'s str, String)> {
    let mut found: Vec<(&str, String)> = diagnostics
        .iter()
        .filter(|d| d.code == "api-key-literal")
        .filter_map(|d| source.get(d.span.start..d.span.end))
        .filter(|literal| !literal.is_empty())
        .map(|literal| (literal, mask(literal)))
        .collect();
    // Longest first, so a literal holding another is masked whole.
    found.sort_by_key(|(literal, _)| std::cmp::Reverse(literal.len()));
    found.dedup_by(|a, b| a.0 == b.0);
    found
}

/// `source` as snippets may show it: every key literal the `api-key-literal` check found
/// keeps its first four characters, the rest is `*` (same length, so spans still hold).
pub fn masked_source<'s>(source: &'s str, diagnostics: &[Diagnostic]) -> Cow<'s, str> {
    let mut spans: Vec<Span> = diagnostics
        .iter()
        .filter(|d| d.code == "api-key-literal")
        .map(|d| d.span)
        .filter(|s| source.get(s.start..s.end).is_some_and(|t| !t.is_empty()))
        .collect();
    if spans.is_empty() {
        return Cow::Borrowed(source);
    }
    spans.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for span in spans {
        let start = span.start.max(at);
        if start >= span.end {
            continue;
        }
        out.push_str(&source[at..start]);
        out.push_str(&mask(&source[start..span.end]));
        at = span.end;
    }
    out.push_str(&source[at..]);
    Cow::Owned(out)
}

/// Masks the key literals found in `source` wherever another diagnostic quotes them (a
/// misspelt variable that is a key, a fix that would write one).
pub(super) fn mask_quotes(source: &str, out: &mut [Diagnostic]) {
    let found = literals(source, out);
    if found.is_empty() {
        return;
    }
    let replace = |text: &mut String| {
        for (literal, masked) in &found {
            if text.contains(literal) {
                *text = text.replace(literal, masked);
            }
        }
    };
    for d in out.iter_mut() {
        replace(&mut d.message);
        if let Some(fix) = &mut d.fix {
            replace(&mut fix.title);
            for edit in &mut fix.edits {
                replace(&mut edit.new_text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::testing::codes;
    use crate::check::{check, testing::NoFiles};

    #[test]
    fn finds_keys_without_echoing_them() {
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
        let src = format!("---\nconfig: {{apiKey: {key}}}\n---\nHello");
        let diags = check(&src, None, &NoFiles);
        let d = diags
            .iter()
            .find(|d| d.code == "api-key-literal")
            .expect("key found");
        assert_eq!(&src[d.span.start..d.span.end], key);
        assert!(!d.message.contains("abcdefgh"), "{}", d.message);
        assert!(d.message.contains("OpenAI"));
        assert_eq!(
            codes(&format!("Use {}", "gsk_0123456789abcdefghijABCDEFGHIJ")),
            ["api-key-literal"]
        );
        assert_eq!(
            codes(&format!("k={}", "sk-ant-api03-abcdefghijklmnopqrstuvwx")),
            ["api-key-literal"]
        );
        assert!(codes("Ask about sk-learn and task-oriented prompts").is_empty());
    }

    #[test]
    fn masks_literals_in_the_shown_source_and_in_quotes() {
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
        let src = format!("---\nmodel: x\n---\nHello {{{{{key}}}}} and {key}\n");
        let diags = check(&src, None, &NoFiles);
        let shown = super::masked_source(&src, &diags);
        assert!(!shown.contains(key), "{shown}");
        assert!(!shown.contains("abcdefgh"), "{shown}");
        assert!(shown.contains("sk-p****"), "{shown}");
        assert_eq!(shown.len(), src.len(), "spans still hold");
        // A key written as a variable: the undeclared-variable warning quotes it masked
        // (in the CLI and in the editor alike).
        let groq = "gsk_0123456789abcdefghijABCDEFGHIJ";
        let src =
            format!("---\ninput:\n  schema:\n    text: string\n---\n{{{{{groq}}}}} {{{{text}}}}\n");
        let diags = check(&src, None, &NoFiles);
        let undeclared = diags
            .iter()
            .find(|d| d.code == "undeclared-variable")
            .expect("the key is an undeclared variable");
        assert!(
            undeclared.message.contains("gsk_****"),
            "{}",
            undeclared.message
        );
        for d in &diags {
            let quoted = format!("{} {:?}", d.message, d.fix);
            assert!(!quoted.contains(groq), "{}: {quoted}", d.code);
        }
        assert_eq!(super::mask("gsk_0123456789"), "gsk_**********");
        assert_eq!(super::mask("ключ-1"), "ключ**");
    }
}
