//! SARIF 2.1.0 output, in the shape GitHub code scanning ingests.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::check::{clamp, FileReport};
use promptls_core::check::Severity;
use promptls_core::syntax::line_index::LineIndex;

pub fn report(reports: &[FileReport]) -> Value {
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for d in reports.iter().flat_map(|r| &r.diagnostics) {
        let next = rules.len();
        rules.entry(d.code).or_insert(next);
    }
    let mut ordered: Vec<(&str, usize)> = rules.iter().map(|(k, v)| (*k, *v)).collect();
    ordered.sort_by_key(|(_, i)| *i);
    let rule_objects: Vec<Value> = ordered
        .iter()
        .map(|(code, _)| {
            json!({
                "id": code,
                "name": code,
                "shortDescription": {"text": code.replace('-', " ")},
            })
        })
        .collect();
    let mut results = Vec::new();
    for report in reports {
        let index = LineIndex::new(&report.source);
        let uri = report
            .path
            .to_string_lossy()
            .trim_start_matches("./")
            .replace('\\', "/");
        for d in &report.diagnostics {
            let span = clamp(d.span, &report.source);
            let start = index.line_col_utf16(&report.source, span.start);
            let end = index.line_col_utf16(&report.source, span.end);
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            results.push(json!({
                "ruleId": d.code,
                "ruleIndex": rules[d.code],
                "level": level,
                "message": {"text": d.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "region": {
                            "startLine": start.line + 1,
                            "startColumn": start.col + 1,
                            "endLine": end.line + 1,
                            "endColumn": end.col + 1,
                        }
                    }
                }],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "promptls",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rule_objects,
            }},
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}
