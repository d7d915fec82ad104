//! Read-only views of a parsed template: small `Copy` handles into its flat storage.
//!
//! Every reader of a template (the renderer, the checks, the editor features) goes
//! through these handles, so the storage is laid out for memory (a few bytes per input
//! byte) without the readers knowing.
//!
//! Why one file of this size: it is one short handle type per kind of node (node, block,
//! call, expression, path, partial, hash), each a few accessors over the same storage.

use std::fmt;

use super::{
    var_call, BlockData, CallData, ExprData, ExprTag, HashData, Kind, PartialData, Template, DATA,
    EMPTY, INLINE, INVERTED, NONE, PARTIAL_BLOCK, THIS, WHOLE,
};
use crate::syntax::Span;

/// A list of sibling nodes: a template's top level, a block's program or inverse.
#[derive(Clone, Copy)]
pub struct Nodes<'t> {
    t: &'t Template,
    from: u32,
    to: u32,
}

impl<'t> Nodes<'t> {
    /// The empty list (a block without `{{else}}` has this as its inverse).
    pub fn empty() -> Nodes<'t> {
        Nodes {
            t: &EMPTY,
            from: 0,
            to: 0,
        }
    }

    pub fn iter(self) -> NodesIter<'t> {
        NodesIter {
            t: self.t,
            at: self.from,
            to: self.to,
        }
    }

    pub fn first(self) -> Option<NodeRef<'t>> {
        self.iter().next()
    }

    /// The last node (walks the list).
    pub fn last(self) -> Option<NodeRef<'t>> {
        self.iter().last()
    }
}

impl<'t> IntoIterator for Nodes<'t> {
    type Item = NodeRef<'t>;
    type IntoIter = NodesIter<'t>;
    fn into_iter(self) -> NodesIter<'t> {
        self.iter()
    }
}

impl fmt::Debug for Nodes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Clone)]
pub struct NodesIter<'t> {
    t: &'t Template,
    at: u32,
    to: u32,
}

impl<'t> Iterator for NodesIter<'t> {
    type Item = NodeRef<'t>;
    fn next(&mut self) -> Option<NodeRef<'t>> {
        while self.at < self.to {
            let at = self.at;
            let item = &self.t.items[at as usize];
            match item.kind {
                Kind::Text if item.a == item.b => self.at += 1,
                Kind::Text | Kind::Mustache | Kind::Var | Kind::Comment | Kind::Partial => {
                    self.at += 1;
                    return Some(NodeRef { t: self.t, at });
                }
                Kind::Open | Kind::ElseChain => {
                    self.at = self.t.blocks[item.a as usize].next;
                    return Some(NodeRef { t: self.t, at });
                }
                Kind::Else | Kind::Close | Kind::Invalid | Kind::Skip => self.at += 1,
            }
        }
        None
    }
}

/// One node of the tree.
#[derive(Clone, Copy)]
pub struct NodeRef<'t> {
    t: &'t Template,
    at: u32,
}

