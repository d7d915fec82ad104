//! An evaluation's failing rows: diagnostics on their lines of the dataset file, and the
//! hover on such a row (input, expected, output and why).

use std::path::{Path, PathBuf};

use serde_json::Value;
use tower_lsp_server::ls_types::*;

use crate::lsp::navigation::{path_of, uri_of};
use crate::lsp::state::{lock, DatasetSource, Shared};
use promptls_core::eval::run::{Report, RowResult};

/// Failing rows as diagnostics on their lines of the dataset file.
pub(super) async fn publish_rows(
    client: &tower_lsp_server::Client,
    state: &Shared,
    report: &Report,
) {
    let path = PathBuf::from(&report.dataset);
    let Some(uri) = uri_of(&path) else { return };
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || std::fs::read_to_string(&path).unwrap_or_default())
    };
    let text = read.await.unwrap_or_default();
    let diagnostics = row_diagnostics(report, &text);
    let send = lock(state).set_dataset_diagnostics(&uri, DatasetSource::Eval, diagnostics);
    if let Some(all) = send {
        client.publish_diagnostics(uri, all, None).await;
    }
}

fn shorten(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        text.to_string()
    } else {
        text.chars().take(most - 1).collect::<String>() + "…"
    }
}

/// What a failing row shows: score, input, expected, output, and why.
pub fn row_details(report: &Report, row: &RowResult) -> String {
    let mut out = match (&row.error, row.score) {
        (Some(e), _) => format!("row {} could not be evaluated: {e}", row.row),
        (None, Some(s)) => format!(
            "row {} failed: {} {s:.3} (a row passes at {})",
            row.row, report.metric, report.threshold
        ),
        (None, None) => format!("row {} has no score", row.row),
    };
    out.push_str(&format!(
        "\ninput: {}",
        shorten(&Value::Object(row.input.clone()).to_string(), 400)
    ));
    out.push_str(&format!("\nexpected: {}", shorten(&row.expected, 400)));
    if let Some(output) = &row.output {
        out.push_str(&format!("\noutput: {}", shorten(output, 400)));
    }
    for p in &row.problems {
        out.push_str(&format!("\n{p}"));
    }
    if let Some(reason) = &row.reason {
        out.push_str(&format!("\njudge: {reason}"));
    }
    out
}

fn row_diagnostics(report: &Report, text: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = text.lines().collect();
    report
        .per_row
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            let line = r.line.saturating_sub(1);
            let width = lines.get(line).map_or(0, |l| l.encode_utf16().count());
            Diagnostic {
                range: Range::new(
                    Position::new(line as u32, 0),
                    Position::new(line as u32, width as u32),
                ),
                severity: Some(if r.error.is_some() {
                    DiagnosticSeverity::ERROR
                } else {
                    DiagnosticSeverity::WARNING
                }),
                code: Some(NumberOrString::String("eval-row".into())),
                source: Some("promptls eval".into()),
                message: row_details(report, r),
                ..Default::default()
            }
        })
        .collect()
}

/// The hover on a row of a dataset file that an evaluation found failing.
pub fn dataset_hover(state: &Shared, uri: &Uri, position: Position) -> Option<Hover> {
    let path = path_of(uri)?;
    let st = lock(state);
    let (report, row) = st
        .evals
        .values()
        .filter_map(|e| e.last.as_ref())
        .find_map(|report| {
            (Path::new(&report.dataset) == path)
                .then(|| {
                    report
                        .per_row
                        .iter()
                        .find(|r| r.line == position.line as usize + 1)
                })
                .flatten()
                .map(|row| (report.clone(), row.clone()))
        })?;
    let mut text = format!(
        "**{}** on {} — {}\n\n```text\n{}\n```",
        Path::new(&report.file)
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
        report.model,
        match row.score {
            Some(s) => format!("{} {s:.3}", report.metric),
            None => "no score".into(),
        },
        row_details(&report, &row)
    );
    if row.cached {
        text.push_str("\n\n(answer from the cache)");
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: None,
    })
}
