//! LSP positions <-> byte offsets, in the encoding negotiated at `initialize`.
//!
//! LSP lines end at LF, CRLF or CR (ropey is built with `cr_lines` to agree). Columns
//! count UTF-16 code units by default, or bytes when the client offers UTF-8. A position
//! past the end of its line means the end of the line (the spec's rule); a line past the
//! end of the document means the end of the document.

use ropey::Rope;
use tower_lsp_server::ls_types::{Position, PositionEncodingKind, Range};

use promptls_core::syntax::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf16,
    Utf8,
}

impl Encoding {
    /// UTF-8 when the client offers it (no conversion needed), else the mandatory UTF-16.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf8 => PositionEncodingKind::UTF8,
        }
    }
}

/// Whether `position` was inside the document (the byte offset is clamped either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset {
    pub byte: usize,
    pub clamped: bool,
}

/// The length of `line` without its line ending, in bytes.
fn line_content_bytes(rope: &Rope, line: usize) -> usize {
    let slice = rope.line(line);
    let mut len = slice.len_bytes();
    let mut chars = slice.chars_at(slice.len_chars());
    // At most two trailing characters form the ending (CRLF).
    for _ in 0..2 {
        match chars.prev() {
            Some('\n') if len > 0 => len -= 1,
            Some('\r') if len > 0 => {
                len -= 1;
                break;
            }
            _ => break,
        }
    }
    len
}

/// The byte offset of `position`.
pub fn to_offset(rope: &Rope, position: Position, encoding: Encoding) -> Offset {
    let line = position.line as usize;
    // ropey counts a final empty line after a trailing line break.
    if line >= rope.len_lines() {
        return Offset {
            byte: rope.len_bytes(),
            clamped: true,
        };
    }
    let start = rope.line_to_byte(line);
    let content = line_content_bytes(rope, line);
    let column = position.character as usize;
    let (within, clamped) = match encoding {
        Encoding::Utf8 => {
            if column > content {
                (content, true)
            } else {
                // A column inside a multi-byte character moves back to its start.
                let char_idx = rope.byte_to_char(start + column);
                (rope.char_to_byte(char_idx) - start, false)
            }
        }
        Encoding::Utf16 => {
            let first_char = rope.byte_to_char(start);
            let first_cu = rope.char_to_utf16_cu(first_char);
            let end_char = rope.byte_to_char(start + content);
            let line_cus = rope.char_to_utf16_cu(end_char) - first_cu;
            if column > line_cus {
                (content, true)
            } else {
                // A column between the halves of a surrogate pair moves to the char start.
                let char_idx = rope.utf16_cu_to_char(first_cu + column);
                (rope.char_to_byte(char_idx) - start, false)
            }
        }
    };
    Offset {
        byte: start + within,
        clamped,
    }
}

/// The position of byte `offset` (clamped to the document, moved back to a char start).
pub fn to_position(rope: &Rope, offset: usize, encoding: Encoding) -> Position {
    let offset = offset.min(rope.len_bytes());
    let char_idx = rope.byte_to_char(offset);
    let line = rope.char_to_line(char_idx);
    let line_char = rope.line_to_char(line);
    let character = match encoding {
        Encoding::Utf8 => rope.char_to_byte(char_idx) - rope.line_to_byte(line),
        Encoding::Utf16 => rope.char_to_utf16_cu(char_idx) - rope.char_to_utf16_cu(line_char),
    };
    Position::new(line as u32, character as u32)
}

/// Positions of increasing byte offsets by one pass over the text, for results with
/// millions of positions in order (semantic tokens): `to_position` walks the rope for
/// each one, which was most of the time of the tokens of a large document.
pub struct Cursor<'a> {
    text: &'a [u8],
    encoding: Encoding,
    byte: usize,
    line: u32,
    character: u32,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str, encoding: Encoding) -> Cursor<'a> {
        Cursor {
            text: text.as_bytes(),
            encoding,
            byte: 0,
            line: 0,
            character: 0,
        }
    }

    /// The position of byte `offset` (clamped to the text, moved back to a char start, as
    /// `to_position`). `line_end(line, character)` is told of every line ending passed on
    /// the way, with the column where that line's content ends. An offset behind the
    /// cursor starts it again from the beginning (correct, only slower).
    pub fn advance(&mut self, offset: usize, mut line_end: impl FnMut(u32, u32)) -> Position {
        let offset = offset.min(self.text.len());
        if offset < self.byte {
            (self.byte, self.line, self.character) = (0, 0, 0);
        }
        while self.byte < offset {
            let b = self.text[self.byte];
            match b {
                b'\n' => {
                    // The CR of a CRLF was counted as a column; the content ends before it.
                    let crlf = self.byte > 0 && self.text[self.byte - 1] == b'\r';
                    line_end(self.line, self.character - u32::from(crlf));
                    self.line += 1;
                    self.character = 0;
                    self.byte += 1;
                }
                b'\r' if self.text.get(self.byte + 1) != Some(&b'\n') => {
                    line_end(self.line, self.character);
                    self.line += 1;
                    self.character = 0;
                    self.byte += 1;
                }
                _ => {
                    let len = match b {
                        0..=0x7F => 1,
                        0xC0..=0xDF => 2,
                        0xE0..=0xEF => 3,
                        _ => 4,
                    };
                    if self.byte + len > offset {
                        // Inside a character: its start.
                        break;
                    }
                    self.character += match (self.encoding, len) {
                        (Encoding::Utf8, _) => len as u32,
                        (Encoding::Utf16, 4) => 2,
                        (Encoding::Utf16, _) => 1,
                    };
                    self.byte += len;
                }
            }
        }
        Position::new(self.line, self.character)
    }
}