/// What a node is, with handles to its parts.
#[derive(Clone, Copy, Debug)]
pub enum NodeKind<'t> {
    /// Literal text: what renders after whitespace control.
    Text(&'t str),
    /// `{{expr}}`, `{{{expr}}}`, `{{&expr}}`.
    Mustache(CallRef<'t>),
    /// `{{#name ...}}...{{else}}...{{/name}}`, `{{^name}}...{{/name}}`, `{{#> p}}`,
    /// `{{#*inline}}`.
    Block(BlockRef<'t>),
    /// `{{> name ctx key=value}}`.
    Partial(PartialRef<'t>),
    /// `{{! ... }}` and `{{!-- ... --}}`: the comment's text.
    Comment(&'t str),
}

impl<'t> NodeRef<'t> {
    /// The node's whole range in the file (a block's from its open tag to its close tag).
    pub fn span(self) -> Span {
        let item = &self.t.items[self.at as usize];
        match item.kind {
            Kind::Open | Kind::ElseChain => {
                self.t.span(item.start, self.t.blocks[item.a as usize].end)
            }
            _ => self.t.span(item.start, item.end),
        }
    }

    pub fn kind(self) -> NodeKind<'t> {
        let t = self.t;
        let item = &t.items[self.at as usize];
        match item.kind {
            Kind::Text => NodeKind::Text(&t.source[item.a as usize..item.b as usize]),
            Kind::Mustache => NodeKind::Mustache(CallRef {
                t,
                c: t.calls[item.a as usize],
            }),
            Kind::Var => NodeKind::Mustache(CallRef {
                t,
                c: var_call(item),
            }),
            Kind::Open | Kind::ElseChain => NodeKind::Block(BlockRef {
                t,
                b: &t.blocks[item.a as usize],
            }),
            Kind::Partial => NodeKind::Partial(PartialRef {
                t,
                p: &t.partials[item.a as usize],
            }),
            Kind::Comment => NodeKind::Comment(&t.source[item.a as usize..item.b as usize]),
            Kind::Else | Kind::Close | Kind::Invalid | Kind::Skip => {
                unreachable!("the iterator yields only nodes")
            }
        }
    }

    pub fn as_block(self) -> Option<BlockRef<'t>> {
        match self.kind() {
            NodeKind::Block(b) => Some(b),
            _ => None,
        }
    }
}

impl fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}@{:?}", self.kind(), self.span())
    }
}

/// A block: `{{#name args as |params|}}program{{else}}inverse{{/name}}`.
#[derive(Clone, Copy)]
pub struct BlockRef<'t> {
    t: &'t Template,
    b: &'t BlockData,
}

impl<'t> BlockRef<'t> {
    /// From the open tag to the close tag (or to where the block was cut off).
    pub fn span(self) -> Span {
        let open = &self.t.items[self.b.item as usize];
        self.t.span(open.start, self.b.end)
    }

    /// The opening tag.
    pub fn open(self) -> Span {
        let open = &self.t.items[self.b.item as usize];
        self.t.span(open.start, open.end)
    }

    /// The closing tag; `None` when it is missing (an error was reported).
    pub fn close(self) -> Option<Span> {
        (self.b.close_item != NONE).then(|| {
            let close = &self.t.items[self.b.close_item as usize];
            self.t.span(close.start, close.end)
        })
    }

    pub fn call(self) -> CallRef<'t> {
        CallRef {
            t: self.t,
            c: self.t.calls[self.b.call as usize],
        }
    }

    /// `as |item index|`.
    pub fn block_params(self) -> Strs<'t> {
        Strs {
            t: self.t,
            from: self.b.params,
            n: self.b.n_params,
            whole: None,
        }
    }

    pub fn program(self) -> Nodes<'t> {
        Nodes {
            t: self.t,
            from: self.b.item + 1,
            to: self.b.program_to,
        }
    }

    /// After `{{else}}`; an `{{else if x}}` chain is a single nested block here.
    pub fn inverse(self) -> Option<Nodes<'t>> {
        let [from, to] = self.b.inverse;
        (from != NONE).then_some(Nodes {
            t: self.t,
            from,
            to,
        })
    }

    /// `{{^name}}`: the program renders when the value is empty.
    pub fn inverted(self) -> bool {
        self.b.flags & INVERTED != 0
    }

    /// `{{#> name}}default{{/name}}`: a partial whose block is its fallback content.
    pub fn partial_block(self) -> bool {
        self.b.flags & PARTIAL_BLOCK != 0
    }

    /// `{{#*inline "name"}}...{{/inline}}`: an inline partial, defined for the node list
    /// that contains it; renders nothing.
    pub fn inline_partial(self) -> bool {
        self.b.flags & INLINE != 0
    }

    /// The name an inline partial `{{#*inline "name"}}` defines.
    pub fn inline_name(self) -> Option<&'t str> {
        if !self.inline_partial() {
            return None;
        }
        self.call().params().first()?.as_string()
    }
}

impl fmt::Debug for BlockRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("call", &self.call())
            .field("program", &self.program())
            .field("inverse", &self.inverse())
            .finish()
    }
}

