//! One file per request family. Each has a `handle`: a plain synchronous function from
//! the document's snapshot, the session's view and the request's parameters to the
//! answer, which `Backend::read` (`dispatch.rs`) runs on the blocking pool. Each file also
//! translates its family's `ide` results to LSP types.

pub mod code_actions;
pub mod code_lenses;
pub mod completion;
pub mod folding;
pub mod hover;
pub mod navigation;
pub mod semantic_tokens;
