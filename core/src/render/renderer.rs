//! The `Renderer` (the reference's `Dotprompt` class): the partials, schemas, tools and
//! model configs shared by every prompt it compiles, and compiling a prompt with every
//! partial it reaches.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::compiled::{data_vars, CompiledPrompt, Partials, RenderedPrompt};
use super::document::{confined_partial_path, parse_document, ParsedDocument};
use super::{engine, js, metadata, DataArgument, Error, MetadataError, RenderError};
use crate::syntax::handlebars::{Template, TemplateError};

/// Looks a name up; `None` when unknown.
type Resolver<T> = Arc<dyn Fn(&str) -> Option<T> + Send + Sync>;

/// What every prompt compiled by a renderer shares.
#[derive(Clone, Default)]
pub(super) struct Registry {
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
    pub(super) fn resolve_metadata(
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

// The template engine boundary, compiling side: syntax::handlebars parses.

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
