//! promptls-core: the engine for `.prompt` files (Dotprompt, extended with `promptls.*`
//! keys). Every module returns plain data and knows nothing of LSP, the command line or
//! HTTP; the front-ends in the `promptls` crate translate that data for people and
//! editors. See docs/architecture.md for the layers and the rule between them.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod analysis;
pub mod catalog;
pub mod check;
pub mod config;
pub mod confine;
pub mod data;
pub mod eval;
pub mod folder;
pub mod ide;
pub mod jobs;
pub mod llm;
pub mod optimize;
pub mod problem;
pub mod program;
pub mod render;
pub mod secrets;
pub mod service;
pub mod settings;
pub mod sqlite;
pub mod store;
pub mod syntax;
pub mod trust;
pub mod workspace;
