/*
 * External scanner for the Dotprompt (.prompt) grammar.
 *
 * It lexes everything whose meaning depends on position rather than on
 * punctuation: the frontmatter (preamble, `---` lines, YAML), template text
 * (which runs until the next `{{`), escapes, comments (including the
 * `promptls:demos` markers), raw-block content, and the `else` / `role` /
 * `history` keywords (only when a delimiter follows, so `{{elsewhere}}` and
 * `{{history.x}}` stay ordinary paths). The scanner keeps no state.
 */

#include "tree_sitter/parser.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum TokenType {
  PREAMBLE,
  FRONTMATTER_OPEN,
  YAML_CONTENT,
  FRONTMATTER_CLOSE,
  TEXT,
  ESCAPE,
  COMMENT,
  DEMOS_START,
  DEMOS_END,
  RAW_CONTENT,
  KW_ELSE,
  KW_ROLE,
  KW_HISTORY,
  ERROR_SENTINEL,
};

static inline void advance(TSLexer *lexer) { lexer->advance(lexer, false); }

static inline bool is_blank(int32_t c) { return c == ' ' || c == '\t' || c == '\r'; }

static inline bool is_space(int32_t c) { return is_blank(c) || c == '\n' || c == '\f' || c == '\v'; }

/* `---` followed by blanks up to the end of the line; consumes the newline. */
static bool scan_delimiter_line(TSLexer *lexer) {
  for (int i = 0; i < 3; i++) {
    if (lexer->lookahead != '-') return false;
    advance(lexer);
  }
  while (is_blank(lexer->lookahead)) advance(lexer);
  if (lexer->eof(lexer)) return true;
  if (lexer->lookahead == '\n') {
    advance(lexer);
    return true;
  }
  return false;
}

/*
 * A comment, after its `{{` has been consumed: `{{! ... }}` or
 * `{{!-- ... --}}`, either with `~`. A comment whose trimmed content is
 * `promptls:demos` / `/promptls:demos` is a demos marker where one is valid.
 * An unterminated comment is not a token (the parser reports the error).
 */
static bool scan_comment(TSLexer *lexer, const bool *valid) {
  if (lexer->lookahead == '~') advance(lexer);
  if (lexer->lookahead != '!') return false;
  advance(lexer);

  bool long_form = false;
  if (lexer->lookahead == '-') {
    advance(lexer);
    if (lexer->lookahead == '-') {
      advance(lexer);
      long_form = true;
    }
  }

  /* Content is buffered (only as far as a demos marker could reach). */
  char buf[40];
  unsigned len = 0;
  bool overflow = false;
  unsigned dashes = 0;  /* long form: consecutive '-' just seen */
  bool tilde = false;   /* long form: '~' right after the dashes */
  for (;;) {
    if (lexer->eof(lexer)) return false;
    int32_t c = lexer->lookahead;
    advance(lexer);
    if (c == '}' && lexer->lookahead == '}' && (!long_form || dashes >= 2)) {
      advance(lexer);
      break;
    }
    if (long_form) {
      if (c == '-') {
        dashes++;
        tilde = false;
      } else if (c == '~' && dashes >= 2 && !tilde) {
        tilde = true;
      } else {
        dashes = 0;
        tilde = false;
      }
    }
    if (len < sizeof(buf) - 1 && c < 128) {
      buf[len++] = (char)c;
    } else {
      overflow = true;
    }
  }
  lexer->mark_end(lexer);

  lexer->result_symbol = COMMENT;
  if (!overflow) {
    /* Drop the closing `--`, `--~` or `~` and surrounding whitespace. */
    while (len > 0 && (buf[len - 1] == '~' || (long_form && buf[len - 1] == '-'))) len--;
    unsigned start = 0;
    while (start < len && is_space((unsigned char)buf[start])) start++;
    while (len > start && is_space((unsigned char)buf[len - 1])) len--;
    buf[len] = '\0';
    const char *content = buf + start;
    if (valid[DEMOS_START] && strcmp(content, "promptls:demos") == 0) {
      lexer->result_symbol = DEMOS_START;
    } else if (valid[DEMOS_END] && strcmp(content, "/promptls:demos") == 0) {
      lexer->result_symbol = DEMOS_END;
    }
  }
  return lexer->result_symbol != COMMENT || valid[COMMENT];
}

