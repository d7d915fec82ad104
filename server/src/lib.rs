//! promptls: the front-ends over the engine in `promptls-core`. `cli` is the command line,
//! `lsp` the language server; each translates the engine's plain data and computes
//! nothing the engine can.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod allocator;
pub mod cli;
pub mod lsp;
