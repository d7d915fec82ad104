//! Handlebars templates -> (tree, errors), with handlebars.js 4.7 semantics: the same
//! tokens, the same whitespace control (`~` and standalone lines), the same partial
//! indentation. Parsing never fails: broken input becomes text plus an error, and every
//! node keeps its byte range for editor diagnostics.
//!
//! Whitespace control is applied here, as handlebars.js does in its parser, so rendering
//! only concatenates. handlebars.js decides standalone lines from each tag's neighbouring
//! content; on the flat token list those neighbours are simply the tokens beside the tag.
//!
//! The tree is stored flat, for memory in proportion to the input (issue 12): the lexer's
//! tokens are the tree's items, in document order, 20 bytes each; calls, expressions,
//! path segments and blocks sit in arrays of their own; text is ranges into the one
//! copy of the source. A block knows where its program and inverse start and end among
//! the items, so no node owns a list. Readers use the views in `view`.
//!
//! Why one file of this size: the lexer, whitespace control and block linking all write
//! the same private flat storage (items, calls, expressions, blocks); apart, that storage
//! would have to be public. Readers use the views in `handlebars/view.rs` instead.

use std::sync::{Arc, LazyLock};

use super::Span;

mod view;
pub use view::{
    BlockRef, CallRef, ExprKind, ExprRef, Exprs, HashPairs, HashRef, NodeKind, NodeRef, Nodes,
    NodesIter, PartialNameRef, PartialRef, PathRef, Strs,
};

/// Nesting deeper than this is reported instead of built, so no template can exhaust
/// the stack of the (recursive) renderer.
pub const MAX_NESTING: usize = 256;

/// Offsets are 31 bits: the high bit of a text range's start says the text is in
/// `Template::owned` (a string literal whose escapes changed it) rather than the source.
const OWNED: u32 = 1 << 31;
const MAX_SOURCE: usize = (OWNED - 1) as usize;
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub span: Span,
    pub code: &'static str,
    pub message: String,
}

/// The text a tree's offsets index: its own (moved in by the renderer), or a range of a
/// larger shared text (the file an analysis holds), so the text is never copied.
#[derive(Debug, Clone)]
enum Source {
    Own(Arc<String>),
    Part(Arc<str>, usize, usize),
}

impl Default for Source {
    fn default() -> Source {
        Source::Own(Arc::default())
    }
}

impl std::ops::Deref for Source {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Source::Own(text) => text,
            Source::Part(text, start, end) => &text[*start..*end],
        }
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        **self == **other
    }
}

/// A parsed template. Offsets inside are relative to `source`; views add `base`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    /// Shared, not copied, by clones (the renderer keeps compiled prompts and partials).
    source: Source,
    /// String-literal values that differ from their source text (escaped quotes).
    owned: String,
    base: usize,
    items: Vec<Item>,
    calls: Vec<CallData>,
    exprs: Vec<ExprData>,
    hashes: Vec<HashData>,
    /// Path segments and block params: ranges into the source.
    segs: Vec<[u32; 2]>,
    blocks: Vec<BlockData>,
    partials: Vec<PartialData>,
}

/// An empty template, for the empty node list (`Nodes::empty`).
static EMPTY: LazyLock<Template> = LazyLock::new(Template::default);

/// A token of the template, and after linking a node of the tree (or a tag that only
/// shapes it: `{{else}}`, `{{/x}}`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Item {
    kind: Kind,
    flags: u8,
    start: u32,
    end: u32,
    /// Text, comment: the text's range (after whitespace control, for text). Close: the
    /// name's range. Mustache: the call. Open, else-if: the block. Partial: the partial.
    a: u32,
    b: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Text,
    Mustache,
    /// `{{name}}`: a mustache that is one plain name and nothing else (most of them),
    /// stored without a call: `a..b` is the name.
    Var,
    /// `{{#x}}`, `{{^x}}`, `{{#> x}}`, `{{#*inline}}`.
    Open,
    /// `{{else}}`, `{{^}}`.
    Else,
    /// `{{else if x}}`: opens a block nested in the inverse.
    ElseChain,
    Close,
    Partial,
    Comment,
    /// A tag that failed to parse (already reported); renders nothing.
    Invalid,
    /// A tag the tree does not keep (reported while linking).
    Skip,
}

// Item flags.
const STRIP_LEFT: u8 = 1;
const STRIP_RIGHT: u8 = 2;
const LEFT_STRIPPED: u8 = 4;
const RIGHT_STRIPPED: u8 = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
struct ExprData {
    kind: ExprTag,
    flags: u8,
    start: u32,
    end: u32,
    /// Path: first segment, segment count, `../` depth. String: its text range.
    /// Subexpression: the call.
    a: u32,
    b: u32,
    c: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum ExprTag {
    Path,
    String,
    Number,
    True,
    False,
    Null,
    Undefined,
    SubExpr,
    /// No expression (a partial without a context).
    Absent,
}

// Path flags.
const DATA: u8 = 1;
const THIS: u8 = 2;
/// The path is one plain segment, its own text (`a..b` unused): most paths, stored
/// without a segment.
const WHOLE: u8 = 4;

impl ExprData {
    const ABSENT: ExprData = ExprData {
        kind: ExprTag::Absent,
        flags: 0,
        start: 0,
        end: 0,
        a: 0,
        b: 0,
        c: 0,
    };

