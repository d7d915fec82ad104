//! `promptls score --metric NAME FILE.jsonl`: scores outputs you already have. Each line
//! holds `prediction` and `reference` (a string) or `references` (strings); the output is
//! one JSON line per row with its score, then one with the aggregate.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use promptls_core::eval::metrics::{self, Metric, Normalize, Options};

#[derive(Args)]
pub struct ScoreArgs {
    /// The metric: exact_match, f1, bleu, chrf, chrf++, rouge1, rouge2, rougeL, rougeLsum,
    /// contains, regex, json_match.
    #[arg(long)]
    metric: String,
    /// JSON Lines with `prediction` and `reference` or `references`.
    file: PathBuf,
    /// exact_match/contains: compare case too (ignored by default).
    #[arg(long)]
    case_sensitive: bool,
    /// exact_match/contains: ignore ASCII punctuation.
    #[arg(long)]
    ignore_punctuation: bool,
    /// ROUGE: stem words with the Porter stemmer (rouge-score's use_stemmer=True).
    #[arg(long)]
    stem: bool,
}

struct Row {
    line: usize,
    prediction: String,
    references: Vec<String>,
}

fn parse_line(text: &str) -> Result<(String, Vec<String>), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let prediction = value
        .get("prediction")
        .and_then(Value::as_str)
        .ok_or("no string `prediction`")?
        .to_string();
    let references = match (value.get("reference"), value.get("references")) {
        (Some(Value::String(r)), None) => vec![r.clone()],
        (None, Some(Value::Array(items))) if !items.is_empty() => items
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or("`references` must hold strings")
            })
            .collect::<Result<_, _>>()?,
        (Some(_), Some(_)) => return Err("both `reference` and `references`".into()),
        _ => return Err("no `reference` string or non-empty `references` list".into()),
    };
    Ok((prediction, references))
}

pub fn run(args: ScoreArgs) -> i32 {
    let Some(metric) = Metric::from_name(&args.metric) else {
        eprintln!(
            "error: unknown metric `{}` (one of exact_match, f1, bleu, chrf, chrf++, rouge1, rouge2, rougeL, rougeLsum, contains, regex, json_match)",
            args.metric
        );
        return 2;
    };
    let text = match std::fs::read(&args.file).map(String::from_utf8) {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            eprintln!(
                "error: {}: not UTF-8 (byte {})",
                args.file.display(),
                e.utf8_error().valid_up_to()
            );
            return 2;
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return 2;
        }
    };
    let options = Options {
        normalize: Normalize {
            ignore_case: !args.case_sensitive,
            ignore_punctuation: args.ignore_punctuation,
        },
        rouge_stemmer: args.stem,
    };
    let mut rows = Vec::new();
    let mut bad = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok((prediction, references)) => rows.push(Row {
                line: i + 1,
                prediction,
                references,
            }),
            Err(message) => {
                eprintln!("error: {}:{}: {message}", args.file.display(), i + 1);
                bad += 1;
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Scored on every core, BLEU's statistics computed once for rows and corpus.
    let pairs: Vec<(&str, Vec<&str>)> = rows
        .iter()
        .map(|r| {
            (
                r.prediction.as_str(),
                r.references.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let (results, aggregate) = metrics::score_rows(metric, &pairs, &options);
    let mut scored = 0;
    for (row, result) in rows.iter().zip(results) {
        match result {
            Ok(score) => {
                scored += 1;
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"row": scored, "line": row.line, "score": score})
                );
            }
            Err(message) => {
                eprintln!("error: {}:{}: {message}", args.file.display(), row.line);
                bad += 1;
            }
        }
    }
    let _ = writeln!(
        out,
        "{}",
        json!({"metric": metric.name(), "score": aggregate, "rows": scored, "errors": bad})
    );
    if bad > 0 {
        1
    } else {
        0
    }
}
