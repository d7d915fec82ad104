//! Splitting a `.prompt` file into YAML frontmatter and template body, exactly as
//! Dotprompt's reference does (`FRONTMATTER_AND_BODY_REGEX` in js/src/parse.ts).

use std::sync::LazyLock;

use regex::Regex;

use super::Span;

/// JavaScript's `\s` (ECMAScript WhiteSpace + LineTerminator). Rust's `\s` differs:
/// it lacks U+FEFF and includes U+0085.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// The reference regex, with JavaScript's `\s` spelled out and without its final
/// `([\s\S]*)$`: that group takes whatever follows and never constrains the match, so the
/// body is simply the rest of the file, and the regex engine stops at the closing fence
/// instead of running capture groups over the whole body. The regex crate's
/// leftmost-first semantics give the same captures as a backtracking engine, in linear time.
static FRONTMATTER_AND_BODY: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"^(?:(?:#[^\n]*|[ \t]*)\n)*---[S]*(?:\r\n|\r|\n)([\s\S]*?)(?:\r\n|\r|\n)---[S]*(?:\r\n|\r|\n)"
        .replace("[S]", &format!("[{JS_SPACE}]"));
    Regex::new(&pattern).expect("frontmatter regex is valid")
});

/// Where the parts of a file are, as the reference splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The YAML text between the fences; `None` when there is no frontmatter, or it is
    /// empty (the reference treats an empty frontmatter as none at all).
    pub frontmatter: Option<Span>,
    /// Everything after the closing fence (untrimmed); the whole file without frontmatter.
    pub body: Span,
}

pub fn split(source: &str) -> Split {
    if let Some(caps) = FRONTMATTER_AND_BODY.captures(source) {
        let fm = caps.get(1).expect("group 1 always takes part");
        let end = caps.get(0).expect("the whole match").end();
        if !fm.is_empty() {
            return Split {
                frontmatter: Some(Span::new(fm.start(), fm.end())),
                body: Span::new(end, source.len()),
            };
        }
    }
    Split {
        frontmatter: None,
        body: Span::new(0, source.len()),
    }
}

/// `String.prototype.trim()`: the span of `text[span]` without JavaScript whitespace
/// at either end.
pub fn js_trim(source: &str, span: Span) -> Span {
    let text = &source[span.start..span.end];
    let start_trimmed = text.trim_start_matches(is_js_space);
    let start = span.start + (text.len() - start_trimmed.len());
    let trimmed = start_trimmed.trim_end_matches(is_js_space);
    Span::new(start, start + trimmed.len())
}

pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (source, expected frontmatter text, expected body text)
    fn check(source: &str, fm: Option<&str>, body: &str) {
        let s = split(source);
        assert_eq!(
            s.frontmatter.map(|f| &source[f.start..f.end]),
            fm,
            "frontmatter of {source:?}"
        );
        assert_eq!(
            &source[s.body.start..s.body.end],
            body,
            "body of {source:?}"
        );
    }

    #[test]
    fn splits_like_the_reference() {
        check("---\nmodel: x\n---\nHello", Some("model: x"), "Hello");
        check("Hello {{name}}", None, "Hello {{name}}");
        check(
            "# comment\n\n---\na: 1\n---\nbody\n",
            Some("a: 1"),
            "body\n",
        );
        check("---  \r\na: 1\r\n---\r\nbody", Some("a: 1"), "body");
        // Greedy `\s*` after the fence backtracks to the last newline.
        check("---\n\n\n  a: 1\n---\nb", Some("  a: 1"), "b");
        // Empty frontmatter counts as none.
        check("---\n---\nbody", None, "---\n---\nbody");
        check("---\n\n---\nbody", None, "---\n\n---\nbody");
        // The first closing fence wins; a fence must start a line.
        check("---\na: 1\n---\nx\n---\ny", Some("a: 1"), "x\n---\ny");
        check("---\na: ---\n---\nx", Some("a: ---"), "x");
        // Text before the fence (other than comments or blank lines) means no frontmatter.
        check("x\n---\na: 1\n---\nb", None, "x\n---\na: 1\n---\nb");
        // No newline after the closing fence: no frontmatter.
        check("---\na: 1\n---", None, "---\na: 1\n---");
        // `----` is not a fence.
        check("---\na: 1\n----\nb", None, "---\na: 1\n----\nb");
        check("", None, "");
    }

    proptest::proptest! {
        /// The shortened regex splits exactly like the reference's full one.
        #[test]
        fn same_split_as_the_full_reference_regex(pieces in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("---"), proptest::strategy::Just("\n"), proptest::strategy::Just("\r\n"),
                proptest::strategy::Just("\r"), proptest::strategy::Just(" "), proptest::strategy::Just("\t"),
                proptest::strategy::Just("#c"), proptest::strategy::Just("a: 1"), proptest::strategy::Just("\u{A0}"),
                proptest::strategy::Just("-"), proptest::strategy::Just("x"),
            ], 0..24)) {
            let source: String = pieces.concat();
            let full = Regex::new(
                &r"^(?:(?:#[^\n]*|[ \t]*)\n)*---[S]*(?:\r\n|\r|\n)([\s\S]*?)(?:\r\n|\r|\n)---[S]*(?:\r\n|\r|\n)([\s\S]*)$"
                    .replace("[S]", &format!("[{JS_SPACE}]")),
            ).unwrap();
            let expected = match full.captures(&source) {
                Some(c) if !c[1].is_empty() => Split {
                    frontmatter: Some(Span::new(c.get(1).unwrap().start(), c.get(1).unwrap().end())),
                    body: Span::new(c.get(2).unwrap().start(), c.get(2).unwrap().end()),
                },
                _ => Split { frontmatter: None, body: Span::new(0, source.len()) },
            };
            proptest::prop_assert_eq!(split(&source), expected);
        }
    }

    #[test]
    fn trims_like_javascript() {
        let src = "\u{FEFF} \n hi \u{A0}\n";
        let t = js_trim(src, Span::new(0, src.len()));
        assert_eq!(&src[t.start..t.end], "hi");
        let t = js_trim("   ", Span::new(0, 3));
        assert!(t.is_empty());
    }
}
