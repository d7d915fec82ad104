/**
 * @file tree-sitter grammar for Google Dotprompt `.prompt` files
 * @license Apache-2.0
 *
 * A `.prompt` file is optional YAML frontmatter between `---` lines (Dotprompt
 * also allows blank lines and `#` comment lines before the first `---`),
 * followed by a Handlebars template body.
 *
 * Everything that depends on "where are we in the file" (frontmatter,
 * template text, comments, raw-block content, the `else`/`role`/`history`
 * keywords) is lexed by the small external scanner in `src/scanner.c`.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// Handlebars `ID`: anything except whitespace and the punctuation Handlebars
// reserves (`!"#%&'()*+,./;<=>@[\]^` and backtick, `{|}~`).
const IDENT = /[^\s!"#%&'()*+,.\/;<=>@\[\\\]^`{|}~]+/;
const BRACKET_SEGMENT = /\[[^\]\n]*\]/;

/**
 * Both spellings of an opening delimiter: without and with whitespace
 * control (`{{#` / `{{~#`).
 *
 * @param {string} sigil
 */
const open = (sigil) => choice('{{' + sigil, '{{~' + sigil);

module.exports = grammar({
  name: 'prompt',

  externals: ($) => [
    $.preamble,
    $._frontmatter_open,
    $.yaml_content,
    $._frontmatter_close,
    $.text,
    $.escape,
    $.comment,
    $.demos_start,
    $.demos_end,
    $.raw_content,
    $._kw_else,
    $._kw_role,
    $._kw_history,
    $._error_sentinel,
  ],

  extras: (_) => [/\s/],

  supertypes: ($) => [$._expression],

  rules: {
    document: ($) => seq(optional($.frontmatter), repeat($._node)),

    // ------------------------------------------------------------------
    // Frontmatter
    // ------------------------------------------------------------------

    frontmatter: ($) =>
      seq(
        optional($.preamble),
        alias($._frontmatter_open, '---'),
        optional($.yaml_content),
        alias($._frontmatter_close, '---'),
      ),

    // ------------------------------------------------------------------
    // Template body
    // ------------------------------------------------------------------

    _node: ($) =>
      choice(
        $.text,
        $.escape,
        $.comment,
        $.demos_block,
        $.mustache,
        $.triple_mustache,
        $.role_marker,
        $.history_marker,
        $.partial,
        $.block,
        $.raw_block,
      ),

    // `{{!-- promptls:demos --}}` ... `{{!-- /promptls:demos --}}`
    demos_block: ($) =>
      seq(
        field('start', $.demos_start),
        repeat($._node),
        field('end', $.demos_end),
      ),

    // `{{expr}}`, `{{helper a b k=v}}`, `{{&expr}}`
    mustache: ($) =>
      seq(choice(open(''), open('&')), $._call, $._close),

    // `{{{expr}}}`
    triple_mustache: ($) => seq(open('{'), $._call, choice('}}}', '}~}}')),

    // `{{role "system"}}`
    role_marker: ($) =>
      seq(
        open(''),
        alias($._kw_role, 'role'),
        field('role', $._expression),
        $._close,
      ),

    // `{{history}}`
    history_marker: ($) =>
      seq(open(''), alias($._kw_history, 'history'), $._close),

    // `{{> name ctx key=value}}`
    partial: ($) =>
      seq(
        open('>'),
        field('name', choice($.path, $.string, $.subexpression)),
        optional(field('context', $._expression)),
        optional(field('hash', $.hash)),
        $._close,
      ),

    // `{{#name ...}} body {{else}} body {{/name}}`
    block: ($) =>
      seq(
        field('open', $.block_open),
        repeat($._node),
        repeat(field('alternative', $.else_clause)),
        field('close', $.block_close),
      ),

    block_open: ($) =>
      seq(
        choice(open('#'), open('^'), open('#>'), open('#*')),
        field('name', $.path),
        repeat(field('argument', $._expression)),
        optional(field('hash', $.hash)),
        optional(field('block_params', $.block_params)),
        $._close,
      ),

    else_clause: ($) => prec.right(seq(field('tag', $.else_tag), repeat($._node))),

    // `{{else}}`, `{{^}}`, `{{else if cond}}`
    else_tag: ($) =>
      choice(
        seq(
          open(''),
          alias($._kw_else, 'else'),
          optional(
            seq(
              field('name', $.path),
              repeat(field('argument', $._expression)),
              optional(field('hash', $.hash)),
              optional(field('block_params', $.block_params)),
            ),
          ),
          $._close,
        ),
        seq(open('^'), $._close),
      ),

    block_close: ($) => seq(open('/'), field('name', $.path), $._close),

    block_params: ($) =>
      seq(token(seq('as', /\s+/, '|')), repeat1($.identifier), '|'),

    // `{{{{raw}}}} anything {{{{/raw}}}}`
    raw_block: ($) =>
      seq(
        '{{{{',
        field('name', $.path),
        repeat(field('argument', $._expression)),
        optional(field('hash', $.hash)),
        '}}}}',
        optional($.raw_content),
        '{{{{/',
        field('close_name', $.path),
        '}}}}',
      ),

    _close: (_) => choice('}}', '~}}'),

    // ------------------------------------------------------------------
    // Expressions
    // ------------------------------------------------------------------

    // The inside of a mustache or subexpression: one expression, or a helper
    // call with positional arguments and/or a hash.
    _call: ($) => choice($._expression, $.helper_call),

    helper_call: ($) =>
      seq(
        field('function', $._expression),
        choice(
          seq(
            repeat1(field('argument', $._expression)),
            optional(field('hash', $.hash)),
          ),
          field('hash', $.hash),
        ),
      ),

    _expression: ($) =>
      choice(
        $.path,
        $.subexpression,
        $.string,
        $.number,
        $.boolean,
        $.null,
        $.undefined,
      ),

    subexpression: ($) => seq('(', $._call, ')'),

    hash: ($) => repeat1($.hash_pair),

    hash_pair: ($) =>
      seq(field('key', $.identifier), '=', field('value', $._expression)),

    // `a.b`, `this`, `.`, `../x`, `@index`, `@root.x`, `[weird key].y`, `a/b`
    path: ($) =>
      seq(
        choice(
          $._first_segment,
          seq(field('data', '@'), $._next_segment),
          $.this,
          $.parent,
        ),
        repeat(seq($._separator, $._next_segment)),
      ),

    // Immediate (no whitespace before it), and preferred over `.` meaning
    // `this` when both could match.
    _separator: (_) =>
      choice(
        alias(token.immediate(prec(1, '.')), '.'),
        alias(token.immediate(prec(1, '/')), '/'),
      ),

    _first_segment: ($) => choice($.identifier, $.literal_segment),

    _next_segment: ($) =>
      choice(
        alias(token.immediate(IDENT), $.identifier),
        alias(token.immediate(BRACKET_SEGMENT), $.literal_segment),
        alias(token.immediate('..'), $.parent),
        alias(token.immediate('this'), $.this),
      ),

    identifier: (_) => IDENT,

    literal_segment: (_) => BRACKET_SEGMENT,

    this: (_) => choice('this', '.'),

    parent: (_) => '..',

    string: (_) =>
      choice(/"([^"\\]|\\.)*"/, /'([^'\\]|\\.)*'/),

    number: (_) => token(prec(1, /-?[0-9]+(\.[0-9]+)?/)),

    boolean: (_) => choice('true', 'false'),

    null: (_) => 'null',

    undefined: (_) => 'undefined',
  },
});
