//! The Handlebars interpreter: renders a parsed template (syntax::handlebars) over JSON
//! data with handlebars.js 4.7 semantics as Dotprompt configures it (`noEscape`,
//! `knownHelpersOnly`): JavaScript truthiness and value-to-string, context depths for
//! `../`, `@` data frames, block params, partials with indentation, the built-in helpers
//! and Dotprompt's helpers (role, history, section, media, json, ifEquals, unlessEquals).
//!
//! Why one file of this size: the walk, the built-in and Dotprompt helpers and partials
//! share one scope (context stack, `@` frames, block params, inline partials) and one
//! output buffer; each helper is short, and apart they would need that state public.

use serde_json::{Map, Value};

use super::js;
use crate::syntax::handlebars::{
    BlockRef, CallRef, ExprKind, ExprRef, HashPairs, NodeKind, Nodes, PartialNameRef, PartialRef,
    PathRef, Strs, Template,
};
use crate::syntax::Span;

/// Blocks and partials nested deeper than this while rendering are an error (a partial
/// that includes itself would otherwise recurse until the stack overflows).
pub const MAX_RENDER_DEPTH: usize = 400;

/// Partials included inside partials deeper than this are an error: a partial that
/// includes itself, or a chain too long to be meant.
pub const MAX_PARTIAL_DEPTH: usize = 64;

/// At most this many partial expansions in one render: thirty partials that each
/// include the next twice would otherwise expand 2^30 times.
pub const MAX_PARTIAL_EXPANSIONS: usize = 100_000;

/// At most this many block and partial bodies rendered in one render (`{{#each}}`
/// iterations included): nested loops over large arrays would otherwise run for ever
/// even when they write nothing.
pub const MAX_BODIES: usize = 10_000_000;

/// A rendered template larger than this is an error: 64 MiB, far over any model's
/// context window, and bounding the memory of one render.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024 * 1024;

/// Helpers Dotprompt registers (`knownHelpers`); any other helper call is an error.
pub const KNOWN_HELPERS: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "log",
    "blockHelperMissing",
    "helperMissing",
    "json",
    "role",
    "history",
    "section",
    "media",
    "ifEquals",
    "unlessEquals",
];

