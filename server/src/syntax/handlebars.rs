//! Handlebars templates -> (AST, errors), with handlebars.js 4.7 semantics: the same
//! tokens, the same whitespace control (`~` and standalone lines), the same partial
//! indentation. Parsing never fails: broken input becomes text plus an error, and every
//! node keeps its byte range for editor diagnostics.
//!
//! Whitespace control is applied here, as handlebars.js does in its parser, so rendering
//! only concatenates. handlebars.js decides standalone lines from each tag's neighbouring
//! content; on the flat token list those neighbours are simply the tokens beside the tag.

use arcstr::ArcStr;

use super::Span;

mod view;
pub use view::{
    BlockRef, CallRef, ExprKind, ExprRef, Exprs, HashPairs, HashRef, NodeKind, NodeRef, Nodes,
    NodesIter, PartialNameRef, PartialRef, PathRef, Strs,
};

/// Text in the tree: a reference-counted slice of the one copy of the template's source
/// (or of a string made for it, for the rare text an escape changed). 16 bytes and no
/// allocation per node, so a parsed template stays in proportion to its source.
pub type SharedStr = arcstr::Substr;

/// Nesting deeper than this is reported instead of built, so no template can exhaust
/// the stack of the (recursive) renderer.
pub const MAX_NESTING: usize = 256;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Literal text; `text` is what renders after whitespace control.
    Text { span: Span, text: SharedStr },
    /// `{{expr}}`, `{{{expr}}}`, `{{&expr}}`.
    Mustache { span: Span, call: Box<Call> },
    /// `{{#name ...}}...{{else}}...{{/name}}` and inverted `{{^name}}...{{/name}}`.
    Block(Box<Block>),
    /// `{{> name ctx key=value}}`.
    Partial(Box<Partial>),
    /// `{{! ... }}` and `{{!-- ... --}}`.
    Comment { span: Span, text: SharedStr },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub span: Span,
    /// The opening tag.
    pub open: Span,
    /// The closing tag; `None` when it is missing (an error was reported).
    pub close: Option<Span>,
    pub call: Call,
    /// `as |item index|`.
    pub block_params: Vec<SharedStr>,
    pub program: Vec<Node>,
    /// After `{{else}}`; an `{{else if x}}` chain is a single nested block here.
    pub inverse: Option<Vec<Node>>,
    /// `{{^name}}`: the program renders when the value is empty.
    pub inverted: bool,
    /// `{{#> name}}default{{/name}}`: a partial whose block is its fallback content.
    pub partial_block: bool,
    /// `{{#*inline "name"}}...{{/inline}}`: an inline partial (the only decorator
    /// Dotprompt has), defined for the node list that contains it; renders nothing.
    pub inline_partial: bool,
}

