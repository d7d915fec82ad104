//! Dotprompt rendering: the reference's `Dotprompt` class (js/src/dotprompt.ts) in Rust.
//!
//! Compile once, render many times:
//!
//! ```
//! use promptls_core::render::{DataArgument, Renderer};
//!
//! let source = "---\nmodel: openai/gpt-4o\n---\n{{role \"system\"}}Be brief.{{role \"user\"}}Hi {{name}}!";
//! let prompt = Renderer::new().compile(source).unwrap();
//! let data: DataArgument = serde_json::from_str(r#"{"input": {"name": "Ada"}}"#).unwrap();
//! let rendered = prompt.render(&data, None).unwrap(); // metadata + messages
//! let json = rendered.to_json();
//! assert_eq!(json["model"], "openai/gpt-4o");
//! assert_eq!(json["messages"][1]["content"][0]["text"], "Hi Ada!");
//! ```
//!
//! Partials `{{> name}}` come from partials defined on the renderer, else from the
//! partial resolver (for files: `_name.prompt` next to the prompt), resolved
//! recursively when a prompt is compiled.
pub mod engine;
pub mod js;
pub mod messages;
pub mod metadata;
pub mod picoschema;

mod compiled;
mod document;
mod renderer;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use compiled::{CompiledPrompt, RenderedPrompt};
pub use document::{
    confined_partial_path, parse_document, partial_path, prompt_name_and_variant, ParsedDocument,
};
pub use metadata::MetadataError;
pub use picoschema::PicoschemaError;
pub use renderer::Renderer;

/// The data a prompt is rendered with (the reference's `DataArgument`), as the CLI's
/// `--data '{"input": {...}, "context": {...}, "messages": [...]}'` spells it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct DataArgument {
    /// Template variables (`{{name}}`).
    pub input: Map<String, Value>,
    /// `@` variables: `{"state": ...}` is `{{@state}}` in the template.
    pub context: Map<String, Value>,
    /// Conversation history, placed at `{{history}}` (or before the last user message).
    pub messages: Vec<Value>,
    /// Retrieved documents, available as `@metadata.docs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<Vec<Value>>,
}

/// Why a prompt could not be compiled or rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The template (or a partial, when `partial` is set) does not parse, or calls a
    /// helper Dotprompt does not know, at `line` of its text.
    #[error("{}: line {line}: {message}", template_name(.partial))]
    Syntax {
        partial: Option<String>,
        line: usize,
        message: String,
    },
    /// The metadata cannot be resolved (Picoschema, tools).
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The template failed while rendering (e.g. a missing partial).
    #[error("{0}")]
    Render(String),
    /// The render went over a limit (partial expansions or nesting, rendered size; see
    /// `engine::MAX_*`); the message names the partial chain it was in.
    #[error("{0}")]
    Limit(String),
}

/// The name the crate has always used for `Error`.
pub type RenderError = Error;

/// `template`, or `partial 'name'`, for a syntax error's message.
fn template_name(partial: &Option<String>) -> String {
    match partial {
        None => "template".into(),
        Some(name) => format!("partial '{name}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_argument_from_cli_json() {
        let data: DataArgument =
            serde_json::from_str(r#"{"input": {"x": 1}, "context": {"state": {}}}"#).unwrap();
        assert_eq!(data.input["x"], json!(1));
        assert!(data.messages.is_empty());
        assert_eq!(data.docs, None);
    }
}