pub fn is_known_helper(name: &str) -> bool {
    // A match compiles to a length switch: most names are rejected without a compare,
    // and this runs for every mustache of every render. Same list as KNOWN_HELPERS.
    matches!(
        name,
        "if" | "unless"
            | "each"
            | "with"
            | "lookup"
            | "log"
            | "blockHelperMissing"
            | "helperMissing"
            | "json"
            | "role"
            | "history"
            | "section"
            | "media"
            | "ifEquals"
            | "unlessEquals"
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub span: Option<Span>,
    pub message: String,
    /// The render went over one of the limits below (not a template or data problem).
    pub limit: bool,
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where partials come from while rendering.
pub trait PartialLookup {
    fn partial(&self, name: &str) -> Option<&Template>;
}

impl PartialLookup for std::collections::HashMap<String, Template> {
    fn partial(&self, name: &str) -> Option<&Template> {
        self.get(name)
    }
}

/// Every call in `template` that handlebars.js rejects at compile time with
/// `knownHelpersOnly`: a helper call (with arguments, or a subexpression) whose name is
/// not a known helper, as (span of the name, name). Block params shadow helper names, as
/// in handlebars.js.
pub fn unknown_helpers(template: &Template) -> Vec<(Span, String)> {
    fn call<'t>(c: CallRef<'t>, params: &[&'t str], sub: bool, out: &mut Vec<(Span, String)>) {
        let is_param = c.simple_name().is_some_and(|n| params.contains(&n));
        if (sub || c.has_arguments()) && !is_param {
            let name = match c.path().as_path() {
                Some(p) => p.parts().first().unwrap_or(p.original()),
                None => "",
            };
            if !is_known_helper(name) {
                out.push((c.path().span(), name.to_string()));
            }
        }
        for e in c.arguments() {
            if let Some(s) = e.as_call() {
                call(s, params, true, out);
            }
        }
    }
    fn nodes<'t>(list: Nodes<'t>, params: &mut Vec<&'t str>, out: &mut Vec<(Span, String)>) {
        for node in list {
            match node.kind() {
                NodeKind::Mustache(c) => call(c, params, false, out),
                NodeKind::Block(b) => {
                    if !b.partial_block() && !b.inline_partial() {
                        call(b.call(), params, false, out);
                    }
                    let before = params.len();
                    params.extend(b.block_params().iter());
                    nodes(b.program(), params, out);
                    params.truncate(before);
                    if let Some(inverse) = b.inverse() {
                        nodes(inverse, params, out);
                    }
                }
                NodeKind::Partial(p) => {
                    if let PartialNameRef::Dynamic(c) = p.name() {
                        call(c, params, true, out);
                    }
                    for e in p
                        .context()
                        .into_iter()
                        .chain(p.hash().iter().map(|h| h.value()))
                    {
                        if let Some(s) = e.as_call() {
                            call(s, params, true, out);
                        }
                    }
                }
                NodeKind::Text(_) | NodeKind::Comment(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    nodes(template.nodes(), &mut Vec::new(), &mut out);
    out
}

/// Renders `template` with `input` as the root context and `data_vars` as the `@`
/// variables (`@state`, `@metadata`, ...).
pub fn render(
    template: &Template,
    input: &Value,
    data_vars: &Map<String, Value>,
    partials: &dyn PartialLookup,
) -> Result<String, EngineError> {
    // Twice the template: reserved once, so a large output (role markers are longer
    // than the tags that write them) is not copied each time it doubles. Pages reserved
    // and never written are not resident.
    let mut out = String::with_capacity(template.source().len().saturating_mul(2).max(256));
    let root_data = DataFrame {
        parent: None,
        index: None,
        key: None,
        first: None,
        last: None,
    };
    let scope = Scope {
        ctx: input,
        root: input,
        vars: data_vars,
        parent: None,
        params: &[],
        outer: None,
        data: &root_data,
        partial_block: None,
        block_home: None,
        inline: None,
    };
    let env = Env {
        partials,
        budget: Budget::default(),
        top_level: std::cell::Cell::new(true),
    };
    env.nodes(template.nodes(), &scope, &mut out, 0)
        .map_err(|e| *e)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------

/// The context a block gets for `undefined` (handlebars.js passes it on as is; nothing
/// can be looked up in it either way).
static NULL: Value = Value::Null;

/// A value during rendering: borrowed from the data, made by a helper, or JavaScript's
/// `undefined` (a missing property).
#[derive(Debug, Clone)]
enum V<'a> {
    Undefined,
    Ref(&'a Value),
    Own(Value),
}

impl<'a> V<'a> {
    fn get(&self) -> Option<&Value> {
        match self {
            V::Undefined => None,
            V::Ref(v) => Some(v),
            V::Own(v) => Some(v),
        }
    }

    fn truthy(&self) -> bool {
        self.get().is_some_and(js::truthy)
    }

    /// handlebars.js `Utils.isEmpty`: falsy but not 0, or an empty array.
    fn is_empty(&self) -> bool {
        match self.get() {
            None => true,
            // 0 is falsy but not empty; JSON holds no NaN.
            Some(Value::Number(_)) => false,
            Some(Value::Array(a)) => a.is_empty(),
            Some(v) => !js::truthy(v),
        }
    }

    fn is_nullish(&self) -> bool {
        matches!(self.get(), None | Some(Value::Null))
    }
}

struct Env<'e> {
    partials: &'e dyn PartialLookup,
    budget: Budget,
    /// The next node list rendered is a template's own (the main template or a partial
    /// file), not a block's program: handlebars.js gives the inline partials defined there
    /// no `../` chain (`executeDecorators(main, ..., options.depths || [])`).
    top_level: std::cell::Cell<bool>,
}

/// What one render has used of its limits, and the partials it is inside.
#[derive(Default)]
struct Budget {
    expansions: std::cell::Cell<usize>,
    bodies: std::cell::Cell<usize>,
    written: std::cell::Cell<usize>,
    /// The partials being rendered, outermost first.
    chain: std::cell::RefCell<Vec<String>>,
}

impl Budget {
    fn over(&self, what: String) -> Box<EngineError> {
        let chain = self.chain.borrow();
        let within = if chain.is_empty() {
            String::new()
        } else {
            format!(" (in {})", describe_chain(&chain))
        };
        Box::new(EngineError {
            span: None,
            message: format!("{what}{within}"),
            limit: true,
        })
    }

    fn wrote(&self, bytes: usize) -> Result<(), Box<EngineError>> {
        let written = self.written.get().saturating_add(bytes);
        self.written.set(written);
        if written > MAX_RENDERED_BYTES {
            return Err(self.over(format!(
                "the rendered prompt is over the {} MiB limit",
                MAX_RENDERED_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// Enters partial `name`; `leave` must follow.
    fn enter(&self, name: &str) -> Result<(), Box<EngineError>> {
        let expansions = self.expansions.get() + 1;
        self.expansions.set(expansions);
        self.chain.borrow_mut().push(name.to_string());
        if expansions > MAX_PARTIAL_EXPANSIONS {
            let e = self.over(format!(
                "more than {MAX_PARTIAL_EXPANSIONS} partial expansions in one render: partials that include others several times grow exponentially"
            ));
            self.leave();
            return Err(e);
        }
        if self.chain.borrow().len() > MAX_PARTIAL_DEPTH {
            let e = self.over(format!(
                "partials nested more than {MAX_PARTIAL_DEPTH} deep"
            ));
            self.leave();
            return Err(e);
        }
        Ok(())
    }

    fn leave(&self) {
        self.chain.borrow_mut().pop();
    }
}

/// `p0 > p1 > p2`, with the middle of a long chain left out and a partial that includes
/// itself named.
fn describe_chain(chain: &[String]) -> String {
    let shown = if chain.len() <= 32 {
        chain.join(" > ")
    } else {
        format!(
            "{} > … {} more … > {}",
            chain[..16].join(" > "),
            chain.len() - 24,
            chain[chain.len() - 8..].join(" > ")
        )
    };
    let repeated = chain
        .iter()
        .enumerate()
        .find(|(i, name)| chain[..*i].contains(name))
        .map(|(_, name)| name);
    match repeated {
        Some(name) => format!("{shown}; partial `{name}` includes itself"),
        None => shown,
    }
}

/// One context level (`../` walks the parents) with its block params and data frame.
struct Scope<'s> {
    ctx: &'s Value,
    /// `@root`.
    root: &'s Value,
    /// The `@` variables given to the render (`@state`, `@metadata`, ...).
    vars: &'s Map<String, Value>,
    /// The enclosing distinct context, for `../`.
    parent: Option<&'s Scope<'s>>,
    /// Block params visible here (innermost first when searched from this scope up).
    params: &'s [(&'s str, V<'s>)],
    /// The enclosing scope, where outer block params are looked up.
    outer: Option<&'s Scope<'s>>,
    data: &'s DataFrame<'s>,
    /// The block of a `{{#> partial}}...{{/partial}}` call, for `{{> @partial-block}}`.
    partial_block: Option<Nodes<'s>>,
    /// Where that block stands: its `../` chain and block params.
    block_home: Option<&'s Scope<'s>>,
    /// The inline partials `{{#*inline}}` in force, innermost frame first.
    inline: Option<&'s InlineFrame<'s>>,
}

/// The inline partials one node list defines (handlebars.js's `inline` decorator: they
/// hold for the whole list, before and after the definition, and for everything it
/// renders, partials included).
struct InlineFrame<'s> {
    defs: Vec<(&'s str, Nodes<'s>)>,
    parent: Option<&'s InlineFrame<'s>>,
    /// Where the definitions stand: their `../` chain; `None` at a template's top level,
    /// where handlebars.js gives them none.
    home: Option<&'s Scope<'s>>,
}

impl<'s> InlineFrame<'s> {
    fn find(&self, name: &str) -> Option<(Nodes<'s>, Option<&'s Scope<'s>>)> {
        let mut frame = Some(self);
        while let Some(f) = frame {
            if let Some((_, nodes)) = f.defs.iter().rev().find(|(n, _)| *n == name) {
                return Some((*nodes, f.home));
            }
            frame = f.parent;
        }
        None
    }
}

/// handlebars.js's `container.nullContext`: what a helper gets as `this` in a null or
/// undefined context, so its blocks see `{}`.
static NULL_CONTEXT: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::Object(Map::new()));

impl<'s> Scope<'s> {
    /// The scope a helper's `options.fn(this)` renders in: `{}` for a null context (no
    /// new `../` level, as handlebars.js skips it for `nullContext` over `null`).
    fn this_for_helper(&self) -> Scope<'_> {
        let mut scope = self.with_parts(self.inline);
        if self.ctx.is_null() {
            scope.ctx = &NULL_CONTEXT;
        }
        scope
    }

    fn with_parts<'f>(&'f self, inline: Option<&'f InlineFrame<'f>>) -> Scope<'f> {
        Scope {
            ctx: self.ctx,
            root: self.root,
            vars: self.vars,
            parent: self.parent,
            params: self.params,
            outer: self.outer,
            data: self.data,
            partial_block: self.partial_block,
            block_home: self.block_home,
            inline,
        }
    }

    fn with_inline<'f>(&'f self, frame: &'f InlineFrame<'f>) -> Scope<'f> {
        self.with_parts(Some(frame))
    }
}

/// The inline partials defined directly in `nodes`.
fn inline_defs(nodes: Nodes<'_>) -> Vec<(&str, Nodes<'_>)> {
    nodes
        .iter()
        .filter_map(|n| {
            let b = n.as_block()?;
            b.inline_name().map(|name| (name, b.program()))
        })
        .collect()
}

/// A handlebars data frame (`createFrame`): iteration variables over the parent's.
struct DataFrame<'s> {
    parent: Option<&'s DataFrame<'s>>,
    index: Option<usize>,
    key: Option<Value>,
    first: Option<bool>,
    last: Option<bool>,
}

/// What a block helper gets: its program, inverse and where it stands.
#[derive(Clone, Copy)]
struct BlockCtx<'b> {
    program: Nodes<'b>,
    inverse: Nodes<'b>,
    block: BlockRef<'b>,
}

