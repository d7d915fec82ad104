//! Tier-1 checks: deterministic, fast, no model calls. Each check module adds plain
//! `Diagnostic`s (code, severity, byte range, message, optional fix); the CLI and the
//! language server only translate them.

mod budget;
mod dataset;
mod demos;
mod dialect;
pub(crate) mod frontmatter;
mod naming;
mod secrets;
pub(crate) mod template;
pub(crate) mod variables;

pub use crate::problem::did_you_mean;
/// The checks see the workspace only through this interface.
pub use crate::workspace::{Disk, Workspace};
pub use secrets::masked_source;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::Analysis;
use crate::confine::OutsideWorkspace;
use crate::syntax::{ParsedPrompt, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable kebab-case code, e.g. `unknown-key`.
    pub code: &'static str,
    pub severity: Severity,
    /// Byte range in the checked file.
    pub span: Span,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl From<crate::problem::Problem> for Diagnostic {
    fn from(p: crate::problem::Problem) -> Diagnostic {
        let d = match p.level {
            crate::problem::Level::Error => Diagnostic::error(p.code, p.span, p.message),
            crate::problem::Level::Warning => Diagnostic::warning(p.code, p.span, p.message),
        };
        match p.suggestion {
            Some(s) => d.suggest(Some(&s.replacement), s.verb, p.span),
            None => d,
        }
    }
}

/// A suggested edit that resolves the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub span: Span,
    pub new_text: String,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            span,
            message: message.into(),
            fix: None,
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Warning,
            span,
            message: message.into(),
            fix: None,
        }
    }

    pub fn info(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Info,
            span,
            message: message.into(),
            fix: None,
        }
    }

    /// With a suggestion: "; did you mean `X`?" and a fix replacing `span` with X.
    pub fn suggest(mut self, replacement: Option<&str>, verb: &str, span: Span) -> Diagnostic {
        if let Some(s) = replacement {
            self.message.push_str(&format!("; did you mean `{s}`?"));
            self = self.with_fix(format!("{verb} to `{s}`"), span, s);
        }
        self
    }

    pub fn with_fix(
        mut self,
        title: impl Into<String>,
        span: Span,
        new_text: impl Into<String>,
    ) -> Diagnostic {
        self.fix = Some(Fix {
            title: title.into(),
            edits: vec![Edit {
                span,
                new_text: new_text.into(),
            }],
        });
        self
    }
}

/// Everything a check may look at for one file: its analysis, and the workspace around
/// it.
pub struct CheckInput<'a> {
    pub analysis: &'a Analysis,
    pub workspace: &'a dyn Workspace,
}

impl<'a> CheckInput<'a> {
    pub fn new(analysis: &'a Analysis, workspace: &'a dyn Workspace) -> CheckInput<'a> {
        CheckInput {
            analysis,
            workspace,
        }
    }

    /// The file's text.
    pub fn source(&self) -> &'a str {
        self.analysis.source()
    }

    /// The file's path; `None` for unsaved text (then relative paths are not resolved).
    pub fn path(&self) -> Option<&'a Path> {
        self.analysis.path()
    }

    pub fn parsed(&self) -> &'a ParsedPrompt {
        self.analysis.parsed()
    }

    /// The workspace root of the checked file (`None` for unsaved text).
    pub fn root(&self) -> Option<PathBuf> {
        self.analysis.root()
    }

    /// `relative`, a path the file names, resolved against the folder of the checked
    /// file; an error when it leads outside the workspace (through `..`, an absolute
    /// path or a symlink).
    pub fn resolve(&self, relative: &str) -> Option<Result<PathBuf, OutsideWorkspace>> {
        self.analysis.resolve(relative)
    }

    /// The file `{{> name}}` reads from `folder` (`None` for a name that cannot be a
    /// partial); an error when it leads outside the workspace.
    pub fn partial_in(
        &self,
        folder: &Path,
        name: &str,
    ) -> Option<Result<PathBuf, OutsideWorkspace>> {
        self.analysis.partial_in(folder, name)
    }
}

