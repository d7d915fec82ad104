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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use metadata::MetadataError;
pub use picoschema::PicoschemaError;

/// Looks a name up; `None` when unknown.
type Resolver<T> = Arc<dyn Fn(&str) -> Option<T> + Send + Sync>;

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

/// A parsed `.prompt` file as the reference's `parseDocument` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// `ext`, `metadata`, `config`, the reserved frontmatter keys, and `raw`.
    pub metadata: Map<String, Value>,
    /// The template text that gets rendered.
    pub template: String,
}

/// `parseDocument(source)`: frontmatter into metadata, the rest into the template.
/// A frontmatter with a YAML error leaves the base metadata and the whole (trimmed)
/// source as the template, as the reference does.
pub fn parse_document(source: &str) -> ParsedDocument {
    let parsed = crate::syntax::parse(source);
    ParsedDocument {
        template: parsed.template_text(source).to_string(),
        ..ParsedDocument::from_parsed(&parsed)
    }
}

impl ParsedDocument {
    /// The metadata of a file already parsed, with no template text (a caller with a
    /// tree has the text in it).
    pub fn from_parsed(parsed: &crate::syntax::ParsedPrompt) -> ParsedDocument {
        let metadata = if parsed.split.frontmatter.is_some() && !parsed.frontmatter_failed {
            metadata::metadata_from_frontmatter(&parsed.frontmatter_json().unwrap_or(Value::Null))
        } else {
            metadata::base_metadata()
        };
        ParsedDocument {
            metadata,
            template: String::new(),
        }
    }
}

/// `(name, variant)` of a prompt file, as the reference's DirStore names it:
/// `greet.prompt` -> `("greet", None)`, `greet.formal.prompt` -> `("greet", Some("formal"))`,
/// `a.b.c.prompt` -> `("a.b", Some("c"))`. A partial's leading `_` is not part of its name.
pub fn prompt_name_and_variant(path: &Path) -> (String, Option<String>) {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy())
        .unwrap_or_default();
    let file = file.strip_prefix('_').unwrap_or(&file);
    let without_ext = file.strip_suffix(".prompt").unwrap_or(file);
    match without_ext.rsplit_once('.') {
        Some((name, variant)) => (name.to_string(), Some(variant.to_string())),
        None => (without_ext.to_string(), None),
    }
}

/// The file a partial name refers to from `folder`: `{{> name}}` is `_name.prompt`,
/// `{{> dir/name}}` is `dir/_name.prompt`. Names that would leave the folder are refused.
pub fn partial_path(folder: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\0') || name.contains('\\') || name.starts_with('/') {
        return None;
    }
    let mut segments: Vec<&str> = name.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return None;
    }
    let base = segments.pop()?;
    let mut path = folder.to_path_buf();
    path.extend(segments);
    path.push(format!("_{base}.prompt"));
    Some(path)
}

/// `partial_path`, with the file (symlinks followed) confined to the workspace `root`:
/// `None` for a name that cannot be a partial, an error for one outside the workspace.
pub fn confined_partial_path(
    root: &Path,
    folder: &Path,
    name: &str,
) -> Option<Result<PathBuf, crate::confine::OutsideWorkspace>> {
    let path = partial_path(folder, name)?;
    let written = partial_path(Path::new(""), name)?;
    Some(crate::confine::confine_named(root, folder, &written).map(|_| path))
}

/// What every prompt compiled by a renderer shares.
#[derive(Clone, Default)]
struct Registry {
    partials: HashMap<String, Arc<Template>>,
    schemas: HashMap<String, Value>,
    tools: HashMap<String, Value>,
    schema_resolver: Option<Resolver<Value>>,
    tool_resolver: Option<Resolver<Value>>,
    partial_resolver: Option<Resolver<String>>,
    default_model: Option<String>,
    model_configs: HashMap<String, Value>,
}

impl Registry {
    fn schema(&self, name: &str) -> Option<Value> {
        match self.schemas.get(name) {
            Some(s) if js::truthy(s) => Some(s.clone()),
            _ => self.schema_resolver.as_ref().and_then(|r| r(name)),
        }
    }

    /// `renderMetadata(parsed, options)`.
    fn resolve_metadata(
        &self,
        parsed: &Map<String, Value>,
        options: Option<&Value>,
    ) -> Result<Map<String, Value>, MetadataError> {
        let model = options
            .and_then(|o| o.get("model"))
            .filter(|m| js::truthy(m))
            .or_else(|| parsed.get("model").filter(|m| js::truthy(m)))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| self.default_model.clone());
        let mut base = Map::new();
        if let Some(config) = model.and_then(|m| self.model_configs.get(&m)) {
            base.insert("config".into(), config.clone());
        }
        let parsed = Value::Object(parsed.clone());
        let tool = |name: &str| self.tools.get(name).cloned();
        let tool_resolver = self
            .tool_resolver
            .as_ref()
            .map(|r| move |name: &str| r(name));
        let schema = |name: &str| self.schema(name);
        let resolvers = metadata::Resolvers {
            tool: &tool,
            tool_resolver: tool_resolver.as_ref().map(|r| r as metadata::Lookup<'_>),
            schema: &schema,
        };
        metadata::resolve_metadata(base, &[Some(&parsed), options], &resolvers)
    }
}