impl<'e> Env<'e> {
    fn nodes<'s>(
        &self,
        nodes: Nodes<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        if depth > MAX_RENDER_DEPTH {
            return Err(self.budget.over(format!(
                "blocks and partials nested more than {MAX_RENDER_DEPTH} deep while rendering"
            )));
        }
        let bodies = self.budget.bodies.get() + 1;
        self.budget.bodies.set(bodies);
        if bodies > MAX_BODIES {
            return Err(self.budget.over(format!(
                "more than {MAX_BODIES} blocks and partials rendered in one render"
            )));
        }
        let top_level = self.top_level.replace(false);
        let frame;
        let with_inline;
        let defs = inline_defs(nodes);
        let scope = if defs.is_empty() {
            scope
        } else {
            frame = InlineFrame {
                defs,
                parent: scope.inline,
                home: (!top_level).then_some(scope),
            };
            with_inline = scope.with_inline(&frame);
            &with_inline
        };
        for node in nodes {
            match node.kind() {
                NodeKind::Text(text) => {
                    out.push_str(text);
                    self.budget.wrote(text.len())?;
                }
                NodeKind::Comment(_) => {}
                NodeKind::Mustache(call) => {
                    let before = out.len();
                    self.mustache(call, node.span(), scope, out)?;
                    self.budget.wrote(out.len().saturating_sub(before))?;
                }
                NodeKind::Block(block) => self.block(block, scope, out, depth)?,
                NodeKind::Partial(partial) => self.partial(partial, scope, out, depth)?,
            }
        }
        Ok(())
    }

    fn mustache<'s>(
        &self,
        call: CallRef<'_>,
        span: Span,
        scope: &Scope<'s>,
        out: &mut String,
    ) -> Result<(), Box<EngineError>> {
        if let Some(name) = self.helper_name(call, scope) {
            if matches!(name, "role" | "history" | "section" | "media" | "json") {
                return self.write_helper(name, call, scope, out);
            }
            let value = self.call_helper(name, call, span, scope)?;
            append(out, &value);
            return Ok(());
        }
        let value = self.value_of(call.path(), scope)?;
        append(out, &value);
        Ok(())
    }

    /// The helper a call invokes, if it is a helper call (handlebars.js classifySexpr).
    fn helper_name<'c>(&self, call: CallRef<'c>, scope: &Scope) -> Option<&'c str> {
        let name = call.simple_name()?;
        if lookup_param(scope, name).is_some() {
            return None;
        }
        is_known_helper(name).then_some(name)
    }

    fn block<'s>(
        &self,
        block: BlockRef<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        if block.partial_block() {
            return self.partial_block(block, scope, out, depth);
        }
        if block.inline_partial() {
            return Ok(());
        }
        let inverse = block.inverse().unwrap_or(Nodes::empty());
        let (program, inverse) = if block.inverted() {
            (inverse, block.program())
        } else {
            (block.program(), inverse)
        };
        let b = BlockCtx {
            program,
            inverse,
            block,
        };
        if let Some(name) = self.helper_name(block.call(), scope) {
            return self.block_helper(name, b, scope, out, depth);
        }
        // blockHelperMissing: a mustache section over the value.
        let value = self.value_of(block.call().path(), scope)?;
        match value.get() {
            Some(Value::Bool(true)) => self.nodes(b.program, scope, out, depth + 1),
            None | Some(Value::Null) | Some(Value::Bool(false)) => {
                self.nodes(b.inverse, scope, out, depth + 1)
            }
            Some(Value::Array(items)) if items.is_empty() => {
                self.nodes(b.inverse, scope, out, depth + 1)
            }
            Some(Value::Array(_)) => self.each(value.clone(), b, scope, out, depth),
            Some(_) => self.with_context(
                value.clone(),
                b.program,
                block.block_params(),
                scope,
                out,
                depth,
            ),
        }
    }

    fn block_helper<'s>(
        &self,
        name: &str,
        b: BlockCtx<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let call = b.block.call();
        let arity = |n: usize, what: &str| -> Result<(), Box<EngineError>> {
            if call.params().len() != n {
                return Err(Box::new(EngineError {
                    limit: false,
                    span: Some(b.block.open()),
                    message: format!("#{name} requires exactly {what}"),
                }));
            }
            Ok(())
        };
        match name {
            "if" | "unless" => {
                arity(1, "one argument")?;
                let cond = self.param(call, 0, scope)?;
                let include_zero = match self.hash_value(call, "includeZero", scope)? {
                    Some(v) => v.truthy(),
                    None => false,
                };
                let falsy = (!include_zero && !cond.truthy()) || cond.is_empty();
                let take_program = if name == "if" { !falsy } else { falsy };
                let nodes = if take_program { b.program } else { b.inverse };
                self.nodes(nodes, &scope.this_for_helper(), out, depth + 1)
            }
            "ifEquals" | "unlessEquals" => {
                arity(2, "two arguments")?;
                let a = self.param(call, 0, scope)?;
                let c = self.param(call, 1, scope)?;
                let equal = strict_equals(&a, &c);
                let take_program = if name == "ifEquals" { equal } else { !equal };
                self.nodes(
                    if take_program { b.program } else { b.inverse },
                    &scope.this_for_helper(),
                    out,
                    depth + 1,
                )
            }
            "with" => {
                arity(1, "one argument")?;
                let value = self.param(call, 0, scope)?;
                if value.is_empty() {
                    self.nodes(b.inverse, &scope.this_for_helper(), out, depth + 1)
                } else {
                    self.with_context(value, b.program, b.block.block_params(), scope, out, depth)
                }
            }
            "each" => {
                // A second argument takes the place of `options`, which handlebars.js
                // then fails on.
                if call.params().len() != 1 {
                    return Err(Box::new(EngineError {
                        limit: false,
                        span: Some(b.block.open()),
                        message: "Must pass iterator to #each".into(),
                    }));
                }
                let value = self.param(call, 0, scope)?;
                self.each(value, b, scope, out, depth)
            }
            _ => {
                // Inline helpers used as blocks render their value (handlebars.js calls
                // them with options; none of ours uses fn/inverse).
                let value = self.call_helper(name, call, b.block.open(), scope)?;
                append(out, &value);
                Ok(())
            }
        }
    }

    fn with_context<'s>(
        &self,
        value: V<'s>,
        program: Nodes<'_>,
        block_params: Strs<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let ctx: &Value = value.get().unwrap_or(&NULL);
        let params: Vec<(&str, V)> = block_params
            .first()
            .map(|p| (p, V::Ref(ctx)))
            .into_iter()
            .collect();
        let inner = push_context(scope, ctx, &params, scope.data);
        self.nodes(program, &inner, out, depth + 1)
    }

    fn each<'s>(
        &self,
        value: V<'s>,
        b: BlockCtx<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let params = b.block.block_params();
        let mut iterations = 0;
        let run = |item: &Value,
                   key: Value,
                   index: usize,
                   last: bool,
                   env: &Self,
                   out: &mut String|
         -> Result<(), Box<EngineError>> {
            let frame = DataFrame {
                parent: Some(scope.data),
                index: Some(index),
                key: Some(key.clone()),
                first: Some(index == 0),
                last: Some(last),
            };
            let mut bp: Vec<(&str, V)> = Vec::new();
            if let Some(p) = params.first() {
                bp.push((p, V::Ref(item)));
            }
            if let Some(p) = params.get(1) {
                bp.push((p, V::Own(key)));
            }
            let inner = push_context(scope, item, &bp, &frame);
            env.nodes(b.program, &inner, out, depth + 1)
        };
        match value.get() {
            Some(Value::Array(items)) => {
                let n = items.len();
                for (i, item) in items.iter().enumerate() {
                    run(item, Value::from(i), i, i + 1 == n, self, out)?;
                    iterations += 1;
                }
            }
            Some(Value::Object(map)) => {
                let entries = js::entries_in_js_order(map);
                let n = entries.len();
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    run(item, Value::String(k.clone()), i, i + 1 == n, self, out)?;
                    iterations += 1;
                }
            }
            _ => {}
        }
        if iterations == 0 {
            self.nodes(b.inverse, &scope.this_for_helper(), out, depth + 1)?;
        }
        Ok(())
    }

    fn partial<'s>(
        &self,
        partial: PartialRef<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let name = match partial.name() {
            PartialNameRef::Static { name, .. } => name.to_string(),
            PartialNameRef::Dynamic(call) => {
                let v = if let Some(h) = self.helper_name(call, scope) {
                    self.call_helper(h, call, call.span(), scope)?
                } else {
                    self.expr(call.path(), scope)?
                };
                to_js_string(&v)
            }
        };
        if name == "@partial-block" {
            let (Some(block), Some(home)) = (scope.partial_block, scope.block_home) else {
                return Err(Box::new(EngineError {
                    limit: false,
                    span: Some(partial.span()),
                    message: "The partial @partial-block could not be found".into(),
                }));
            };
            // The block renders in the partial's context, with the `../` chain and block
            // params of where it was written.
            let mut at_home = push_context(home, scope.ctx, &[], scope.data);
            at_home.inline = scope.inline;
            let mut rendered = String::new();
            self.budget.enter("@partial-block")?;
            let result = self.nodes(block, &at_home, &mut rendered, depth + 1);
            self.budget.leave();
            result?;
            self.push_indented(out, &rendered, partial.indent())?;
            return Ok(());
        }
        let Some(template) = self.find_partial(&name, scope) else {
            return Err(Box::new(EngineError {
                limit: false,
                span: Some(partial.span()),
                message: format!("The partial {name} could not be found"),
            }));
        };
        self.invoke_partial(
            &name,
            template,
            partial.context(),
            partial.hash(),
            partial.indent(),
            None,
            scope,
            out,
            depth,
        )
    }

    fn partial_block<'s>(
        &self,
        block: BlockRef<'_>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let path = block.call().path();
        let name = match path.kind() {
            ExprKind::Path(p) => p.original().to_string(),
            ExprKind::String(value) => value.to_string(),
            _ => to_js_string(&self.expr(path, scope)?),
        };
        match self.find_partial(&name, scope) {
            Some(template) => {
                // The block's inline partials are the partial's too (the layout pattern).
                let frame;
                let with_inline;
                let defs = inline_defs(block.program());
                let scope = if defs.is_empty() {
                    scope
                } else {
                    frame = InlineFrame {
                        defs,
                        parent: scope.inline,
                        home: Some(scope),
                    };
                    with_inline = scope.with_inline(&frame);
                    &with_inline
                };
                self.invoke_partial(
                    &name,
                    template,
                    block.call().params().first(),
                    block.call().hash(),
                    "",
                    Some(block.program()),
                    scope,
                    out,
                    depth,
                )
            }
            None => self.nodes(block.program(), scope, out, depth + 1),
        }
    }

    /// A partial by name: the inline partials in force, then the registered ones.
    /// A partial by name, and for an inline partial the scope it was defined in.
    fn find_partial<'s>(
        &self,
        name: &str,
        scope: &Scope<'s>,
    ) -> Option<(Nodes<'s>, Option<&'s Scope<'s>>)>
    where
        'e: 's,
    {
        if let Some(found) = scope.inline.and_then(|f| f.find(name)) {
            return Some(found);
        }
        self.partials.partial(name).map(|t| (t.nodes(), None))
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke_partial<'s>(
        &self,
        name: &str,
        (template, home): (Nodes<'_>, Option<&Scope<'s>>),
        context: Option<ExprRef<'_>>,
        hash: HashPairs<'_>,
        indent: &str,
        partial_block: Option<Nodes<'_>>,
        scope: &Scope<'s>,
        out: &mut String,
        depth: usize,
    ) -> Result<(), Box<EngineError>> {
        let mut ctx: V = match context {
            Some(e) => self.expr(e, scope)?,
            None => V::Ref(scope.ctx),
        };
        if !hash.is_empty() {
            // Utils.extend({}, context, hash)
            let mut merged = ctx.get().map(js::spread).unwrap_or_default();
            for pair in hash.iter() {
                // handlebars.js leaves `key=undefined` (the literal) out of the hash.
                if matches!(pair.value().kind(), ExprKind::Undefined) {
                    continue;
                }
                let v = self.expr(pair.value(), scope)?;
                match v.get() {
                    Some(v) => merged.insert(pair.key().to_string(), v.clone()),
                    None => merged.shift_remove(pair.key()),
                };
            }
            ctx = V::Own(Value::Object(merged));
        }
        let ctx_ref: &Value = ctx.get().unwrap_or(&NULL);
        let mut inner = push_context(scope, ctx_ref, &[], scope.data);
        // A partial starts its own `../` chain (handlebars.js passes `depths` on only
        // in compat mode).
        inner.parent = None;
        if let Some(home) = home {
            // An inline partial is a program of its template: it keeps the `../` chain
            // of where it was defined.
            inner.parent = if loose_equals(ctx_ref, home.ctx) {
                home.parent
            } else {
                Some(home)
            };
        }
        if partial_block.is_some() {
            inner.partial_block = partial_block;
            inner.block_home = Some(scope);
        }
        self.budget.enter(name)?;
        // A partial file's list is a template's own; an inline partial's is a program.
        self.top_level.set(home.is_none());
        if indent.is_empty() {
            let result = self.nodes(template, &inner, out, depth + 1);
            self.budget.leave();
            return result;
        }
        let mut rendered = String::new();
        let result = self.nodes(template, &inner, &mut rendered, depth + 1);
        self.budget.leave();
        result?;
        self.push_indented(out, &rendered, indent)
    }

    /// `push_indented`, counting the indentation it adds against the size limit (the
    /// text itself was counted as it was rendered).
    fn push_indented(
        &self,
        out: &mut String,
        rendered: &str,
        indent: &str,
    ) -> Result<(), Box<EngineError>> {
        let before = out.len();
        push_indented(out, rendered, indent);
        self.budget
            .wrote((out.len() - before).saturating_sub(rendered.len()))
    }

    /// The first value given for `key` (not `HashPairs::get`, which takes the last).
    fn hash_value<'s>(
        &self,
        call: CallRef<'_>,
        key: &str,
        scope: &Scope<'s>,
    ) -> Result<Option<V<'s>>, Box<EngineError>> {
        match call.hash().iter().find(|h| h.key() == key) {
            Some(pair) => self.expr(pair.value(), scope).map(Some),
            None => Ok(None),
        }
    }

    /// The value of positional argument `i`; undefined when it is not given.
    fn param<'s>(
        &self,
        call: CallRef<'_>,
        i: usize,
        scope: &Scope<'s>,
    ) -> Result<V<'s>, Box<EngineError>> {
        match call.params().get(i) {
            Some(e) => self.expr(e, scope),
            None => Ok(V::Undefined),
        }
    }

    /// Dotprompt's output helpers, written straight into `out` (they run on every render).
    fn write_helper<'s>(
        &self,
        name: &str,
        call: CallRef<'_>,
        scope: &Scope<'s>,
        out: &mut String,
    ) -> Result<(), Box<EngineError>> {
        let arg = |i: usize| self.param(call, i, scope);
        match name {
            "role" => {
                out.push_str("<<<dotprompt:role:");
                push_js(out, &arg(0)?);
                out.push_str(">>>");
            }
            "history" => out.push_str("<<<dotprompt:history>>>"),
            "section" => {
                out.push_str("<<<dotprompt:section ");
                push_js(out, &arg(0)?);
                out.push_str(">>>");
            }
            "media" => {
                let url = self.hash_value(call, "url", scope)?.unwrap_or(V::Undefined);
                let content_type = self
                    .hash_value(call, "contentType", scope)?
                    .filter(|v| v.truthy());
                out.push_str("<<<dotprompt:media:url ");
                push_js(out, &url);
                if let Some(t) = content_type {
                    out.push(' ');
                    push_js(out, &t);
                }
                out.push_str(">>>");
            }
            _ => {
                // json
                let value = arg(0)?;
                let indent = self.hash_value(call, "indent", scope)?;
                let indent = match indent.as_ref().and_then(|v| v.get()) {
                    Some(Value::Number(n)) => {
                        " ".repeat(n.as_f64().unwrap_or(0.0).clamp(0.0, 10.0) as usize)
                    }
                    Some(Value::String(s)) => s.chars().take(10).collect(),
                    _ => String::new(),
                };
                match value.get() {
                    // JSON.stringify(undefined) is undefined, which a SafeString prints as "undefined".
                    None => out.push_str("undefined"),
                    Some(v) => js::write_json(out, v, &indent, 0),
                }
            }
        }
        Ok(())
    }

    /// Inline (non-block) helpers.
    fn call_helper<'s>(
        &self,
        name: &str,
        call: CallRef<'_>,
        span: Span,
        scope: &Scope<'s>,
    ) -> Result<V<'s>, Box<EngineError>> {
        let arg = |i: usize| self.param(call, i, scope);
        match name {
            "role" | "history" | "section" | "media" | "json" => {
                let mut text = String::new();
                self.write_helper(name, call, scope, &mut text)?;
                Ok(V::Own(Value::String(text)))
            }
            "lookup" => {
                let obj = arg(0)?;
                if !obj.truthy() && !call.params().is_empty() {
                    return Ok(obj);
                }
                if call.params().len() != 2 {
                    // handlebars.js takes an argument short or over as its `options`.
                    return Err(Box::new(EngineError {
                        limit: false,
                        span: Some(span),
                        message: "lookup takes an object and a field".into(),
                    }));
                }
                let field = arg(1)?;
                let key = to_js_string(&field);
                Ok(step(obj, &key))
            }
            "log" | "blockHelperMissing" | "helperMissing" => Ok(V::Undefined),
            "if" | "unless" | "each" | "with" | "ifEquals" | "unlessEquals" => {
                Err(Box::new(EngineError {
                    limit: false,
                    span: Some(span),
                    message: format!(
                        "`{name}` is a block helper: write `{{{{#{name} ...}}}}...{{{{/{name}}}}}`"
                    ),
                }))
            }
            other => Err(Box::new(EngineError {
                limit: false,
                span: Some(span),
                message: format!(
                    "You specified knownHelpersOnly, but used the unknown helper {other}"
                ),
            })),
        }
    }

    /// The value a mustache or section names. A literal in that place is a property name
    /// in handlebars.js (`{{"foo bar"}}` and `{{12}}` look up `foo bar` and `12`).
    fn value_of<'s>(
        &self,
        path: ExprRef<'_>,
        scope: &Scope<'s>,
    ) -> Result<V<'s>, Box<EngineError>> {
        let key = match path.kind() {
            ExprKind::String(value) => value.to_string(),
            ExprKind::Number(value) => to_js_string(&V::Own(number(value))),
            ExprKind::Boolean(value) => value.to_string(),
            ExprKind::Null => "null".into(),
            ExprKind::Undefined => "undefined".into(),
            ExprKind::Path(_) | ExprKind::SubExpr(_) => return self.expr(path, scope),
        };
        Ok(step(V::Ref(scope.ctx), &key))
    }

    fn expr<'s>(&self, expr: ExprRef<'_>, scope: &Scope<'s>) -> Result<V<'s>, Box<EngineError>> {
        Ok(match expr.kind() {
            ExprKind::Path(p) => self.path(p, scope),
            ExprKind::String(value) => V::Own(Value::String(value.to_string())),
            ExprKind::Number(value) => V::Own(number(value)),
            ExprKind::Boolean(value) => V::Own(Value::Bool(value)),
            ExprKind::Null => V::Own(Value::Null),
            ExprKind::Undefined => V::Undefined,
            ExprKind::SubExpr(call) => match call.simple_name().filter(|n| is_known_helper(n)) {
                Some(name) => self.call_helper(name, call, call.span(), scope)?,
                None => {
                    return Err(Box::new(EngineError {
                        limit: false,
                        span: Some(call.span()),
                        message: format!(
                            "You specified knownHelpersOnly, but used the unknown helper {}",
                            call_name(call)
                        ),
                    }))
                }
            },
        })
    }

    fn path<'s>(&self, path: PathRef<'_>, scope: &Scope<'s>) -> V<'s> {
        if path.data() {
            return self.data_path(path, scope);
        }
        let mut parts = path.parts().iter();
        // Both conditions mean at least one segment.
        let head = path
            .parts()
            .first()
            .filter(|_| path.is_simple() || (!path.this_relative() && path.depth() == 0));
        let mut current: V<'s> = if let Some(first) = head {
            match lookup_param(scope, first) {
                Some(v) => {
                    parts.next();
                    v
                }
                None => V::Ref(scope.ctx),
            }
        } else {
            let mut s = scope;
            let mut ok = true;
            for _ in 0..path.depth() {
                match s.parent {
                    Some(p) => s = p,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                V::Ref(s.ctx)
            } else {
                V::Undefined
            }
        };
        // An undefined context (a partial or block given `undefined`) reads as
        // undefined, not null.
        if matches!(current, V::Ref(v) if std::ptr::eq(v, &NULL)) {
            current = V::Undefined;
        }
        for part in parts {
            current = step(current, part);
            if current.is_nullish() {
                break;
            }
        }
        current
    }

    fn data_path<'s>(&self, path: PathRef<'_>, scope: &Scope<'s>) -> V<'s> {
        // `@../index`: the data frame of an enclosing iteration.
        let parts = path.parts();
        let first_index = parts.iter().take_while(|p| *p == "..").count();
        let Some(first) = parts.get(first_index) else {
            return V::Undefined;
        };
        let mut start = Some(scope.data);
        for _ in 0..first_index {
            start = start.and_then(|f| f.parent);
        }
        let mut current: V<'s> = match first {
            "root" => V::Ref(scope.root),
            "index" | "key" | "first" | "last" => {
                let mut frame = start;
                let mut found = V::Undefined;
                while let Some(f) = frame {
                    let v = match first {
                        "index" => f.index.map(Value::from),
                        "key" => f.key.clone(),
                        "first" => f.first.map(Value::Bool),
                        _ => f.last.map(Value::Bool),
                    };
                    if let Some(v) = v {
                        found = V::Own(v);
                        break;
                    }
                    frame = f.parent;
                }
                found
            }
            other => scope.vars.get(other).map_or(V::Undefined, V::Ref),
        };
        for part in parts.iter().skip(first_index + 1) {
            current = step(current, part);
            if current.is_nullish() {
                break;
            }
        }
        current
    }
}

