//! Read-only views of a parsed template: small `Copy` handles that borrow the tree.
//!
//! Every reader of a template (the renderer, the checks, the editor features) goes
//! through these handles rather than the tree's storage, so the storage can be laid out
//! for memory (issue 12: a few bytes per input byte) without touching the readers.

use super::{Block, Call, Expr, HashPair, Node, Partial, PartialName, Path, SharedStr, Template};
use crate::syntax::Span;

/// A list of sibling nodes: a template's top level, a block's program or inverse.
#[derive(Clone, Copy, Debug)]
pub struct Nodes<'t>(&'t [Node]);

impl<'t> Nodes<'t> {
    /// The empty list (a block without `{{else}}` has this as its inverse).
    pub fn empty() -> Nodes<'t> {
        Nodes(&[])
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(self) -> NodesIter<'t> {
        NodesIter(self.0.iter())
    }

    pub fn first(self) -> Option<NodeRef<'t>> {
        self.0.first().map(NodeRef)
    }

    pub fn last(self) -> Option<NodeRef<'t>> {
        self.0.last().map(NodeRef)
    }
}

impl<'t> IntoIterator for Nodes<'t> {
    type Item = NodeRef<'t>;
    type IntoIter = NodesIter<'t>;
    fn into_iter(self) -> NodesIter<'t> {
        self.iter()
    }
}

#[derive(Clone, Debug)]
pub struct NodesIter<'t>(std::slice::Iter<'t, Node>);

impl<'t> Iterator for NodesIter<'t> {
    type Item = NodeRef<'t>;
    fn next(&mut self) -> Option<NodeRef<'t>> {
        self.0.next().map(NodeRef)
    }
}

/// One node of the tree.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'t>(&'t Node);

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
        match self.0 {
            Node::Text { span, .. } | Node::Mustache { span, .. } | Node::Comment { span, .. } => {
                *span
            }
            Node::Block(b) => b.span,
            Node::Partial(p) => p.span,
        }
    }

    pub fn kind(self) -> NodeKind<'t> {
        match self.0 {
            Node::Text { text, .. } => NodeKind::Text(text),
            Node::Mustache { call, .. } => NodeKind::Mustache(CallRef(call)),
            Node::Block(b) => NodeKind::Block(BlockRef(b)),
            Node::Partial(p) => NodeKind::Partial(PartialRef(p)),
            Node::Comment { text, .. } => NodeKind::Comment(text),
        }
    }

    pub fn as_block(self) -> Option<BlockRef<'t>> {
        match self.0 {
            Node::Block(b) => Some(BlockRef(b)),
            _ => None,
        }
    }
}

/// A block: `{{#name args as |params|}}program{{else}}inverse{{/name}}`.
#[derive(Clone, Copy, Debug)]
pub struct BlockRef<'t>(&'t Block);

impl<'t> BlockRef<'t> {
    /// From the open tag to the close tag (or to where the block was cut off).
    pub fn span(self) -> Span {
        self.0.span
    }

    /// The opening tag.
    pub fn open(self) -> Span {
        self.0.open
    }

    /// The closing tag; `None` when it is missing (an error was reported).
    pub fn close(self) -> Option<Span> {
        self.0.close
    }

    pub fn call(self) -> CallRef<'t> {
        CallRef(&self.0.call)
    }

    /// `as |item index|`.
    pub fn block_params(self) -> Strs<'t> {
        Strs(&self.0.block_params)
    }

    pub fn program(self) -> Nodes<'t> {
        Nodes(&self.0.program)
    }

    /// After `{{else}}`; an `{{else if x}}` chain is a single nested block here.
    pub fn inverse(self) -> Option<Nodes<'t>> {
        self.0.inverse.as_deref().map(Nodes)
    }

    /// `{{^name}}`: the program renders when the value is empty.
    pub fn inverted(self) -> bool {
        self.0.inverted
    }

    /// `{{#> name}}default{{/name}}`: a partial whose block is its fallback content.
    pub fn partial_block(self) -> bool {
        self.0.partial_block
    }

    /// `{{#*inline "name"}}...{{/inline}}`: an inline partial, defined for the node list
    /// that contains it; renders nothing.
    pub fn inline_partial(self) -> bool {
        self.0.inline_partial
    }

    /// The name an inline partial `{{#*inline "name"}}` defines.
    pub fn inline_name(self) -> Option<&'t str> {
        self.0.inline_name()
    }
}

