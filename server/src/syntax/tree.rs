//! The concrete syntax tree from the tree-sitter grammar (grammars/tree-sitter-prompt):
//! the structure editors see (folding, highlighting), reparsed incrementally by the
//! language server. It never fails;
//! broken input yields ERROR/MISSING nodes.

use std::cell::RefCell;

use tree_sitter::{Node, Parser, Query, QueryCursor, StreamingIterator, Tree};

use super::Span;

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_prompt::LANGUAGE.into())
            .expect("the bundled grammar matches the tree-sitter runtime");
        parser
    });
}

/// Parses a whole `.prompt` file.
pub fn parse_tree(source: &str) -> Tree {
    PARSER
        .with(|p| p.borrow_mut().parse(source, None))
        .expect("parsing without a timeout or cancel flag always returns a tree")
}

pub fn span(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

/// Ranges an editor can fold, from the grammar's `queries/folds.scm`.
pub fn folds(tree: &Tree, source: &str) -> Vec<Span> {
    thread_local! {
        static QUERY: Query = Query::new(&tree_sitter_prompt::LANGUAGE.into(), tree_sitter_prompt::FOLDS_QUERY)
            .expect("folds.scm compiles");
    }
    QUERY.with(|query| {
        let mut cursor = QueryCursor::new();
        let mut out = Vec::new();
        let mut matches = cursor.matches(query, tree.root_node(), source.as_bytes());
        while let Some(m) = matches.next() {
            for capture in m.captures {
                out.push(span(capture.node));
            }
        }
        out.sort();
        out.dedup();
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_frontmatter_blocks_and_demos() {
        let src = "---\na: 1\n---\n{{#if x}}\ny\n{{/if}}\n{{!-- promptls:demos --}}\nd\n{{!-- /promptls:demos --}}\n";
        let tree = parse_tree(src);
        let folded: Vec<&str> = folds(&tree, src)
            .iter()
            .map(|s| &src[s.start..s.end])
            .collect();
        assert!(
            folded.iter().any(|f| f.starts_with("---\na: 1")),
            "{folded:?}"
        );
        assert!(folded.contains(&"{{#if x}}\ny\n{{/if}}"), "{folded:?}");
        assert!(
            folded
                .iter()
                .any(|f| f.starts_with("{{!-- promptls:demos --}}")),
            "{folded:?}"
        );
    }
}
