//! `.prompt` file -> (tree, errors). Parsing never fails: every input, however broken,
//! yields a `ParsedPrompt` whose `errors` say what is wrong and where.

pub mod frontmatter;
pub mod span;
pub mod template;
pub mod yaml;

pub use span::Span;
