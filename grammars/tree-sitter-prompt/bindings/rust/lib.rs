//! This crate provides the Dotprompt (`.prompt`) language for the
//! [tree-sitter] parsing library.
//!
//! Typically, you will use the [`LANGUAGE`] constant to add this language to a
//! tree-sitter [`Parser`], and then use the parser to parse some code:
//!
//! ```
//! let code = "---\nmodel: x\n---\n{{role \"system\"}}\nHello {{name}}\n";
//! let mut parser = tree_sitter::Parser::new();
//! let language = tree_sitter_prompt::LANGUAGE;
//! parser
//!     .set_language(&language.into())
//!     .expect("Error loading the Dotprompt parser");
//! let tree = parser.parse(code, None).unwrap();
//! assert!(!tree.root_node().has_error());
//! ```
//!
//! [`Parser`]: https://docs.rs/tree-sitter/*/tree_sitter/struct.Parser.html
//! [tree-sitter]: https://tree-sitter.github.io/

use tree_sitter_language::LanguageFn;

extern "C" {
    fn tree_sitter_prompt() -> *const ();
}

/// The tree-sitter [`LanguageFn`] for this grammar.
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_prompt) };

/// The content of the [`node-types.json`] file for this grammar.
///
/// [`node-types.json`]: https://tree-sitter.github.io/tree-sitter/using-parsers/6-static-node-types
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");

/// The syntax highlighting query for this grammar.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The language injection query for this grammar (frontmatter → YAML).
pub const INJECTIONS_QUERY: &str = include_str!("../../queries/injections.scm");

/// The folding query for this grammar.
pub const FOLDS_QUERY: &str = include_str!("../../queries/folds.scm");

#[cfg(test)]
mod tests {
    use tree_sitter::{Language, Parser, Query};

    fn language() -> Language {
        super::LANGUAGE.into()
    }

    #[test]
    fn can_load_grammar() {
        let mut parser = Parser::new();
        parser
            .set_language(&language())
            .expect("Error loading the Dotprompt parser");
    }

    #[test]
    fn queries_compile() {
        for (name, source) in [
            ("highlights", super::HIGHLIGHTS_QUERY),
            ("injections", super::INJECTIONS_QUERY),
            ("folds", super::FOLDS_QUERY),
        ] {
            if let Err(e) = Query::new(&language(), source) {
                panic!("{name} query does not compile: {e}");
            }
        }
    }

    #[test]
    fn node_types_is_json_listing_the_main_nodes() {
        for kind in [
            "\"frontmatter\"",
            "\"block\"",
            "\"role_marker\"",
            "\"demos_block\"",
        ] {
            assert!(super::NODE_TYPES.contains(kind), "{kind} missing");
        }
    }
}