/// `{{> name context key=value}}`.
#[derive(Clone, Copy, Debug)]
pub struct PartialRef<'t>(&'t Partial);

/// A partial's name: written out, or computed by a subexpression `{{> (name)}}`.
#[derive(Clone, Copy, Debug)]
pub enum PartialNameRef<'t> {
    Static { name: &'t str, span: Span },
    Dynamic(CallRef<'t>),
}

impl<'t> PartialRef<'t> {
    pub fn span(self) -> Span {
        self.0.span
    }

    pub fn name(self) -> PartialNameRef<'t> {
        match &self.0.name {
            PartialName::Static { name, span } => PartialNameRef::Static { name, span: *span },
            PartialName::Dynamic(call) => PartialNameRef::Dynamic(CallRef(call)),
        }
    }

    /// The static name, if the partial has one.
    pub fn static_name(self) -> Option<&'t str> {
        match &self.0.name {
            PartialName::Static { name, .. } => Some(name),
            PartialName::Dynamic(_) => None,
        }
    }

    pub fn context(self) -> Option<ExprRef<'t>> {
        self.0.context.as_ref().map(ExprRef)
    }

    pub fn hash(self) -> HashPairs<'t> {
        HashPairs(&self.0.hash)
    }

    /// Indentation of a standalone partial, applied to each line it renders.
    pub fn indent(self) -> &'t str {
        &self.0.indent
    }
}

/// A helper call or a plain value: `path param... key=value...`.
#[derive(Clone, Copy, Debug)]
pub struct CallRef<'t>(&'t Call);

impl<'t> CallRef<'t> {
    /// From the path to the last argument (inside the braces).
    pub fn span(self) -> Span {
        self.0.span
    }

    pub fn path(self) -> ExprRef<'t> {
        ExprRef(&self.0.path)
    }

    pub fn params(self) -> Exprs<'t> {
        Exprs(&self.0.params)
    }

    pub fn hash(self) -> HashPairs<'t> {
        HashPairs(&self.0.hash)
    }

    /// The helper name when the call could be a helper: a one-segment path that is not
    /// `this`, `..` or `@data`.
    pub fn simple_name(self) -> Option<&'t str> {
        self.0.simple_name()
    }

    /// Whether handlebars.js classifies this as a helper call (it has arguments).
    pub fn has_arguments(self) -> bool {
        self.0.has_arguments()
    }

    /// The arguments in order: the positional ones, then the hash values.
    pub fn arguments(self) -> impl Iterator<Item = ExprRef<'t>> {
        self.params()
            .iter()
            .chain(self.hash().iter().map(|h| h.value()))
    }
}

/// A call's positional arguments.
#[derive(Clone, Copy, Debug)]
pub struct Exprs<'t>(&'t [Expr]);

impl<'t> Exprs<'t> {
    pub fn len(self) -> usize {
        self.0.len()
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    pub fn get(self, i: usize) -> Option<ExprRef<'t>> {
        self.0.get(i).map(ExprRef)
    }

    pub fn first(self) -> Option<ExprRef<'t>> {
        self.get(0)
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = ExprRef<'t>> + ExactSizeIterator + Clone {
        self.0.iter().map(ExprRef)
    }
}

/// A call's `key=value` arguments.
#[derive(Clone, Copy, Debug)]
pub struct HashPairs<'t>(&'t [HashPair]);

impl<'t> HashPairs<'t> {
    pub fn len(self) -> usize {
        self.0.len()
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = HashRef<'t>> + ExactSizeIterator + Clone {
        self.0.iter().map(HashRef)
    }