/// `{{> name context key=value}}`.
#[derive(Clone, Copy)]
pub struct PartialRef<'t> {
    t: &'t Template,
    p: &'t PartialData,
}

/// A partial's name: written out, or computed by a subexpression `{{> (name)}}`.
#[derive(Clone, Copy, Debug)]
pub enum PartialNameRef<'t> {
    Static { name: &'t str, span: Span },
    Dynamic(CallRef<'t>),
}

impl<'t> PartialRef<'t> {
    pub fn span(self) -> Span {
        self.t.span(self.p.start, self.p.end)
    }

    pub fn name(self) -> PartialNameRef<'t> {
        let n = &self.p.name;
        match n.kind {
            ExprTag::SubExpr => PartialNameRef::Dynamic(CallRef {
                t: self.t,
                c: self.t.calls[n.a as usize],
            }),
            _ => PartialNameRef::Static {
                name: self.t.text(n.a, n.b),
                span: self.t.span(n.start, n.end),
            },
        }
    }

    /// The static name, if the partial has one.
    pub fn static_name(self) -> Option<&'t str> {
        match self.name() {
            PartialNameRef::Static { name, .. } => Some(name),
            PartialNameRef::Dynamic(_) => None,
        }
    }

    pub fn context(self) -> Option<ExprRef<'t>> {
        (self.p.context.kind != ExprTag::Absent).then_some(ExprRef {
            t: self.t,
            e: self.p.context,
        })
    }

    pub fn hash(self) -> HashPairs<'t> {
        HashPairs {
            t: self.t,
            from: self.p.hash,
            n: self.p.n_hash,
        }
    }

    /// Indentation of a standalone partial, applied to each line it renders.
    pub fn indent(self) -> &'t str {
        &self.t.source[self.p.indent[0] as usize..self.p.indent[1] as usize]
    }
}

impl fmt::Debug for PartialRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partial({:?})", self.name())
    }
}

/// A helper call or a plain value: `path param... key=value...`.
#[derive(Clone, Copy)]
pub struct CallRef<'t> {
    t: &'t Template,
    /// A copy (a plain `{{name}}` has no stored call; its call is made up on the spot).
    c: CallData,
}

impl<'t> CallRef<'t> {
    /// From the path to the last argument (a subexpression's with its parentheses).
    pub fn span(self) -> Span {
        self.t.span(self.c.start, self.c.end)
    }

    pub fn path(self) -> ExprRef<'t> {
        ExprRef {
            t: self.t,
            e: self.c.path,
        }
    }

    pub fn params(self) -> Exprs<'t> {
        Exprs {
            t: self.t,
            from: self.c.params,
            n: self.c.n_params,
        }
    }

    pub fn hash(self) -> HashPairs<'t> {
        HashPairs {
            t: self.t,
            from: self.c.hash,
            n: self.c.n_hash,
        }
    }

    /// The helper name when the call could be a helper: a one-segment path that is not
    /// `this`, `..` or `@data`.
    pub fn simple_name(self) -> Option<&'t str> {
        let p = self.path().as_path()?;
        if p.is_simple() {
            p.parts().first()
        } else {
            None
        }
    }

    /// Whether handlebars.js classifies this as a helper call (it has arguments).
    pub fn has_arguments(self) -> bool {
        self.c.n_params > 0 || self.c.n_hash > 0
    }

    /// The arguments in order: the positional ones, then the hash values.
    pub fn arguments(self) -> impl Iterator<Item = ExprRef<'t>> {
        self.params()
            .iter()
            .chain(self.hash().iter().map(|h| h.value()))
    }
}

impl fmt::Debug for CallRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Call({:?})",
            &self.t.source[self.c.start as usize..self.c.end as usize]
        )
    }
}

/// A call's positional arguments.
#[derive(Clone, Copy)]
pub struct Exprs<'t> {
    t: &'t Template,
    from: u32,
    n: u32,
}

impl<'t> Exprs<'t> {
    pub fn len(self) -> usize {
        self.n as usize
    }