    fn at(kind: ExprTag, start: usize, end: usize) -> ExprData {
        ExprData {
            kind,
            start: start as u32,
            end: end as u32,
            ..ExprData::ABSENT
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CallData {
    start: u32,
    end: u32,
    path: ExprData,
    params: u32,
    n_params: u32,
    hash: u32,
    n_hash: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct HashData {
    /// The key is `start..key_end`.
    start: u32,
    key_end: u32,
    value: ExprData,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct BlockData {
    /// The open (or `{{else if}}`) item.
    item: u32,
    call: u32,
    params: u32,
    n_params: u32,
    flags: u8,
    /// The program is items `item + 1 .. program_to`; the inverse `inverse[0] ..
    /// inverse[1]` (`NONE` without an `{{else}}`).
    program_to: u32,
    inverse: [u32; 2],
    /// Where the list containing this block goes on.
    next: u32,
    /// The end of the block's span.
    end: u32,
    close_item: u32,
}

// Block flags.
const INVERTED: u8 = 1;
const PARTIAL_BLOCK: u8 = 2;
const INLINE: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq)]
struct PartialData {
    start: u32,
    end: u32,
    /// A static name is a string (its span and its text), a dynamic one a subexpression.
    name: ExprData,
    context: ExprData,
    hash: u32,
    n_hash: u32,
    indent: [u32; 2],
}

impl Template {
    fn text(&self, a: u32, b: u32) -> &str {
        if a & OWNED != 0 {
            &self.owned[(a & !OWNED) as usize..b as usize]
        } else {
            &self.source[a as usize..b as usize]
        }
    }

    fn span(&self, start: u32, end: u32) -> Span {
        Span::new(self.base + start as usize, self.base + end as usize)
    }
}

/// Parses `src` (the template text); spans are offsets into `src` plus `base`.
pub fn parse_template(src: &str, base: usize) -> (Template, Vec<TemplateError>) {
    parse_template_owned(src.to_string(), base)
}

/// `parse_template` for a text the caller gives up: the tree keeps it without a copy.
pub fn parse_template_owned(src: String, base: usize) -> (Template, Vec<TemplateError>) {
    parse_source(Source::Own(Arc::new(src)), base)
}

/// `parse_template` of the `span` of a shared text (a whole file): the tree indexes that
/// text instead of a copy, and its spans are offsets into it.
pub fn parse_template_shared(text: &Arc<str>, span: Span) -> (Template, Vec<TemplateError>) {
    parse_source(Source::Part(text.clone(), span.start, span.end), span.start)
}

fn parse_source(src: Source, base: usize) -> (Template, Vec<TemplateError>) {
    let mut errors = Vec::new();
    if src.len() > MAX_SOURCE {
        errors.push(TemplateError {
            span: Span::new(base, base),
            code: "template-too-large",
            message: format!("a template over {} bytes is not parsed", MAX_SOURCE),
        });
        return (
            Template {
                base,
                ..Template::default()
            },
            errors,
        );
    }
    let tags = memchr::memmem::find_iter(src.as_bytes(), b"{{").count();
    let mut t = Template {
        source: src,
        base,
        // At most a tag per `{{` and a text between tags. Reserved once: a large
        // template's lists are not grown by doubling, and pages reserved but never
        // written are not resident.
        items: Vec::with_capacity(2 * tags + 1),
        calls: Vec::with_capacity(tags),
        exprs: Vec::with_capacity(tags),
        segs: Vec::with_capacity(tags),
        blocks: Vec::with_capacity(tags),
        ..Template::default()
    };
    lex(&mut t, &mut errors);
    whitespace_control(&mut t);
    link(&mut t, &mut errors);
    // Not trimmed: trimming copies each array, and the unused rest is not resident.
    (t, errors)
}

// ---------------------------------------------------------------------------------
// Lexing: text and tags.

fn push_text(t: &mut Template, start: usize, end: usize) {
    push_text_to(t, start, end, end);
}

/// Text `start..value_end` whose span runs on to `end` (past an escape's backslash).
fn push_text_to(t: &mut Template, start: usize, end: usize, value_end: usize) {
    if value_end > start {
        t.items.push(Item {
            kind: Kind::Text,
            flags: 0,
            start: start as u32,
            end: end as u32,
            a: start as u32,
            b: value_end as u32,
        });
    }
}

fn lex(t: &mut Template, errors: &mut Vec<TemplateError>) {
    let shared = t.source.clone();
    let src = &*shared;
    let bytes = src.as_bytes();
    // Text runs from `text_start`; an escape ends one run and starts the next, so every
    // text item is a slice of the source.
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(rel) = memchr::memchr2(b'{', b'\\', &bytes[i..]) else {
            break;
        };
        let at = i + rel;
        if bytes[at] == b'\\' {
            // `\{{` escapes a mustache (the text runs to the next `{{`); `\\{{` is a
            // literal backslash before a real mustache.
            if src[at..].starts_with("\\\\{{") {
                push_text_to(t, text_start, at + 2, at + 1);
                text_start = at + 2;
                i = at + 2;
            } else if src[at..].starts_with("\\{{") {
                push_text(t, text_start, at);
                let rest = &src[at + 1..];
                let end = rest[2..].find("{{").map_or(rest.len(), |p| p + 2);
                // Stop before a following escape so it is handled on its own.
                let end = if end > 0 && rest[..end].ends_with('\\') {
                    end - 1
                } else {
                    end
                };
                text_start = at + 1;
                i = at + 1 + end;
            } else {
                i = at + 1;
            }
            continue;
        }
        if !src[at..].starts_with("{{") {
            i = at + 1;
            continue;
        }
        push_text(t, text_start, at);
        match lex_tag(t, src, at, errors) {
            Ok(end) => {
                text_start = end;
                i = end;
            }
            Err(text_end) => {
                // Unterminated: the tag's text is text.
                text_start = at;
                i = text_end;
            }
        }
    }
    push_text(t, text_start, bytes.len());
}

fn err(
    t: &Template,
    errors: &mut Vec<TemplateError>,
    s: usize,
    e: usize,
    code: &'static str,
    message: String,
) {
    errors.push(TemplateError {
        span: Span::new(t.base + s, t.base + e.max(s)),
        code,
        message,
    });
}

/// Lexes the tag starting at `at` (`{{`), pushing its item(s). Returns where lexing
/// continues, or, when the tag is not terminated (reported; the caller keeps it as
/// text), where its text ends.
fn lex_tag(
    t: &mut Template,
    src: &str,
    at: usize,
    errors: &mut Vec<TemplateError>,
) -> Result<usize, usize> {
    let rest = &src[at..];

    // Raw blocks `{{{{name args}}}} ... {{{{/name}}}}`: handlebars.js makes them a block
    // whose program is the verbatim content (so under knownHelpersOnly, an unknown name
    // is a section over the context's value, as `{{#name}}` would be).
    if rest.starts_with("{{{{") {
        let Some(close) = rest.find("}}}}") else {
            err(
                t,
                errors,
                at,
                src.len(),
                "unterminated-mustache",
                "`{{{{` is never closed with `}}}}`".into(),
            );
            return Err(src.len());
        };
        let content_start = at + close + 4;
        let mut parser = ExprParser {
            t,
            src,
            pos: at + 4,
            end: at + close,
            errors,
            depth: 0,
        };
        let call = parser.call();
        let name = call.as_ref().and_then(|c| block_name(&c.path));
        let shown = match &call {
            Some(c) => name.map_or_else(
                || written(t, &c.path).to_string(),
                |n| t.text(n.0, n.1).to_string(),
            ),
            None => String::new(),
        };
        let end_tag = format!("{{{{{{{{/{shown}}}}}}}}}");
        let found = if call.is_none() || name.is_some() {
            raw_block_end(&src[content_start..], &end_tag)
        } else {
            None
        };
        let (content_end, end) = match found {
            Some(p) => (content_start + p, content_start + p + end_tag.len()),
            None => {
                err(
                    t,
                    errors,
                    at,
                    content_start,
                    "unclosed-block",
                    format!("raw block `{shown}` is never closed with `{end_tag}`"),
                );
                (src.len(), src.len())
            }
        };
        let Some(call) = call else {
            t.items.push(tag_item(Kind::Invalid, at, end, 0, 0, 0));
            return Ok(end);
        };
        let call = push_call(t, call);
        let block = push_block(t, call, (0, 0), 0);
        t.items
            .push(tag_item(Kind::Open, at, content_start, 0, block, 0));
        push_text(t, content_start, content_end);
        if content_end == end {
            return Ok(end);
        }
        // The close repeats the open's name (found, so the name is one that matches).
        let (a, b) = name.unwrap_or((0, 0));
        t.items
            .push(tag_item(Kind::Close, content_end, end, 0, a, b));
        return Ok(end);
    }

    // Comments.
    let after_open = if rest.starts_with("{{~") { 3 } else { 2 };
    let strip_left = if after_open == 3 { STRIP_LEFT } else { 0 };
    let body = &rest[after_open..];
    if body.starts_with("!--") {
        // handlebars.js matches `[\s\S]*?--~?}}` from the tag's start, so the opening
        // dashes can close the comment too (`{{!--}}`).
        let dashes = &body[1..];
        let Some((p, close_len, strip_right)) = find_comment_end(dashes) else {
            err(
                t,
                errors,
                at,
                src.len(),
                "unterminated-comment",
                "`{{!--` comment is never closed with `--}}`".into(),
            );
            return Err(src.len());
        };
        let end = at + after_open + 1 + p + close_len;
        let dashes_at = at + after_open + 1;
        let (a, b) = if p >= 2 {
            (dashes_at + 2, dashes_at + p)
        } else {
            (0, 0)
        };
        let flags = strip_left | if strip_right { STRIP_RIGHT } else { 0 };
        t.items
            .push(tag_item(Kind::Comment, at, end, flags, a as u32, b as u32));
        return Ok(end);
    }
    if let Some(comment) = body.strip_prefix('!') {
        let Some(p) = comment.find("}}") else {
            err(
                t,
                errors,
                at,
                src.len(),
                "unterminated-comment",
                "`{{!` comment is never closed with `}}`".into(),
            );
            return Err(src.len());
        };
        let strip_right = comment[..p].ends_with('~');
        let text_len = if strip_right { p - 1 } else { p };
        let text_at = at + after_open + 1;
        let end = text_at + p + 2;
        let flags = strip_left | if strip_right { STRIP_RIGHT } else { 0 };
        t.items.push(tag_item(
            Kind::Comment,
            at,
            end,
            flags,
            text_at as u32,
            (text_at + text_len) as u32,
        ));
        return Ok(end);
    }

    // Everything else: find the closing braces outside string literals.
    let triple = body.starts_with('{');
    let close_pat = if triple { "}}}" } else { "}}" };
    let inner_start = at + after_open + usize::from(triple);
    // `{{{x}~}}`: the `~` of a triple-stash stands between its braces.
    let found = if triple {
        find_close(&src[inner_start..], "}").and_then(|p| {
            let after = &src[inner_start + p + 1..];
            if after.starts_with("}}") {
                Some((p, 3, false))
            } else if after.starts_with("~}}") {
                Some((p, 4, true))
            } else {
                None
            }
        })
    } else {
        find_close(&src[inner_start..], close_pat).map(|p| {
            let tilde = p > 0 && src[..inner_start + p].ends_with('~');
            (p, 2, tilde)
        })
    };
    let Some((close_rel, close_len, strip_right)) = found else {
        let line_end = src[at..].find('\n').map_or(src.len(), |p| at + p);
        err(
            t,
            errors,
            at,
            line_end.max(at + 2),
            "unterminated-mustache",
            format!("`{{{{` is never closed with `{close_pat}`"),
        );
        return Err(line_end.max(at + 2));
    };
    let mut inner_end = inner_start + close_rel;
    let end = inner_end + close_len;
    if triple && !strip_right && src[inner_end..].starts_with("}}}}") {
        err(
            t,
            errors,
            inner_end,
            end + 1,
            "invalid-expression",
            "`}}}}` closes only a `{{{{raw}}}}` block; write `}}} }` for a brace after the mustache"
                .into(),
        );
    }
    let bare_else = matches!(src[inner_start..inner_end].trim(), "else" | "^");
    if !triple && !strip_right && !bare_else && src[inner_end..].starts_with("}}}") {
        // handlebars.js lexes `}}}` as the close of a triple-stash first (its `{{else}}`
        // and `{{^}}` tokens take their own `}}`).
        err(
            t,
            errors,
            inner_end,
            end + 1,
            "invalid-expression",
            "`}}}` closes only a `{{{` triple-stash; write `}} }` for a brace after the mustache"
                .into(),
        );
    }
    if strip_right && !triple {
        inner_end -= 1;
    }
    let flags = strip_left | if strip_right { STRIP_RIGHT } else { 0 };
    let inner = &src[inner_start..inner_end];
    let mut parser = ExprParser {
        t,
        src,
        pos: inner_start,
        end: inner_end,
        errors,
        depth: 0,
    };
    let kind = if triple {
        parser.call().map(TagKind::Mustache)
    } else {
        parser.tag_kind(inner)
    };
    let item = match kind {
        None => tag_item(Kind::Invalid, at, end, flags, 0, 0),
        Some(TagKind::Mustache(call)) if is_plain_name(&call) => {
            tag_item(Kind::Var, at, end, flags, call.path.start, call.path.end)
        }
        Some(TagKind::Mustache(call)) => {
            let call = push_call(t, call);
            tag_item(Kind::Mustache, at, end, flags, call, 0)
        }
        Some(TagKind::Open {
            call,
            block_params,
            flags: block_flags,
        }) => {
            let call = push_call(t, call);
            let block = push_block(t, call, block_params, block_flags);
            tag_item(Kind::Open, at, end, flags, block, 0)
        }
        Some(TagKind::Else) => tag_item(Kind::Else, at, end, flags, 0, 0),
        Some(TagKind::ElseChain { call, block_params }) => {
            let call = push_call(t, call);
            let block = push_block(t, call, block_params, 0);
            tag_item(Kind::ElseChain, at, end, flags, block, 0)
        }
        Some(TagKind::Close { name }) => tag_item(Kind::Close, at, end, flags, name.0, name.1),
        Some(TagKind::Partial {
            name,
            context,
            hash,
        }) => {
            let (hash, n_hash) = hash;
            t.partials.push(PartialData {
                start: at as u32,
                end: end as u32,
                name,
                context: context.unwrap_or(ExprData::ABSENT),
                hash,
                n_hash,
                indent: [0, 0],
            });
            tag_item(
                Kind::Partial,
                at,
                end,
                flags,
                (t.partials.len() - 1) as u32,
                0,
            )
        }
    };
    t.items.push(item);
    Ok(end)
}

/// A call that is one plain name: no arguments, no `@`, `this`, `../` or brackets.
fn is_plain_name(call: &CallData) -> bool {
    let p = &call.path;
    call.n_params == 0 && call.n_hash == 0 && p.kind == ExprTag::Path && p.flags == WHOLE
}

/// The call a `Var` item stands for.
fn var_call(item: &Item) -> CallData {
    let path = ExprData {
        kind: ExprTag::Path,
        flags: WHOLE,
        start: item.a,
        end: item.b,
        a: 0,
        b: 1,
        c: 0,
    };
    CallData {
        start: item.a,
        end: item.b,
        path,
        params: 0,
        n_params: 0,
        hash: 0,
        n_hash: 0,
    }
}

fn tag_item(kind: Kind, start: usize, end: usize, flags: u8, a: u32, b: u32) -> Item {
    Item {
        kind,
        flags,
        start: start as u32,
        end: end as u32,
        a,
        b,
    }
}

fn push_call(t: &mut Template, call: CallData) -> u32 {
    t.calls.push(call);
    (t.calls.len() - 1) as u32
}

fn push_block(t: &mut Template, call: u32, params: (u32, u32), flags: u8) -> u32 {
    t.blocks.push(BlockData {
        item: NONE,
        call,
        params: params.0,
        n_params: params.1,
        flags,
        program_to: NONE,
        inverse: [NONE, NONE],
        next: NONE,
        end: 0,
        close_item: NONE,
    });
    (t.blocks.len() - 1) as u32
}

/// What a tag is, while it is parsed (before it becomes an item).
enum TagKind {
    Mustache(CallData),
    Open {
        call: CallData,
        block_params: (u32, u32),
        flags: u8,
    },
    Else,
    ElseChain {
        call: CallData,
        block_params: (u32, u32),
    },
    Close {
        name: (u32, u32),
    },
    Partial {
        name: ExprData,
        context: Option<ExprData>,
        hash: (u32, u32),
    },
}

/// In the text after `{{!--`: (comment length, closing length, strip right).
fn find_comment_end(comment: &str) -> Option<(usize, usize, bool)> {
    let mut from = 0;
    while let Some(p) = comment[from..].find("--") {
        let p = from + p;
        let after = &comment[p + 2..];
        if after.starts_with("}}") {
            return Some((p, 4, false));
        }
        if after.starts_with("~}}") {
            return Some((p, 5, true));
        }
        from = p + 1;
    }
    None
}

/// Where the string literal opening `s` with `quote` closes, as handlebars.js's lexer
/// reads `"(\\"|[^"])*"`: `\"` does not close it, unless no other quote follows, when
/// the last `\"` does (its backslash is then part of the string).
fn string_end(s: &[u8], quote: u8) -> Option<usize> {
    let mut last_escaped = None;
    let mut i = 1;
    while i < s.len() {
        if s[i] == b'\\' && s.get(i + 1) == Some(&quote) {
            last_escaped = Some(i + 1);
            i += 2;
        } else if s[i] == quote {
            return Some(i);
        } else {
            i += 1;
        }
    }
    last_escaped
}

/// The offset of `close` in `s`, skipping string literals.
fn find_close(s: &str, close: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => match string_end(&bytes[i..], q) {
                Some(e) => i += e + 1,
                None => return None,
            },
            b'}' if s[i..].starts_with(close) => return Some(i),
            b'{' if s[i..].starts_with("{{") => return None,
            _ => i += 1,
        }
    }
    None
}

/// The name a close tag must repeat: the helper path as written, or a string's value.
/// Other helper names (numbers, literals) match no close tag.
fn block_name(path: &ExprData) -> Option<(u32, u32)> {
    match path.kind {
        ExprTag::Path => Some((path.start, path.end)),
        ExprTag::String => Some((path.a, path.b)),
        _ => None,
    }
}

/// An expression as written in the source.
fn written<'t>(t: &'t Template, e: &ExprData) -> &'t str {
    &t.source[e.start as usize..e.end as usize]
}

