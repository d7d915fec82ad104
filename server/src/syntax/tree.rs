//! The concrete syntax tree from the tree-sitter grammar (grammars/tree-sitter-prompt):
//! the structure editors see (folding, highlighting, the demos region). It never fails;
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

/// One turn inside a `promptls:demos` region: a role marker and the text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTurn {
    pub role: String,
    pub role_span: Span,
    /// From the end of the role marker to the next marker or the region's end.
    pub content: Span,
    /// Whether the content holds template constructs (mustaches, blocks), so its text
    /// is not the literal text sent.
    pub templated: bool,
}

/// A `{{!-- promptls:demos --}}` ... `{{!-- /promptls:demos --}}` region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemosRegion {
    pub span: Span,
    pub start_marker: Span,
    /// `None` when the closing comment is missing.
    pub end_marker: Option<Span>,
    pub turns: Vec<DemoTurn>,
}

/// Every demos region, in file order, and every closing marker without an opening one.
pub fn demos(tree: &Tree, source: &str) -> (Vec<DemosRegion>, Vec<Span>) {
    let mut regions = Vec::new();
    let mut strays = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "demos_block" => regions.push(region(node, source)),
            "demos_end" => strays.push(span(node)),
            _ => {
                let mut cursor = node.walk();
                stack.extend(node.children(&mut cursor));
            }
        }
    }
    regions.sort_by_key(|r| r.span);
    strays.sort();
    (regions, strays)
}

fn region(block: Node, source: &str) -> DemosRegion {
    let mut start_marker = Span::empty(block.start_byte());
    let mut end_marker = None;
    let mut turns: Vec<DemoTurn> = Vec::new();
    let mut cursor = block.walk();
    let children: Vec<Node> = block.children(&mut cursor).collect();
    let content_end = |i: usize| {
        children[i + 1..]
            .iter()
            .find(|n| matches!(n.kind(), "role_marker" | "demos_end"))
            .map_or(block.end_byte(), |n| n.start_byte())
    };
    for (i, child) in children.iter().enumerate() {
        match child.kind() {
            "demos_start" => start_marker = span(*child),
            "demos_end" if !child.is_missing() => end_marker = Some(span(*child)),
            "role_marker" => {
                let role_node = child.child_by_field_name("role");
                let role = role_node
                    .map(|n| {
                        source[n.start_byte()..n.end_byte()]
                            .trim_matches(['"', '\''])
                            .to_string()
                    })
                    .unwrap_or_default();
                let end = content_end(i);
                let templated = children[i + 1..]
                    .iter()
                    .take_while(|n| n.start_byte() < end)
                    .any(|n| !matches!(n.kind(), "text" | "comment" | "escape"));
                turns.push(DemoTurn {
                    role,
                    role_span: span(*child),
                    content: Span::new(child.end_byte(), end.max(child.end_byte())),
                    templated,
                });
            }
            _ => {}
        }
    }
    DemosRegion {
        span: span(block),
        start_marker,
        end_marker,
        turns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_demo_turns() {
        let src = "{{role \"system\"}}\nX\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nI loved it.\n{{role \"model\"}}\npositive\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}";
        let tree = parse_tree(src);
        let (regions, strays) = demos(&tree, src);
        assert!(strays.is_empty());
        assert_eq!(regions.len(), 1);
        let r = &regions[0];
        assert!(r.end_marker.is_some());
        let turns: Vec<(&str, &str)> = r
            .turns
            .iter()
            .map(|t| (t.role.as_str(), &src[t.content.start..t.content.end]))
            .collect();
        assert_eq!(
            turns,
            [("user", "\nI loved it.\n"), ("model", "\npositive\n")]
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
