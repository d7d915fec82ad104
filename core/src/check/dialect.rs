//! Files that look like another prompt dialect (Humanloop, Prompty) rather than Dotprompt:
//! one clear note instead of a pile of confusing errors.

use std::sync::LazyLock;

use regex::Regex;

use super::{CheckInput, Diagnostic};
use crate::syntax::Span;

static HUMANLOOP_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*<(system|user|assistant)>").expect("valid regex"));
static PROMPTY_ROLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^(system|user|assistant):\s*$").expect("valid regex"));

pub(super) fn check(input: &CheckInput, out: &mut Vec<Diagnostic>) {
    let body = input.parsed().template_span;
    let text = &input.source()[body.start..body.end];
    if let Some(m) = HUMANLOOP_TAG.find(text) {
        out.push(Diagnostic::info(
            "other-dialect",
            Span::new(body.start + m.start(), body.start + m.end()),
            format!(
                "this looks like a Humanloop prompt (`<{}>` tags); in Dotprompt, roles are \
                 written `{{{{role \"system\"}}}}`, `{{{{role \"user\"}}}}`, `{{{{role \"model\"}}}}`",
                m.as_str().trim().trim_matches(['<', '>'])
            ),
        ));
    }
    let prompty_frontmatter = input.parsed().frontmatter.as_ref().is_some_and(|fm| {
        fm.get("model")
            .is_some_and(|m| m.get("api").is_some() || m.get("configuration").is_some())
            || fm.get("authors").is_some()
            || fm.get("sample").is_some()
    });
    let role_line = PROMPTY_ROLE.find(text);
    if prompty_frontmatter || role_line.is_some() {
        let span = role_line.map_or_else(
            || input.parsed().split.frontmatter.unwrap_or(body),
            |m| Span::new(body.start + m.start(), body.start + m.end()),
        );
        out.push(Diagnostic::info(
            "other-dialect",
            span,
            "this looks like a Prompty file (`model: {api, configuration}`, `system:` role lines); \
             in Dotprompt, `model` is a `provider/model` string and roles are `{{role \"system\"}}`",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::check::testing::codes;

    #[test]
    fn notes_other_dialects() {
        assert!(
            codes("---\nmodel: openai/gpt-4o\n---\n<system>\nBe nice\n</system>")
                .contains(&"other-dialect")
        );
        assert!(
            codes("---\nname: x\nmodel:\n  api: chat\n---\nsystem:\nYou are helpful\n")
                .contains(&"other-dialect")
        );
        assert!(
            !codes("---\nmodel: openai/gpt-4o\n---\n{{role \"system\"}}\nBe nice")
                .contains(&"other-dialect")
        );
    }
}
