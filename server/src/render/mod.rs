//! Dotprompt rendering.

pub mod js;
pub mod messages;
pub mod metadata;
pub mod picoschema;