// ---------------------------------------------------------------------------------
// Expressions inside a tag.

struct ExprParser<'a, 'e> {
    t: &'a mut Template,
    src: &'a str,
    pos: usize,
    end: usize,
    errors: &'e mut Vec<TemplateError>,
    depth: usize,
}

fn is_id_char(c: char) -> bool {
    // handlebars.js ID: anything but whitespace and  ! " # % & ' ( ) * + , . / ; < = > @ [ \ ] ^ ` { | } ~
    !(c.is_whitespace() || "!\"#%&'()*+,./;<=>@[\\]^`{|}~".contains(c))
}

impl ExprParser<'_, '_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..self.end]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn error(&mut self, start: usize, end: usize, message: String) {
        err(
            self.t,
            self.errors,
            start,
            end,
            "invalid-expression",
            message,
        );
    }

    fn tag_kind(&mut self, inner: &str) -> Option<TagKind> {
        let first = inner.chars().next();
        match first {
            Some('#') if inner[1..].starts_with('>') => {
                self.pos += 2;
                let call = self.call()?;
                Some(TagKind::Open {
                    call,
                    block_params: (0, 0),
                    flags: PARTIAL_BLOCK,
                })
            }
            Some('#') if inner[1..].starts_with('*') => {
                let start = self.pos;
                self.pos += 2;
                let call = self.call()?;
                let inline = self.simple_name(&call) == Some("inline")
                    && call.n_params == 1
                    && self.t.exprs[call.params as usize].kind == ExprTag::String
                    && call.n_hash == 0;
                if !inline {
                    self.error(
                        start,
                        self.end,
                        "Dotprompt's only decorator is `{{#*inline \"name\"}}`".into(),
                    );
                    return None;
                }
                Some(TagKind::Open {
                    call,
                    block_params: (0, 0),
                    flags: INLINE,
                })
            }
            Some('#') => {
                self.pos += 1;
                let (call, block_params) = self.call_with_block_params()?;
                Some(TagKind::Open {
                    call,
                    block_params,
                    flags: 0,
                })
            }
            Some('^') => {
                self.pos += 1;
                self.skip_ws();
                if self.rest().is_empty() {
                    return Some(TagKind::Else);
                }
                let (call, block_params) = self.call_with_block_params()?;
                Some(TagKind::Open {
                    call,
                    block_params,
                    flags: INVERTED,
                })
            }
            Some('/') => {
                self.pos += 1;
                self.skip_ws();
                let start = self.pos;
                let len = self.rest().trim_end().len();
                self.pos = self.end;
                Some(TagKind::Close {
                    name: (start as u32, (start + len) as u32),
                })
            }
            Some('>') => {
                self.pos += 1;
                self.partial()
            }
            Some('&') => {
                self.pos += 1;
                self.call().map(TagKind::Mustache)
            }
            _ => {
                let trimmed = inner.trim_start();
                if let Some(after) = trimmed.strip_prefix("else") {
                    if after.is_empty() || after.starts_with(char::is_whitespace) {
                        self.pos += inner.len() - trimmed.len() + 4;
                        self.skip_ws();
                        if self.rest().is_empty() {
                            return Some(TagKind::Else);
                        }
                        let (call, block_params) = self.call_with_block_params()?;
                        return Some(TagKind::ElseChain { call, block_params });
                    }
                }
                self.call().map(TagKind::Mustache)
            }
        }
    }

    /// The helper name when the call could be a helper (as `CallRef::simple_name`).
    fn simple_name(&self, call: &CallData) -> Option<&str> {
        let p = &call.path;
        if p.kind != ExprTag::Path || p.flags & (DATA | THIS) != 0 || p.c != 0 || p.b != 1 {
            return None;
        }
        let [s, e] = if p.flags & WHOLE != 0 {
            [p.start, p.end]
        } else {
            self.t.segs[p.a as usize]
        };
        Some(&self.src[s as usize..e as usize])
    }

    fn partial(&mut self) -> Option<TagKind> {
        self.skip_ws();
        let start = self.pos;
        // `(name)` is computed; `"name"` is a static name in quotes.
        let name = if self.rest().starts_with(['(', '"', '\'']) {
            self.expr()?
        } else {
            let len = self
                .rest()
                .find(|c: char| c.is_whitespace())
                .unwrap_or(self.rest().len());
            if len == 0 {
                self.error(
                    start,
                    self.end,
                    "a partial needs a name: `{{> name}}`".into(),
                );
                return None;
            }
            self.pos += len;
            let mut name = ExprData::at(ExprTag::String, start, self.pos);
            name.a = start as u32;
            name.b = self.pos as u32;
            name
        };
        let mut context = None;
        let mut hash: smallvec::SmallVec<[HashData; 2]> = smallvec::SmallVec::new();
        loop {
            self.skip_ws();
            if self.rest().is_empty() {
                break;
            }
            if self.at_hash_pair() {
                hash.push(self.hash_pair()?);
            } else if context.is_none() && hash.is_empty() {
                context = Some(self.expr()?);
            } else {
                let p = self.pos;
                self.error(
                    p,
                    self.end,
                    "a partial takes one context and then `key=value` pairs".into(),
                );
                return None;
            }
        }
        let at = self.t.hashes.len() as u32;
        let n = hash.len() as u32;
        self.t.hashes.extend(hash);
        Some(TagKind::Partial {
            name,
            context,
            hash: (at, n),
        })
    }

    fn call_with_block_params(&mut self) -> Option<(CallData, (u32, u32))> {
        // `as |a b|` ends the tag.
        let src = self.src;
        let rest = &src[self.pos..self.end];
        if let Some(p) = find_block_params(rest) {
            let params_text = &rest[p..];
            let inner = params_text.trim_start_matches("as").trim_start();
            let inner = inner
                .trim_start_matches('|')
                .trim_end()
                .trim_end_matches('|');
            let base = self.src.as_ptr() as usize;
            let first = self.t.segs.len() as u32;
            for name in inner.split_whitespace() {
                let s = name.as_ptr() as usize - base;
                self.t.segs.push([s as u32, (s + name.len()) as u32]);
            }
            let n = self.t.segs.len() as u32 - first;
            if n == 0 {
                let at = self.pos + p;
                self.error(at, self.end, "`as ||` needs a name: `as |item|`".into());
                return None;
            }
            let saved_end = self.end;
            self.end = self.pos + p;
            let call = self.call();
            self.end = saved_end;
            self.pos = saved_end;
            return call.map(|c| (c, (first, n)));
        }
        self.call().map(|c| (c, (0, 0)))
    }

    /// `path params... hash...` up to the end of the tag.
    fn call(&mut self) -> Option<CallData> {
        self.skip_ws();
        let start = self.pos;
        if self.rest().is_empty() {
            self.error(
                start.saturating_sub(2),
                self.end + 2,
                "empty mustache `{{}}`".into(),
            );
            return None;
        }
        let call = self.call_until(None)?;
        self.skip_ws();
        if !self.rest().is_empty() {
            let p = self.pos;
            let message = format!("unexpected `{}` in this expression", self.rest().trim());
            self.error(p, self.end, message);
            return None;
        }
        Some(call)
    }

    /// A call that ends at the end of the tag, or at `closer` (for subexpressions).
    fn call_until(&mut self, closer: Option<char>) -> Option<CallData> {
        self.skip_ws();
        let start = self.pos;
        let path = self.expr()?;
        if path.kind == ExprTag::SubExpr {
            // handlebars.js: a helper name is a path or a literal, never `(...)`.
            self.error(
                path.start as usize,
                path.end as usize,
                "a subexpression cannot stand first: write `{{helper (sub ...)}}`".into(),
            );
            return None;
        }
        let mut params: smallvec::SmallVec<[ExprData; 4]> = smallvec::SmallVec::new();
        let mut hash: smallvec::SmallVec<[HashData; 2]> = smallvec::SmallVec::new();
        loop {
            self.skip_ws();
            let rest = self.rest();
            if rest.is_empty() || closer.is_some_and(|c| rest.starts_with(c)) {
                break;
            }
            if self.at_hash_pair() {
                hash.push(self.hash_pair()?);
            } else if hash.is_empty() {
                params.push(self.expr()?);
            } else {
                let p = self.pos;
                self.error(
                    p,
                    self.end,
                    "positional arguments must come before `key=value` pairs".into(),
                );
                return None;
            }
        }
        let params_at = self.t.exprs.len() as u32;
        let n_params = params.len() as u32;
        self.t.exprs.extend(params);
        let hash_at = self.t.hashes.len() as u32;
        let n_hash = hash.len() as u32;
        self.t.hashes.extend(hash);
        Some(CallData {
            start: start as u32,
            end: self.pos as u32,
            path,
            params: params_at,
            n_params,
            hash: hash_at,
            n_hash,
        })
    }

    fn at_hash_pair(&self) -> bool {
        let rest = self.rest();
        let id_len = rest.find(|c: char| !is_id_char(c)).unwrap_or(rest.len());
        id_len > 0 && rest[id_len..].trim_start().starts_with('=')
    }

    fn hash_pair(&mut self) -> Option<HashData> {
        let start = self.pos;
        let rest = self.rest();
        let id_len = rest.find(|c: char| !is_id_char(c)).unwrap_or(rest.len());
        self.pos += id_len;
        let key_end = self.pos;
        self.skip_ws();
        self.pos += 1; // '='
        self.skip_ws();
        if self.rest().is_empty() {
            let p = self.pos;
            let key = self.src[start..key_end].to_string();
            self.error(start, p, format!("`{key}=` needs a value"));
            return None;
        }
        let value = self.expr()?;
        Some(HashData {
            start: start as u32,
            key_end: key_end as u32,
            value,
        })
    }

    fn expr(&mut self) -> Option<ExprData> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        let c = rest.chars().next()?;
        if c == '(' {
            self.depth += 1;
            if self.depth > MAX_NESTING {
                self.error(
                    start,
                    self.end,
                    format!("subexpressions nested more than {MAX_NESTING} deep"),
                );
                return None;
            }
            self.pos += 1;
            let mut call = self.call_until(Some(')'))?;
            self.skip_ws();
            if !self.rest().starts_with(')') {
                self.error(start, self.end, "`(` is never closed with `)`".into());
                return None;
            }
            self.pos += 1;
            self.depth -= 1;
            call.start = start as u32;
            call.end = self.pos as u32;
            let call = push_call(self.t, call);
            let mut e = ExprData::at(ExprTag::SubExpr, start, self.pos);
            e.a = call;
            return Some(e);
        }
        if c == '"' || c == '\'' {
            return self.string(c);
        }
        // Literals are whole tokens followed by a delimiter.
        let token_len = rest
            .find(|ch: char| ch.is_whitespace() || ch == ')' || ch == '=' || ch == '|')
            .unwrap_or(rest.len());
        let token = &rest[..token_len];
        let literal = match token {
            "true" => Some(ExprTag::True),
            "false" => Some(ExprTag::False),
            "null" => Some(ExprTag::Null),
            "undefined" => Some(ExprTag::Undefined),
            _ if is_number(token) && token.parse::<f64>().is_ok() => Some(ExprTag::Number),
            _ => None,
        };
        if let Some(kind) = literal {
            self.pos += token_len;
            return Some(ExprData::at(kind, start, self.pos));
        }
        self.path()
    }

    fn string(&mut self, quote: char) -> Option<ExprData> {
        let start = self.pos;
        if let Some(e) = string_end(self.rest().as_bytes(), quote as u8) {
            // handlebars.js only unescapes the quote itself.
            let escaped = format!("\\{quote}");
            let inner_at = self.pos + 1;
            let inner = &self.src[inner_at..self.pos + e];
            let (a, b) = if inner.contains(&escaped) {
                let at = self.t.owned.len();
                self.t
                    .owned
                    .push_str(&inner.replace(&escaped, &quote.to_string()));
                (at as u32 | OWNED, self.t.owned.len() as u32)
            } else {
                (inner_at as u32, (inner_at + inner.len()) as u32)
            };
            self.pos += e + 1;
            let mut s = ExprData::at(ExprTag::String, start, self.pos);
            s.a = a;
            s.b = b;
            return Some(s);
        }
        self.error(start, self.end, "string is never closed".into());
        self.errors.last_mut().expect("just pushed").code = "unterminated-string";
        None
    }

    fn path(&mut self) -> Option<ExprData> {
        let start = self.pos;
        let mut flags = 0;
        if self.rest().starts_with('@') {
            flags |= DATA;
            self.pos += 1;
        }
        let mut depth = 0u32;
        let first_seg = self.t.segs.len();
        let mut first = true;
        let src = self.src;
        loop {
            let rest = &src[self.pos..self.end];
            let seg_len;
            let seg: &str;
            if rest.starts_with('[') {
                let Some(close) = rest.find(']') else {
                    self.t.segs.truncate(first_seg);
                    self.error(start, self.end, "`[` is never closed with `]`".into());
                    return None;
                };
                seg = &rest[1..close];
                seg_len = close + 1;
                let s = self.pos + 1;
                self.t.segs.push([s as u32, (s + seg.len()) as u32]);
            } else {
                let len = rest
                    .find(|c: char| !is_id_char(c) && c != '.')
                    .unwrap_or(rest.len());
                // Take one segment: up to '.' or '/' (but `..` and `.` are segments).
                let word = &rest[..len];
                let l = if word.starts_with("..") {
                    2
                } else if word.starts_with('.') && first {
                    1
                } else {
                    word.find('.').unwrap_or(word.len())
                };
                let s = &word[..l];
                if l == 0 {
                    let p = self.pos;
                    let shown: String = rest.chars().take(12).collect();
                    self.t.segs.truncate(first_seg);
                    self.error(
                        p,
                        p + shown.len().max(1),
                        format!("unexpected `{shown}` where a name was expected"),
                    );
                    return None;
                }
                seg = s;
                seg_len = l;
                let no_parts = self.t.segs.len() == first_seg;
                match seg {
                    ".." if no_parts && flags & DATA == 0 => depth += 1,
                    "." | "this" if no_parts && depth == 0 && first => flags |= THIS,
                    _ => self
                        .t
                        .segs
                        .push([self.pos as u32, (self.pos + seg.len()) as u32]),
                }
            }
            self.pos += seg_len;
            first = false;
            let rest = self.rest();
            if rest.starts_with('/') || (rest.starts_with('.') && !rest.starts_with("..")) {
                self.pos += 1;
                continue;
            }
            if rest.starts_with("..") && seg == ".." {
                continue;
            }
            // handlebars.js's ID token must be followed by one of `= ~ } / . ) |` or
            // whitespace (its LOOKAHEAD), so `{{#if[0]}}` is a parse error there.
            // (A `[...]` segment has no lookahead: its length is the name's plus brackets.)
            let bracketed = seg_len != seg.len();
            if let Some(c) = rest.chars().next() {
                if !(bracketed || c.is_whitespace() || "=~}/.)|".contains(c)) {
                    let p = self.pos;
                    let shown: String = rest.chars().take(12).collect();
                    self.t.segs.truncate(first_seg);
                    self.error(
                        p,
                        p + shown.len(),
                        format!("unexpected `{shown}` after a name"),
                    );
                    return None;
                }
            }
            break;
        }
        let mut p = ExprData::at(ExprTag::Path, start, self.pos);
        p.flags = flags;
        p.a = first_seg as u32;
        p.b = (self.t.segs.len() - first_seg) as u32;
        p.c = depth;
        if flags == 0 && depth == 0 && p.b == 1 && self.t.segs[first_seg] == [p.start, p.end] {
            self.t.segs.truncate(first_seg);
            p.flags = WHOLE;
        }
        Some(p)
    }
}