/// Compiles and renders prompts with a set of partials, schemas and tools
/// (the reference's `Dotprompt` class). Cheap to clone.
#[derive(Clone, Default)]
pub struct Renderer {
    registry: Arc<Registry>,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut partials: Vec<&String> = self.registry.partials.keys().collect();
        partials.sort();
        f.debug_struct("Renderer")
            .field("partials", &partials)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    pub fn new() -> Renderer {
        Renderer::default()
    }

    /// A renderer for the prompt file at `path`: `{{> name}}` reads `_name.prompt`
    /// from the file's folder (the whole file, frontmatter included, as the
    /// reference's DirStore and Genkit serve partials). A partial file outside the
    /// workspace (through a symlink) is not read.
    pub fn for_file(path: &Path) -> Renderer {
        let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let root = crate::confine::workspace_root(path);
        let mut renderer = Renderer::new();
        renderer.set_partial_resolver(move |name| {
            confined_partial_path(&root, &folder, name)?
                .ok()
                .and_then(|p| std::fs::read_to_string(p).ok())
        });
        renderer
    }

    fn registry(&mut self) -> &mut Registry {
        Arc::make_mut(&mut self.registry)
    }

    /// `definePartial(name, source)`. Defined partials win over the resolver.
    pub fn define_partial(&mut self, name: &str, source: &str) -> Result<(), RenderError> {
        let template = parse_template(source.to_string(), Some(name))?;
        self.registry()
            .partials
            .insert(name.to_string(), Arc::new(template));
        Ok(())
    }

    /// Registers a named schema for Picoschema (`schema: Foo`).
    pub fn define_schema(&mut self, name: &str, schema: Value) {
        self.registry().schemas.insert(name.to_string(), schema);
    }

    /// Registers a tool definition under `name`: `tools: [name]` becomes a `toolDefs` entry.
    pub fn define_tool(&mut self, name: &str, definition: Value) {
        self.registry().tools.insert(name.to_string(), definition);
    }

    pub fn set_partial_resolver(
        &mut self,
        f: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) {
        self.registry().partial_resolver = Some(Arc::new(f));
    }

    pub fn set_schema_resolver(
        &mut self,
        f: impl Fn(&str) -> Option<Value> + Send + Sync + 'static,
    ) {
        self.registry().schema_resolver = Some(Arc::new(f));
    }

    /// With a tool resolver, a tool it does not know is an error.
    pub fn set_tool_resolver(&mut self, f: impl Fn(&str) -> Option<Value> + Send + Sync + 'static) {
        self.registry().tool_resolver = Some(Arc::new(f));
    }

    pub fn set_default_model(&mut self, model: Option<String>) {
        self.registry().default_model = model;
    }

    /// Default `config` for prompts using `model`.
    pub fn define_model_config(&mut self, model: &str, config: Value) {
        self.registry()
            .model_configs
            .insert(model.to_string(), config);
    }

    /// Parses the prompt, its template and every partial it reaches.
    pub fn compile(&self, source: &str) -> Result<CompiledPrompt, RenderError> {
        self.compile_parsed(parse_document(source))
    }

    pub fn compile_parsed(
        &self,
        mut document: ParsedDocument,
    ) -> Result<CompiledPrompt, RenderError> {
        // The tree keeps the template's text: moved into it, not copied, and not kept
        // twice.
        let text = std::mem::take(&mut document.template);
        let template = parse_template(text, None)?;
        self.compile_tree(document, Arc::new(template))
    }

    /// `compile` of a file already parsed (`Analysis::compile`): its tree, with its
    /// syntax errors, is shared, not parsed again.
    pub fn compile_shared(
        &self,
        parsed: &crate::syntax::ParsedPrompt,
        template: &Arc<Template>,
        errors: &[TemplateError],
    ) -> Result<CompiledPrompt, RenderError> {
        refuse(template, errors, None)?;
        self.compile_tree(ParsedDocument::from_parsed(parsed), template.clone())
    }

