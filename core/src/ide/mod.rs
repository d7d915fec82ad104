//! Editor features as plain data: hover, completion, go to definition, symbols, folds,
//! semantic tokens, document links, quick fixes, and the files a prompt depends on.
//! Positions are byte offsets into the file and results carry byte `Span`s; `lsp/`
//! translates them to LSP positions in the negotiated encoding. Nothing here knows LSP.

mod actions;
mod completion;
mod docs;
mod facts;
mod hover;
mod locate;
mod navigation;
mod outline;
mod tokens;

use std::path::PathBuf;

use serde::Serialize;

use crate::check::{CheckInput, Diagnostic};
use crate::syntax::Span;

/// Markdown shown for the thing under the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hover {
    /// What the hover is about (the key, helper, variable, model name, partial...).
    pub span: Span,
    pub markdown: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompletionKind {
    Key,
    Value,
    Model,
    Metric,
    Optimizer,
    Helper,
    Variable,
    Column,
    Partial,
    Role,
    Snippet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletionItem {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
    /// Markdown.
    pub documentation: Option<String>,
    /// The text that replaces `replace`; an LSP snippet (`$1`, `${1:x}`) when `is_snippet`.
    pub insert_text: String,
    pub is_snippet: bool,
    /// The range the completion replaces (the word typed so far; empty at the cursor).
    pub replace: Span,
}

/// Where a definition is: a file, and a range in it when known (otherwise its start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub path: PathBuf,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SymbolKind {
    Frontmatter,
    Key,
    Role,
    Demos,
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub name: String,
    pub detail: Option<String>,
    pub kind: SymbolKind,
    /// The whole extent of the symbol.
    pub span: Span,
    /// The part to select when jumping to it (e.g. the key or the role marker).
    pub selection: Span,
    pub children: Vec<Symbol>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FoldKind {
    Frontmatter,
    Demos,
    Block,
    Comment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    pub span: Span,
    pub kind: FoldKind,
}

/// Semantic token types, in the order of the legend the server advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// `---` frontmatter delimiters, `{{`, `}}`.
    Delimiter,
    /// Frontmatter keys.
    Key,
    /// YAML strings, Handlebars string literals.
    String,
    Number,
    /// YAML booleans/null, Handlebars `true`/`false`/`null`/`undefined`.
    Keyword,
    /// Template variables (`{{name}}`, `@index`, `this`).
    Variable,
    /// Helpers (`if`, `each`, `role`, `json`...).
    Helper,
    /// Role names in `{{role "user"}}`.
    Role,
    /// `{{> partial}}` names.
    Partial,
    Comment,
    /// The `promptls:demos` markers.
    Demos,
}

impl TokenKind {
    pub const ALL: [TokenKind; 11] = [
        TokenKind::Delimiter,
        TokenKind::Key,
        TokenKind::String,
        TokenKind::Number,
        TokenKind::Keyword,
        TokenKind::Variable,
        TokenKind::Helper,
        TokenKind::Role,
        TokenKind::Partial,
        TokenKind::Comment,
        TokenKind::Demos,
    ];
}

/// One highlighted range. Tokens are sorted, do not overlap, and may span lines (the
/// LSP layer splits them per line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Token {
    pub span: Span,
    pub kind: TokenKind,
}

/// A file path written in the prompt (dataset, partial), made clickable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub span: Span,
    pub target: PathBuf,
}

/// One change a code action makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileChange {
    /// Replace `span` of `path` (the checked file, or another file) with `new_text`.
    Edit {
        path: PathBuf,
        span: Span,
        new_text: String,
    },
    /// Create a new file (fails if it exists) with `contents`.
    Create { path: PathBuf, contents: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub title: String,
    /// The diagnostic code the action fixes.
    pub code: &'static str,
    /// The span of the diagnostic it fixes.
    pub diagnostic_span: Span,
    /// Whether this is the obvious fix (editors apply it with "fix all").
    pub preferred: bool,
    pub changes: Vec<FileChange>,
}

/// Hover at byte `offset`.
pub fn hover(input: &CheckInput, offset: usize) -> Option<Hover> {
    hover::hover(input, offset)
}

/// What promptls knows of a model `provider/model` (provider, context window, price), as
/// markdown.
pub fn describe_model(name: &str) -> String {
    hover::model(name)
}

/// A problem on one line of the prompt's dataset file (1-based line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetProblem {
    pub line: usize,
    pub message: String,
}

/// The prompt's dataset file (`promptls.dataset` resolved), whether or not it exists.
pub fn dataset_file(input: &CheckInput) -> Option<PathBuf> {
    facts::dataset_path(input).map(|(_, path)| path)
}

/// The prompt's dataset file and the rows in it that could not be read (empty when all
/// rows load); `None` without a readable dataset.
pub fn dataset_problems(input: &CheckInput) -> Option<(PathBuf, Vec<DatasetProblem>)> {
    let (path, dataset) = facts::dataset(input)?;
    let problems = dataset
        .errors
        .iter()
        .map(|e| DatasetProblem {
            line: e.line.unwrap_or(1),
            message: e.message.clone(),
        })
        .collect();
    Some((path, problems))
}

/// Completions at byte `offset`.
pub fn completions(input: &CheckInput, offset: usize) -> Vec<CompletionItem> {
    completion::completions(input, offset)
}

/// Where the thing at `offset` is defined: a partial's file, the dataset file, a
/// variable's entry in `input.schema`.
pub fn definition(input: &CheckInput, offset: usize) -> Option<Location> {
    navigation::definition(input, offset)
}

/// The outline: frontmatter (with its top-level keys), role turns, the demos block.
pub fn symbols(input: &CheckInput) -> Vec<Symbol> {
    outline::symbols(input)
}

/// Foldable ranges: frontmatter, demos block, Handlebars blocks, long comments.
pub fn folds(input: &CheckInput) -> Vec<Fold> {
    outline::folds(input)
}

/// Highlighting for clients without tree-sitter.
pub fn semantic_tokens(input: &CheckInput) -> Vec<Token> {
    tokens::semantic_tokens(input)
}

/// File paths in the prompt (dataset, partials) as links.
pub fn links(input: &CheckInput) -> Vec<Link> {
    navigation::links(input)
}

/// Quick fixes for `diagnostics` (those from `check_parsed` on the same input) whose span
/// touches `range`.
pub fn code_actions(input: &CheckInput, diagnostics: &[Diagnostic], range: Span) -> Vec<Action> {
    actions::code_actions(input, diagnostics, range)
}

/// The other files whose contents change this file's diagnostics: partials it includes
/// (transitively), its dataset, the base prompt of a variant. Paths are as resolved
/// against the file's folder (not canonicalized).
pub fn dependencies(input: &CheckInput) -> Vec<PathBuf> {
    navigation::dependencies(input)
}

#[cfg(test)]
mod tests;
