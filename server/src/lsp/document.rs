//! An open document: its text as a rope (edited in place), the text as one string for the
//! analysis core, its version, and its tree-sitter tree (edited and reparsed
//! incrementally). A document over `MAX_ANALYZED_BYTES` keeps only its text: no tree,
//! no checks, no editor features (see `too_large`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ropey::Rope;
use tower_lsp_server::ls_types::TextDocumentContentChangeEvent;
use tree_sitter::{InputEdit, Point, Tree};

use super::position::{self, Encoding};
use promptls_core::analysis::Analysis;
use promptls_core::check;
use promptls_core::syntax::tree as syntax_tree;

/// The largest document the server analyzes (diagnostics, folding, semantic tokens and
/// the other features), in bytes. Over it a 50 MB prompt cost seconds per request and
/// over a gigabyte of memory (BENCHMARKS.md, "Memory: the language server and a 50 MB
/// document"); editors turn their own features off at about this size too.
pub const MAX_ANALYZED_BYTES: usize = 16_000_000;

/// Whether a text of `len` bytes is over `MAX_ANALYZED_BYTES`.
pub fn too_large(len: usize) -> bool {
    len > MAX_ANALYZED_BYTES
}

/// The analysis of one version of a document, computed by whoever needs it first (the
/// check or a request) and shared by all the others; a new version starts empty.
pub type AnalysisCell = Arc<OnceLock<Analysis>>;

/// The cell's analysis, computed from `text` if nobody has yet.
pub fn analysis<'c>(
    cell: &'c AnalysisCell,
    text: &Arc<str>,
    path: Option<&std::path::Path>,
) -> &'c Analysis {
    cell.get_or_init(|| Analysis::shared(text.clone(), path))
}

pub struct Document {
    pub rope: Rope,
    /// The same text as `rope`; shared with checks running in the background.
    pub text: Arc<str>,
    pub version: i32,
    /// The file's path for `file:` URIs; partials and datasets resolve against it.
    pub path: Option<PathBuf>,
    /// The syntax tree. Every edit is told to it (`Tree::edit`) but it is reparsed
    /// (incrementally) only when asked for, so a burst of keystrokes costs one parse.
    /// `None` while the document is too large, and until first asked for after opening
    /// or a wholesale replacement.
    tree: Option<Tree>,
    tree_state: TreeState,
    /// The tier-1 diagnostics of this version, once its check has finished.
    pub diagnostics: Option<Arc<Vec<check::Diagnostic>>>,
    /// This version's analysis, once the check or a request has made it.
    pub analysis: AnalysisCell,
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
        Document {
            rope: Rope::from_str(&text),
            text: text.into(),
            version,
            path,
            // Parsed when first asked for (by a folding request, on the blocking pool),
            // not here under the session's lock on an async worker.
            tree: None,
            tree_state: TreeState::Replaced,
            diagnostics: None,
            analysis: AnalysisCell::default(),
        }
    }

    /// Whether the document is over `MAX_ANALYZED_BYTES` (and so not analyzed).
    pub fn too_large(&self) -> bool {
        too_large(self.text.len())
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
                    // Nothing of the old tree can be reused: free it now.
                    self.tree = None;
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
                    let new_end_position = self.point(new_end);
                    if let Some(tree) = &mut self.tree {
                        tree.edit(&InputEdit {
                            start_byte: span.start,
                            old_end_byte: span.end,
                            new_end_byte: new_end,
                            start_position: start_point,
                            old_end_position: old_end_point,
                            new_end_position,
                        });
                    }
                }
            }
        }
        self.text = self.rope.to_string().into();
        if self.too_large() {
            // Grown over the limit: the tree would only hold memory.
            self.tree = None;
            self.tree_state = TreeState::Replaced;
        }
        self.version = version;
        self.diagnostics = None;
        self.analysis = AnalysisCell::default();
        if clamped {
            Err(EditOutOfRange)
        } else {
            Ok(())
        }
    }

    /// The syntax tree of the current text; `None` if the document is too large. (The
    /// server goes through `pending_tree`, so as not to parse under the session's lock.)
    #[cfg(test)]
    pub fn tree(&mut self) -> Option<&Tree> {
        if self.too_large() {
            return None;
        }
        let tree = match (self.tree_state, self.tree.take()) {
            (TreeState::Current, Some(tree)) => tree,
            (TreeState::Edited, Some(old)) => syntax_tree::reparse_tree(&self.text, &old),
            _ => syntax_tree::parse_tree(&self.text),
        };
        self.tree_state = TreeState::Current;
        Some(self.tree.insert(tree))
    }

    /// What bringing the tree up to date needs, to do it outside the session's lock:
    /// `None` if the document is too large. Store the result with `store_tree`.
    pub fn pending_tree(&self) -> Option<PendingTree> {
        if self.too_large() {
            return None;
        }
        Some(PendingTree {
            version: self.version,
            text: self.text.clone(),
            // A tree is a reference-counted handle: cloning it copies no nodes.
            old: match self.tree_state {
                TreeState::Replaced => None,
                TreeState::Current | TreeState::Edited => self.tree.clone(),
            },
            current: self.tree_state == TreeState::Current,
        })
    }

    /// Keeps a tree made from `pending_tree` if the document has not changed since.
    pub fn store_tree(&mut self, version: i32, tree: &Tree) {
        if self.version == version && !self.too_large() && self.tree_state != TreeState::Current {
            self.tree = Some(tree.clone());
            self.tree_state = TreeState::Current;
        }
    }

    /// Tree-sitter's point (row, byte column) of a byte offset in the current rope.
    fn point(&self, byte: usize) -> Point {
        let line = self.rope.byte_to_line(byte);
        Point::new(line, byte - self.rope.line_to_byte(line))
    }
}