fn call_name(call: CallRef<'_>) -> String {
    let path = call.path();
    match path.kind() {
        ExprKind::Path(p) => p.parts().first().unwrap_or(p.original()).to_string(),
        // A literal as written (the compile rejects literal helper names, so a render
        // does not get here).
        _ => path.text().to_string(),
    }
}

/// A nested scope for `ctx`: a new `../` level only when the context changes, as
/// handlebars.js pushes depths only for a different context object.
fn push_context<'s>(
    scope: &'s Scope<'s>,
    ctx: &'s Value,
    params: &'s [(&'s str, V<'s>)],
    data: &'s DataFrame<'s>,
) -> Scope<'s> {
    // handlebars.js compares with JavaScript's `!=`, so `[1]` and `1` count as the same.
    let changed = !loose_equals(ctx, scope.ctx);
    Scope {
        ctx,
        root: scope.root,
        vars: scope.vars,
        parent: if changed { Some(scope) } else { scope.parent },
        params,
        outer: Some(scope),
        data,
        partial_block: scope.partial_block,
        block_home: scope.block_home,
        inline: scope.inline,
    }
}

/// JavaScript's `==` on JSON values: objects and arrays by identity (or, against a
/// primitive, by their string form), primitives with number/string/boolean coercion.
fn loose_equals(a: &Value, b: &Value) -> bool {
    fn compound(v: &Value) -> bool {
        matches!(v, Value::Array(_) | Value::Object(_))
    }
    if compound(a) && compound(b) {
        return std::ptr::eq(a, b);
    }
    if a.is_null() || b.is_null() {
        return a.is_null() && b.is_null();
    }
    // An object's string form is "[object Object]": only that string equals it.
    match (a, b) {
        (Value::Object(_), other) | (other, Value::Object(_)) => {
            return other.as_str() == Some("[object Object]");
        }
        _ => {}
    }
    let prim = |v: &Value| {
        if compound(v) {
            let mut s = String::new();
            push_js_string(&mut s, v);
            Value::String(s)
        } else {
            v.clone()
        }
    };
    let to_number = |v: &Value| match v {
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                0.0
            } else {
                t.parse().unwrap_or(f64::NAN)
            }
        }
        _ => f64::NAN,
    };
    match (prim(a), prim(b)) {
        (Value::String(x), Value::String(y)) => x == y,
        (x, y) => to_number(&x) == to_number(&y),
    }
}

