//! One document, read once: its frontmatter and template trees, its `promptls.*`
//! settings, its schemas, and the files it depends on. The checks, the editor features,
//! the renderer, the evaluation and the optimizers all take an `Analysis` rather than
//! parsing the text again, and the language server keeps one per document version.

mod schema;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use schema::Schemas;

use crate::confine::OutsideWorkspace;
use crate::problem::Problem;
use crate::render::{CompiledPrompt, RenderError, Renderer};
use crate::settings::PromptSettings;
use crate::syntax::handlebars::{self, Template, TemplateError};
use crate::syntax::{self, ParsedPrompt};
use crate::workspace::Workspace;

pub struct Analysis {
    source: Arc<str>,
    /// `None` for unsaved text (then relative paths are not resolved).
    path: Option<PathBuf>,
    parsed: ParsedPrompt,
    /// Shared with the renderer's compiled prompt, which renders this same tree.
    template: Arc<Template>,
    template_errors: Vec<TemplateError>,
    settings: PromptSettings,
    schemas: Schemas,
    schema_problems: Vec<Problem>,
}

impl Analysis {
    /// Reads `source`, the text of the file at `path`.
    pub fn new(source: &str, path: Option<&Path>) -> Analysis {
        Analysis::shared(source.into(), path)
    }

    /// `new` for a text already shared (an open editor buffer): kept, not copied.
    pub fn shared(source: Arc<str>, path: Option<&Path>) -> Analysis {
        let parsed = syntax::parse(&source);
        let span = parsed.template_span;
        let (template, template_errors) = handlebars::parse_template_shared(&source, span);
        let settings = PromptSettings::read(parsed.frontmatter.as_ref());
        let mut schema_problems = Vec::new();
        let schemas = schema::read(parsed.frontmatter.as_ref(), &mut schema_problems);
        Analysis {
            path: path.map(Path::to_path_buf),
            parsed,
            template: Arc::new(template),
            template_errors,
            settings,
            schemas,
            schema_problems,
            source,
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text, shared.
    pub fn shared_source(&self) -> &Arc<str> {
        &self.source
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn parsed(&self) -> &ParsedPrompt {
        &self.parsed
    }

    /// The template's tree; its spans are offsets into the whole file.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The prompt compiled by `renderer` from this analysis's tree (not parsed again).
    pub fn compile(&self, renderer: &Renderer) -> Result<CompiledPrompt, RenderError> {
        renderer.compile_shared(&self.parsed, &self.template, &self.template_errors)
    }

    /// The template's syntax errors (spans in the file).
    pub fn template_errors(&self) -> &[TemplateError] {
        &self.template_errors
    }

    pub fn settings(&self) -> &PromptSettings {
        &self.settings
    }

    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// What is wrong with `input.schema` and `output.schema`.
    pub fn schema_problems(&self) -> &[Problem] {
        &self.schema_problems
    }

    /// The models the prompt calls or names: its `model`, its teacher and its judge.
    pub fn models(&self) -> Vec<&str> {
        let written = self
            .parsed
            .frontmatter
            .as_ref()
            .and_then(|fm| fm.get("model"))
            .and_then(|m| m.as_str());
        let settings = &self.settings;
        let teacher = crate::settings::value(&settings.teacher).map(String::as_str);
        let judge = crate::settings::value(&settings.judge).and_then(|j| j.model.as_deref());
        [written, teacher, judge].into_iter().flatten().collect()
    }

    /// The workspace root of the file (`None` for unsaved text).
    pub fn root(&self) -> Option<PathBuf> {
        Some(crate::confine::workspace_root(self.path()?))
    }

    /// `relative`, a path the file names, resolved against the folder of the file; an
    /// error when it leads outside the workspace (through `..`, an absolute path or a
    /// symlink).
    pub fn resolve(&self, relative: &str) -> Option<Result<PathBuf, OutsideWorkspace>> {
        let dir = self.path()?.parent()?;
        let root = self.root()?;
        Some(crate::confine::confine_named(&root, dir, relative).map(|_| dir.join(relative)))
    }

    /// The file `{{> name}}` reads from `folder` (`None` for a name that cannot be a
    /// partial); an error when it leads outside the workspace.
    pub fn partial_in(
        &self,
        folder: &Path,
        name: &str,
    ) -> Option<Result<PathBuf, OutsideWorkspace>> {
        crate::render::confined_partial_path(&self.root()?, folder, name)
    }

    /// The `promptls.dataset` path as written, and resolved against the prompt's folder;
    /// `None` when it leads outside the workspace (the check reports that).
    pub fn dataset_path(&self) -> Option<(String, PathBuf)> {
        let written = self.settings.dataset_path()?.to_string();
        let resolved = self.resolve(&written)?.ok()?;
        Some((written, resolved))
    }

    /// The files whose change can change this file's diagnostics: its dataset, a
    /// variant's base (`name.variant.prompt` -> `name.prompt`), and its partials and
    /// theirs, missing ones included (creating one changes this file's diagnostics).
    pub fn dependencies(&self, workspace: &dyn Workspace) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Some((_, dataset)) = self.dataset_path() {
            out.push(dataset);
        }
        let Some(path) = self.path() else {
            return out;
        };
        if let (name, Some(_)) = crate::render::prompt_name_and_variant(path) {
            if let Some(dir) = path.parent() {
                out.push(dir.join(format!("{name}.prompt")));
            }
        }
        let Some(dir) = path.parent() else {
            return out;
        };
        let mut queue: Vec<PathBuf> = self
            .template
            .partial_names()
            .into_iter()
            .filter_map(|name| self.partial_in(dir, name)?.ok())
            .collect();
        let mut seen = HashSet::new();
        while let Some(file) = queue.pop() {
            if !seen.insert(file.clone()) {
                continue;
            }
            if let Ok(text) = workspace.read_to_string(&file) {
                let body = syntax::parse(&text);
                let (nested, _) = handlebars::parse_template(body.template_text(&text), 0);
                if let Some(folder) = file.parent() {
                    for name in nested.partial_names() {
                        if let Some(Ok(p)) = self.partial_in(folder, name) {
                            queue.push(p);
                        }
                    }
                }
            }
            out.push(file);
        }
        out.sort();
        out.dedup();
        out
    }
}