/// A document's tree as of one version, to be brought up to date off the session's lock.
pub struct PendingTree {
    pub version: i32,
    text: Arc<str>,
    old: Option<Tree>,
    current: bool,
}

impl PendingTree {
    /// The tree of the version's text: the kept one, an incremental reparse of the edited
    /// one, or a fresh parse.
    pub fn finish(self) -> Tree {
        match (self.current, self.old) {
            (true, Some(tree)) => tree,
            (false, Some(old)) => syntax_tree::reparse_tree(&self.text, &old),
            _ => syntax_tree::parse_tree(&self.text),
        }
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
            doc.tree().unwrap().root_node().to_sexp(),
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
            doc.tree().unwrap().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );

        // Brought up to date off the document, as the folding request does.
        doc.apply_changes(vec![change(4, 0, 4, 0, "{{y}}")], 4, Encoding::Utf16)
            .unwrap();
        let pending = doc.pending_tree().unwrap();
        let version = pending.version;
        let reparsed = pending.finish();
        let fresh = syntax_tree::parse_tree(&doc.text);
        assert_eq!(reparsed.root_node().to_sexp(), fresh.root_node().to_sexp());
        doc.store_tree(version, &reparsed);
        assert_eq!(doc.tree_state, TreeState::Current);

        // Several edits before the tree is asked for.
        doc.apply_changes(vec![change(5, 0, 5, 0, "{{#each xs}}")], 5, Encoding::Utf16)
            .unwrap();
        doc.apply_changes(vec![change(6, 0, 6, 0, "{{/each}}")], 6, Encoding::Utf16)
            .unwrap();
        let fresh = syntax_tree::parse_tree(&doc.text);
        assert_eq!(
            doc.tree().unwrap().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
    }

    #[test]
    fn a_document_over_the_limit_has_no_tree_until_it_shrinks() {
        let line = "word {{text}} more\n";
        let big = line.repeat(MAX_ANALYZED_BYTES / line.len() + 1);
        let mut doc = Document::new(big, 1, None);
        assert!(doc.too_large());
        assert!(doc.tree.is_none());
        assert!(doc.tree().is_none());
        // Cut it to its first line: analyzed again, with a fresh tree.
        // ropey counts the empty line after the last line break: the end of the text.
        let end = doc.rope.len_lines() as u32 - 1;
        doc.apply_changes(vec![change(1, 0, end, 0, "")], 2, Encoding::Utf8)
            .unwrap();
        assert_eq!(&*doc.text, line);
        assert!(!doc.too_large());
        let fresh = syntax_tree::parse_tree(line);
        assert_eq!(
            doc.tree().unwrap().root_node().to_sexp(),
            fresh.root_node().to_sexp()
        );
        // Grown over the limit again by one edit: the tree is dropped at once.
        let more = line.repeat(MAX_ANALYZED_BYTES / line.len() + 1);
        doc.apply_changes(vec![change(1, 0, 1, 0, &more)], 3, Encoding::Utf8)
            .unwrap();
        assert!(doc.too_large());
        assert!(doc.tree.is_none());
    }

    #[test]
    fn out_of_range_edits_are_clamped_and_reported() {
        let mut doc = Document::new("ab\n".into(), 1, None);
        let result = doc.apply_changes(vec![change(5, 0, 9, 0, "!")], 2, Encoding::Utf8);
        assert_eq!(result, Err(EditOutOfRange));
        assert_eq!(&*doc.text, "ab\n!");
    }
}