/// A block param by name, innermost first.
fn lookup_param<'s>(scope: &Scope<'s>, name: &str) -> Option<V<'s>> {
    let mut s = Some(scope);
    while let Some(current) = s {
        if let Some((_, v)) = current.params.iter().find(|(n, _)| *n == name) {
            return Some(v.clone());
        }
        s = current.outer;
    }
    None
}

/// `obj[key]` for JSON values as JavaScript reads own properties (arrays and strings
/// have `length`; strings count UTF-16 units, as JavaScript does).
fn property<'v>(value: &'v Value, key: &str) -> Option<std::borrow::Cow<'v, Value>> {
    use std::borrow::Cow;
    match value {
        // Template data is mostly small objects: a scan of a few keys beats hashing.
        Value::Object(map) if map.len() <= 8 => map
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| Cow::Borrowed(v)),
        Value::Object(map) => map.get(key).map(Cow::Borrowed),
        Value::Array(items) if key == "length" => Some(Cow::Owned(Value::from(items.len()))),
        Value::Array(items) => key
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .map(Cow::Borrowed),
        Value::String(s) if key == "length" => {
            Some(Cow::Owned(Value::from(s.encode_utf16().count())))
        }
        // `"héllo"[1]`: one UTF-16 code unit, as a one-character string.
        Value::String(s) => {
            let unit = s.encode_utf16().nth(key.parse::<usize>().ok()?)?;
            let text = String::from_utf16_lossy(&[unit]);
            Some(Cow::Owned(Value::String(text)))
        }
        _ => None,
    }
}

