//! Byte offsets <-> lines and columns (UTF-8 and UTF-16), for people and protocols.

/// Start offsets of every line of a text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

/// A 0-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 0-based line and byte column of `offset`.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        LineCol {
            line,
            col: offset - self.starts[line],
        }
    }

    /// 0-based line and UTF-16 column of `offset` (LSP and SARIF count UTF-16 code units).
    pub fn line_col_utf16(&self, text: &str, offset: usize) -> LineCol {
        let LineCol { line, col } = self.line_col(offset);
        let start = self.starts[line];
        let col = text[start..start + col].chars().map(char::len_utf16).sum();
        LineCol { line, col }
    }

    /// 0-based line and column in characters (what people count).
    pub fn line_col_chars(&self, text: &str, offset: usize) -> LineCol {
        let LineCol { line, col } = self.line_col(offset);
        let start = self.starts[line];
        LineCol {
            line,
            col: text[start..start + col].chars().count(),
        }
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line.min(self.starts.len() - 1)]
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let text = "ab\nçd😀x\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(0), LineCol { line: 0, col: 0 });
        assert_eq!(idx.line_col(3), LineCol { line: 1, col: 0 });
        let x = text.find('x').unwrap();
        assert_eq!(idx.line_col(x), LineCol { line: 1, col: 7 });
        assert_eq!(idx.line_col_utf16(text, x), LineCol { line: 1, col: 4 });
        assert_eq!(idx.line_col_chars(text, x), LineCol { line: 1, col: 3 });
        assert_eq!(idx.line_col(text.len()), LineCol { line: 2, col: 0 });
    }
}
