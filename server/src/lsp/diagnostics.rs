//! Tier-1 diagnostics for the editor: run the checks on a snapshot, translate to LSP with
//! the user's severity settings, publish only if the document has not moved on.

use ropey::Rope;
use tower_lsp_server::ls_types::{self as lsp, NumberOrString};

use super::config::{Config, SeverityOverride};
use super::position::{self, Encoding};
use promptls_core::analysis::Analysis;
use promptls_core::check::{self, CheckInput, Severity, Workspace};

/// The result of checking one file: its diagnostics, the files it depends on, and the
/// bad rows of its dataset (shown in the dataset file itself).
pub struct Checked {
    pub diagnostics: Vec<check::Diagnostic>,
    pub dependencies: Vec<std::path::PathBuf>,
    pub dataset: Option<(std::path::PathBuf, Vec<promptls_core::ide::DatasetProblem>)>,
}

pub fn run(analysis: &Analysis, workspace: &dyn Workspace) -> Checked {
    let input = CheckInput::new(analysis, workspace);
    let diagnostics = check::check_parsed(&input);
    // Reading the dataset's bad rows parses it again: only when the check found some.
    let dataset = if diagnostics.iter().any(|d| d.code == "dataset-invalid") {
        promptls_core::ide::dataset_problems(&input)
    } else {
        promptls_core::ide::dataset_file(&input).map(|path| (path, Vec::new()))
    };
    Checked {
        diagnostics,
        dependencies: analysis.dependencies(workspace),
        dataset,
    }
}

/// Whether the user's settings keep this diagnostic (disabled codes; model aliases are
/// not misspelt model names).
pub fn keep(d: &check::Diagnostic, text: &str, config: &Config) -> bool {
    if config.checks.disabled.contains(d.code) {
        return false;
    }
    if d.code == "model-name" {
        let written = text
            .get(d.span.start..d.span.end)
            .unwrap_or("")
            .trim_matches(|c| c == '"' || c == '\'');
        if config.models.aliases.contains_key(written) {
            return false;
        }
    }
    true
}

pub fn to_lsp(
    diagnostics: &[check::Diagnostic],
    text: &str,
    rope: &Rope,
    encoding: Encoding,
    config: &Config,
) -> Vec<lsp::Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| keep(d, text, config))
        .map(|d| one_to_lsp(d, rope, encoding, config))
        .collect()
}

pub fn one_to_lsp(
    d: &check::Diagnostic,
    rope: &Rope,
    encoding: Encoding,
    config: &Config,
) -> lsp::Diagnostic {
    let severity = match config.checks.severity.get(d.code) {
        Some(SeverityOverride::Error) => lsp::DiagnosticSeverity::ERROR,
        Some(SeverityOverride::Warning) => lsp::DiagnosticSeverity::WARNING,
        Some(SeverityOverride::Info) => lsp::DiagnosticSeverity::INFORMATION,
        Some(SeverityOverride::Hint) => lsp::DiagnosticSeverity::HINT,
        None => match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
            Severity::Info => lsp::DiagnosticSeverity::INFORMATION,
        },
    };
    let tags = (d.code == "unused-variable").then(|| vec![lsp::DiagnosticTag::UNNECESSARY]);
    lsp::Diagnostic {
        range: position::to_range(rope, d.span, encoding),
        severity: Some(severity),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("promptls".to_string()),
        message: d.message.clone(),
        tags,
        ..Default::default()
    }
}

/// The one diagnostic of a document over `MAX_ANALYZED_BYTES`, over its first line: what
/// is off and why, instead of its checks.
pub fn too_large(len: usize, rope: &Rope, encoding: Encoding) -> lsp::Diagnostic {
    // The first line without its line break.
    let line = rope.line(0);
    let mut content = line.len_bytes();
    while content > 0 && matches!(line.byte(content - 1), b'\n' | b'\r') {
        content -= 1;
    }
    let end = position::to_position(rope, content, encoding);
    lsp::Diagnostic {
        range: lsp::Range::new(lsp::Position::new(0, 0), end),
        severity: Some(lsp::DiagnosticSeverity::WARNING),
        code: Some(NumberOrString::String("document-too-large".into())),
        source: Some("promptls".into()),
        message: format!(
            "this document is {:.1} MB, over the {} MB that promptls analyzes in the editor: \
             diagnostics, folding, semantic highlighting, hover, completion, go to definition, \
             symbols, links, code actions and code lenses are off for it \
             (`promptls check FILE` still checks it)",
            len as f64 / 1e6,
            super::document::MAX_ANALYZED_BYTES / 1_000_000
        ),
        ..Default::default()
    }
}

/// Diagnostics for the dataset file: one per bad row, over that whole line.
pub fn dataset_to_lsp(
    problems: &[promptls_core::ide::DatasetProblem],
    text: &str,
) -> Vec<lsp::Diagnostic> {
    let lines: Vec<&str> = text.lines().collect();
    problems
        .iter()
        .map(|p| {
            let line = p.line.saturating_sub(1);
            // The whole line, in UTF-16 units (a safe end for either encoding: clients
            // clamp a column past the end of the line).
            let width = lines.get(line).map_or(0, |l| l.encode_utf16().count());
            lsp::Diagnostic {
                range: lsp::Range::new(
                    lsp::Position::new(line as u32, 0),
                    lsp::Position::new(line as u32, width as u32),
                ),
                severity: Some(lsp::DiagnosticSeverity::ERROR),
                code: Some(NumberOrString::String("dataset-row".into())),
                source: Some("promptls".into()),
                message: p.message.clone(),
                ..Default::default()
            }
        })
        .collect()
}
