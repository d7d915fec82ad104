//! The gates of an evaluation ("CI/CD for prompts"): what makes a run fail. Bad rows
//! (unless allowed), rows whose calls failed, no score at all, a minimum score, and a
//! drop against a baseline (the production version). Every front-end shows the same
//! gates with the same messages (the messages name the command line's options).

use super::run::{Report, RowResult, Unreadable};

/// A gate and whether it held.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub name: &'static str,
    pub passed: bool,
    pub message: String,
}

/// What a run must meet (`--allow-bad-rows`, `--min-score`, `--max-drop`).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub allow_bad_rows: bool,
    pub min_score: Option<f64>,
    /// How far below the baseline the score may fall (default 0).
    pub max_drop: Option<f64>,
}

/// The score the gates compare: none when no row has one; with bad rows, the score with
/// each bad row counted as 0 (the mean over every row; corpus BLEU and chrF are scaled by
/// the share of rows scored).
pub fn gate_score(report: &Report) -> Option<f64> {
    if report.scored == 0 {
        return None;
    }
    let scored = report.scored as f64;
    Some(report.score * scored / (scored + report.bad_rows as f64))
}

/// `data.csv line 3: row has 2 fields, the header has 3`.
pub fn unreadable_text(dataset: &str, u: &Unreadable) -> String {
    match u.line {
        Some(line) => format!("{dataset} line {line}: {}", u.error),
        None => format!("{dataset}: {}", u.error),
    }
}

/// The gates of a run: bad rows (unless allowed), rows whose calls failed, a score at
/// all, the minimum score and the baseline (`label`, score) less the allowed drop.
pub fn gates(report: &Report, limits: &Limits, baseline: Option<(&str, f64)>) -> Vec<Gate> {
    let mut gates = Vec::new();
    let all_rows = report.rows + report.unreadable.len();
    if report.bad_rows > 0 {
        let mut named: Vec<String> = report
            .unreadable
            .iter()
            .map(|u| unreadable_text(&report.dataset, u))
            .collect();
        named.extend(report.per_row.iter().filter(|r| r.bad_row).map(|r| {
            format!(
                "row {} (line {}): {}",
                r.row,
                r.line,
                shorten(r.error.as_deref().unwrap_or(""), 100)
            )
        }));
        let shown = named.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
        let more = if named.len() > 5 {
            format!("; and {} more", named.len() - 5)
        } else {
            String::new()
        };
        gates.push(Gate {
            name: "bad-rows",
            passed: limits.allow_bad_rows,
            message: if limits.allow_bad_rows {
                format!(
                    "{} of {all_rows} rows could not be read or rendered and were not scored (--allow-bad-rows): {shown}{more}",
                    report.bad_rows
                )
            } else {
                format!(
                    "{} of {all_rows} rows could not be read or rendered: {shown}{more} (--allow-bad-rows scores the others)",
                    report.bad_rows
                )
            },
        });
    }
    let failed: Vec<&RowResult> = report
        .per_row
        .iter()
        .filter(|r| r.score.is_none() && !r.bad_row)
        .collect();
    if let Some(first) = failed.first() {
        let persistent = failed.iter().filter(|r| r.retried).count();
        gates.push(Gate {
            name: "errors",
            passed: false,
            message: format!(
                "{} of {} rows could not be evaluated{}; the first, row {} (line {}): {}",
                failed.len(),
                report.rows,
                if persistent > 0 {
                    format!(" ({persistent} failed again in the final round)")
                } else {
                    String::new()
                },
                first.row,
                first.line,
                first.error.as_deref().unwrap_or("")
            ),
        });
    }
    let score = gate_score(report);
    if score.is_none() {
        gates.push(Gate {
            name: "score",
            passed: false,
            message: "no score: every row failed".into(),
        });
    }
    // With bad rows allowed, the gates see them as rows scoring 0: dropping rows never
    // helps a run pass.
    let over = if report.bad_rows > 0 && report.scored > 0 {
        format!(
            ", counting the {} bad row{} as 0 ({:.3} over the {} scored)",
            report.bad_rows,
            if report.bad_rows == 1 { "" } else { "s" },
            report.score,
            report.scored
        )
    } else {
        String::new()
    };
    if let Some(min) = limits.min_score {
        let passed = score.is_some_and(|s| s >= min - 1e-12);
        gates.push(Gate {
            name: "min-score",
            passed,
            message: match score {
                Some(s) => format!(
                    "score {s:.3}{over} {} --min-score {min}",
                    if passed { "meets" } else { "is below" }
                ),
                None => format!("no score to meet --min-score {min}"),
            },
        });
    }
    if let Some((label, base)) = baseline {
        let drop = limits.max_drop.unwrap_or(0.0);
        let message = match score {
            None => format!("no score to compare with the baseline {base:.3} ({label})"),
            Some(s) => {
                let delta = s - base;
                format!(
                    "score {s:.3}{over} vs baseline {base:.3} ({label}): {}{delta:.3}{}",
                    if delta >= 0.0 { "+" } else { "" },
                    if delta >= -drop - 1e-12 {
                        String::new()
                    } else {
                        format!(", a drop of more than --max-drop {drop}")
                    }
                )
            }
        };
        gates.push(Gate {
            name: "baseline",
            passed: score.is_some_and(|s| s - base >= -drop - 1e-12),
            message,
        });
    }
    gates
}

pub fn shorten(text: &str, most: usize) -> String {
    let one_line = text.replace('\n', "⏎");
    if one_line.chars().count() <= most {
        one_line
    } else {
        one_line.chars().take(most - 1).collect::<String>() + "…"
    }
}
