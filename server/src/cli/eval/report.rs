//! The reports of an evaluation: human text, JSON (the report with the gates, the
//! baseline's score and the recorded version), JUnit XML.

use serde_json::{json, Value};

use promptls_core::eval::gate;
use promptls_core::eval::run::{self, dollars, Report};

/// The report as JSON: the run's, with `gates`, the baseline's score, whether every gate
/// passed, the score the gates saw and the version it was recorded as.
pub(super) fn json(
    report: &Report,
    gates: &[gate::Gate],
    baseline: Option<f64>,
    version: Option<i64>,
) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(report)?;
    if let Value::Object(map) = &mut value {
        if report.scored == 0 {
            // Every row failed: there is no score, not a score of 0.
            map.insert("score".into(), Value::Null);
            map.insert("interval".into(), Value::Null);
        }
        map.insert("baseline_score".into(), json!(baseline));
        map.insert(
            "gates".into(),
            Value::Array(
                gates
                    .iter()
                    .map(|g| json!({"name": g.name, "passed": g.passed, "message": g.message}))
                    .collect(),
            ),
        );
        map.insert("passed".into(), json!(gates.iter().all(|g| g.passed)));
        map.insert("gate_score".into(), json!(gate::gate_score(report)));
        map.insert("version".into(), json!(version));
    }
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

