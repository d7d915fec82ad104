//! textDocument/semanticTokens/full: highlighting for clients without tree-sitter.
//! Tokens are split at line ends (the protocol's tokens are single-line unless the client
//! opts in) and delta-encoded in the negotiated position encoding.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenType, SemanticTokens, SemanticTokensLegend, SemanticTokensParams,
    SemanticTokensResult,
};

use crate::lsp::analysis::Snapshot;
use crate::lsp::dispatch::SessionView;
use crate::lsp::memory;
use crate::lsp::position::{self, Encoding};
use promptls_core::ide::{self, Token, TokenKind};

pub fn handle(
    snapshot: &Snapshot,
    session: &SessionView,
    _: SemanticTokensParams,
) -> Result<Option<SemanticTokensResult>> {
    if snapshot.too_large() {
        // Declined: no tokens (the diagnostic on line 1 says why).
        return Ok(Some(
            SemanticTokensResult::Tokens(SemanticTokens::default()),
        ));
    }
    let tokens = snapshot.analyze(&session.state, ide::semantic_tokens)?;
    let tokens = to_lsp(snapshot, tokens);
    memory::release_after(snapshot.text.len());
    Ok(Some(SemanticTokensResult::Tokens(tokens)))
}

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TokenKind::ALL.iter().map(|k| token_type(*k)).collect(),
        token_modifiers: Vec::new(),
    }
}

/// Standard token types where one fits, so themes colour them without configuration.
fn token_type(kind: TokenKind) -> SemanticTokenType {
    match kind {
        TokenKind::Delimiter => SemanticTokenType::OPERATOR,
        TokenKind::Key => SemanticTokenType::PROPERTY,
        TokenKind::String => SemanticTokenType::STRING,
        TokenKind::Number => SemanticTokenType::NUMBER,
        TokenKind::Keyword => SemanticTokenType::KEYWORD,
        TokenKind::Variable => SemanticTokenType::VARIABLE,
        TokenKind::Helper => SemanticTokenType::FUNCTION,
        TokenKind::Role => SemanticTokenType::ENUM_MEMBER,
        TokenKind::Partial => SemanticTokenType::NAMESPACE,
        TokenKind::Comment => SemanticTokenType::COMMENT,
        TokenKind::Demos => SemanticTokenType::MACRO,
    }
}

fn index(kind: TokenKind) -> u32 {
    TokenKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u32
}

pub fn to_lsp(snapshot: &Snapshot, tokens: Vec<Token>) -> SemanticTokens {
    encode(&snapshot.text, snapshot.encoding, tokens)
}

/// The tokens of `text`, split at line ends and delta-encoded, in one pass over the text
/// (the tokens are in order).
fn encode(text: &str, encoding: Encoding, tokens: Vec<Token>) -> SemanticTokens {
    let mut out = Encoder {
        data: Vec::with_capacity(tokens.len()),
        prev_line: 0,
        prev_start: 0,
    };
    let mut cursor = position::Cursor::new(text, encoding);
    let mut last_end = 0usize;
    for token in tokens {
        // Defensive: the core promises sorted, non-overlapping tokens.
        if token.span.start < last_end || token.span.is_empty() {
            continue;
        }
        last_end = token.span.end;
        let kind = index(token.kind);
        let start = cursor.advance(token.span.start, |_, _| {});
        let from = |line: u32| {
            if line == start.line {
                start.character
            } else {
                0
            }
        };
        // Each line the token ends on the way is one piece, up to that line's content end.
        let end = cursor.advance(token.span.end, |line, content_end| {
            out.push(line, from(line), content_end, kind)
        });
        out.push(end.line, from(end.line), end.character, kind);
    }
    SemanticTokens {
        result_id: None,
        data: out.data,
    }
}

/// The protocol's relative encoding of single-line tokens.
struct Encoder {
    data: Vec<SemanticToken>,
    prev_line: u32,
    prev_start: u32,
}

impl Encoder {
    fn push(&mut self, line: u32, from: u32, to: u32, token_type: u32) {
        if to <= from {
            return;
        }
        let delta_line = line - self.prev_line;
        let delta_start = if delta_line == 0 {
            from - self.prev_start
        } else {
            from
        };
        self.data.push(SemanticToken {
            delta_line,
            delta_start,
            length: to - from,
            token_type,
            token_modifiers_bitset: 0,
        });
        self.prev_line = line;
        self.prev_start = from;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptls_core::syntax::Span;
    use ropey::Rope;

    /// The encoding as it was done with a rope lookup per position: what `encode` must
    /// still produce. (One fix: the old code took a lone CR ending the line before for
    /// the CR of a CRLF, and gave an empty CR-ended line a token one unit long.)
    fn by_rope(text: &str, encoding: Encoding, tokens: &[Token]) -> Vec<SemanticToken> {
        let rope = Rope::from_str(text);
        let mut out = Encoder {
            data: Vec::new(),
            prev_line: 0,
            prev_start: 0,
        };
        let mut last_end = 0usize;
        for token in tokens {
            if token.span.start < last_end || token.span.is_empty() {
                continue;
            }
            last_end = token.span.end;
            let start = position::to_position(&rope, token.span.start, encoding);
            let end = position::to_position(&rope, token.span.end, encoding);
            for line in start.line..=end.line {
                let from = if line == start.line {
                    start.character
                } else {
                    0
                };
                let to = if line == end.line {
                    end.character
                } else {
                    let next_line_start = rope.line_to_byte(line as usize + 1);
                    let last = rope.byte_to_char(next_line_start).saturating_sub(1);
                    let mut content_end = rope.char_to_byte(last);
                    if rope.char(last) == '\n'
                        && content_end > 0
                        && rope.byte(content_end - 1) == b'\r'
                    {
                        content_end -= 1;
                    }
                    position::to_position(&rope, content_end, encoding).character
                };
                out.push(line, from, to, index(token.kind));
            }
        }
        out.data
    }

    proptest::proptest! {
        #[test]
        fn one_pass_encoding_matches_the_rope_lookups(
            text in "[a-zé😀\r\n ]{0,60}",
            cuts in proptest::collection::vec(0usize..70, 0..16),
            utf8 in proptest::prelude::any::<bool>(),
        ) {
            let encoding = if utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
            // Pairs of sorted cuts as spans, moved to char boundaries, some overlapping.
            let mut cuts: Vec<usize> = cuts
                .into_iter()
                .map(|c| {
                    let mut c = c.min(text.len());
                    while !text.is_char_boundary(c) {
                        c -= 1;
                    }
                    c
                })
                .collect();
            cuts.sort();
            let tokens: Vec<Token> = cuts
                .chunks(2)
                .filter(|pair| pair.len() == 2)
                .enumerate()
                .map(|(i, pair)| Token {
                    span: Span::new(pair[0], pair[1]),
                    kind: TokenKind::ALL[i % TokenKind::ALL.len()],
                })
                .collect();
            let expected = by_rope(&text, encoding, &tokens);
            proptest::prop_assert_eq!(encode(&text, encoding, tokens).data, expected);
        }
    }
}