    fn compile_tree(
        &self,
        document: ParsedDocument,
        template: Arc<Template>,
    ) -> Result<CompiledPrompt, RenderError> {
        let mut partials = Partials {
            registered: self.registry.partials.clone(),
            resolved: HashMap::new(),
        };
        self.resolve_partials(&template, &mut partials, &mut HashSet::new())?;
        let metadata = self
            .registry
            .resolve_metadata(&document.metadata, None)
            .map_err(RenderError::from);
        let rendered_metadata = metadata.as_ref().ok().map(|m| {
            let mut m = m.clone();
            m.shift_remove("input");
            Arc::new(m)
        });
        let default_vars = rendered_metadata
            .as_ref()
            .map(|m| data_vars(Value::Object(Map::clone(m)), &DataArgument::default()));
        Ok(CompiledPrompt {
            registry: self.registry.clone(),
            document,
            template,
            partials,
            metadata,
            rendered_metadata,
            default_vars,
        })
    }

    /// `resolvePartials`: the partials a template names, from the resolver, recursively.
    fn resolve_partials(
        &self,
        template: &Template,
        partials: &mut Partials,
        visited: &mut HashSet<String>,
    ) -> Result<(), RenderError> {
        let Some(resolver) = &self.registry.partial_resolver else {
            return Ok(());
        };
        for name in partial_names(template) {
            if partials.get(&name).is_some() || !visited.insert(name.clone()) {
                continue;
            }
            let Some(source) = resolver(&name).filter(|s| !s.is_empty()) else {
                continue;
            };
            let partial = parse_template(source, Some(&name))?;
            let partial = Arc::new(partial);
            partials.resolved.insert(name, partial.clone());
            self.resolve_partials(&partial, partials, visited)?;
        }
        Ok(())
    }

    /// `render(source, data, options)`: compile and render once.
    pub fn render(
        &self,
        source: &str,
        data: &DataArgument,
        options: Option<&Value>,
    ) -> Result<RenderedPrompt, RenderError> {
        self.compile(source)?.render(data, options)
    }

    /// `renderMetadata(source, options)`: the prompt's resolved metadata (with `input`
    /// and `raw`), without rendering the template.
    pub fn render_metadata(
        &self,
        source: &str,
        options: Option<&Value>,
    ) -> Result<Map<String, Value>, RenderError> {
        let document = parse_document(source);
        Ok(self
            .registry
            .resolve_metadata(&document.metadata, options)?)
    }
}

/// The partials a compiled prompt can reach: defined ones first, then resolved ones.
#[derive(Debug, Clone, Default)]
struct Partials {
    registered: HashMap<String, Arc<Template>>,
    resolved: HashMap<String, Arc<Template>>,
}

impl Partials {
    fn get(&self, name: &str) -> Option<&Arc<Template>> {
        self.registered
            .get(name)
            .or_else(|| self.resolved.get(name))
    }
}

