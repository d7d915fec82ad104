//! An open document: its text as a rope (edited in place), the text as one string for the
//! analysis core, its version, and its tree-sitter tree (edited and reparsed
//! incrementally).

use std::path::PathBuf;
use std::sync::Arc;

use ropey::Rope;
use tower_lsp_server::ls_types::TextDocumentContentChangeEvent;
use tree_sitter::{InputEdit, Point, Tree};

use super::position::{self, Encoding};
use crate::check;
use crate::syntax::tree as syntax_tree;

pub struct Document {
    pub rope: Rope,
    /// The same text as `rope`; shared with checks running in the background.
    pub text: Arc<str>,
    pub version: i32,
    /// The file's path for `file:` URIs; partials and datasets resolve against it.
    pub path: Option<PathBuf>,
    /// The syntax tree. Every edit is told to it (`Tree::edit`) but it is reparsed
    /// (incrementally) only when asked for, so a burst of keystrokes costs one parse.
    tree: Tree,
    tree_state: TreeState,
    /// The tier-1 diagnostics of this version, once its check has finished.
    pub diagnostics: Option<Arc<Vec<check::Diagnostic>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeState {
    Current,
    /// Edited since the last parse; the unchanged parts can be reused.
    Edited,
    /// Replaced wholesale; nothing can be reused.
    Replaced,
}

/// What went wrong applying an edit (the edit is still applied, clamped).
#[derive(Debug, PartialEq, Eq)]
pub struct EditOutOfRange;

impl Document {
    pub fn new(text: String, version: i32, path: Option<PathBuf>) -> Document {
        let tree = syntax_tree::parse_tree(&text);
        Document {
            rope: Rope::from_str(&text),
            text: text.into(),
            version,
            path,
            tree,
            tree_state: TreeState::Current,
            diagnostics: None,
        }
    }

    /// Applies LSP content changes in order. Positions outside the document are clamped
    /// (as VS Code does); the result says whether any were.
    pub fn apply_changes(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        encoding: Encoding,
    ) -> Result<(), EditOutOfRange> {
        let mut clamped = false;
        for change in changes {
            match change.range {
                None => {
                    self.rope = Rope::from_str(&change.text);
                    self.tree_state = TreeState::Replaced;
                }
                Some(range) => {
                    let (span, out_of_range) = position::to_span(&self.rope, range, encoding);
                    clamped |= out_of_range;
                    let start_point = self.point(span.start);
                    let old_end_point = self.point(span.end);
                    let start_char = self.rope.byte_to_char(span.start);
                    let end_char = self.rope.byte_to_char(span.end);
                    self.rope.remove(start_char..end_char);
                    self.rope.insert(start_char, &change.text);
                    let new_end = span.start + change.text.len();
                    if self.tree_state == TreeState::Current {
                        self.tree_state = TreeState::Edited;
                    }
                    self.tree.edit(&InputEdit {
                        start_byte: span.start,
                        old_end_byte: span.end,
                        new_end_byte: new_end,
                        start_position: start_point,
                        old_end_position: old_end_point,
                        new_end_position: self.point(new_end),
                    });
                }
            }
        }
        self.text = self.rope.to_string().into();
        self.version = version;
        self.diagnostics = None;
        if clamped {
            Err(EditOutOfRange)
        } else {
            Ok(())
        }
    }

    /// The syntax tree of the current text.
    pub fn tree(&mut self) -> &Tree {
        match self.tree_state {
            TreeState::Current => {}
            TreeState::Edited => self.tree = syntax_tree::reparse_tree(&self.text, &self.tree),
            TreeState::Replaced => self.tree = syntax_tree::parse_tree(&self.text),
        }
        self.tree_state = TreeState::Current;
        &self.tree
    }

    /// Tree-sitter's point (row, byte column) of a byte offset in the current rope.
    fn point(&self, byte: usize) -> Point {
        let line = self.rope.byte_to_line(byte);
        Point::new(line, byte - self.rope.line_to_byte(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::{Position, Range};

    fn change(l1: u32, c1: u32, l2: u32, c2: u32, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: text.to_string(),
        }
    }

    #[test]
    fn incremental_edits_match_a_fresh_parse() {
        let mut doc = Document::new("---\nmodel: a/b\n---\nHé {{x}}\r\nbye\n".into(), 1, None);
        // Replace "x" (after "Hé {{": 5 UTF-16 units) with "name", then add a line.
        doc.apply_changes(vec![change(3, 5, 3, 6, "näme")], 2, Encoding::Utf16)
            .unwrap();
        let fresh = syntax_tree::parse_tree(&doc.text);
        assert_eq!(
            doc.tree().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
        doc.apply_changes(
            vec![change(4, 3, 4, 3, "\n{{#if a}}b{{/if}}")],
            3,
            Encoding::Utf16,
        )
        .unwrap();
        assert_eq!(
            &*doc.text,
            "---\nmodel: a/b\n---\nHé {{näme}}\r\nbye\n{{#if a}}b{{/if}}\n"
        );
        assert_eq!(doc.version, 3);
        let fresh = syntax_tree::parse_tree(&doc.text);
        assert_eq!(
            doc.tree().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );

        // Several edits before the tree is asked for.
        doc.apply_changes(vec![change(5, 0, 5, 0, "{{#each xs}}")], 4, Encoding::Utf16)
            .unwrap();
        doc.apply_changes(vec![change(6, 0, 6, 0, "{{/each}}")], 5, Encoding::Utf16)
            .unwrap();
        let fresh = syntax_tree::parse_tree(&doc.text);
        assert_eq!(
            doc.tree().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
    }

    #[test]
    fn out_of_range_edits_are_clamped_and_reported() {
        let mut doc = Document::new("ab\n".into(), 1, None);
        let result = doc.apply_changes(vec![change(5, 0, 9, 0, "!")], 2, Encoding::Utf8);
        assert_eq!(result, Err(EditOutOfRange));
        assert_eq!(&*doc.text, "ab\n!");
    }
}