    pub fn is_empty(self) -> bool {
        self.n == 0
    }

    pub fn get(self, i: usize) -> Option<ExprRef<'t>> {
        (i < self.len()).then(|| ExprRef {
            t: self.t,
            e: self.t.exprs[self.from as usize + i],
        })
    }

    pub fn first(self) -> Option<ExprRef<'t>> {
        self.get(0)
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = ExprRef<'t>> + ExactSizeIterator + Clone {
        let t = self.t;
        t.exprs[self.from as usize..(self.from + self.n) as usize]
            .iter()
            .map(move |e| ExprRef { t, e: *e })
    }
}

impl fmt::Debug for Exprs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A call's `key=value` arguments.
#[derive(Clone, Copy)]
pub struct HashPairs<'t> {
    t: &'t Template,
    from: u32,
    n: u32,
}

impl<'t> HashPairs<'t> {
    pub fn is_empty(self) -> bool {
        self.n == 0
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = HashRef<'t>> + ExactSizeIterator + Clone {
        let t = self.t;
        t.hashes[self.from as usize..(self.from + self.n) as usize]
            .iter()
            .map(move |h| HashRef { t, h })
    }
}

impl fmt::Debug for HashPairs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `key=value`.
#[derive(Clone, Copy)]
pub struct HashRef<'t> {
    t: &'t Template,
    h: &'t HashData,
}

impl<'t> HashRef<'t> {
    pub fn key(self) -> &'t str {
        &self.t.source[self.h.start as usize..self.h.key_end as usize]
    }

    pub fn key_span(self) -> Span {
        self.t.span(self.h.start, self.h.key_end)
    }

    pub fn value(self) -> ExprRef<'t> {
        ExprRef {
            t: self.t,
            e: self.h.value,
        }
    }
}

impl fmt::Debug for HashRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.key(), self.value())
    }
}

/// An expression: a path, a literal or a subexpression.
#[derive(Clone, Copy)]
pub struct ExprRef<'t> {
    t: &'t Template,
    e: ExprData,
}

#[derive(Clone, Copy, Debug)]
pub enum ExprKind<'t> {
    Path(PathRef<'t>),
    /// A string literal's value (escapes resolved).
    String(&'t str),
    Number(f64),
    Boolean(bool),
    Null,
    Undefined,
    /// `(helper args)`.
    SubExpr(CallRef<'t>),
}

impl<'t> ExprRef<'t> {
    pub fn span(self) -> Span {
        self.t.span(self.e.start, self.e.end)
    }

    /// The expression as written.
    pub fn text(self) -> &'t str {
        &self.t.source[self.e.start as usize..self.e.end as usize]
    }

    pub fn kind(self) -> ExprKind<'t> {
        let (t, e) = (self.t, self.e);
        match e.kind {
            ExprTag::Path => ExprKind::Path(PathRef { t, e }),
            ExprTag::String => ExprKind::String(t.text(e.a, e.b)),
            // The lexer checked that it parses.
            ExprTag::Number => ExprKind::Number(self.text().parse().unwrap_or(f64::NAN)),
            ExprTag::True => ExprKind::Boolean(true),
            ExprTag::False => ExprKind::Boolean(false),
            ExprTag::Null => ExprKind::Null,
            ExprTag::Undefined | ExprTag::Absent => ExprKind::Undefined,
            ExprTag::SubExpr => ExprKind::SubExpr(CallRef {
                t,
                c: t.calls[e.a as usize],
            }),
        }
    }

    pub fn as_path(self) -> Option<PathRef<'t>> {
        (self.e.kind == ExprTag::Path).then_some(PathRef {
            t: self.t,
            e: self.e,
        })
    }

    pub fn as_call(self) -> Option<CallRef<'t>> {
        match self.kind() {
            ExprKind::SubExpr(call) => Some(call),
            _ => None,
        }
    }

    pub fn as_string(self) -> Option<&'t str> {
        match self.kind() {
            ExprKind::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Debug for ExprRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

/// `name.part`, `../x`, `this.y`, `@index`, `[a b]`.
#[derive(Clone, Copy)]
pub struct PathRef<'t> {
    t: &'t Template,
    e: ExprData,
}