fn is_number(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Where the raw block's `end_tag` closes it in `s`, past nested raw blocks.
fn raw_block_end(s: &str, end_tag: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(p) = s[i..].find("{{{{") {
        let at = i + p;
        if s[at..].starts_with("{{{{/") {
            if depth == 0 {
                return s[at..].starts_with(end_tag).then_some(at);
            }
            depth -= 1;
        } else {
            depth += 1;
        }
        i = at + 4;
    }
    None
}

/// Where ` as |...|` starts in a block tag's text, if it has block params.
fn find_block_params(s: &str) -> Option<usize> {
    let trimmed = s.trim_end();
    if !trimmed.ends_with('|') {
        return None;
    }
    let open = trimmed[..trimmed.len() - 1].rfind('|')?;
    let before = trimmed[..open].trim_end();
    let as_start = before.strip_suffix("as")?.len();
    (as_start > 0 && before[..as_start].ends_with(char::is_whitespace)).then_some(as_start)
}

// ---------------------------------------------------------------------------------
// Whitespace control (handlebars.js compiler/whitespace-control.js, on the flat list).

impl Item {
    fn is_tag(&self) -> bool {
        self.kind != Kind::Text
    }

    /// Tags that can stand alone on a line (and then take the line with them).
    fn standalone_kind(&self) -> bool {
        !matches!(
            self.kind,
            Kind::Text | Kind::Mustache | Kind::Var | Kind::Invalid
        )
    }
}

fn whitespace_control(t: &mut Template) {
    let src = t.source.clone();
    let src = &*src;
    let items = &mut t.items;
    // handlebars.js gives an inverted block with an `{{else}}`, `{{^x}}A{{else}}B{{/x}}`,
    // B as its program and A as its inverse, and strips whitespace as if B came first:
    // swap the two for the stripping and back after it.
    let swaps = inverted_else_blocks(items, &t.blocks);
    for &(open, els, close) in &swaps {
        swap_parts(items, open, els, close);
    }
    // `{{else if}}` chains, as the tags that end each part: [else1, else2, ..., close].
    let chains = chain_bounds(items, &t.blocks);
    let chain_ends: std::collections::HashMap<usize, usize> = chains
        .iter()
        .enumerate()
        .map(|(n, b)| (*b.last().expect("a chain has a close"), n))
        .collect();
    let mut inward = Vec::new();
    let n = items.len();
    for i in 0..n {
        if let Some(&chain) = chain_ends.get(&i) {
            let bounds = &chains[chain];
            // The close of an `{{else if}}` chain: handlebars.js tests the end of the
            // chain's first link (not the last) and strips only after the tag.
            if items[i].flags & STRIP_RIGHT != 0 {
                omit_right(items, src, i, true);
            }
            if is_prev_whitespace(items, src, bounds[1]) && is_next_whitespace(items, src, i) {
                omit_right(items, src, i, false);
            }
            continue;
        }
        let item = items[i];
        if !item.is_tag() {
            continue;
        }
        let strip_left = item.flags & STRIP_LEFT != 0;
        let strip_right = item.flags & STRIP_RIGHT != 0;
        // The `~` a block's tags turn inwards (`{{#x~}}`, `{{~else~}}`, `{{~/x}}`) is
        // applied after the standalone lines inside, as handlebars.js visits a block's
        // programs before its own strip.
        let (inner_left, inner_right) = match item.kind {
            Kind::Open => (false, true),
            Kind::Else | Kind::ElseChain => (true, true),
            Kind::Close => (true, false),
            _ => (false, false),
        };
        if strip_left {
            if inner_left {
                inward.push((i, true));
            } else {
                omit_left(items, src, i, true);
            }
        }
        if strip_right {
            if inner_right {
                inward.push((i, false));
            } else {
                omit_right(items, src, i, true);
            }
        }
        if item.standalone_kind()
            && is_prev_whitespace(items, src, i)
            && is_next_whitespace(items, src, i)
        {
            omit_right(items, src, i, false);
            let indent = match i.checked_sub(1).map(|p| items[p]) {
                Some(prev) if !prev.is_tag() => {
                    let original = &src[prev.start as usize..prev.end as usize];
                    let blanks = trailing_blanks(original).len() as u32;
                    [prev.end - blanks, prev.end]
                }
                _ => [0, 0],
            };
            if omit_left(items, src, i, false) && item.kind == Kind::Partial {
                t.partials[item.a as usize].indent = indent;
            }
        }
    }
    for (i, left) in inward {
        if left {
            omit_left(items, src, i, true);
        } else {
            omit_right(items, src, i, true);
        }
    }
    for bounds in &chains {
        // handlebars.js hands `~` on to the chain's links oddly: `{{~/if}}` strips the
        // end of the first and second links (not the last), and `{{~else if}}` from the
        // second link on also strips the end of the part after its own.
        let k = bounds.len() - 1;
        for j in 2..=k {
            let tag = items[bounds[j - 1]];
            if tag.flags & STRIP_LEFT != 0 && tag.kind == Kind::ElseChain {
                omit_left(items, src, bounds[(j + 1).min(k)], true);
            }
        }
        if items[bounds[k]].flags & STRIP_LEFT != 0 {
            omit_left(items, src, bounds[1], true);
            omit_left(items, src, bounds[2.min(k)], true);
        }
    }
    for &(open, els, close) in swaps.iter().rev() {
        // After the swap the else stands where B ended.
        let b = close - els - 1;
        swap_parts(items, open, open + 1 + b, close);
    }
}

/// Inverted blocks with one plain `{{else}}`, as (open, else, close) item indices,
/// innermost first.
fn inverted_else_blocks(items: &[Item], blocks: &[BlockData]) -> Vec<(usize, usize, usize)> {
    let mut found = Vec::new();
    for_blocks(items, blocks, |open, inverted, elses, close| {
        if inverted && elses.len() == 1 && !elses[0].1 {
            found.push((open, elses[0].0, close));
        }
    });
    found
}

/// For each block whose first `{{else}}` is `{{else if}}`: its else tags and its close
/// tag, in order (the tags that end each part after the first).
fn chain_bounds(items: &[Item], blocks: &[BlockData]) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    for_blocks(items, blocks, |_, _, elses, close| {
        if elses.first().is_some_and(|e| e.1) {
            let mut bounds: Vec<usize> = elses.iter().map(|e| e.0).collect();
            bounds.push(close);
            found.push(bounds);
        }
    });
    found
}