/// One property step on a value.
fn step<'s>(current: V<'s>, key: &str) -> V<'s> {
    use std::borrow::Cow;
    // handlebars.js compiles `a.b` to `a != null ? lookup(a, "b") : a`: null stays null.
    if matches!(current.get(), Some(Value::Null)) {
        return current;
    }
    match current {
        V::Ref(v) => match property(v, key) {
            Some(Cow::Borrowed(p)) => V::Ref(p),
            Some(Cow::Owned(p)) => V::Own(p),
            None => V::Undefined,
        },
        V::Own(v) => property(&v, key).map_or(V::Undefined, |p| V::Own(p.into_owned())),
        V::Undefined => V::Undefined,
    }
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// `===` on JavaScript values: primitives by value (1 and 1.0 are one number), objects
/// and arrays by identity.
fn strict_equals(a: &V, b: &V) -> bool {
    match (a.get(), b.get()) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        (Some(x @ (Value::Array(_) | Value::Object(_))), Some(y)) => {
            matches!((a, b), (V::Ref(_), V::Ref(_))) && std::ptr::eq(x, y)
        }
        _ => false,
    }
}

/// What `buffer += value` appends in handlebars.js (with `noEscape`): nothing for null
/// and undefined, JavaScript's String(value) otherwise.
fn append(out: &mut String, value: &V) {
    match value.get() {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push_str(s),
        Some(v) => push_js_string(out, v),
    }
}

/// `String(value)` appended to `out`.
fn push_js(out: &mut String, value: &V) {
    match value.get() {
        None => out.push_str("undefined"),
        Some(v) => push_js_string(out, v),
    }
}

fn to_js_string(value: &V) -> String {
    match value.get() {
        None => "undefined".into(),
        Some(v) => {
            let mut s = String::new();
            push_js_string(&mut s, v);
            s
        }
    }
}

/// JavaScript's `String(value)`.
fn push_js_string(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => js::push_number(out, n),
        Value::String(s) => out.push_str(s),
        // Array.prototype.toString: elements joined by ",", null/undefined as "".
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !item.is_null() {
                    push_js_string(out, item);
                }
            }
        }
        Value::Object(_) => out.push_str("[object Object]"),
    }
}

