; Highlights for Dotprompt (.prompt) files.
;
; Specific patterns come first: tree-sitter-highlight (CLI, Helix, Zed) lets
; the FIRST matching pattern win, while Neovim lets the LAST (or the highest
; `priority`) win, so the specific patterns also carry a higher priority.

; Frontmatter ------------------------------------------------------------

(frontmatter
  "---" @punctuation.delimiter)

(preamble) @comment

; Dotprompt markers ------------------------------------------------------

((role_marker
  "role" @keyword.directive)
  (#set! priority 110))

((role_marker
  role: (string) @string.special)
  (#set! priority 110))

((history_marker
  "history" @keyword.directive)
  (#set! priority 110))

[
  (demos_start)
  (demos_end)
] @comment.documentation

; Blocks -----------------------------------------------------------------

((block_open
  name: (path
    (identifier) @keyword))
  (#set! priority 110))

((block_close
  name: (path
    (identifier) @keyword))
  (#set! priority 110))

((else_tag
  name: (path
    (identifier) @keyword))
  (#set! priority 110))

"else" @keyword

((raw_block
  name: (path
    (identifier) @keyword))
  (#set! priority 110))

((raw_block
  close_name: (path
    (identifier) @keyword))
  (#set! priority 110))

(block_params
  (identifier) @variable.parameter)

; Helpers and partials ---------------------------------------------------

((helper_call
  function: (path
    (identifier) @function))
  (#set! priority 110))

((subexpression
  (path
    (identifier) @function))
  (#set! priority 110))

((partial
  name: (path
    (identifier) @module))
  (#set! priority 110))

((hash_pair
  key: (identifier) @property)
  (#set! priority 110))

; Variables --------------------------------------------------------------

((path
  "@"
  .
  (identifier) @variable.builtin)
  (#set! priority 105))

[
  (this)
  (parent)
] @variable.builtin

(literal_segment) @variable

(identifier) @variable

; Literals ---------------------------------------------------------------

(string) @string

(number) @number

(boolean) @boolean

[
  (null)
  (undefined)
] @constant.builtin

(escape) @string.escape

(raw_content) @markup.raw

(comment) @comment

; Punctuation ------------------------------------------------------------

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
