//! `.prompt` file -> (tree, errors). Parsing never fails: every input, however broken,
//! yields a `ParsedPrompt` whose `errors` say what is wrong and where.

pub mod demos;
pub mod frontmatter;
pub mod handlebars;
pub mod line_index;
pub mod span;
pub mod tree;
pub mod yaml;

use serde::Serialize;

pub use span::Span;
use yaml::YamlNode;

/// A problem found while parsing, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    pub span: Span,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ParsedPrompt {
    /// Where the frontmatter text and the body are, as the reference splits the file.
    pub split: frontmatter::Split,
    /// The frontmatter tree; `None` without frontmatter, when it is empty (only comments),
    /// or when it has a syntax error (see `errors`).
    pub frontmatter: Option<YamlNode>,
    /// Whether the frontmatter failed to parse; the reference then renders the whole
    /// file (trimmed) as the template.
    pub frontmatter_failed: bool,
    /// The text Dotprompt renders as the template (the reference's `template` field).
    pub template_span: Span,
    pub errors: Vec<SyntaxError>,
}

impl ParsedPrompt {
    /// The frontmatter as JSON, as the reference's YAML parser reads it (`raw`).
    pub fn frontmatter_json(&self) -> Option<serde_json::Value> {
        self.frontmatter.as_ref().map(YamlNode::to_json)
    }

    pub fn template_text<'s>(&self, source: &'s str) -> &'s str {
        &source[self.template_span.start..self.template_span.end]
    }
}

/// Parses a whole `.prompt` file.
pub fn parse(source: &str) -> ParsedPrompt {
    let split = frontmatter::split(source);
    let mut errors = Vec::new();
    let mut tree = None;
    let mut failed = false;
    let template_span = match split.frontmatter {
        None => Span::new(0, source.len()),
        Some(fm) => {
            let (node, yaml_errors) = yaml::parse(source, fm);
            failed = !yaml_errors.is_empty();
            errors.extend(yaml_errors.into_iter().map(|e| SyntaxError {
                span: e.span,
                code: "yaml-syntax",
                message: e.message,
            }));
            tree = node;
            if failed {
                frontmatter::js_trim(source, Span::new(0, source.len()))
            } else {
                frontmatter::js_trim(source, split.body)
            }
        }
    };
    ParsedPrompt {
        split,
        frontmatter: tree,
        frontmatter_failed: failed,
        template_span,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_text_follows_the_reference() {
        let cases = [
            ("---\na: 1\n---\n\n  Hello  \n", "Hello"),
            ("  Hello  \n", "  Hello  \n"),
            ("---\na: [1\n---\nHello\n", "---\na: [1\n---\nHello"),
            ("---\n# only a comment\n---\n Hi \n", "Hi"),
        ];
        for (src, template) in cases {
            let p = parse(src);
            assert_eq!(p.template_text(src), template, "{src:?}");
        }
        let p = parse("---\na: [1\n---\nHello\n");
        assert!(p.frontmatter_failed);
        assert_eq!(p.errors[0].code, "yaml-syntax");
    }
}