/* The rest of `\{{ ... }}` after `\{{`: up to and including `}}`. */
static bool scan_escape_rest(TSLexer *lexer) {
  while (!lexer->eof(lexer)) {
    int32_t c = lexer->lookahead;
    advance(lexer);
    if (c == '}' && lexer->lookahead == '}') {
      advance(lexer);
      break;
    }
  }
  lexer->mark_end(lexer);
  lexer->result_symbol = ESCAPE;
  return true;
}

/*
 * Template text up to the next `{{` or `\{{`; at a `{{` with no text before
 * it, a comment; at `\{{`, an escape. `has_text` says whether characters
 * consumed by the caller already belong to the text.
 */
static bool scan_text(TSLexer *lexer, const bool *valid, bool has_text) {
  for (;;) {
    if (lexer->eof(lexer)) break;
    int32_t c = lexer->lookahead;
    if (c == '{') {
      lexer->mark_end(lexer);
      advance(lexer);
      if (lexer->lookahead == '{') {
        if (has_text) {
          lexer->result_symbol = TEXT;
          return valid[TEXT];
        }
        advance(lexer);
        return scan_comment(lexer, valid);
      }
    } else if (c == '\\') {
      lexer->mark_end(lexer);
      advance(lexer);
      if (lexer->lookahead == '\\') {
        /* `\\{{x}}`: the backslashes are text and the mustache is live. */
        advance(lexer);
      } else if (lexer->lookahead == '{') {
        advance(lexer);
        if (lexer->lookahead == '{') {
          if (has_text) {
            lexer->result_symbol = TEXT;
            return valid[TEXT];
          }
          if (!valid[ESCAPE]) return false;
          advance(lexer);
          return scan_escape_rest(lexer);
        }
      }
    } else {
      advance(lexer);
    }
    has_text = true;
  }
  if (!has_text || !valid[TEXT]) return false;
  lexer->mark_end(lexer);
  lexer->result_symbol = TEXT;
  return true;
}

/*
 * At the start of the file: blank and `#` lines (the preamble) and the
 * opening `---` line. Anything else is template text.
 */
static bool scan_start(TSLexer *lexer, const bool *valid) {
  bool consumed = false;
  bool preamble = false;
  for (;;) {
    int32_t c = lexer->lookahead;
    if (lexer->eof(lexer)) break;
    if (c == '-') {
      if (scan_delimiter_line(lexer)) {
        if (preamble) {
          /* Ends at the start of the `---` line (marked below). */
          lexer->result_symbol = PREAMBLE;
          return valid[PREAMBLE];
        }
        lexer->mark_end(lexer);
        lexer->result_symbol = FRONTMATTER_OPEN;
        return valid[FRONTMATTER_OPEN];
      }
      consumed = true;
      break;
    }
    if (c == '#') {
      while (!lexer->eof(lexer) && lexer->lookahead != '\n') {
        int32_t d = lexer->lookahead;
        if (d == '{' || d == '\\') {
          lexer->mark_end(lexer);
          advance(lexer);
          if (d == '\\' && lexer->lookahead == '{') advance(lexer);
          if (lexer->lookahead == '{') {
            /* A mustache in a `#` line: this is template text. */
            lexer->result_symbol = TEXT;
            return valid[TEXT];
          }
          continue;
        }
        advance(lexer);
      }
      consumed = true;
      if (lexer->eof(lexer)) break;
    } else if (is_blank(c)) {
      while (is_blank(lexer->lookahead)) advance(lexer);
      consumed = true;
      if (lexer->lookahead != '\n') break;
    } else if (c != '\n') {
      break;
    }
    advance(lexer); /* the newline */
    consumed = true;
    preamble = true;
    lexer->mark_end(lexer);
  }
  return scan_text(lexer, valid, consumed);
}