/// A prompt ready to render any number of times.
#[derive(Clone)]
pub struct CompiledPrompt {
    registry: Arc<Registry>,
    document: ParsedDocument,
    /// Shared with the document's analysis when compiled from one.
    template: Arc<Template>,
    partials: Partials,
    /// Metadata resolved without render options (the common case), computed once.
    metadata: Result<Map<String, Value>, RenderError>,
    /// That metadata without `input`: what every render returns, shared, not copied.
    rendered_metadata: Option<Arc<Map<String, Value>>>,
    /// The `@` variables for data without context, history or docs (the common case).
    default_vars: Option<Map<String, Value>>,
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
fn data_vars(prompt: Value, data: &DataArgument) -> Map<String, Value> {
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

// ---------------------------------------------------------------------------------
// The template engine boundary: syntax::handlebars parses, render::engine renders.

use crate::syntax::handlebars::{Template, TemplateError};

/// Parses a template (of the partial `partial`, if given); any syntax error, or a helper
/// call outside Dotprompt's known helpers (`knownHelpersOnly`), fails the compile as it
/// does in handlebars.js.
fn parse_template(source: String, partial: Option<&str>) -> Result<Template, Error> {
    let (template, errors) = crate::syntax::handlebars::parse_template_owned(source, 0);
    refuse(&template, &errors, partial)?;
    Ok(template)
}

/// The reference's compile error for a template (of the partial `partial`, if given) with
/// syntax errors or an unknown helper, at its line within the template.
fn refuse(
    template: &Template,
    errors: &[TemplateError],
    partial: Option<&str>,
) -> Result<(), Error> {
    let source = template.source();
    let syntax = |at: usize, message: String| {
        let at = at.saturating_sub(template.base()).min(source.len());
        Error::Syntax {
            partial: partial.map(str::to_string),
            line: 1 + source[..at].matches('\n').count(),
            message,
        }
    };
    if let Some(e) = errors.first() {
        return Err(syntax(e.span.start, e.message.clone()));
    }
    if let Some((span, name)) = engine::unknown_helpers(template).into_iter().next() {
        return Err(syntax(
            span.start,
            format!("You specified knownHelpersOnly, but used the unknown helper {name}"),
        ));
    }
    Ok(())
}

fn partial_names(template: &Template) -> Vec<String> {
    template
        .partial_names()
        .into_iter()
        .map(str::to_string)
        .collect()
}

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
    use serde_json::json;

    #[test]
    fn names_and_variants() {
        let table = [
            ("greet.prompt", ("greet", None)),
            ("dir/greet.formal.prompt", ("greet", Some("formal"))),
            ("a.b.c.prompt", ("a.b", Some("c"))),
            ("_header.prompt", ("header", None)),
            ("_header.v2.prompt", ("header", Some("v2"))),
        ];
        for (path, (name, variant)) in table {
            assert_eq!(
                prompt_name_and_variant(Path::new(path)),
                (name.to_string(), variant.map(str::to_string)),
                "{path}"
            );
        }
    }

    #[test]
    fn partial_paths() {
        let folder = Path::new("/p");
        assert_eq!(
            partial_path(folder, "header"),
            Some(PathBuf::from("/p/_header.prompt"))
        );
        assert_eq!(
            partial_path(folder, "sub/x"),
            Some(PathBuf::from("/p/sub/_x.prompt"))
        );
        for bad in ["", "../x", "/etc/x", "a//b", "./x", "a\\b"] {
            assert_eq!(partial_path(folder, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn documents() {
        let doc = parse_document("---\nmodel: m\nfoo.bar: 1\n---\n\n Hello \n");
        assert_eq!(doc.template, "Hello");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {"foo": {"bar": 1}}, "metadata": {}, "config": {}, "model": "m",
                   "raw": {"model": "m", "foo.bar": 1}})
        );
        // No frontmatter: the template is the whole source, untrimmed.
        let doc = parse_document(" Hi \n");
        assert_eq!(doc.template, " Hi \n");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {}, "metadata": {}, "config": {}})
        );
        // A YAML error: base metadata, the whole source trimmed.
        let doc = parse_document("---\na: [1\n---\nHi\n");
        assert_eq!(doc.template, "---\na: [1\n---\nHi");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {}, "metadata": {}, "config": {}})
        );
    }

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
    fn data_argument_from_cli_json() {
        let data: DataArgument =
            serde_json::from_str(r#"{"input": {"x": 1}, "context": {"state": {}}}"#).unwrap();
        assert_eq!(data.input["x"], json!(1));
        assert!(data.messages.is_empty());
        assert_eq!(data.docs, None);
    }

    #[test]
    fn metadata_with_options_and_model_configs() {
        let mut r = Renderer::new();
        r.define_model_config("m", json!({"temperature": 1, "top_k": 3}));
        r.define_tool("search", json!({"name": "search"}));
        let src = "---\nmodel: m\nconfig: {temperature: 0}\ntools: [search, other]\n---\nHi";
        let meta = r
            .render_metadata(
                src,
                Some(&json!({"config": {"seed": 7}, "input": {"default": {"a": 1}}})),
            )
            .unwrap();
        assert_eq!(
            meta["config"],
            json!({"temperature": 0, "top_k": 3, "seed": 7})
        );
        assert_eq!(meta["tools"], json!(["other"]));
        assert_eq!(meta["toolDefs"], json!([{"name": "search"}]));
        assert_eq!(meta["input"], json!({"default": {"a": 1}}));

        let rendered = r
            .compile(src)
            .unwrap()
            .render(&DataArgument::default(), None)
            .unwrap();
        let out = rendered.to_json();
        assert_eq!(
            out["messages"],
            json!([{"role": "user", "content": [{"text": "Hi"}]}])
        );
        assert_eq!(out["config"], json!({"temperature": 0, "top_k": 3}));
        assert!(out.get("input").is_none());
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

    #[test]
    fn syntax_errors_keep_the_partial_and_the_line() {
        use std::error::Error as _;
        let renderer = Renderer::new();
        let error = renderer
            .compile("---\nmodel: m\n---\nHi\n{{#if x}}\n")
            .err()
            .unwrap();
        let Error::Syntax {
            partial: None,
            line,
            message,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            error.to_string(),
            format!("template: line {line}: {message}")
        );
        assert!(error.source().is_none());
        let mut renderer = Renderer::new();
        let error = renderer.define_partial("p", "a\n{{nope x}}").unwrap_err();
        assert!(
            matches!(&error, Error::Syntax { partial: Some(p), line: 2, .. } if p == "p"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "partial 'p': line 2: You specified knownHelpersOnly, but used the unknown helper nope"
        );
    }
}