pub(super) fn human(report: &Report, gates: &[gate::Gate], baseline: Option<f64>) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("  {k:<9}{v}\n"));
    out.push_str(&format!("{}\n", report.file));
    line(&mut out, "model", report.model.clone());
    line(
        &mut out,
        "dataset",
        if report.unreadable.is_empty() {
            format!("{} ({} rows)", report.dataset, report.rows)
        } else {
            format!(
                "{} ({} rows, {} unreadable)",
                report.dataset,
                report.rows + report.unreadable.len(),
                report.unreadable.len()
            )
        },
    );
    line(
        &mut out,
        "metric",
        format!(
            "{} (a row passes at {} or more)",
            report.metric, report.threshold
        ),
    );
    let all_rows = report.rows + report.unreadable.len();
    if report.scored == 0 {
        line(&mut out, "score", "no score: every row failed".into());
    } else {
        line(
            &mut out,
            "score",
            format!(
                "{:.3}  (95% CI {:.3}–{:.3})  {}/{} rows passed{}{}",
                report.score,
                report.interval[0],
                report.interval[1],
                report.passed_rows,
                report.rows,
                if report.scored < all_rows {
                    format!("  (over {} of {all_rows} rows)", report.scored)
                } else {
                    String::new()
                },
                baseline.map_or(String::new(), |b| format!("  baseline {b:.3}"))
            ),
        );
    }
    if report.bad_rows > 0 {
        line(
            &mut out,
            "bad rows",
            format!(
                "{} of {all_rows} could not be read or rendered (not scored)",
                report.bad_rows
            ),
        );
    }
    if report.retried_rows > 0 {
        line(
            &mut out,
            "retried",
            format!(
                "{} row{} ran out of attempts and went again in the final round",
                report.retried_rows,
                if report.retried_rows == 1 { "" } else { "s" }
            ),
        );
    }
    line(
        &mut out,
        "calls",
        format!(
            "{} ({} cache hits)  tokens {} in / {} out  cost {}",
            report.calls,
            report.cache_hits,
            report.prompt_tokens,
            report.completion_tokens,
            dollars(report.cost_usd)
        ),
    );
    let latency = if report.cache_hits as usize == report.rows {
        "every answer from the cache".to_string()
    } else {
        format!(
            "latency p50 {:.0} ms, p95 {:.0} ms",
            report.latency_p50_ms, report.latency_p95_ms
        )
    };
    line(
        &mut out,
        "time",
        format!("{:.1} s  {latency}", report.wall_ms / 1000.0),
    );
    if !report.unreadable.is_empty() {
        out.push_str(&format!(
            "\nunreadable rows ({}):\n",
            report.unreadable.len()
        ));
        for u in report.unreadable.iter().take(20) {
            out.push_str(&format!(
                "  {}\n",
                gate::unreadable_text(&report.dataset, u)
            ));
        }
    }
    let failing: Vec<&run::RowResult> = report.per_row.iter().filter(|r| !r.passed).collect();
    if !failing.is_empty() {
        out.push_str(&format!("\nfailing rows ({}):\n", failing.len()));
        for r in failing.iter().take(20) {
            let what = match (&r.error, r.score) {
                (Some(e), _) => format!("error: {}", gate::shorten(e, 100)),
                (None, Some(s)) => format!(
                    "score {s:.3}  expected {:?}  got {:?}{}",
                    gate::shorten(&r.expected, 40),
                    gate::shorten(r.output.as_deref().unwrap_or(""), 40),
                    r.problems
                        .first()
                        .map_or(String::new(), |p| format!("  ({})", gate::shorten(p, 60)))
                ),
                (None, None) => "no score".into(),
            };
            out.push_str(&format!("  row {} (line {}): {what}\n", r.row, r.line));
        }
        if failing.len() > 20 {
            out.push_str(&format!(
                "  … and {} more (--format json lists every row)\n",
                failing.len() - 20
            ));
        }
    }
    if !gates.is_empty() {
        out.push('\n');
        for g in gates {
            out.push_str(&format!(
                "{} {}\n",
                if g.passed { "PASS" } else { "FAIL" },
                g.message
            ));
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per row, one per gate.
pub(super) fn junit(report: &Report, gates: &[gate::Gate]) -> String {
    let failures = report
        .per_row
        .iter()
        .filter(|r| !r.passed && r.error.is_none())
        .count()
        + gates
            .iter()
            .filter(|g| !g.passed && g.name != "errors")
            .count();
    let errors = report.error_rows;
    let tests = report.per_row.len() + gates.iter().filter(|g| g.name != "errors").count();
    let suite = xml_escape(&format!("promptls eval {}", report.file));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        report.wall_ms / 1000.0
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n",
        report.wall_ms / 1000.0
    ));
    out.push_str(&format!(
        "    <properties>\n      <property name=\"model\" value=\"{}\"/>\n      <property name=\"metric\" value=\"{}\"/>\n      <property name=\"score\" value=\"{}\"/>\n      <property name=\"cost_usd\" value=\"{}\"/>\n    </properties>\n",
        xml_escape(&report.model),
        xml_escape(&report.metric),
        if report.scored == 0 {
            "none".to_string()
        } else {
            report.score.to_string()
        },
        report.cost_usd
    ));
    for r in &report.per_row {
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"row {} (line {})\" time=\"{:.3}\">",
            xml_escape(&report.dataset),
            r.row,
            r.line,
            r.latency_ms / 1000.0
        ));
        let detail = format!(
            "input: {}\nexpected: {}\noutput: {}{}",
            serde_json::Value::Object(r.input.clone()),
            r.expected,
            r.output.as_deref().unwrap_or(""),
            r.problems
                .iter()
                .map(|p| format!("\n{p}"))
                .collect::<String>()
        );
        if let Some(e) = &r.error {
            out.push_str(&format!(
                "\n      <error message=\"{}\">{}</error>\n    ",
                xml_escape(e),
                xml_escape(&detail)
            ));
        } else if !r.passed {
            out.push_str(&format!(
                "\n      <failure message=\"{} {:.3} below {}\">{}</failure>\n    ",
                xml_escape(&report.metric),
                r.score.unwrap_or(0.0),
                report.threshold,
                xml_escape(&detail)
            ));
        }
        out.push_str("</testcase>\n");
    }
    for g in gates.iter().filter(|g| g.name != "errors") {
        out.push_str(&format!(
            "    <testcase classname=\"gates\" name=\"{}\">",
            g.name
        ));
        if !g.passed {
            out.push_str(&format!(
                "<failure message=\"{}\"/>",
                xml_escape(&g.message)
            ));
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
