//! API key literals pasted into a prompt. The message names the kind of key but never
//! repeats the key itself (diagnostics end up in CI logs).

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
        for m in pattern.find_iter(input.source) {
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
}
