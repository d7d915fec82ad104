//! `promptls check [PATH...]`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use clap::Args;
use serde_json::json;

use super::{files, sarif, ReportFormat};
use promptls_core::analysis::Analysis;
use promptls_core::check::{self, CheckInput, Diagnostic, Disk, Severity};
use promptls_core::syntax::line_index::LineIndex;
use promptls_core::syntax::Span;

#[derive(Args)]
pub struct CheckArgs {
    /// Files or folders (searched recursively for *.prompt). Default: the current folder.
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: ReportFormat,
}

/// One checked file with its text (for snippets) and diagnostics.
pub struct FileReport {
    pub path: PathBuf,
    /// The text as checked (the analysis's own copy, kept for the output).
    pub source: Arc<str>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn run(args: CheckArgs) -> i32 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let files = match files::collect(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    // The keys of the workspaces checked (environment, `.env`, `promptls.toml`) are
    // masked in the output; a broken configuration is not this command's business.
    for path in &paths {
        let _ = promptls_core::config::Config::load(path);
    }
    let mut reports = Vec::with_capacity(files.len());
    for path in files {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return 2;
            }
        };
        let report = match files::decode(bytes) {
            Ok(source) => {
                // The analysis holds the text (moved, not copied) while the checks run.
                let analysis = Analysis::shared(source.into(), Some(&path));
                let diagnostics = check::check_parsed(&CheckInput::new(&analysis, &Disk));
                FileReport {
                    source: analysis.shared_source().clone(),
                    path,
                    diagnostics,
                }
            }
            Err(not_text) => FileReport {
                path,
                source: not_text.readable.into(),
                diagnostics: vec![Diagnostic::error(
                    "not-text",
                    Span::empty(not_text.offset),
                    not_text.message,
                )],
            },
        };
        reports.push(report);
    }
    let errors = count(&reports, Severity::Error);
    let out = match args.format {
        ReportFormat::Human => human(&reports),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&to_json(&reports)).expect("JSON serialises") + "\n"
        }
        ReportFormat::Sarif => {
            serde_json::to_string_pretty(&sarif::report(&reports)).expect("JSON serialises") + "\n"
        }
    };
    let out = promptls_core::secrets::redact(&out);
    if std::io::stdout().write_all(out.as_bytes()).is_err() {
        return 2;
    }
    if errors > 0 {
        1
    } else {
        0
    }
}

fn count(reports: &[FileReport], severity: Severity) -> usize {
    reports
        .iter()
        .flat_map(|r| &r.diagnostics)
        .filter(|d| d.severity == severity)
        .count()
}

fn human(reports: &[FileReport]) -> String {
    use std::io::IsTerminal;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for report in reports {
        let path = report.path.display().to_string();
        // Key literals found in the file are shown masked (CI logs keep this output).
        let source = check::masked_source(&report.source, &report.diagnostics);
        let index = LineIndex::new(&source);
        for d in &report.diagnostics {
            let level = match d.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
                Severity::Info => Level::NOTE,
            };
            let span = clamp(d.span, &report.source);
            let excerpt = Excerpt::around(&index, &source, span);
            let mut groups = vec![level.primary_title(d.message.as_str()).id(d.code).element(
                Snippet::source(&source[excerpt.start..excerpt.end])
                    .line_start(excerpt.first_line)
                    .path(path.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(excerpt.span)),
            )];
            if let Some(fix) = &d.fix {
                groups.push(Group::with_title(
                    Level::HELP.secondary_title(fix.title.as_str()),
                ));
            }
            out.push_str(&renderer.render(&groups));
            out.push_str("\n\n");
        }
    }
    let (e, w, i) = (
        count(reports, Severity::Error),
        count(reports, Severity::Warning),
        count(reports, Severity::Info),
    );
    let files = reports.len();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if e + w + i == 0 {
        out.push_str(&format!(
            "{} checked: no problems found\n",
            plural(files, "file")
        ));
    } else {
        out.push_str(&format!(
            "{} checked: {}, {}, {}\n",
            plural(files, "file"),
            plural(e, "error"),
            plural(w, "warning"),
            plural(i, "note")
        ));
    }
    out
}