    /// The value given for `key` (the last, if it is given twice).
    pub fn get(self, key: &str) -> Option<ExprRef<'t>> {
        self.iter()
            .rev()
            .find(|h| h.key() == key)
            .map(|h| h.value())
    }
}

/// `key=value`.
#[derive(Clone, Copy, Debug)]
pub struct HashRef<'t>(&'t HashPair);

impl<'t> HashRef<'t> {
    /// From the key to the end of the value.
    pub fn span(self) -> Span {
        self.0.span
    }

    pub fn key(self) -> &'t str {
        &self.0.key
    }

    pub fn key_span(self) -> Span {
        self.0.key_span
    }

    pub fn value(self) -> ExprRef<'t> {
        ExprRef(&self.0.value)
    }
}

/// An expression: a path, a literal or a subexpression.
#[derive(Clone, Copy, Debug)]
pub struct ExprRef<'t>(&'t Expr);

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
        self.0.span()
    }

    pub fn kind(self) -> ExprKind<'t> {
        match self.0 {
            Expr::Path(p) => ExprKind::Path(PathRef(p)),
            Expr::String { value, .. } => ExprKind::String(value),
            Expr::Number { value, .. } => ExprKind::Number(*value),
            Expr::Boolean { value, .. } => ExprKind::Boolean(*value),
            Expr::Null { .. } => ExprKind::Null,
            Expr::Undefined { .. } => ExprKind::Undefined,
            Expr::SubExpr(call) => ExprKind::SubExpr(CallRef(call)),
        }
    }

    pub fn as_path(self) -> Option<PathRef<'t>> {
        match self.0 {
            Expr::Path(p) => Some(PathRef(p)),
            _ => None,
        }
    }

    pub fn as_call(self) -> Option<CallRef<'t>> {
        match self.0 {
            Expr::SubExpr(call) => Some(CallRef(call)),
            _ => None,
        }
    }

    pub fn as_string(self) -> Option<&'t str> {
        match self.0 {
            Expr::String { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// `name.part`, `../x`, `this.y`, `@index`, `[a b]`.
#[derive(Clone, Copy, Debug)]
pub struct PathRef<'t>(&'t Path);

impl<'t> PathRef<'t> {
    pub fn span(self) -> Span {
        self.0.span
    }

    /// `@name`: a data variable.
    pub fn data(self) -> bool {
        self.0.data
    }

    /// How many `../` lead the path.
    pub fn depth(self) -> usize {
        self.0.depth
    }

    /// Segments after `this`/`..`; empty for `this` or `.` alone.
    pub fn parts(self) -> Strs<'t> {
        Strs(&self.0.parts)
    }

    /// Starts with `this` or `.` (never a helper, never a block param).
    pub fn this_relative(self) -> bool {
        self.0.this_relative
    }

    /// As written.
    pub fn original(self) -> &'t str {
        &self.0.original
    }

    /// One plain segment (could name a helper or a block param).
    pub fn is_simple(self) -> bool {
        self.0.is_simple()
    }
}

/// A short list of names: a path's segments, a block's params.
#[derive(Clone, Copy, Debug)]
pub struct Strs<'t>(&'t [SharedStr]);

impl<'t> Strs<'t> {
    pub fn len(self) -> usize {
        self.0.len()
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    pub fn get(self, i: usize) -> Option<&'t str> {
        self.0.get(i).map(|s| s.as_str())
    }

    pub fn first(self) -> Option<&'t str> {
        self.get(0)
    }

    pub fn last(self) -> Option<&'t str> {
        self.0.last().map(|s| s.as_str())
    }

    pub fn iter(self) -> impl DoubleEndedIterator<Item = &'t str> + ExactSizeIterator + Clone {
        self.0.iter().map(|s| s.as_str())
    }

    pub fn contains(self, name: &str) -> bool {
        self.iter().any(|s| s == name)
    }
}

impl Template {
    /// The top-level nodes.
    pub fn nodes(&self) -> Nodes<'_> {
        Nodes(&self.nodes)
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
