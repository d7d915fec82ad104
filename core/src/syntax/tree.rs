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

/// Reparses after `old` was told of the edits (`Tree::edit`), reusing its unchanged parts.
pub fn reparse_tree(source: &str, old: &Tree) -> Tree {
    PARSER
        .with(|p| p.borrow_mut().parse(source, Some(old)))
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

/// The tree as indented S-expressions with 0-based `[row, column]` ranges, one named
/// node per line (the format of `tree-sitter parse`), for looking at what the grammar saw.
pub fn pretty(tree: &Tree) -> String {
    let mut out = String::new();
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    let mut visited_children = false;
    loop {
        let node = cursor.node();
        if !visited_children {
            if node.is_named() || node.is_missing() {
                let (s, e) = (node.start_position(), node.end_position());
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(depth));
                if let Some(field) = cursor.field_name() {
                    out.push_str(field);
                    out.push_str(": ");
                }
                let kind = if node.is_missing() {
                    format!("MISSING {}", node.kind())
                } else {
                    node.kind().to_string()
                };
                out.push_str(&format!(
                    "({kind} [{}, {}] - [{}, {}]",
                    s.row, s.column, e.row, e.column
                ));
            }
            if cursor.goto_first_child() {
                if node.is_named() || node.is_missing() {
                    depth += 1;
                }
                continue;
            }
            if node.is_named() || node.is_missing() {
                out.push(')');
            }
        }
        if cursor.goto_next_sibling() {
            visited_children = false;
            continue;
        }
        if !cursor.goto_parent() {
            break;
        }
        visited_children = true;
        let parent = cursor.node();
        if parent.is_named() || parent.is_missing() {
            depth = depth.saturating_sub(1);
            out.push(')');
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_prints_named_nodes_with_ranges() {
        let tree = parse_tree("Hi {{name}}\n");
        assert_eq!(
            pretty(&tree),
            "(document [0, 0] - [1, 0]\n  (text [0, 0] - [0, 3])\n  (mustache [0, 3] - [0, 11]\n    (path [0, 5] - [0, 9]\n      (identifier [0, 5] - [0, 9])))\n  (text [0, 11] - [1, 0]))\n"
        );
    }

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
