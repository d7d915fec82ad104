//! A compiled prompt, rendered any number of times, and what a render gives.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::document::ParsedDocument;
use super::renderer::Registry;
use super::{engine, js, messages, DataArgument, RenderError};
use crate::syntax::handlebars::Template;

/// The partials a compiled prompt can reach: defined ones first, then resolved ones.
#[derive(Debug, Clone, Default)]
pub(super) struct Partials {
    pub(super) registered: HashMap<String, Arc<Template>>,
    pub(super) resolved: HashMap<String, Arc<Template>>,
}

impl Partials {
    pub(super) fn get(&self, name: &str) -> Option<&Arc<Template>> {
        self.registered
            .get(name)
            .or_else(|| self.resolved.get(name))
    }
}

/// A prompt ready to render any number of times.
#[derive(Clone)]
pub struct CompiledPrompt {
    pub(super) registry: Arc<Registry>,
    pub(super) document: ParsedDocument,
    /// Shared with the document's analysis when compiled from one.
    pub(super) template: Arc<Template>,
    pub(super) partials: Partials,
    /// Metadata resolved without render options (the common case), computed once.
    pub(super) metadata: Result<Map<String, Value>, RenderError>,
    /// That metadata without `input`: what every render returns, shared, not copied.
    pub(super) rendered_metadata: Option<Arc<Map<String, Value>>>,
    /// The `@` variables for data without context, history or docs (the common case).
    pub(super) default_vars: Option<Map<String, Value>>,
}

impl fmt::Debug for CompiledPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPrompt")
            .field("document", &self.document)
            .finish_non_exhaustive()
    }
}

impl CompiledPrompt {
    /// The parsed file's frontmatter metadata (unresolved). Its `template` is empty: the
    /// text moved into the tree.
    pub fn document(&self) -> &ParsedDocument {
        &self.document
    }

    /// The resolved metadata (`renderMetadata`), with `options` merged in when given.
    pub fn render_metadata(
        &self,
        options: Option<&Value>,
    ) -> Result<Map<String, Value>, RenderError> {
        match options {
            None => self.metadata.clone(),
            Some(o) => Ok(self
                .registry
                .resolve_metadata(&self.document.metadata, Some(o))?),
        }
    }

    /// Renders the template with `data`. `options` is metadata merged over the file's
    /// (`config` one level deep); its `input.default` supplies missing input values.
    pub fn render(
        &self,
        data: &DataArgument,
        options: Option<&Value>,
    ) -> Result<RenderedPrompt, RenderError> {
        self.render_input(&copied_input(data, options), data, options)
    }

    /// `render` for data the caller no longer needs: the input moves into the render
    /// instead of being copied (an evaluation loop renders each row once).
    pub fn render_owned(
        &self,
        mut data: DataArgument,
        options: Option<&Value>,
    ) -> Result<RenderedPrompt, RenderError> {
        let input = std::mem::take(&mut data.input);
        let input = match options {
            None => Value::Object(input),
            Some(_) => merged_input(options, input),
        };
        self.render_input(&input, &data, options)
    }

    /// `render` for a prompt rendered once: the tree is freed before the output becomes
    /// messages, so a large prompt's tree and its messages are never held together.
    pub fn render_once(
        self,
        data: &DataArgument,
        options: Option<&Value>,
    ) -> Result<RenderedPrompt, RenderError> {
        let (metadata, text) = self.render_text(&copied_input(data, options), data, options)?;
        drop(self);
        Ok(RenderedPrompt::from_text(metadata, &text, data))
    }

    /// Renders with `input` as the root context; `data.input` is not read.
    fn render_input(
        &self,
        input: &Value,
        data: &DataArgument,
        options: Option<&Value>,
    ) -> Result<RenderedPrompt, RenderError> {
        let (metadata, text) = self.render_text(input, data, options)?;
        Ok(RenderedPrompt::from_text(metadata, &text, data))
    }

    /// The resolved metadata and the rendered text (before it is split into messages).
    fn render_text(
        &self,
        input: &Value,
        data: &DataArgument,
        options: Option<&Value>,
    ) -> Result<(Arc<Map<String, Value>>, String), RenderError> {
        let metadata = match (options, &self.rendered_metadata) {
            (None, Some(m)) => m.clone(),
            (None, None) => {
                return Err(self
                    .metadata
                    .clone()
                    .expect_err("no metadata means an error"))
            }
            (Some(o), _) => {
                let mut metadata = self
                    .registry
                    .resolve_metadata(&self.document.metadata, Some(o))?;
                metadata.shift_remove("input");
                Arc::new(metadata)
            }
        };

        let plain = options.is_none()
            && data.context.is_empty()
            && data.messages.is_empty()
            && data.docs.is_none();
        let built;
        let vars = match (&self.default_vars, plain) {
            (Some(vars), true) => vars,
            _ => {
                built = data_vars(Value::Object(Map::clone(&metadata)), data);
                &built
            }
        };
        let text = render_template(&self.template, input, vars, &self.partials)?;
        Ok((metadata, text))
    }
}

/// `{ ...(options?.input?.default || {}), ...input }`
fn merged_input(
    options: Option<&Value>,
    input: impl IntoIterator<Item = (String, Value)>,
) -> Value {
    let mut merged = match options
        .and_then(|o| o.get("input"))
        .and_then(|i| i.get("default"))
    {
        Some(d) if js::truthy(d) => js::spread(d),
        _ => Map::new(),
    };
    merged.extend(input);
    Value::Object(merged)
}