impl<'t> PathRef<'t> {
    pub fn span(self) -> Span {
        self.t.span(self.e.start, self.e.end)
    }

    /// `@name`: a data variable.
    pub fn data(self) -> bool {
        self.e.flags & DATA != 0
    }

    /// How many `../` lead the path.
    pub fn depth(self) -> usize {
        self.e.c as usize
    }

    /// Segments after `this`/`..`; empty for `this` or `.` alone.
    pub fn parts(self) -> Strs<'t> {
        Strs {
            t: self.t,
            from: self.e.a,
            n: self.e.b,
            whole: (self.e.flags & WHOLE != 0).then_some([self.e.start, self.e.end]),
        }
    }

    /// Starts with `this` or `.` (never a helper, never a block param).
    pub fn this_relative(self) -> bool {
        self.e.flags & THIS != 0
    }

    /// As written.
    pub fn original(self) -> &'t str {
        &self.t.source[self.e.start as usize..self.e.end as usize]
    }

    /// One plain segment (could name a helper or a block param).
    pub fn is_simple(self) -> bool {
        self.e.flags & (DATA | THIS) == 0 && self.e.c == 0 && self.e.b == 1
    }
}

impl fmt::Debug for PathRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({:?})", self.original())
    }
}

/// A short list of names: a path's segments, a block's params.
#[derive(Clone, Copy)]
pub struct Strs<'t> {
    t: &'t Template,
    from: u32,
    n: u32,
    /// The one segment of a `WHOLE` path: its own text.
    whole: Option<[u32; 2]>,
}

impl<'t> Strs<'t> {
    pub fn len(self) -> usize {
        self.n as usize
    }

    pub fn is_empty(self) -> bool {
        self.n == 0
    }

    pub fn get(self, i: usize) -> Option<&'t str> {
        (i < self.len()).then(|| {
            let [s, e] = self.range(i);
            &self.t.source[s as usize..e as usize]
        })
    }

    fn range(self, i: usize) -> [u32; 2] {
        match self.whole {
            Some(range) => range,
            None => self.t.segs[self.from as usize + i],
        }
    }

    pub fn first(self) -> Option<&'t str> {
        self.get(0)
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = &'t str> + ExactSizeIterator + Clone {
        let t = self.t;
        (0..self.len()).map(move |i| {
            let [s, e] = self.range(i);
            &t.source[s as usize..e as usize]
        })
    }
}

impl fmt::Debug for Strs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Template {
    /// Where the template's text starts in the text it was parsed from (spans are
    /// offsets into `source()` plus this).
    pub fn base(&self) -> usize {
        self.base
    }

    /// The template's text (spans are offsets into it plus the `base` it was parsed with).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The top-level nodes.
    pub fn nodes(&self) -> Nodes<'_> {
        Nodes {
            t: self,
            from: 0,
            to: self.items.len() as u32,
        }
    }

    /// Every node, depth first, with its nesting depth.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(NodeRef<'a>, usize)) {
        fn go<'a>(nodes: Nodes<'a>, depth: usize, f: &mut impl FnMut(NodeRef<'a>, usize)) {
            for node in nodes {
                f(node, depth);
                if let Some(b) = node.as_block() {
                    go(b.program(), depth + 1, f);
                    if let Some(inverse) = b.inverse() {
                        go(inverse, depth + 1, f);
                    }
                }
            }
        }
        go(self.nodes(), 0, f);
    }

    /// Names of the inline partials `{{#*inline "name"}}` defined anywhere in the template.
    pub fn inline_partial_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.walk(&mut |node, _| {
            if let Some(name) = node.as_block().and_then(|b| b.inline_name()) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        });
        names
    }

    /// Names of the static partials `{{> name}}` used anywhere in the template.
    pub fn partial_names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.walk(&mut |node, _| {
            if let NodeKind::Partial(p) = node.kind() {
                if let Some(name) = p.static_name() {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
        });
        names
    }
}