impl Block {
    /// The name an inline partial `{{#*inline "name"}}` defines.
    pub fn inline_name(&self) -> Option<&str> {
        if !self.inline_partial {
            return None;
        }
        match self.call.params.first() {
            Some(Expr::String { value, .. }) => Some(value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    pub span: Span,
    pub name: PartialName,
    pub context: Option<Expr>,
    pub hash: Vec<HashPair>,
    /// Indentation of a standalone partial, applied to each line it renders.
    pub indent: SharedStr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartialName {
    Static { name: SharedStr, span: Span },
    Dynamic(Box<Call>),
}

/// A helper call or a plain value: `path param... key=value...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub span: Span,
    pub path: Expr,
    /// Boxed slices rather than vectors: no spare capacity, 16 bytes when empty.
    pub params: Box<[Expr]>,
    pub hash: Box<[HashPair]>,
}

impl Call {
    /// The helper name when the call could be a helper: a one-segment path that is not
    /// `this`, `..` or `@data`.
    pub fn simple_name(&self) -> Option<&str> {
        match &self.path {
            Expr::Path(p) if p.is_simple() => Some(&p.parts[0]),
            _ => None,
        }
    }

    /// Whether handlebars.js classifies this as a helper call (it has arguments).
    pub fn has_arguments(&self) -> bool {
        !self.params.is_empty() || !self.hash.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HashPair {
    pub span: Span,
    pub key: SharedStr,
    pub key_span: Span,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Path(Path),
    String { span: Span, value: SharedStr },
    Number { span: Span, value: f64 },
    Boolean { span: Span, value: bool },
    Null { span: Span },
    Undefined { span: Span },
    SubExpr(Box<Call>),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Path(p) => p.span,
            Expr::String { span, .. }
            | Expr::Number { span, .. }
            | Expr::Boolean { span, .. }
            | Expr::Null { span }
            | Expr::Undefined { span } => *span,
            Expr::SubExpr(call) => call.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub span: Span,
    /// `@name`: a data variable.
    pub data: bool,
    /// How many `../` lead the path.
    pub depth: usize,
    /// Segments after `this`/`..`; empty for `this` or `.` alone.
    pub parts: smallvec::SmallVec<[SharedStr; 1]>,
    /// Starts with `this` or `.` (never a helper, never a block param).
    pub this_relative: bool,
    /// As written.
    pub original: SharedStr,
}

impl Path {
    /// One plain segment (could name a helper or a block param).
    pub fn is_simple(&self) -> bool {
        !self.data && self.depth == 0 && !self.this_relative && self.parts.len() == 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub span: Span,
    pub code: &'static str,
    pub message: String,
}

/// Parses `src` (the template text); spans are offsets into `src` plus `base`.
pub fn parse_template(src: &str, base: usize) -> (Template, Vec<TemplateError>) {
    let mut errors = Vec::new();
    let shared = ArcStr::from(src);
    let mut tokens = lex(&shared, base, &mut errors);
    whitespace_control(&mut tokens);
    let nodes = build(tokens, base + src.len(), &mut errors);
    (Template { nodes }, errors)
}

impl Template {
    /// Every node of the tree's storage, depth first (readers use the views' `walk`;
    /// this one goes when the storage changes).
    pub fn walk_tree<'a>(&'a self, f: &mut impl FnMut(&'a Node, usize)) {
        fn go<'a>(nodes: &'a [Node], depth: usize, f: &mut impl FnMut(&'a Node, usize)) {
            for node in nodes {
                f(node, depth);
                if let Node::Block(b) = node {
                    go(&b.program, depth + 1, f);
                    if let Some(inverse) = &b.inverse {
                        go(inverse, depth + 1, f);
                    }
                }
            }
        }
        go(&self.nodes, 0, f);
    }
}

// ---------------------------------------------------------------------------------
// Lexing: text and tags.

#[derive(Debug)]
enum Token {
    Content(Content),
    /// Boxed: a tag is several times the size of a content token, and the token list
    /// of a large template is held whole while whitespace control looks around.
    Tag(Box<Tag>),
}

#[derive(Debug)]
struct Content {
    span: Span,
    /// The text as written (standalone detection looks at this).
    original: SharedStr,
    /// The text after whitespace control.
    value: SharedStr,
    left_stripped: bool,
    right_stripped: bool,
}

#[derive(Debug)]
struct Tag {
    span: Span,
    kind: TagKind,
    /// `{{~`: strip whitespace before the tag.
    strip_left: bool,
    /// `~}}`: strip whitespace after the tag.
    strip_right: bool,
    /// For standalone partials: the indentation removed before the tag.
    indent: SharedStr,
}

#[derive(Debug)]
enum TagKind {
    Mustache(Box<Call>),
    /// `{{#x}}`, `{{^x}}` (inverted), `{{#> x}}` (partial block).
    Open {
        call: Call,
        block_params: Vec<SharedStr>,
        inverted: bool,
        partial_block: bool,
        inline_partial: bool,
    },
    /// `{{else}}` or `{{^}}`.
    Else,
    /// `{{else if x}}`.
    ElseChain {
        call: Call,
        block_params: Vec<SharedStr>,
    },
    Close {
        name: SharedStr,
        name_span: Span,
    },
    Partial {
        name: PartialName,
        context: Option<Expr>,
        hash: Vec<HashPair>,
    },
    Comment(SharedStr),
    /// A tag that failed to parse (already reported); renders nothing.
    Invalid,
}

impl TagKind {
    /// Tags that can stand alone on a line (and then take the line with them).
    fn standalone_kind(&self) -> bool {
        !matches!(self, TagKind::Mustache(_) | TagKind::Invalid)
    }
}

/// `text`, which was read from `shared[start..end]`, as a slice of `shared` when it is
/// that slice (no escapes changed it), else a string of its own.
fn share(shared: &ArcStr, start: usize, end: usize, text: &str) -> SharedStr {
    if shared.get(start..end) == Some(text) {
        shared.substr(start..end)
    } else {
        SharedStr::from(ArcStr::from(text))
    }
}

fn lex(shared: &ArcStr, base: usize, errors: &mut Vec<TemplateError>) -> Vec<Token> {
    let src = shared.as_str();
    let bytes = src.as_bytes();
    // At most a tag per `{{` and a text between tags: reserved once, so a large template's
    // list is not grown by doubling (which leaves up to half of it unused).
    let tags = memchr::memmem::find_iter(bytes, b"{{").count();
    let mut tokens = Vec::with_capacity(2 * tags + 1);
    let mut text = String::new();
    let mut text_start = 0;
    let mut i = 0;
    let flush = |tokens: &mut Vec<Token>, text: &mut String, start: usize, end: usize| {
        if !text.is_empty() {
            let t = share(shared, start, end, text);
            text.clear();
            tokens.push(Token::Content(Content {
                span: Span::new(base + start, base + end),
                original: t.clone(),
                value: t,
                left_stripped: false,
                right_stripped: false,
            }));
        }
    };
    while i < bytes.len() {
        let Some(rel) = memchr2(b'{', b'\\', &bytes[i..]) else {
            text.push_str(&src[i..]);
            break;
        };
        let at = i + rel;
        text.push_str(&src[i..at]);
        if bytes[at] == b'\\' {
            // `\{{` escapes a mustache (the text runs to the next `{{`); `\\{{` is a
            // literal backslash before a real mustache.
            if src[at..].starts_with("\\\\{{") {
                text.push('\\');
                i = at + 2;
            } else if src[at..].starts_with("\\{{") {
                let rest = &src[at + 1..];
                let end = rest[2..].find("{{").map_or(rest.len(), |p| p + 2);
                // Stop before a following escape so it is handled on its own.
                let end = if end > 0 && rest[..end].ends_with('\\') {
                    end - 1
                } else {
                    end
                };
                text.push_str(&rest[..end]);
                i = at + 1 + end;
            } else {
                text.push('\\');
                i = at + 1;
            }
            continue;
        }
        if !src[at..].starts_with("{{") {
            text.push('{');
            i = at + 1;
            continue;
        }
        flush(&mut tokens, &mut text, text_start, at);
        let mut raw = Vec::new();
        let (tag, end) = lex_tag(shared, at, base, errors, &mut raw);
        let raw_block = !raw.is_empty();
        tokens.append(&mut raw);
        if raw_block {
            if let Some(tag) = tag {
                tokens.push(Token::Tag(Box::new(tag)));
            }
            text_start = end;
        } else if let Some(tag) = tag {
            tokens.push(Token::Tag(Box::new(tag)));
            text_start = end;
        } else {
            // Unterminated: the rest is text.
            text_start = at;
            text.push_str(&src[at..end]);
        }
        i = end;
    }
    flush(&mut tokens, &mut text, text_start, bytes.len());
    tokens
}

fn memchr2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == a || c == b)
}

/// Lexes the tag starting at `at` (`{{`). Returns the tag (or `None` when it is not
/// terminated: the caller keeps the text) and where lexing continues.
fn lex_tag(
    shared: &ArcStr,
    at: usize,
    base: usize,
    errors: &mut Vec<TemplateError>,
    raw: &mut Vec<Token>,
) -> (Option<Tag>, usize) {
    let src = shared.as_str();
    let rest = &src[at..];
    let err = |errors: &mut Vec<TemplateError>,
               s: usize,
               e: usize,
               code: &'static str,
               message: String| {
        errors.push(TemplateError {
            span: Span::new(base + s, base + e),
            code,
            message,
        });
    };

    // Raw blocks `{{{{name args}}}} ... {{{{/name}}}}`: handlebars.js makes them a block
    // whose program is the verbatim content (so under knownHelpersOnly, an unknown name
    // is a section over the context's value, as `{{#name}}` would be).
    if rest.starts_with("{{{{") {
        let Some(close) = rest.find("}}}}") else {
            err(
                errors,
                at,
                src.len(),
                "unterminated-mustache",
                "`{{{{` is never closed with `}}}}`".into(),
            );
            return (None, src.len());
        };
        let content_start = at + close + 4;
        let mut parser = ExprParser {
            shared,
            src,
            pos: at + 4,
            end: at + close,
            base,
            errors,
            depth: 0,
        };
        let call = parser.call();
        let name = call.as_ref().map(block_name).unwrap_or_default();
        let end_tag = format!("{{{{{{{{/{name}}}}}}}}}");
        let (content_end, end) = match raw_block_end(&src[content_start..], &end_tag) {
            Some(p) => (content_start + p, content_start + p + end_tag.len()),
            None => {
                err(
                    errors,
                    at,
                    content_start,
                    "unclosed-block",
                    format!("raw block `{name}` is never closed with `{end_tag}`"),
                );
                (src.len(), src.len())
            }
        };
        let tag = |s: usize, e: usize, kind| Tag {
            span: Span::new(base + s, base + e),
            kind,
            strip_left: false,
            strip_right: false,
            indent: SharedStr::default(),
        };
        let Some(call) = call else {
            return (Some(tag(at, end, TagKind::Invalid)), end);
        };
        let name_span = call.path.span();
        raw.push(Token::Tag(Box::new(tag(
            at,
            content_start,
            TagKind::Open {
                call,
                block_params: Vec::new(),
                inverted: false,
                partial_block: false,
                inline_partial: false,
            },
        ))));
        if content_end > content_start {
            let text = shared.substr(content_start..content_end);
            raw.push(Token::Content(Content {
                span: Span::new(base + content_start, base + content_end),
                original: text.clone(),
                value: text,
                left_stripped: false,
                right_stripped: false,
            }));
        }
        if content_end == end {
            return (None, end);
        }
        return (
            Some(tag(content_end, end, TagKind::Close { name, name_span })),
            end,
        );
    }

    // Comments.
    let after_open = if rest.starts_with("{{~") { 3 } else { 2 };
    let strip_left = after_open == 3;
    let body = &rest[after_open..];
    if body.starts_with("!--") {
        // handlebars.js matches `[\s\S]*?--~?}}` from the tag's start, so the opening
        // dashes can close the comment too (`{{!--}}`).
        let dashes = &body[1..];
        let Some((p, close_len, strip_right)) = find_comment_end(dashes) else {
            err(
                errors,
                at,
                src.len(),
                "unterminated-comment",
                "`{{!--` comment is never closed with `--}}`".into(),
            );
            return (None, src.len());
        };
        let end = at + after_open + 1 + p + close_len;
        let text = match dashes.get(2..p) {
            Some(t) => shared.substr_from(t),
            None => SharedStr::default(),
        };
        let tag = Tag {
            span: Span::new(base + at, base + end),
            kind: TagKind::Comment(text),
            strip_left,
            strip_right,
            indent: SharedStr::default(),
        };
        return (Some(tag), end);
    }
    if let Some(comment) = body.strip_prefix('!') {
        let Some(p) = comment.find("}}") else {
            err(
                errors,
                at,
                src.len(),
                "unterminated-comment",
                "`{{!` comment is never closed with `}}`".into(),
            );
            return (None, src.len());
        };
        let strip_right = comment[..p].ends_with('~');
        let text_len = if strip_right { p - 1 } else { p };
        let end = at + after_open + 1 + p + 2;
        let tag = Tag {
            span: Span::new(base + at, base + end),
            kind: TagKind::Comment(shared.substr_from(&comment[..text_len])),
            strip_left,
            strip_right,
            indent: SharedStr::default(),
        };
        return (Some(tag), end);
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
            errors,
            at,
            line_end.max(at + 2),
            "unterminated-mustache",
            format!("`{{{{` is never closed with `{close_pat}`"),
        );
        return (None, line_end.max(at + 2));
    };
    let mut inner_end = inner_start + close_rel;
    let end = inner_end + close_len;
    if triple && !strip_right && src[inner_end..].starts_with("}}}}") {
        err(
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
    let span = Span::new(base + at, base + end);
    let inner = &src[inner_start..inner_end];
    let mut parser = ExprParser {
        shared,
        src,
        pos: inner_start,
        end: inner_end,
        base,
        errors,
        depth: 0,
    };
    let kind = if triple {
        parser.call().map(|c| TagKind::Mustache(Box::new(c)))
    } else {
        parser.tag_kind(inner)
    };
    let kind = kind.unwrap_or(TagKind::Invalid);
    (
        Some(Tag {
            span,
            kind,
            strip_left,
            strip_right,
            indent: SharedStr::default(),
        }),
        end,
    )
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

// ---------------------------------------------------------------------------------
// Expressions inside a tag.

struct ExprParser<'a, 'e> {
    shared: &'a ArcStr,
    src: &'a str,
    pos: usize,
    end: usize,
    base: usize,
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

    fn span(&self, start: usize) -> Span {
        Span::new(self.base + start, self.base + self.pos)
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    fn error(&mut self, start: usize, end: usize, message: String) {
        let span = Span::new(self.base + start, self.base + end.max(start));
        self.errors.push(TemplateError {
            span,
            code: "invalid-expression",
            message,
        });
    }

    fn tag_kind(&mut self, inner: &str) -> Option<TagKind> {
        let first = inner.chars().next();
        match first {
            Some('#') if inner[1..].starts_with('>') => {
                self.pos += 2;
                let call = self.call()?;
                Some(TagKind::Open {
                    call,
                    block_params: Vec::new(),
                    inverted: false,
                    partial_block: true,
                    inline_partial: false,
                })
            }
            Some('#') if inner[1..].starts_with('*') => {
                let start = self.pos;
                self.pos += 2;
                let call = self.call()?;
                let inline = call.simple_name() == Some("inline")
                    && matches!(&*call.params, [Expr::String { .. }]);
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
                    block_params: Vec::new(),
                    inverted: false,
                    partial_block: false,
                    inline_partial: true,
                })
            }
            Some('#') => {
                self.pos += 1;
                let (call, block_params) = self.call_with_block_params()?;
                Some(TagKind::Open {
                    call,
                    block_params,
                    inverted: false,
                    partial_block: false,
                    inline_partial: false,
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
                    inverted: true,
                    partial_block: false,
                    inline_partial: false,
                })
            }
            Some('/') => {
                self.pos += 1;
                self.skip_ws();
                let start = self.pos;
                let name = self.shared.substr_from(self.rest().trim_end());
                self.pos = self.end;
                Some(TagKind::Close {
                    name,
                    name_span: Span::new(
                        self.base + start,
                        self.base + start + self.src[start..self.end].trim_end().len(),
                    ),
                })
            }
            Some('>') => {
                self.pos += 1;
                self.partial()
            }
            Some('&') => {
                self.pos += 1;
                self.call().map(|c| TagKind::Mustache(Box::new(c)))
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
                self.call().map(|c| TagKind::Mustache(Box::new(c)))
            }
        }
    }

    fn partial(&mut self) -> Option<TagKind> {
        self.skip_ws();
        let start = self.pos;
        let name = if self.rest().starts_with('(') {
            let Expr::SubExpr(call) = self.expr()? else {
                unreachable!("a parenthesis starts a subexpression")
            };
            PartialName::Dynamic(call)
        } else if self.rest().starts_with(['"', '\'']) {
            match self.expr()? {
                Expr::String { span, value } => PartialName::Static { name: value, span },
                _ => return None,
            }
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
            let name = self.shared.substr_from(&self.rest()[..len]);
            self.pos += len;
            PartialName::Static {
                name,
                span: self.span(start),
            }
        };
        let mut context = None;
        let mut hash = Vec::new();
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
        Some(TagKind::Partial {
            name,
            context,
            hash,
        })
    }

    fn call_with_block_params(&mut self) -> Option<(Call, Vec<SharedStr>)> {
        // `as |a b|` ends the tag.
        let mut block_params = Vec::new();
        let rest = self.rest();
        if let Some(p) = find_block_params(rest) {
            let params_text = &rest[p..];
            let inner = params_text.trim_start_matches("as").trim_start();
            let inner = inner
                .trim_start_matches('|')
                .trim_end()
                .trim_end_matches('|');
            block_params = inner
                .split_whitespace()
                .map(|p| self.shared.substr_from(p))
                .collect();
            if block_params.is_empty() {
                let at = self.pos + p;
                self.error(at, self.end, "`as ||` needs a name: `as |item|`".into());
                return None;
            }
            let saved_end = self.end;
            self.end = self.pos + p;
            let call = self.call();
            self.end = saved_end;
            self.pos = saved_end;
            return call.map(|c| (c, block_params));
        }
        self.call().map(|c| (c, block_params))
    }

    /// `path params... hash...` up to the end of the tag.
    fn call(&mut self) -> Option<Call> {
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
    fn call_until(&mut self, closer: Option<char>) -> Option<Call> {
        self.skip_ws();
        let start = self.pos;
        let path = self.expr()?;
        if let Expr::SubExpr(sub) = &path {
            // handlebars.js: a helper name is a path or a literal, never `(...)`.
            let span = sub.span;
            self.error(
                span.start - self.base,
                span.end - self.base,
                "a subexpression cannot stand first: write `{{helper (sub ...)}}`".into(),
            );
            return None;
        }
        let mut params = Vec::new();
        let mut hash = Vec::new();
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
        Some(Call {
            span: self.span(start),
            path,
            params: params.into(),
            hash: hash.into(),
        })
    }

    fn at_hash_pair(&self) -> bool {
        let rest = self.rest();
        let id_len = rest.find(|c: char| !is_id_char(c)).unwrap_or(rest.len());
        id_len > 0 && rest[id_len..].trim_start().starts_with('=')
    }

    fn hash_pair(&mut self) -> Option<HashPair> {
        let start = self.pos;
        let rest = self.rest();
        let id_len = rest.find(|c: char| !is_id_char(c)).unwrap_or(rest.len());
        let key = self.shared.substr_from(&rest[..id_len]);
        self.pos += id_len;
        let key_span = self.span(start);
        self.skip_ws();
        self.pos += 1; // '='
        self.skip_ws();
        if self.rest().is_empty() {
            let p = self.pos;
            self.error(start, p, format!("`{key}=` needs a value"));
            return None;
        }
        let value = self.expr()?;
        Some(HashPair {
            span: self.span(start),
            key,
            key_span,
            value,
        })
    }

    fn expr(&mut self) -> Option<Expr> {
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
            let call = self.call_until(Some(')'))?;
            self.skip_ws();
            if !self.rest().starts_with(')') {
                self.error(start, self.end, "`(` is never closed with `)`".into());
                return None;
            }
            self.pos += 1;
            self.depth -= 1;
            let mut call = call;
            call.span = self.span(start);
            return Some(Expr::SubExpr(Box::new(call)));
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
            "true" => Some(Expr::Boolean {
                span: Span::default(),
                value: true,
            }),
            "false" => Some(Expr::Boolean {
                span: Span::default(),
                value: false,
            }),
            "null" => Some(Expr::Null {
                span: Span::default(),
            }),
            "undefined" => Some(Expr::Undefined {
                span: Span::default(),
            }),
            _ if is_number(token) => token.parse().ok().map(|value| Expr::Number {
                span: Span::default(),
                value,
            }),
            _ => None,
        };
        if let Some(mut lit) = literal {
            self.pos += token_len;
            let s = self.span(start);
            match &mut lit {
                Expr::Boolean { span, .. }
                | Expr::Number { span, .. }
                | Expr::Null { span }
                | Expr::Undefined { span } => *span = s,
                _ => {}
            }
            return Some(lit);
        }
        self.path()
    }

    fn string(&mut self, quote: char) -> Option<Expr> {
        let start = self.pos;
        if let Some(e) = string_end(self.rest().as_bytes(), quote as u8) {
            // handlebars.js only unescapes the quote itself.
            let escaped = format!("\\{quote}");
            let inner = &self.rest()[1..e];
            let value = if inner.contains(&escaped) {
                SharedStr::from(ArcStr::from(inner.replace(&escaped, &quote.to_string())))
            } else {
                self.shared.substr_from(inner)
            };
            self.pos += e + 1;
            return Some(Expr::String {
                span: self.span(start),
                value,
            });
        }
        self.error(start, self.end, "string is never closed".into());
        self.errors.last_mut().expect("just pushed").code = "unterminated-string";
        None
    }

    fn path(&mut self) -> Option<Expr> {
        let start = self.pos;
        let mut data = false;
        if self.rest().starts_with('@') {
            data = true;
            self.pos += 1;
        }
        let mut depth = 0;
        let mut parts: smallvec::SmallVec<[SharedStr; 1]> = smallvec::SmallVec::new();
        let mut this_relative = false;
        let mut first = true;
        let shared = self.shared;
        loop {
            let rest = &shared.as_str()[self.pos..self.end];
            let seg_len;
            let seg: &str;
            if rest.starts_with('[') {
                let Some(close) = rest.find(']') else {
                    self.error(start, self.end, "`[` is never closed with `]`".into());
                    return None;
                };
                seg = &rest[1..close];
                seg_len = close + 1;
                parts.push(shared.substr_from(seg));
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
                    self.error(
                        p,
                        p + shown.len().max(1),
                        format!("unexpected `{shown}` where a name was expected"),
                    );
                    return None;
                }
                seg = s;
                seg_len = l;
                match seg {
                    ".." if parts.is_empty() && !data => depth += 1,
                    "." | "this" if parts.is_empty() && depth == 0 && first => this_relative = true,
                    _ => parts.push(shared.substr_from(seg)),
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
        let original = shared.substr(start..self.pos);
        Some(Expr::Path(Path {
            span: self.span(start),
            data,
            depth,
            parts,
            this_relative,
            original,
        }))
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

fn whitespace_control(tokens: &mut [Token]) {
    // handlebars.js gives an inverted block with an `{{else}}`, `{{^x}}A{{else}}B{{/x}}`,
    // B as its program and A as its inverse, and strips whitespace as if B came first:
    // swap the two for the stripping and back after it.
    let swaps = inverted_else_blocks(tokens);
    for &(open, els, close) in &swaps {
        swap_parts(tokens, open, els, close);
    }
    // `{{else if}}` chains, as the tags that end each part: [else1, else2, ..., close].
    let chains = chain_bounds(tokens);
    let mut inward = Vec::new();
    let n = tokens.len();
    for i in 0..n {
        if let Some(bounds) = chains.iter().find(|b| b.last() == Some(&i)) {
            // The close of an `{{else if}}` chain: handlebars.js tests the end of the
            // chain's first link (not the last) and strips only after the tag.
            if matches!(&tokens[i], Token::Tag(t) if t.strip_right) {
                omit_right(tokens, i, true);
            }
            if is_prev_whitespace(tokens, bounds[1]) && is_next_whitespace(tokens, i) {
                omit_right(tokens, i, false);
            }
            continue;
        }
        let (strip_left, strip_right, standalone_kind, is_partial) = match &tokens[i] {
            Token::Tag(t) => (
                t.strip_left,
                t.strip_right,
                t.kind.standalone_kind(),
                matches!(t.kind, TagKind::Partial { .. }),
            ),
            Token::Content(_) => continue,
        };
        // The `~` a block's tags turn inwards (`{{#x~}}`, `{{~else~}}`, `{{~/x}}`) is
        // applied after the standalone lines inside, as handlebars.js visits a block's
        // programs before its own strip.
        let (inner_left, inner_right) = match &tokens[i] {
            Token::Tag(t) => match t.kind {
                TagKind::Open { .. } => (false, true),
                TagKind::Else | TagKind::ElseChain { .. } => (true, true),
                TagKind::Close { .. } => (true, false),
                _ => (false, false),
            },
            Token::Content(_) => (false, false),
        };
        if strip_left {
            if inner_left {
                inward.push((i, true));
            } else {
                omit_left(tokens, i, true);
            }
        }
        if strip_right {
            if inner_right {
                inward.push((i, false));
            } else {
                omit_right(tokens, i, true);
            }
        }
        if standalone_kind && is_prev_whitespace(tokens, i) && is_next_whitespace(tokens, i) {
            omit_right(tokens, i, false);
            let indent = match i.checked_sub(1).map(|p| &tokens[p]) {
                Some(Token::Content(c)) => c.original.substr_from(trailing_blanks(&c.original)),
                _ => SharedStr::default(),
            };
            if omit_left(tokens, i, false) && is_partial {
                if let Token::Tag(t) = &mut tokens[i] {
                    t.indent = indent;
                }
            }
        }
    }
    for (i, left) in inward {
        if left {
            omit_left(tokens, i, true);
        } else {
            omit_right(tokens, i, true);
        }
    }
    for bounds in &chains {
        // handlebars.js hands `~` on to the chain's links oddly: `{{~/if}}` strips the
        // end of the first and second links (not the last), and `{{~else if}}` from the
        // second link on also strips the end of the part after its own.
        let k = bounds.len() - 1;
        for j in 2..=k {
            if matches!(&tokens[bounds[j - 1]], Token::Tag(t) if t.strip_left
                && matches!(t.kind, TagKind::ElseChain { .. }))
            {
                omit_left(tokens, bounds[(j + 1).min(k)], true);
            }
        }
        if matches!(&tokens[bounds[k]], Token::Tag(t) if t.strip_left) {
            omit_left(tokens, bounds[1], true);
            omit_left(tokens, bounds[2.min(k)], true);
        }
    }
    for &(open, els, close) in swaps.iter().rev() {
        // After the swap the else stands where B ended.
        let b = close - els - 1;
        swap_parts(tokens, open, open + 1 + b, close);
    }
}

/// Inverted blocks with one plain `{{else}}`, as (open, else, close) token indices,
/// innermost first.
fn inverted_else_blocks(tokens: &[Token]) -> Vec<(usize, usize, usize)> {
    let mut found = Vec::new();
    for_blocks(tokens, |open, inverted, elses, close| {
        if inverted && elses.len() == 1 && !elses[0].1 {
            found.push((open, elses[0].0, close));
        }
    });
    found
}

/// For each block whose first `{{else}}` is `{{else if}}`: its else tags and its close
/// tag, in order (the tags that end each part after the first).
fn chain_bounds(tokens: &[Token]) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    for_blocks(tokens, |_, _, elses, close| {
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
fn for_blocks(tokens: &[Token], mut f: impl FnMut(usize, bool, &[(usize, bool)], usize)) {
    /// (open index, inverted, else tags as (index, is an `{{else if}}`)).
    type Open = (usize, bool, Vec<(usize, bool)>);
    let mut stack: Vec<Open> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Tag(t) = token else { continue };
        match &t.kind {
            TagKind::Open { inverted, .. } => stack.push((i, *inverted, Vec::new())),
            TagKind::Else | TagKind::ElseChain { .. } => {
                if let Some(top) = stack.last_mut() {
                    top.2.push((i, matches!(t.kind, TagKind::ElseChain { .. })));
                }
            }
            TagKind::Close { .. } => {
                if let Some((open, inverted, elses)) = stack.pop() {
                    f(open, inverted, &elses, i);
                }
            }
            _ => {}
        }
    }
}

/// `tokens[open+1..els]` (A) and `tokens[els+1..close]` (B) change places around the
/// else tag: `[A, else, B]` becomes `[B, else, A]`.
fn swap_parts(tokens: &mut [Token], open: usize, els: usize, close: usize) {
    let range = &mut tokens[open + 1..close];
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

/// The content before tag `i` ends a line with only blanks after it (or the template
/// starts with blanks before the tag).
fn is_prev_whitespace(tokens: &[Token], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let Token::Content(c) = &tokens[i - 1] else {
        return false;
    };
    let s = &c.original;
    let blanks = s.trim_end_matches(|ch: char| ch.is_whitespace() && ch != '\n');
    if blanks.ends_with('\n') {
        return true;
    }
    // At the very start of the template, leading blanks count as a line start.
    i == 1 && blanks.is_empty()
}

/// The content after tag `i` starts with blanks and a newline (or the template ends).
fn is_next_whitespace(tokens: &[Token], i: usize) -> bool {
    if i + 1 >= tokens.len() {
        return true;
    }
    let Token::Content(c) = &tokens[i + 1] else {
        return false;
    };
    let s = &c.original;
    let after_blanks =
        s.trim_start_matches(|ch: char| ch.is_whitespace() && ch != '\n' && ch != '\r');
    if after_blanks.starts_with('\n') || after_blanks.starts_with("\r\n") {
        return true;
    }
    i + 2 == tokens.len() && after_blanks.is_empty()
}

/// Strips the start of the content after tag `i`: all whitespace (`~`), or the blanks
/// and one newline (standalone).
fn omit_right(tokens: &mut [Token], i: usize, multiple: bool) {
    let Some(Token::Content(c)) = tokens.get_mut(i + 1) else {
        return;
    };
    if !multiple && c.right_stripped {
        return;
    }
    let before = c.value.len();
    let v = c.value.as_str();
    let stripped = if multiple {
        v.trim_start_matches(char::is_whitespace)
    } else {
        let v = v.trim_start_matches([' ', '\t']);
        v.strip_prefix("\r\n")
            .or_else(|| v.strip_prefix('\n'))
            .or_else(|| v.strip_prefix('\r'))
            .unwrap_or(v)
    };
    c.value = c.value.substr_from(stripped);
    c.right_stripped = c.value.len() != before;
}

/// Strips the end of the content before tag `i`: all whitespace (`~`) or trailing blanks.
fn omit_left(tokens: &mut [Token], i: usize, multiple: bool) -> bool {
    let Some(prev) = i.checked_sub(1) else {
        return false;
    };
    let Token::Content(c) = &mut tokens[prev] else {
        return false;
    };
    if !multiple && c.left_stripped {
        return false;
    }
    let before = c.value.len();
    let stripped = if multiple {
        c.value.trim_end_matches(char::is_whitespace)
    } else {
        c.value.trim_end_matches([' ', '\t'])
    };
    c.value = c.value.substr(..stripped.len());
    c.left_stripped = c.value.len() != before;
    c.left_stripped
}

// ---------------------------------------------------------------------------------
// Building the tree from the flat tokens.

struct OpenBlock {
    block: Block,
    /// Filling the inverse (after `{{else}}`) rather than the program.
    in_inverse: bool,
    /// Blocks opened by `{{else if}}` close together with this one.
    chained: Vec<Block>,
    name: SharedStr,
}

fn build(tokens: Vec<Token>, end: usize, errors: &mut Vec<TemplateError>) -> Vec<Node> {
    let mut root: Vec<Node> = Vec::new();
    let mut stack: Vec<OpenBlock> = Vec::new();

    fn target<'a>(root: &'a mut Vec<Node>, stack: &'a mut [OpenBlock]) -> &'a mut Vec<Node> {
        let Some(open) = stack.last_mut() else {
            return root;
        };
        if open.chained.is_empty() {
            if open.in_inverse {
                return open.block.inverse.get_or_insert_with(Vec::new);
            }
            return &mut open.block.program;
        }
        let link = open.chained.last_mut().expect("not empty");
        match &mut link.inverse {
            Some(inverse) => inverse,
            None => &mut link.program,
        }
    }

    for token in tokens {
        let tag = match token {
            Token::Content(c) => {
                if !c.value.is_empty() {
                    target(&mut root, &mut stack).push(Node::Text {
                        span: c.span,
                        text: c.value,
                    });
                }
                continue;
            }
            Token::Tag(tag) => *tag,
        };
        if matches!(tag.kind, TagKind::Else | TagKind::ElseChain { .. }) {
            if let Some(open) = stack.last().filter(|open| open.block.partial_block) {
                // handlebars.js's grammar: a partial block is a program, no inverse.
                errors.push(TemplateError {
                    span: tag.span,
                    code: "unexpected-else",
                    message: format!(
                        "a partial block `{{{{#> {}}}}}` cannot have an `{{{{else}}}}`",
                        open.name
                    ),
                });
                continue;
            }
        }
        match tag.kind {
            TagKind::Mustache(call) => target(&mut root, &mut stack).push(Node::Mustache {
                span: tag.span,
                call,
            }),
            TagKind::Comment(text) => target(&mut root, &mut stack).push(Node::Comment {
                span: tag.span,
                text,
            }),
            TagKind::Invalid => {}
            TagKind::Partial {
                name,
                context,
                hash,
            } => {
                let partial = Partial {
                    span: tag.span,
                    name,
                    context,
                    hash,
                    indent: tag.indent,
                };
                target(&mut root, &mut stack).push(Node::Partial(Box::new(partial)));
            }
            TagKind::Open {
                call,
                block_params,
                inverted,
                partial_block,
                inline_partial,
            } => {
                if stack.len() >= MAX_NESTING {
                    errors.push(TemplateError {
                        span: tag.span,
                        code: "nesting-too-deep",
                        message: format!("blocks nested more than {MAX_NESTING} deep"),
                    });
                    continue;
                }
                let name = block_name(&call);
                stack.push(OpenBlock {
                    block: Block {
                        span: tag.span,
                        open: tag.span,
                        close: None,
                        call,
                        block_params,
                        program: Vec::new(),
                        inverse: None,
                        inverted,
                        partial_block,
                        inline_partial,
                    },
                    in_inverse: false,
                    chained: Vec::new(),
                    name,
                });
            }
            TagKind::Else => match stack.last_mut() {
                Some(open) => {
                    if let Some(last) = open.chained.last_mut() {
                        last.inverse.get_or_insert_with(Vec::new);
                    } else if open.in_inverse {
                        errors.push(TemplateError {
                            span: tag.span,
                            code: "duplicate-else",
                            message: format!(
                                "`{{{{#{}}}}}` already has an `{{{{else}}}}`",
                                open.name
                            ),
                        });
                    } else {
                        open.in_inverse = true;
                        open.block.inverse.get_or_insert_with(Vec::new);
                    }
                }
                None => errors.push(TemplateError {
                    span: tag.span,
                    code: "unexpected-else",
                    message: "`{{else}}` outside a block".into(),
                }),
            },
            TagKind::ElseChain { call, block_params } => match stack.last_mut() {
                Some(open) => {
                    open.in_inverse = true;
                    open.chained.push(Block {
                        span: tag.span,
                        open: tag.span,
                        close: None,
                        call,
                        block_params,
                        program: Vec::new(),
                        inverse: None,
                        inverted: false,
                        partial_block: false,
                        inline_partial: false,
                    });
                }
                None => errors.push(TemplateError {
                    span: tag.span,
                    code: "unexpected-else",
                    message: "`{{else ...}}` outside a block".into(),
                }),
            },
            TagKind::Close { name, name_span } => {
                let Some(position) = stack.iter().rposition(|o| o.name == name) else {
                    errors.push(TemplateError {
                        span: tag.span,
                        code: "unexpected-close",
                        message: match stack.last() {
                            Some(open) => format!(
                                "`{{{{/{name}}}}}` does not match the open `{{{{#{}}}}}`",
                                open.name
                            ),
                            None => {
                                format!("`{{{{/{name}}}}}` closes a block that was never opened")
                            }
                        },
                    });
                    let _ = name_span;
                    continue;
                };
                // Blocks opened after the one being closed were never closed.
                while stack.len() > position + 1 {
                    let open = stack.pop().expect("len checked");
                    errors.push(TemplateError {
                        span: open.block.open,
                        code: "unclosed-block",
                        message: format!("`{{{{#{}}}}}` is never closed (expected `{{{{/{}}}}}` before `{{{{/{name}}}}}`)", open.name, open.name),
                    });
                    let node = finish(open, None, tag.span.start);
                    target(&mut root, &mut stack).push(node);
                }
                let open = stack.pop().expect("position is in the stack");
                let node = finish(open, Some(tag.span), tag.span.end);
                target(&mut root, &mut stack).push(node);
            }
        }
    }
    while let Some(open) = stack.pop() {
        errors.push(TemplateError {
            span: open.block.open,
            code: "unclosed-block",
            message: format!(
                "`{{{{#{}}}}}` is never closed with `{{{{/{}}}}}`",
                open.name, open.name
            ),
        });
        let node = finish(open, None, end);
        target(&mut root, &mut stack).push(node);
    }
    root.shrink_to_fit();
    root
}

fn shrink(block: &mut Block) {
    block.program.shrink_to_fit();
    if let Some(inverse) = &mut block.inverse {
        inverse.shrink_to_fit();
    }
}

/// The name a close tag must repeat: the helper path as written.
fn block_name(call: &Call) -> SharedStr {
    match &call.path {
        Expr::Path(p) => p.original.clone(),
        Expr::String { value, .. } => value.clone(),
        other => SharedStr::from(ArcStr::from(format!("{other:?}"))),
    }
}

fn finish(mut open: OpenBlock, close: Option<Span>, end: usize) -> Node {
    // Lists grow by doubling; a finished one is trimmed so the tree holds what it uses.
    shrink(&mut open.block);
    for link in &mut open.chained {
        shrink(link);
    }
    // Fold an `{{else if}}` chain from the inside out: each link is the inverse of the one before.
    while let Some(mut link) = open.chained.pop() {
        link.span = Span::new(link.span.start, end);
        link.close = close;
        let node = Node::Block(Box::new(link));
        match open.chained.last_mut() {
            Some(prev) => prev.inverse.get_or_insert_with(Vec::new).push(node),
            None => open.block.inverse.get_or_insert_with(Vec::new).push(node),
        }
    }
    open.block.span = Span::new(open.block.span.start, end);
    open.block.close = close;
    Node::Block(Box::new(open.block))
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
        let Node::Mustache { call, .. } = &t.nodes[0] else {
            panic!()
        };
        assert_eq!(call.simple_name(), Some("helper"));
        let p = |i: usize| match &call.params[i] {
            Expr::Path(p) => (
                p.parts.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                p.depth,
                p.data,
                p.this_relative,
            ),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            p(0),
            (vec!["a".to_string(), "b".to_string()], 0, false, false)
        );
        assert_eq!(p(1), (vec!["c".to_string()], 1, false, false));
        assert_eq!(p(2), (vec!["index".to_string()], 0, true, false));
        assert!(matches!(&call.params[3], Expr::String { value, .. } if value == "s\"q"));
        assert!(matches!(&call.params[4], Expr::String { value, .. } if value == "x"));
        assert!(matches!(call.params[5], Expr::Number { value, .. } if value == 1.0));
        assert!(matches!(call.params[6], Expr::Number { value, .. } if value == -2.5));
        assert!(matches!(call.params[7], Expr::Boolean { value: true, .. }));
        assert!(matches!(call.params[8], Expr::Null { .. }));
        assert!(matches!(call.params[9], Expr::Undefined { .. }));
        assert_eq!(p(10), (vec!["d".to_string()], 0, false, true));
        assert_eq!(p(11), (vec!["e f".to_string()], 0, false, false));
        assert_eq!(call.hash[0].key, "key");
        assert!(matches!(&call.hash[0].value, Expr::SubExpr(c) if c.simple_name() == Some("sub")));
        assert_eq!(call.hash[1].key, "k2");
    }

    #[test]
    fn spans_point_at_the_source() {
        let src = "Hi {{#if x}}{{name}}{{/if}}";
        let (t, _) = parse_template(src, 100);
        let Node::Block(b) = &t.nodes[1] else {
            panic!()
        };
        assert_eq!(b.open, Span::new(103, 112));
        assert_eq!(b.close, Some(Span::new(120, 127)));
        let Node::Mustache { call, .. } = &b.program[0] else {
            panic!()
        };
        assert_eq!(call.path.span(), Span::new(114, 118));
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
        let Node::Block(b) = &t.nodes[0] else {
            panic!()
        };
        let inverse = b.inverse.as_ref().unwrap();
        let Node::Block(inner) = &inverse[0] else {
            panic!("{inverse:?}")
        };
        assert_eq!(inner.call.params.len(), 1);
        assert_eq!(
            inner.program,
            vec![Node::Text {
                span: Span::new(23, 24),
                text: "B".into()
            }]
        );
        assert_eq!(
            inner.inverse.as_ref().unwrap()[0],
            Node::Text {
                span: Span::new(32, 33),
                text: "C".into()
            }
        );
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
            .nodes
            .iter()
            .map(|n| match n {
                Node::Text { text, .. } => text.as_str(),
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
