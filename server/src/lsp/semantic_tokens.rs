//! textDocument/semanticTokens/full: highlighting for clients without tree-sitter.
//! Tokens are split at line ends (the protocol's tokens are single-line unless the client
//! opts in) and delta-encoded in the negotiated position encoding.

use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};

use super::analysis::Snapshot;
use super::position;
use crate::ide::{Token, TokenKind};

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
    let rope = &snapshot.rope;
    let mut data = Vec::with_capacity(tokens.len());
    let (mut prev_line, mut prev_start) = (0u32, 0u32);
    let mut last_end = 0usize;
    for token in tokens {
        // Defensive: the core promises sorted, non-overlapping tokens.
        if token.span.start < last_end || token.span.is_empty() {
            continue;
        }
        last_end = token.span.end;
        let start = position::to_position(rope, token.span.start, snapshot.encoding);
        let end = position::to_position(rope, token.span.end, snapshot.encoding);
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
                // The end of this line's content, before its line break.
                let last = rope.byte_to_char(next_line_start).saturating_sub(1);
                let mut content_end = rope.char_to_byte(last);
                if content_end > 0 && rope.byte(content_end - 1) == b'\r' {
                    content_end -= 1;
                }
                position::to_position(rope, content_end, snapshot.encoding).character
            };
            if to <= from {
                continue;
            }
            let delta_line = line - prev_line;
            let delta_start = if delta_line == 0 {
                from - prev_start
            } else {
                from
            };
            data.push(SemanticToken {
                delta_line,
                delta_start,
                length: to - from,
                token_type: index(token.kind),
                token_modifiers_bitset: 0,
            });
            prev_line = line;
            prev_start = from;
        }
    }
    SemanticTokens {
        result_id: None,
        data,
    }
}