/// The `@` variables: `{ metadata: { prompt, docs, messages }, ...data.context }`.
pub(super) fn data_vars(prompt: Value, data: &DataArgument) -> Map<String, Value> {
    let mut metadata_var = Map::new();
    metadata_var.insert("prompt".into(), prompt);
    if let Some(docs) = &data.docs {
        metadata_var.insert("docs".into(), Value::Array(docs.clone()));
    }
    metadata_var.insert("messages".into(), Value::Array(data.messages.clone()));
    let mut vars = Map::new();
    vars.insert("metadata".into(), Value::Object(metadata_var));
    for (k, v) in &data.context {
        vars.insert(k.clone(), v.clone());
    }
    vars
}

/// A rendered prompt: the resolved metadata (without `input`) and the messages.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    /// Shared between renders of one compiled prompt.
    pub metadata: Arc<Map<String, Value>>,
    /// The messages; `Message::to_json` gives the reference's `{role, content, metadata?}`.
    pub messages: Vec<messages::Message>,
}

/// The input of `data`, copied, with the render options' defaults under it.
fn copied_input(data: &DataArgument, options: Option<&Value>) -> Value {
    merged_input(
        options,
        data.input.iter().map(|(k, v)| (k.clone(), v.clone())),
    )
}

impl RenderedPrompt {
    /// The prompt whose template rendered `text`: split into messages, with the caller's
    /// history placed.
    fn from_text(metadata: Arc<Map<String, Value>>, text: &str, data: &DataArgument) -> Self {
        let messages = messages::to_message_list(text, Some(&data.messages));
        RenderedPrompt { metadata, messages }
    }

    /// The reference's rendered-prompt JSON: the metadata fields and `messages`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::clone(&self.metadata);
        let messages = self
            .messages
            .iter()
            .map(messages::Message::to_json)
            .collect();
        out.insert("messages".into(), Value::Array(messages));
        Value::Object(out)
    }
}

impl Serialize for RenderedPrompt {
    /// The JSON `to_json` builds, written as it goes: the metadata's fields in order,
    /// `messages` in its place if the metadata has one, else last.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        let mut written = false;
        for (key, value) in self.metadata.iter() {
            if key == "messages" {
                map.serialize_entry(key, &self.messages)?;
                written = true;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        if !written {
            map.serialize_entry("messages", &self.messages)?;
        }
        map.end()
    }
}

// The template engine boundary, rendering side: render::engine renders.

impl engine::PartialLookup for Partials {
    fn partial(&self, name: &str) -> Option<&Template> {
        self.get(name).map(|t| t.as_ref())
    }
}

fn render_template(
    template: &Template,
    input: &Value,
    data_vars: &Map<String, Value>,
    partials: &Partials,
) -> Result<String, RenderError> {
    engine::render(template, input, data_vars, partials).map_err(|e| {
        if e.limit {
            RenderError::Limit(e.message)
        } else {
            RenderError::Render(e.message)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Renderer;
    use serde_json::json;

    #[test]
    fn render_owned_is_render() {
        let compiled = Renderer::new()
            .compile("---\ninput:\n  default: {b: 2}\n---\n{{a}} {{b}} {{@state.x}}")
            .unwrap();
        let data: DataArgument =
            serde_json::from_str(r#"{"input": {"a": 1}, "context": {"state": {"x": 3}}}"#).unwrap();
        for options in [None, Some(json!({"input": {"default": {"b": 5}}}))] {
            let by_ref = compiled.render(&data, options.as_ref()).unwrap();
            let owned = compiled
                .render_owned(data.clone(), options.as_ref())
                .unwrap();
            assert_eq!(by_ref, owned);
        }
        let text = compiled.render(&data, None).unwrap().messages[0].text();
        assert_eq!(text, "1  3");
    }

    #[test]
    fn the_streamed_json_is_the_built_json() {
        let r = Renderer::new();
        let src = "---\nmodel: m\nconfig:\n  temperature: 0\n---\n{{role \"system\"}}Be brief.\
            {{role \"user\"}}Look: {{media url=\"http://x/a.png\" contentType=\"image/png\"}}\
            {{media url=\"http://x/b.png\"}}{{section \"output\"}}{{history}}{{role \"model\"}}ok";
        let history = vec![json!({"role": "user", "content": [{"text": "earlier"}]})];
        let data = DataArgument {
            messages: history,
            ..DataArgument::default()
        };
        let rendered = r.compile(src).unwrap().render(&data, None).unwrap();
        let built = serde_json::to_string_pretty(&rendered.to_json()).unwrap();
        let streamed = serde_json::to_string_pretty(&rendered).unwrap();
        assert!(
            built.contains("contentType") && built.contains("pending"),
            "{built}"
        );
        assert_eq!(streamed, built);
    }

    #[test]
    fn schema_errors_surface_at_render() {
        let r = Renderer::new();
        let compiled = r
            .compile("---\noutput:\n  schema: Missing\n---\nHi")
            .unwrap();
        let err = compiled.render(&DataArgument::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output.schema: Picoschema: could not find schema with name 'Missing'"
        );
    }
}