/// Each closed block, innermost first: (open, inverted, its else tags as (index, is an
/// `{{else if}}`), close).
fn for_blocks(
    items: &[Item],
    blocks: &[BlockData],
    mut f: impl FnMut(usize, bool, &[(usize, bool)], usize),
) {
    /// (open index, inverted, else tags as (index, is an `{{else if}}`)).
    type Open = (usize, bool, Vec<(usize, bool)>);
    let mut stack: Vec<Open> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.kind {
            Kind::Open => {
                let inverted = blocks[item.a as usize].flags & INVERTED != 0;
                stack.push((i, inverted, Vec::new()))
            }
            Kind::Else | Kind::ElseChain => {
                if let Some(top) = stack.last_mut() {
                    top.2.push((i, item.kind == Kind::ElseChain));
                }
            }
            Kind::Close => {
                if let Some((open, inverted, elses)) = stack.pop() {
                    f(open, inverted, &elses, i);
                }
            }
            _ => {}
        }
    }
}

/// `items[open+1..els]` (A) and `items[els+1..close]` (B) change places around the
/// else tag: `[A, else, B]` becomes `[B, else, A]`.
fn swap_parts(items: &mut [Item], open: usize, els: usize, close: usize) {
    let range = &mut items[open + 1..close];
    let a = els - open - 1;
    // [A, else, B] -> [else, B, A] -> [B, else, A]
    range.rotate_left(a);
    let b = range.len() - a - 1;
    range[..b + 1].rotate_left(1);
}