/// The lines a snippet shows: those of the span, at most `EXCERPT_LINES` of them (a span
/// over more is shown on its first line). Handing the renderer the whole file for every
/// diagnostic made the human output quadratic: a 5 MB prompt with many problems ran
/// for most of an hour.
struct Excerpt {
    start: usize,
    end: usize,
    /// 1-based number of the first line shown.
    first_line: usize,
    /// The annotated span, relative to `start`.
    span: std::ops::Range<usize>,
}

const EXCERPT_LINES: usize = 12;

impl Excerpt {
    fn around(index: &LineIndex, source: &str, span: Span) -> Excerpt {
        let first = index.line_col(span.start).line;
        let mut last = index.line_col(span.end).line;
        let mut end_offset = span.end;
        if last - first >= EXCERPT_LINES {
            last = first;
            end_offset = line_end(index, source, first);
        }
        let start = index.line_start(first);
        let end = line_end(index, source, last);
        Excerpt {
            start,
            end,
            first_line: first + 1,
            span: span.start - start..end_offset.min(end).max(span.start) - start,
        }
    }
}

/// The offset of the end of `line` (before its newline).
fn line_end(index: &LineIndex, source: &str, line: usize) -> usize {
    if line + 1 < index.line_count() {
        index.line_start(line + 1) - 1
    } else {
        source.len()
    }
}

/// A span the snippet renderer accepts: inside the text and on character boundaries.
pub(super) fn clamp(span: Span, source: &str) -> Span {
    let fix = |mut at: usize| {
        at = at.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    Span::new(fix(span.start), fix(span.end).max(fix(span.start)))
}

fn to_json(reports: &[FileReport]) -> serde_json::Value {
    let mut diagnostics = Vec::new();
    for report in reports {
        let index = LineIndex::new(&report.source);
        for d in &report.diagnostics {
            let span = clamp(d.span, &report.source);
            let start = index.line_col_chars(&report.source, span.start);
            let end = index.line_col_chars(&report.source, span.end);
            diagnostics.push(json!({
                "path": report.path.display().to_string(),
                "code": d.code,
                "severity": d.severity,
                "message": d.message,
                "start": {"line": start.line + 1, "column": start.col + 1},
                "end": {"line": end.line + 1, "column": end.col + 1},
                "span": {"start": span.start, "end": span.end},
                "fix": d.fix,
            }));
        }
    }
    json!({
        "files": reports.len(),
        "errors": count(reports, Severity::Error),
        "warnings": count(reports, Severity::Warning),
        "notes": count(reports, Severity::Info),
        "diagnostics": diagnostics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_holds_the_lines_of_its_span_only() {
        let source: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        let index = LineIndex::new(&source);
        let at = |line: usize| index.line_start(line - 1);
        // A span on line 3: that line alone, numbered 3.
        let e = Excerpt::around(&index, &source, Span::new(at(3), at(3) + 4));
        assert_eq!(&source[e.start..e.end], "line 3");
        assert_eq!((e.first_line, e.span.clone()), (3, 0..4));
        // Lines 5 to 7: the three lines.
        let e = Excerpt::around(&index, &source, Span::new(at(5) + 2, at(7) + 3));
        assert_eq!(&source[e.start..e.end], "line 5\nline 6\nline 7");
        assert_eq!(&source[e.start..e.end][e.span.clone()], "ne 5\nline 6\nlin");
        // A span over 30 lines is shown on its first line.
        let e = Excerpt::around(&index, &source, Span::new(at(2), at(32)));
        assert_eq!(&source[e.start..e.end], "line 2");
        assert_eq!(e.span, 0..6);
        // The last line, without a newline after it.
        let short = LineIndex::new("a\nbc");
        let e = Excerpt::around(&short, "a\nbc", Span::new(2, 4));
        assert_eq!((e.start, e.end, e.first_line), (2, 4, 2));
    }
}
