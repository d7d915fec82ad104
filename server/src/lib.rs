//! promptls: analysis core for `.prompt` files (Dotprompt, extended with `promptls.*` keys).
//!
//! The core modules (`syntax`, `render`, `check`, `eval`) return plain data and know
//! nothing of LSP; `ide` answers editor questions as plain data; `cli` and `lsp`
//! translate that data for people and editors.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod cli;
pub mod config;
pub mod confine;
pub mod eval;
pub mod ide;
pub mod llm;
pub mod lsp;
pub mod optimize;
pub mod render;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod syntax;
pub mod trust;