fn trailing_blanks(s: &str) -> &str {
    let trimmed = s.trim_end_matches([' ', '\t']);
    &s[trimmed.len()..]
}

/// The text before tag `i` ends a line with only blanks after it (or the template
/// starts with blanks before the tag).
fn is_prev_whitespace(items: &[Item], src: &str, i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let c = items[i - 1];
    if c.is_tag() {
        return false;
    }
    let s = &src[c.start as usize..c.end as usize];
    let blanks = s.trim_end_matches(|ch: char| ch.is_whitespace() && ch != '\n');
    if blanks.ends_with('\n') {
        return true;
    }
    // At the very start of the template, leading blanks count as a line start.
    i == 1 && blanks.is_empty()
}

/// The text after tag `i` starts with blanks and a newline (or the template ends).
fn is_next_whitespace(items: &[Item], src: &str, i: usize) -> bool {
    if i + 1 >= items.len() {
        return true;
    }
    let c = items[i + 1];
    if c.is_tag() {
        return false;
    }
    let s = &src[c.start as usize..c.end as usize];
    let after_blanks =
        s.trim_start_matches(|ch: char| ch.is_whitespace() && ch != '\n' && ch != '\r');
    if after_blanks.starts_with('\n') || after_blanks.starts_with("\r\n") {
        return true;
    }
    i + 2 == items.len() && after_blanks.is_empty()
}