pub fn to_range(rope: &Rope, span: Span, encoding: Encoding) -> Range {
    Range::new(
        to_position(rope, span.start, encoding),
        to_position(rope, span.end, encoding),
    )
}

pub fn to_span(rope: &Rope, range: Range, encoding: Encoding) -> (Span, bool) {
    let start = to_offset(rope, range.start, encoding);
    let end = to_offset(rope, range.end, encoding);
    let clamped = start.clamped || end.clamped;
    if end.byte < start.byte {
        // A reversed range is out of order, not meaningful: treat it as empty at start.
        return (Span::empty(start.byte), true);
    }
    (Span::new(start.byte, end.byte), clamped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, character: u32) -> Position {
        Position::new(line, character)
    }

    #[test]
    fn utf16_columns_count_code_units() {
        // "é" is 2 bytes / 1 unit; "😀" is 4 bytes / 2 units.
        let rope = Rope::from_str("aé😀b\nx");
        let e = Encoding::Utf16;
        assert_eq!(to_offset(&rope, pos(0, 2), e).byte, 3);
        assert_eq!(to_offset(&rope, pos(0, 4), e).byte, 7);
        assert_eq!(to_position(&rope, 7, e), pos(0, 4));
        assert_eq!(to_position(&rope, 9, e), pos(1, 0));
        // Between the surrogate halves: back to the emoji's start.
        assert_eq!(to_offset(&rope, pos(0, 3), e).byte, 3);
    }

    #[test]
    fn utf8_columns_count_bytes() {
        let rope = Rope::from_str("aé😀b\nx");
        let e = Encoding::Utf8;
        assert_eq!(to_offset(&rope, pos(0, 7), e).byte, 7);
        assert_eq!(to_position(&rope, 7, e), pos(0, 7));
        // Inside "é": back to its start.
        assert_eq!(to_offset(&rope, pos(0, 2), e).byte, 1);
    }

    #[test]
    fn line_endings_lf_crlf_cr() {
        let rope = Rope::from_str("a\r\nbc\rd\ne");
        for e in [Encoding::Utf8, Encoding::Utf16] {
            assert_eq!(to_offset(&rope, pos(1, 0), e).byte, 3);
            assert_eq!(to_offset(&rope, pos(2, 0), e).byte, 6);
            assert_eq!(to_offset(&rope, pos(3, 0), e).byte, 8);
            assert_eq!(to_position(&rope, 6, e), pos(2, 0));
            // Past the end of a CRLF line: its end, before the CR.
            let past = to_offset(&rope, pos(0, 99), e);
            assert_eq!((past.byte, past.clamped), (1, true));
        }
    }

    #[test]
    fn out_of_range_is_clamped() {
        let rope = Rope::from_str("ab\n");
        let o = to_offset(&rope, pos(7, 3), Encoding::Utf16);
        assert_eq!((o.byte, o.clamped), (3, true));
        assert_eq!(to_position(&rope, 99, Encoding::Utf16), pos(1, 0));
        let (span, clamped) = to_span(&rope, Range::new(pos(0, 2), pos(0, 1)), Encoding::Utf16);
        assert_eq!((span, clamped), (Span::empty(2), true));
    }

    proptest::proptest! {
        /// The cursor gives `to_position`'s answer for any increasing offsets, and tells
        /// of the line endings passed with each line's content end.
        #[test]
        fn cursor_agrees_with_to_position(
            text in "[a-zé😀\r\n ]{0,40}",
            mut offsets in proptest::collection::vec(0usize..45, 0..12),
            utf8 in proptest::prelude::any::<bool>(),
        ) {
            let encoding = if utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
            let rope = Rope::from_str(&text);
            offsets.sort();
            let mut cursor = Cursor::new(&text, encoding);
            let mut ends = Vec::new();
            for offset in &offsets {
                let at = cursor.advance(*offset, |line, character| ends.push((line, character)));
                proptest::prop_assert_eq!(at, to_position(&rope, *offset, encoding));
            }
            // Every line ending passed, with its content end as `line_content_bytes` says.
            let last = offsets.last().map_or(0, |o| to_position(&rope, *o, encoding).line);
            let expected: Vec<(u32, u32)> = (0..last)
                .map(|line| {
                    let start = rope.line_to_byte(line as usize);
                    let end = start + line_content_bytes(&rope, line as usize);
                    (line, to_position(&rope, end, encoding).character)
                })
                .collect();
            proptest::prop_assert_eq!(ends, expected);
        }

        /// Any position in any text maps to a char boundary inside it, and a boundary's
        /// position maps back to the same byte.
        #[test]
        fn positions_round_trip(
            text in "[a-zé😀\r\n ]{0,40}",
            line in 0u32..8,
            character in 0u32..50,
            utf8 in proptest::prelude::any::<bool>(),
        ) {
            let encoding = if utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
            let rope = Rope::from_str(&text);
            let offset = to_offset(&rope, pos(line, character), encoding).byte;
            proptest::prop_assert!(text.is_char_boundary(offset));
            let back = to_position(&rope, offset, encoding);
            proptest::prop_assert_eq!(to_offset(&rope, back, encoding).byte, offset);
        }
    }
}