/* Frontmatter content: whole lines up to the closing `---` line. */
static bool scan_yaml(TSLexer *lexer, const bool *valid) {
  bool consumed = false;
  if (lexer->lookahead == '-') {
    if (scan_delimiter_line(lexer)) {
      lexer->mark_end(lexer);
      lexer->result_symbol = FRONTMATTER_CLOSE;
      return valid[FRONTMATTER_CLOSE];
    }
    consumed = true;
  }
  if (!valid[YAML_CONTENT]) return false;
  lexer->result_symbol = YAML_CONTENT;
  for (;;) {
    while (!lexer->eof(lexer) && lexer->lookahead != '\n') {
      advance(lexer);
      consumed = true;
    }
    if (lexer->eof(lexer)) {
      lexer->mark_end(lexer);
      return consumed;
    }
    advance(lexer);
    consumed = true;
    lexer->mark_end(lexer);
    if (lexer->lookahead == '-' && scan_delimiter_line(lexer)) return true;
  }
}

/* Raw-block content: everything up to `{{{{/`. */
static bool scan_raw(TSLexer *lexer) {
  bool has = false;
  while (!lexer->eof(lexer)) {
    if (lexer->lookahead == '{') {
      lexer->mark_end(lexer);
      int n = 0;
      while (lexer->lookahead == '{' && n < 4) {
        advance(lexer);
        n++;
      }
      if (n == 4 && lexer->lookahead == '/') {
        lexer->result_symbol = RAW_CONTENT;
        return has;
      }
    } else {
      advance(lexer);
    }
    has = true;
  }
  lexer->mark_end(lexer);
  lexer->result_symbol = RAW_CONTENT;
  return has;
}

/* `else`, `role` and `history` right after `{{`, when a delimiter follows. */
static bool scan_keyword(TSLexer *lexer, const bool *valid) {
  while (is_space(lexer->lookahead)) lexer->advance(lexer, true);
  char word[9];
  unsigned len = 0;
  while (lexer->lookahead >= 'a' && lexer->lookahead <= 'z') {
    if (len == sizeof(word) - 1) return false;
    word[len++] = (char)lexer->lookahead;
    advance(lexer);
  }
  word[len] = '\0';
  int32_t next = lexer->lookahead;
  bool space = is_space(next);
  bool ends = space || next == '~' || next == '}';
  lexer->mark_end(lexer);
  if (valid[KW_ELSE] && ends && strcmp(word, "else") == 0) {
    lexer->result_symbol = KW_ELSE;
    return true;
  }
  if (valid[KW_HISTORY] && ends && strcmp(word, "history") == 0) {
    lexer->result_symbol = KW_HISTORY;
    return true;
  }
  if (valid[KW_ROLE] && space && strcmp(word, "role") == 0) {
    lexer->result_symbol = KW_ROLE;
    return true;
  }
  return false;
}

void *tree_sitter_prompt_external_scanner_create(void) { return NULL; }

void tree_sitter_prompt_external_scanner_destroy(void *payload) { (void)payload; }

unsigned tree_sitter_prompt_external_scanner_serialize(void *payload, char *buffer) {
  (void)payload;
  (void)buffer;
  return 0;
}

void tree_sitter_prompt_external_scanner_deserialize(void *payload, const char *buffer,
                                                     unsigned length) {
  (void)payload;
  (void)buffer;
  (void)length;
}

bool tree_sitter_prompt_external_scanner_scan(void *payload, TSLexer *lexer,
                                              const bool *valid_symbols) {
  (void)payload;
  /* During error recovery every symbol is valid: only lex body tokens. */
  bool recovering = valid_symbols[ERROR_SENTINEL];
  if (!recovering) {
    if (valid_symbols[PREAMBLE] || valid_symbols[FRONTMATTER_OPEN]) {
      return scan_start(lexer, valid_symbols);
    }
    if (valid_symbols[YAML_CONTENT] || valid_symbols[FRONTMATTER_CLOSE]) {
      return scan_yaml(lexer, valid_symbols);
    }
    if (valid_symbols[RAW_CONTENT]) return scan_raw(lexer);
    if (valid_symbols[KW_ELSE] || valid_symbols[KW_ROLE] || valid_symbols[KW_HISTORY]) {
      return scan_keyword(lexer, valid_symbols);
    }
  }
  if (valid_symbols[TEXT] || valid_symbols[COMMENT] || valid_symbols[ESCAPE]) {
    return scan_text(lexer, valid_symbols, false);
  }
  return false;
}