/// Strips the start of the text after tag `i`: all whitespace (`~`), or the blanks and
/// one newline (standalone).
fn omit_right(items: &mut [Item], src: &str, i: usize, multiple: bool) {
    let Some(c) = items.get_mut(i + 1).filter(|c| !c.is_tag()) else {
        return;
    };
    if !multiple && c.flags & RIGHT_STRIPPED != 0 {
        return;
    }
    let v = &src[c.a as usize..c.b as usize];
    let stripped = if multiple {
        v.trim_start_matches(char::is_whitespace)
    } else {
        let v = v.trim_start_matches([' ', '\t']);
        v.strip_prefix("\r\n")
            .or_else(|| v.strip_prefix('\n'))
            .or_else(|| v.strip_prefix('\r'))
            .unwrap_or(v)
    };
    let cut = (v.len() - stripped.len()) as u32;
    c.a += cut;
    c.flags &= !RIGHT_STRIPPED;
    if cut > 0 {
        c.flags |= RIGHT_STRIPPED;
    }
}

/// Strips the end of the text before tag `i`: all whitespace (`~`) or trailing blanks.
fn omit_left(items: &mut [Item], src: &str, i: usize, multiple: bool) -> bool {
    let Some(prev) = i.checked_sub(1) else {
        return false;
    };
    let c = &mut items[prev];
    if c.is_tag() {
        return false;
    }
    if !multiple && c.flags & LEFT_STRIPPED != 0 {
        return false;
    }
    let v = &src[c.a as usize..c.b as usize];
    let stripped = if multiple {
        v.trim_end_matches(char::is_whitespace)
    } else {
        v.trim_end_matches([' ', '\t'])
    };
    let cut = (v.len() - stripped.len()) as u32;
    c.b -= cut;
    c.flags &= !LEFT_STRIPPED;
    if cut > 0 {
        c.flags |= LEFT_STRIPPED;
    }
    cut > 0
}

// ---------------------------------------------------------------------------------
// Linking: each block learns where its program and inverse are among the items.

struct OpenBlock {
    block: u32,
    /// The name a close tag must repeat (`None`: a name no close tag matches).
    name: Option<(u32, u32)>,
    /// How the name is shown in messages.
    shown: String,
    /// Filling the inverse (after `{{else}}`) rather than the program.
    in_inverse: bool,
    /// Blocks opened by `{{else if}}` close together with this one.
    chained: Vec<u32>,
}

/// Reports `code` at tag `item`.
fn at_item(
    t: &Template,
    errors: &mut Vec<TemplateError>,
    item: Item,
    code: &'static str,
    message: String,
) {
    err(
        t,
        errors,
        item.start as usize,
        item.end as usize,
        code,
        message,
    );
}

/// Reports `code` at item `i` and leaves the tag out of the tree.
fn refuse(
    t: &mut Template,
    errors: &mut Vec<TemplateError>,
    i: usize,
    code: &'static str,
    message: String,
) {
    at_item(t, errors, t.items[i], code, message);
    t.items[i].kind = Kind::Skip;
}

fn link(t: &mut Template, errors: &mut Vec<TemplateError>) {
    // Names are read while the blocks are written.
    let names = Template {
        source: t.source.clone(),
        owned: t.owned.clone(),
        ..Template::default()
    };
    let mut stack: Vec<OpenBlock> = Vec::new();
    let end = t.source.len() as u32;
    for i in 0..t.items.len() {
        let item = t.items[i];
        let at = i as u32;
        if matches!(item.kind, Kind::Else | Kind::ElseChain) {
            if let Some(open) = stack
                .last()
                .filter(|open| t.blocks[open.block as usize].flags & PARTIAL_BLOCK != 0)
            {
                // handlebars.js's grammar: a partial block is a program, no inverse.
                let message = format!(
                    "a partial block `{{{{#> {}}}}}` cannot have an `{{{{else}}}}`",
                    open.shown
                );
                refuse(t, errors, i, "unexpected-else", message);
                continue;
            }
        }
        match item.kind {
            Kind::Text
            | Kind::Mustache
            | Kind::Var
            | Kind::Comment
            | Kind::Partial
            | Kind::Invalid => {}
            Kind::Skip => {}
            Kind::Open => {
                if stack.len() >= MAX_NESTING {
                    refuse(
                        t,
                        errors,
                        i,
                        "nesting-too-deep",
                        format!("blocks nested more than {MAX_NESTING} deep"),
                    );
                    continue;
                }
                let block = item.a;
                t.blocks[block as usize].item = at;
                let path = t.calls[t.blocks[block as usize].call as usize].path;
                let name = block_name(&path);
                let shown = match name {
                    Some((a, b)) => t.text(a, b).to_string(),
                    None => written(t, &path).to_string(),
                };
                stack.push(OpenBlock {
                    block,
                    name,
                    shown,
                    in_inverse: false,
                    chained: Vec::new(),
                });
            }
            Kind::Else => match stack.last_mut() {
                Some(open) => {
                    if let Some(&last) = open.chained.last() {
                        let link = &mut t.blocks[last as usize];
                        if link.inverse[0] == NONE {
                            link.program_to = at;
                            link.inverse[0] = at + 1;
                        } else {
                            t.items[i].kind = Kind::Skip;
                        }
                    } else if open.in_inverse {
                        let message =
                            format!("`{{{{#{}}}}}` already has an `{{{{else}}}}`", open.shown);
                        refuse(t, errors, i, "duplicate-else", message);
                    } else {
                        open.in_inverse = true;
                        let block = &mut t.blocks[open.block as usize];
                        block.program_to = at;
                        block.inverse[0] = at + 1;
                    }
                }
                None => {
                    refuse(
                        t,
                        errors,
                        i,
                        "unexpected-else",
                        "`{{else}}` outside a block".into(),
                    );
                }
            },
            Kind::ElseChain => match stack.last_mut() {
                Some(open) => {
                    // The new link is the first node of the inverse of the part before.
                    let before = open.chained.last().copied().unwrap_or(open.block);
                    let before = &mut t.blocks[before as usize];
                    if before.program_to == NONE {
                        before.program_to = at;
                    }
                    if before.inverse[0] == NONE {
                        before.inverse[0] = at;
                    }
                    open.in_inverse = true;
                    open.chained.push(item.a);
                    t.blocks[item.a as usize].item = at;
                }
                None => {
                    refuse(
                        t,
                        errors,
                        i,
                        "unexpected-else",
                        "`{{else ...}}` outside a block".into(),
                    );
                }
            },
            Kind::Close => {
                let name = names.text(item.a, item.b);
                let Some(position) = stack
                    .iter()
                    .rposition(|o| o.name.is_some_and(|(a, b)| names.text(a, b) == name))
                else {
                    let message = match stack.last() {
                        Some(open) => format!(
                            "`{{{{/{name}}}}}` does not match the open `{{{{#{}}}}}`",
                            open.shown
                        ),
                        None => format!("`{{{{/{name}}}}}` closes a block that was never opened"),
                    };
                    refuse(t, errors, i, "unexpected-close", message);
                    continue;
                };
                // Blocks opened after the one being closed were never closed.
                while stack.len() > position + 1 {
                    let open = stack.pop().expect("len checked");
                    let open_item = t.items[t.blocks[open.block as usize].item as usize];
                    let message = format!(
                        "`{{{{#{}}}}}` is never closed (expected `{{{{/{}}}}}` before `{{{{/{name}}}}}`)",
                        open.shown, open.shown
                    );
                    at_item(t, errors, open_item, "unclosed-block", message);
                    finish(t, &open, at, at, None, item.start);
                }
                let open = stack.pop().expect("position is in the stack");
                finish(t, &open, at, at + 1, Some(at), item.end);
            }
        }
    }
    let n = t.items.len() as u32;
    while let Some(open) = stack.pop() {
        let open_item = t.items[t.blocks[open.block as usize].item as usize];
        let message = format!(
            "`{{{{#{}}}}}` is never closed with `{{{{/{}}}}}`",
            open.shown, open.shown
        );
        at_item(t, errors, open_item, "unclosed-block", message);
        finish(t, &open, n, n, None, end);
    }
}

