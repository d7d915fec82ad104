; Highlights for Dotprompt (.prompt) files, for Helix.
;
; The same captures as grammars/tree-sitter-prompt/queries/highlights.scm, adapted to
; Helix (tree-house, Helix 25.07 and later):
; - the LAST matching pattern wins, so the generic patterns come first and the
;   specific ones after them;
; - no `(#set! priority ...)`: Helix rejects unknown `#set!` properties in
;   highlights.scm and would then not highlight the file at all;
; - Helix's scope names (constant.numeric, namespace, comment.block.documentation, ...).
; editors/helix/test/ci.sh compiles this file with Helix's highlighter library
; against the grammar and checks the scopes at known positions.

; Generic ----------------------------------------------------------------

(identifier) @variable

(literal_segment) @variable

[
  (this)
  (parent)
] @variable.builtin

(string) @string

(number) @constant.numeric

(boolean) @constant.builtin.boolean

[
  (null)
  (undefined)
] @constant.builtin

(escape) @constant.character.escape

(raw_content) @markup.raw.block

(comment) @comment.block

[
  "{{"
  "{{~"
  "}}"
  "~}}"
  "{{{"
  "{{~{"
  "}}}"
  "}~}}"
  "{{&"
  "{{~&"
  "{{#"
  "{{~#"
  "{{^"
  "{{~^"
  "{{#>"
  "{{~#>"
  "{{#*"
  "{{~#*"
  "{{/"
  "{{~/"
  "{{>"
  "{{~>"
  "{{{{"
  "{{{{/"
  "}}}}"
  "("
  ")"
] @punctuation.bracket

[
  "."
  "/"
  "|"
] @punctuation.delimiter

"@" @punctuation.special

"=" @operator

; Frontmatter ------------------------------------------------------------

(frontmatter
  "---" @punctuation.delimiter)

(preamble) @comment

; Variables and arguments ------------------------------------------------

(path
  "@"
  .
  (identifier) @variable.builtin)

(block_params
  (identifier) @variable.parameter)

(hash_pair
  key: (identifier) @variable.parameter)

; Helpers and partials ---------------------------------------------------

(helper_call
  function: (path
    (identifier) @function))

(subexpression
  (path
    (identifier) @function))

(partial
  name: (path
    (identifier) @namespace))

; Blocks -----------------------------------------------------------------

(block_open
  name: (path
    (identifier) @keyword.control))

(block_close
  name: (path
    (identifier) @keyword.control))

(else_tag
  name: (path
    (identifier) @keyword.control))

"else" @keyword.control.conditional

(raw_block
  name: (path
    (identifier) @keyword.control))

(raw_block
  close_name: (path
    (identifier) @keyword.control))

; Dotprompt markers ------------------------------------------------------

(role_marker
  "role" @keyword.directive)

(role_marker
  role: (string) @string.special)

(history_marker
  "history" @keyword.directive)

[
  (demos_start)
  (demos_end)
] @comment.block.documentation