/// Runs every tier-1 check on one file's text.
pub fn check(source: &str, path: Option<&Path>, workspace: &dyn Workspace) -> Vec<Diagnostic> {
    check_parsed(&CheckInput::new(&Analysis::new(source, path), workspace))
}

pub fn check_parsed(input: &CheckInput) -> Vec<Diagnostic> {
    check_parsed_with_syntax(input).0
}

/// `check_parsed`, and the codes of the template's Handlebars syntax errors among the
/// diagnostics (what `eval` stops on before any call), from the same parse.
pub fn check_parsed_with_syntax(input: &CheckInput) -> (Vec<Diagnostic>, Vec<&'static str>) {
    let mut out: Vec<Diagnostic> = input
        .parsed()
        .errors
        .iter()
        .map(|e| Diagnostic::error(e.code, e.span, e.message.clone()))
        .collect();
    frontmatter::check(input, &mut out);
    let analysis = input.analysis;
    out.extend(
        analysis
            .schema_problems()
            .iter()
            .cloned()
            .map(Diagnostic::from),
    );
    let schemas = analysis.schemas();
    let dataset = dataset::check(input, schemas, &mut out);
    let (template, template_errors) = (analysis.template(), analysis.template_errors());
    template::check(input, template, template_errors, &mut out);
    demos::check(input, template, schemas, dataset.as_ref(), &mut out);
    variables::check(input, template, schemas, dataset.as_ref(), &mut out);
    budget::check(input, dataset.as_ref(), &mut out);
    naming::check(input, &mut out);
    secrets::check(input, &mut out);
    dialect::check(input, &mut out);
    drop_model_aliases(input, &mut out);
    secrets::mask_quotes(input.source(), &mut out);
    out.sort_by_key(|d| (d.span.start, d.span.end, d.severity));
    out.dedup();
    (out, template_errors.iter().map(|e| e.code).collect())
}

/// A model written as an alias from the workspace's `promptls.toml` (`[models.aliases]`)
/// is not a misspelt model name. The file is read only when there is such a warning.
fn drop_model_aliases(input: &CheckInput, out: &mut Vec<Diagnostic>) {
    if !out.iter().any(|d| d.code == "model-name") {
        return;
    }
    let Some(path) = input.path() else { return };
    let Some(file) = input.workspace.config_file(path) else {
        return;
    };
    out.retain(|d| {
        let written = input
            .source()
            .get(d.span.start..d.span.end)
            .unwrap_or("")
            .trim_matches(|c| c == '"' || c == '\'');
        d.code != "model-name" || !file.models.aliases.contains_key(written)
    });
}

#[cfg(test)]
pub(crate) mod testing {
    //! `check_codes("...")`: data-driven tests over whole files.
    use super::*;

    pub struct NoFiles;
    impl Workspace for NoFiles {
        fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                path.display().to_string(),
            ))
        }
    }

    /// Each diagnostic as `code@text-under-span: message`, in file order.
    pub fn render(source: &str) -> Vec<String> {
        check(source, None, &NoFiles)
            .into_iter()
            .map(|d| {
                format!(
                    "{}@{}: {}",
                    d.code,
                    &source[d.span.start..d.span.end],
                    d.message
                )
            })
            .collect()
    }

    pub fn codes(source: &str) -> Vec<&'static str> {
        check(source, None, &NoFiles)
            .into_iter()
            .map(|d| d.code)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["model", "config", "input", "output"];
        assert_eq!(did_you_mean("modle", keys), Some("model"));
        assert_eq!(did_you_mean("Config", keys), Some("config"));
        assert_eq!(did_you_mean("ouptut", keys), Some("output"));
        assert_eq!(did_you_mean("temperature", keys), None);
    }
}