/// Closes `open` (and its `{{else if}}` links) at item `to`: the lists inside end there,
/// the list around the block goes on at `next`.
fn finish(t: &mut Template, open: &OpenBlock, to: u32, next: u32, close: Option<u32>, end: u32) {
    let close_item = close.unwrap_or(NONE);
    for &link in open.chained.iter().chain(std::iter::once(&open.block)) {
        let b = &mut t.blocks[link as usize];
        if b.program_to == NONE {
            b.program_to = to;
        }
        if b.inverse[0] != NONE {
            b.inverse[1] = to;
        }
        // A link is the last node of the inverse before it, which ends where it does.
        b.next = if link == open.block { next } else { to };
        b.end = end;
        b.close_item = close_item;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> (Template, Vec<TemplateError>) {
        parse_template(src, 0)
    }

    fn codes(src: &str) -> Vec<&'static str> {
        parse(src).1.into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn paths_literals_and_hashes() {
        let (t, errors) = parse("{{helper a.b ../c @index \"s\\\"q\" 'x' 1 -2.5 true null undefined this.d [e f] key=(sub x) k2=3}}");
        assert!(errors.is_empty(), "{errors:?}");
        let NodeKind::Mustache(call) = t.nodes().first().unwrap().kind() else {
            panic!()
        };
        assert_eq!(call.simple_name(), Some("helper"));
        let param = |i: usize| call.params().get(i).unwrap().kind();
        let p = |i: usize| match param(i) {
            ExprKind::Path(p) => (
                p.parts().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                p.depth(),
                p.data(),
                p.this_relative(),
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            p(0),
            (vec!["a".to_string(), "b".to_string()], 0, false, false)
        );
        assert_eq!(p(1), (vec!["c".to_string()], 1, false, false));
        assert_eq!(p(2), (vec!["index".to_string()], 0, true, false));
        assert!(matches!(param(3), ExprKind::String("s\"q")));
        assert!(matches!(param(4), ExprKind::String("x")));
        assert!(matches!(param(5), ExprKind::Number(v) if v == 1.0));
        assert!(matches!(param(6), ExprKind::Number(v) if v == -2.5));
        assert!(matches!(param(7), ExprKind::Boolean(true)));
        assert!(matches!(param(8), ExprKind::Null));
        assert!(matches!(param(9), ExprKind::Undefined));
        assert_eq!(p(10), (vec!["d".to_string()], 0, false, true));
        assert_eq!(p(11), (vec!["e f".to_string()], 0, false, false));
        let hash: Vec<_> = call.hash().iter().collect();
        assert_eq!(hash[0].key(), "key");
        assert!(
            matches!(hash[0].value().kind(), ExprKind::SubExpr(c) if c.simple_name() == Some("sub"))
        );
        assert_eq!(hash[1].key(), "k2");
    }

    #[test]
    fn spans_point_at_the_source() {
        let src = "Hi {{#if x}}{{name}}{{/if}}";
        let (t, _) = parse_template(src, 100);
        let b = t.nodes().iter().nth(1).unwrap().as_block().unwrap();
        assert_eq!(b.open(), Span::new(103, 112));
        assert_eq!(b.close(), Some(Span::new(120, 127)));
        let NodeKind::Mustache(call) = b.program().first().unwrap().kind() else {
            panic!()
        };
        assert_eq!(call.path().span(), Span::new(114, 118));
    }

    #[test]
    fn a_partial_block_has_no_else() {
        assert_eq!(codes("{{#> p}}a{{else}}b{{/p}}"), ["unexpected-else"]);
        assert_eq!(codes("{{#> p}}a{{else if x}}b{{/p}}"), ["unexpected-else"]);
        assert!(codes("{{#> p}}{{#if x}}a{{else}}b{{/if}}{{/p}}").is_empty());
    }

    #[test]
    fn a_name_must_end_where_handlebars_ends_it() {
        // handlebars.js's ID lookahead: `= ~ } / . ) |` or whitespace.
        assert_eq!(codes("{{#if[0] x}}y{{/if}}")[0], "invalid-expression");
        assert_eq!(codes("{{a'b'}}")[0], "invalid-expression");
        assert!(codes("{{a.[0]}} {{[a b]}} {{a/b}} {{x~}} {{h (s) k=v}}").is_empty());
    }

    #[test]
    fn else_chains_nest_in_the_inverse() {
        let (t, errors) = parse("{{#if a}}A{{else if b}}B{{else}}C{{/if}}");
        assert!(errors.is_empty(), "{errors:?}");
        let b = t.nodes().first().unwrap().as_block().unwrap();
        let inverse = b.inverse().unwrap();
        assert_eq!(inverse.iter().count(), 1);
        let inner = inverse.first().unwrap().as_block().unwrap();
        assert_eq!(inner.call().params().len(), 1);
        let texts = |nodes: Nodes| -> Vec<(Span, String)> {
            nodes
                .iter()
                .map(|n| match n.kind() {
                    NodeKind::Text(s) => (n.span(), s.to_string()),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(
            texts(inner.program()),
            [(Span::new(23, 24), "B".to_string())]
        );
        assert_eq!(
            texts(inner.inverse().unwrap()),
            [(Span::new(32, 33), "C".to_string())]
        );
        assert_eq!(inner.close(), b.close());
    }

    #[test]
    fn broken_templates_recover() {
        assert_eq!(codes("Hello {{name"), ["unterminated-mustache"]);
        assert_eq!(codes("{{#if a}}x"), ["unclosed-block"]);
        assert_eq!(codes("x{{/if}}"), ["unexpected-close"]);
        assert_eq!(codes("{{#each a}}{{#if b}}{{/each}}"), ["unclosed-block"]);
        assert_eq!(codes("{{!-- never"), ["unterminated-comment"]);
        assert_eq!(codes("{{x \"open}}"), ["unterminated-mustache"]);
        assert_eq!(codes("{{}}"), ["invalid-expression"]);
        assert_eq!(codes("{{a b=}}"), ["invalid-expression"]);
        assert_eq!(codes("{{else}}"), ["unexpected-else"]);
        // handlebars.js's lexer: `}}}` and `}}}}` close other tags, `as ||` names
        // nothing, a subexpression cannot be the helper.
        assert_eq!(codes("{{a}}}"), ["invalid-expression"]);
        assert_eq!(codes("{{{a}}}}"), ["invalid-expression"]);
        assert_eq!(
            codes("{{#each a as ||}}x{{/each}}"),
            ["invalid-expression", "unexpected-close"]
        );
        assert_eq!(codes("{{(lookup a b)}}"), ["invalid-expression"]);
        assert_eq!(
            codes("{{#*deco}}x{{/deco}}"),
            ["invalid-expression", "unexpected-close"]
        );
        // ... and what it accepts.
        for ok in [
            "{{#if a}}x{{else}}}{{/if}}",
            "{{~{a}~}}",
            "{{!--}}",
            "{{!---}}",
            "{{#*inline \"p\"}}x{{/inline}}",
            "{{{{raw}}}}{{x}}{{{{/raw}}}}",
            "{{a 'q\\'}}",
        ] {
            assert_eq!(codes(ok), Vec::<&str>::new(), "{ok}");
        }
        let (t, _) = parse("Hello {{name");
        let texts: Vec<&str> = t
            .nodes()
            .iter()
            .map(|n| match n.kind() {
                NodeKind::Text(text) => text,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts.concat(), "Hello {{name");
    }

    #[test]
    fn deep_nesting_is_reported_not_overflowed() {
        let src = format!("{}x{}", "{{#if a}}".repeat(1000), "{{/if}}".repeat(1000));
        let (_, errors) = parse(&src);
        assert!(errors.iter().any(|e| e.code == "nesting-too-deep"));
        let src = format!("{{{{x {}y{}}}}}", "(a ".repeat(1000), ")".repeat(1000));
        let (_, errors) = parse(&src);
        assert!(!errors.is_empty());
    }
}