/// Lines of a standalone partial's output, each prefixed with its indentation (except an
/// empty last line after a final newline), as handlebars.js `invokePartial` does.
fn push_indented(out: &mut String, rendered: &str, indent: &str) {
    if indent.is_empty() {
        out.push_str(rendered);
        return;
    }
    let lines: Vec<&str> = rendered.split('\n').collect();
    let n = lines.len();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() && i + 1 == n {
            break;
        }
        out.push_str(indent);
        out.push_str(line);
        if i + 1 < n {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::syntax::handlebars::parse_template;

    fn run_with(template: &str, input: Value, partials: &[(&str, &str)]) -> Result<String, String> {
        let (t, errors) = parse_template(template, 0);
        assert!(errors.is_empty(), "{template:?}: {errors:?}");
        if let Some((_, name)) = unknown_helpers(&t).into_iter().next() {
            return Err(format!("unknown helper {name}"));
        }
        let partials: HashMap<String, Template> = partials
            .iter()
            .map(|(n, s)| (n.to_string(), parse_template(s, 0).0))
            .collect();
        let mut vars = Map::new();
        vars.insert("state".into(), json!({"count": 3}));
        render(&t, &input, &vars, &partials).map_err(|e| e.message)
    }

    fn run(template: &str, input: Value) -> String {
        run_with(template, input, &[]).unwrap()
    }

    #[test]
    fn values_print_like_javascript() {
        let cases = [
            ("{{a}}", json!({"a": 1.0}), "1"),
            ("{{a}}", json!({"a": 0.5}), "0.5"),
            ("{{a}}", json!({"a": [1, null, "x", [2, 3]]}), "1,,x,2,3"),
            ("{{a}}", json!({"a": {"b": 1}}), "[object Object]"),
            (
                "{{a}}|{{b}}|{{c}}",
                json!({"a": null, "b": false, "c": 0}),
                "|false|0",
            ),
            ("{{a.b.c}}", json!({"a": null}), ""),
            (
                "{{a.length}}/{{a.[1]}}/{{s.length}}",
                json!({"a": [5, 6], "s": "héllo"}),
                "2/6/5",
            ),
            (
                "{{lookup 0 'x'}}|{{lookup a 1}}",
                json!({"a": ["p", "q"]}),
                "0|q",
            ),
            // These four were checked against npm dotprompt (handlebars 4.7.8).
            ("{{s.[1]}}|{{s.[9]}}", json!({"s": "héllo"}), "é|"),
            (
                "{{\"foo bar\"}} {{12}} {{true}}",
                json!({"foo bar": "FB", "12": "twelve", "true": "T"}),
                "FB twelve T",
            ),
            // `[1]` and `1` are the same context to JavaScript's `!=`: no new `../` level.
            (
                "{{#each a}}{{#each this}}<{{../../b}}>{{/each}}{{/each}}",
                json!({"a": [[1]], "b": "B"}),
                "<>",
            ),
            (
                "{{#each a}}{{#each this}}<{{../b}}>{{/each}}{{/each}}",
                json!({"a": [[1]], "b": "B"}),
                "<B>",
            ),
            ("<{{a}}>", json!({"a": "<b>&"}), "<<b>&>"),
            ("{{{a}}}{{&a}}", json!({"a": "x"}), "xx"),
            ("{{@state.count}} {{@root.a}}", json!({"a": "r"}), "3 r"),
        ];
        for (t, input, expected) in cases {
            assert_eq!(run(t, input), expected, "{t}");
        }
    }

    #[test]
    fn builtin_block_helpers() {
        let cases = [
            ("{{#if a}}y{{else}}n{{/if}}", json!({"a": []}), "n"),
            ("{{#if a}}y{{else}}n{{/if}}", json!({"a": {}}), "y"),
            ("{{#if a}}y{{else}}n{{/if}}", json!({"a": 0}), "n"),
            ("{{#if a includeZero=true}}y{{else}}n{{/if}}", json!({"a": 0}), "y"),
            ("{{#unless a}}u{{/unless}}", json!({"a": ""}), "u"),
            ("{{#if a}}A{{else if b}}B{{else}}C{{/if}}", json!({"b": 1}), "B"),
            ("{{#each xs}}{{@index}}:{{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}", json!({"xs": ["a", "b", "c"]}), "0:aF 1:b 2:cL "),
            ("{{#each o}}{{@key}}={{this}};{{/each}}", json!({"o": {"b": 1, "2": 2, "a": 3, "1": 4}}), "1=4;2=2;b=1;a=3;"),
            ("{{#each xs as |x i|}}{{i}}{{x.n}}{{/each}}", json!({"xs": [{"n": "a"}, {"n": "b"}]}), "0a1b"),
            ("{{#each xs}}x{{else}}empty{{/each}}", json!({"xs": []}), "empty"),
            ("{{#each xs}}{{../top}}{{name}}{{/each}}", json!({"top": "T", "xs": [{"name": "a"}]}), "Ta"),
            ("{{#with p}}{{name}} {{../x}}{{/with}}", json!({"x": "X", "p": {"name": "n"}}), "n X"),
            ("{{#with p}}y{{else}}none{{/with}}", json!({"p": null}), "none"),
            ("{{#with p as |q|}}{{q.name}}{{/with}}", json!({"p": {"name": "n"}}), "n"),
            ("{{lookup o k}}", json!({"o": {"x": 1}, "k": "x"}), "1"),
            ("{{#o}}{{x}}{{/o}}|{{#xs}}{{this}}{{/xs}}|{{^none}}N{{/none}}|{{#t}}T{{/t}}", json!({"o": {"x": 1}, "xs": [1, 2], "t": true}), "1|12|N|T"),
            ("{{#ifEquals a 1}}eq{{else}}ne{{/ifEquals}}", json!({"a": 1.0}), "eq"),
            ("{{#ifEquals a \"1\"}}eq{{else}}ne{{/ifEquals}}", json!({"a": 1}), "ne"),
            ("{{#unlessEquals a b}}ne{{/unlessEquals}}", json!({"a": "x", "b": "y"}), "ne"),
            ("{{#if a}}{{../x}}{{/if}}", json!({"a": 1, "x": "X"}), ""),
            ("{{#each xs}}{{#each ys}}{{../n}}{{@../index}}{{/each}}{{/each}}", json!({"xs": [{"n": "A", "ys": [1, 2]}]}), "A0A0"),
            ("{{#with 0}}z{{else}}e{{/with}}", json!({}), "z"),
            ("{{#count}}[{{this}}]{{/count}}", json!({"count": 0}), "[0]"),
        ];
        for (t, input, expected) in cases {
            assert_eq!(run(t, input), expected, "{t}");
        }
    }

    #[test]
    fn handlebars_forms_render_like_npm_dotprompt() {
        // Outputs from npm dotprompt 1.1.2 (handlebars 4.7.10).
        let partials = [
            ("p", "P({{a}})"),
            ("layout", "<{{> body}}|{{> @partial-block}}>"),
            ("ctx", "{{k}}|{{a}}"),
        ];
        let input = json!({"a": "A", "html": "<b>", "t": true, "f": false, "xs": [1, null, "z"],
            "o": {"k": "K", "a": "oa"}, "weird key": "W"});
        let cases = [
            ("a {{~{html}~}} b", "a<b>b"),
            ("{{#*inline \"q\"}}Q{{a}}{{/inline}}{{> q}}", "QA"),
            ("{{> q}}{{#*inline \"q\"}}hoisted{{/inline}}", "hoisted"),
            ("{{#*inline \"q\"}}out{{/inline}}{{#if t}}{{#*inline \"q\"}}in{{/inline}}{{> q}}{{/if}}{{> q}}", "inout"),
            ("{{#> layout}}{{#*inline \"body\"}}B{{a}}{{/inline}}{{/layout}}", "<BA|>"),
            ("{{#> p}}fallback{{/p}}|{{#> nope}}fb {{a}}{{/nope}}", "P(A)|fb A"),
            ("{{{{raw}}}} {{a}} {{{{/raw}}}}|{{{{t}}}} {{a}} {{{{/t}}}}|{{{{xs}}}}[{{this}}]{{{{/xs}}}}", "| {{a}} |[{{this}}][{{this}}][{{this}}]"),
            ("{{!--}}x{{!---}}y{{!-- a --~}}  z", "xyz"),
            ("{{^f}}A{{else}}B{{/f}}|{{^t}}A{{else}}B{{/t}}", "A|B"),
            ("{{#each xs as |item idx|}}{{idx}}={{item}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}};{{/each}}", "0=1F;1=;2=zL;"),
            ("{{#each o}}{{@key}}:{{this}};{{/each}}", "k:K;a:oa;"),
            ("{{lookup o \"k\"}}|{{lookup xs 1}}|{{o.[k]}}|{{[weird key]}}|{{./a}}|{{this/a}}|{{@root.a}}", "K||K|W|A|A|A"),
            ("{{#if f}}F{{else if t}}T{{else}}E{{/if}}", "T"),
            ("{{> ctx o k=undefined}}|{{> ctx o k=\"K\"}}", "K|oa|K|oa"),
            ("  {{#if t}}\n  yes\n  {{~else~}}\n  no\n  {{/if}}\nend", "  yesend"),
            ("{{#with missing}}x{{else}}{{this}}{{/with}}", "[object Object]"),
        ];
        for (t, expected) in cases {
            assert_eq!(
                run_with(t, input.clone(), &partials).as_deref(),
                Ok(expected),
                "{t}"
            );
        }
        assert_eq!(
            run_with("{{> layout}}", json!({}), &partials).unwrap_err(),
            "The partial body could not be found"
        );
    }

    #[test]
    fn dotprompt_helpers() {
        let cases = [
            (
                "{{role \"system\"}}hi",
                json!({}),
                "<<<dotprompt:role:system>>>hi",
            ),
            ("{{history}}", json!({}), "<<<dotprompt:history>>>"),
            (
                "{{section \"code\"}}",
                json!({}),
                "<<<dotprompt:section code>>>",
            ),
            (
                "{{media url=u}}",
                json!({"u": "http://x/a.png"}),
                "<<<dotprompt:media:url http://x/a.png>>>",
            ),
            (
                "{{media url=u contentType=\"image/png\"}}",
                json!({"u": "x"}),
                "<<<dotprompt:media:url x image/png>>>",
            ),
            (
                "{{json o}}",
                json!({"o": {"a": [1, 2.5, "s"], "b": null}}),
                "{\"a\":[1,2.5,\"s\"],\"b\":null}",
            ),
            (
                "{{json o indent=2}}",
                json!({"o": {"a": [1], "b": {}}}),
                "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}",
            ),
            ("{{json missing}}", json!({}), "undefined"),
        ];
        for (t, input, expected) in cases {
            assert_eq!(run(t, input), expected, "{t}");
        }
    }

    #[test]
    fn whitespace_control_matches_handlebars_js() {
        // Outputs checked against handlebars.js 4.7.8.
        let cases = [
            ("{{#if a}}\nyes\n{{/if}}\n", json!({"a": true}), "yes\n"),
            (
                "  {{#if a}}\n  yes\n  {{/if}}\nend",
                json!({"a": true}),
                "  yes\nend",
            ),
            (
                "a\n{{#each xs}}\n- {{this}}\n{{/each}}\nb",
                json!({"xs": [1, 2]}),
                "a\n- 1\n- 2\nb",
            ),
            (
                "{{#if a}}\nA\n{{else}}\nB\n{{/if}}",
                json!({"a": false}),
                "B\n",
            ),
            ("x {{~ a ~}} y", json!({"a": "A"}), "xAy"),
            ("x\n  {{! comment }}\ny", json!({}), "x\ny"),
            ("x {{! inline }} y", json!({}), "x  y"),
            (
                "{{role \"system\"}}\nhi",
                json!({}),
                "<<<dotprompt:role:system>>>\nhi",
            ),
            ("\\{{escaped}} {{a}}", json!({"a": 1}), "{{escaped}} 1"),
            ("\\\\{{a}}", json!({"a": 1}), "\\1"),
        ];
        for (t, input, expected) in cases {
            assert_eq!(run(t, input), expected, "{t:?}");
        }
    }

    #[test]
    fn known_helper_list_and_match_agree() {
        for name in KNOWN_HELPERS {
            assert!(is_known_helper(name), "{name}");
        }
        assert!(!is_known_helper("iff") && !is_known_helper(""));
    }

    #[test]
    fn inline_partials_at_the_top_level_have_no_parent_context() {
        // handlebars.js runs a template's own decorators with no `../` chain, so `../a`
        // in an inline partial defined at the top is undefined wherever it is used; one
        // defined in a block keeps the block's chain.
        let data = json!({"a": "root", "o": {"a": "inner"}});
        assert_eq!(
            run(
                "{{#*inline \"q\"}}[{{../a}}]{{/inline}}{{> q o}}",
                data.clone()
            ),
            "[]"
        );
        assert_eq!(
            run(
                "{{#if o}}{{#*inline \"q\"}}[{{../a}}]{{/inline}}{{> q o}}{{/if}}",
                data
            ),
            "[root]"
        );
    }

    #[test]
    fn partials() {
        let p = &[
            ("greet", "Hello {{name}}!"),
            ("lines", "one\ntwo\n"),
            ("self", "{{> self}}"),
        ];
        assert_eq!(
            run_with("{{> greet}}", json!({"name": "A"}), p).unwrap(),
            "Hello A!"
        );
        assert_eq!(
            run_with("{{> greet person}}", json!({"person": {"name": "B"}}), p).unwrap(),
            "Hello B!"
        );
        assert_eq!(
            run_with("{{> greet name=\"C\"}}", json!({"name": "A"}), p).unwrap(),
            "Hello C!"
        );
        assert_eq!(
            run_with("x\n  {{> lines}}\ny", json!({}), p).unwrap(),
            "x\n  one\n  two\ny"
        );
        assert_eq!(
            run_with("{{#> missing}}fallback{{/missing}}", json!({}), p).unwrap(),
            "fallback"
        );
        assert_eq!(
            run_with("{{> nope}}", json!({}), p).unwrap_err(),
            "The partial nope could not be found"
        );
        assert!(run_with("{{> self}}", json!({}), p)
            .unwrap_err()
            .contains("nested more than"));
    }

    #[test]
    fn exponential_and_recursive_partials_stop_at_a_limit_naming_the_chain() {
        let mut owned: Vec<(String, String)> = (0..30)
            .map(|i| {
                (
                    format!("p{i}"),
                    format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1),
                )
            })
            .collect();
        owned.push(("p30".into(), "leaf".into()));
        let p: Vec<(&str, &str)> = owned
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .collect();
        let started = std::time::Instant::now();
        let e = run_with("{{> p0}}", json!({}), &p).unwrap_err();
        assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
        assert!(e.contains("more than 100000 partial expansions"), "{e}");
        assert!(e.contains("(in p0 > p1 > p2 > p3"), "{e}");
        // A few doublings are fine.
        assert_eq!(
            run_with("{{> p27}}", json!({}), &p).unwrap(),
            "leaf".repeat(8)
        );

        let e = run_with("{{> a}}", json!({}), &[("a", "x{{> a}}")]).unwrap_err();
        assert!(e.contains("partials nested more than 64 deep"), "{e}");
        assert!(e.contains("(in a > a > a"), "{e}");
        assert!(e.contains("partial `a` includes itself"), "{e}");
        let e = run_with(
            "{{> a}}",
            json!({}),
            &[("a", "{{> b}}"), ("b", "\n  {{> a}}")],
        )
        .unwrap_err();
        assert!(e.contains("a > b > a > b"), "{e}");
        // Recursion that the data ends is fine.
        let tree =
            json!({"name": "r", "kids": [{"name": "a", "kids": [{"name": "b", "kids": []}]}]});
        assert_eq!(
            run_with(
                "{{> node}}",
                tree,
                &[("node", "{{name}}({{#each kids}}{{> node}}{{/each}})")]
            )
            .unwrap(),
            "r(a(b()))"
        );
    }

    #[test]
    fn rendered_size_and_loops_are_bounded() {
        let mb = "x".repeat(1 << 20);
        let p = [
            ("m", mb.as_str()),
            (
                "d",
                "{{> m}}{{> m}}{{> m}}{{> m}}{{> m}}{{> m}}{{> m}}{{> m}}",
            ),
        ];
        let e = run_with(
            "{{> d}}{{> d}}{{> d}}{{> d}}{{> d}}{{> d}}{{> d}}{{> d}}{{> d}}",
            json!({}),
            &p,
        )
        .unwrap_err();
        assert!(e.contains("over the 64 MiB limit (in d > m)"), "{e}");
        // Indentation counts too.
        let lines = "\n".repeat(1 << 16);
        let indent = " ".repeat(2048);
        let e = run_with(
            &format!("{indent}{{{{> l}}}}\n"),
            json!({}),
            &[("l", lines.as_str())],
        )
        .unwrap_err();
        assert!(e.contains("over the 64 MiB limit"), "{e}");
        // Nested loops that write nothing.
        let xs: Vec<u32> = (0..1000).collect();
        let e = run_with(
            "{{#each xs}}{{#each ../xs}}{{#each ../../xs}}{{/each}}{{/each}}{{/each}}",
            json!({"xs": xs}),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("more than 10000000 blocks and partials"), "{e}");
    }

    #[test]
    fn unknown_helpers_are_rejected_like_known_helpers_only() {
        assert_eq!(
            run_with("{{shout name}}", json!({}), &[]).unwrap_err(),
            "unknown helper shout"
        );
        assert_eq!(
            run_with("{{#loop xs}}{{/loop}}", json!({}), &[]).unwrap_err(),
            "unknown helper loop"
        );
        assert_eq!(
            run_with("{{json (upper a)}}", json!({}), &[]).unwrap_err(),
            "unknown helper upper"
        );
        // Without arguments a name is a value lookup, not a helper.
        assert_eq!(run("{{shout}}", json!({"shout": "hey"})), "hey");
        // A block param shadows helper classification.
        assert_eq!(
            run("{{#each xs as |f|}}{{f}}{{/each}}", json!({"xs": ["a"]})),
            "a"
        );
    }
}
