//! Tier-2 scoring of 10,000 cached rows (sentence BLEU + ROUGE-L per row, corpus BLEU),
//! promptls vs sacrebleu + rouge-score on the same pairs in the same run.
//!
//!     cargo bench --bench metrics_compare
//!
//! The Python side needs `sacrebleu` and `rouge-score`: it uses $METRICS_PYTHON, else the
//! virtualenv scripts/test creates (~/.cache/promptls-test/metrics-venv).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use promptls_core::eval::metrics::{self, bleu, rouge, Metric, Options};
use serde_json::Value;

// The allocator of the promptls binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pairs() -> Vec<(String, Vec<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/metrics.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let base: Vec<(String, Vec<String>)> = fixture["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["prediction"].as_str().unwrap().to_string(),
                p["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    // 10,000 rows: the fixture's pairs, each copy with a row number so no two are equal.
    (0..10_000)
        .map(|i| {
            let (p, r) = &base[i % base.len()];
            (
                format!("{p} {i}"),
                r.iter().map(|r| format!("{r} {i}")).collect(),
            )
        })
        .collect()
}

/// Per row: BLEU statistics (computed once, as an evaluation keeps them) and ROUGE-L;
/// sentence BLEU from each row's statistics and corpus BLEU from their sum.
fn ours(rows: &[(String, Vec<String>)]) -> f64 {
    let mut total = 0.0;
    let mut corpus = bleu::Stats::default();
    for (prediction, references) in rows {
        let refs: Vec<&str> = references.iter().map(String::as_str).collect();
        let stats = bleu::segment_stats(prediction, &refs);
        total += bleu::score(&stats, true);
        corpus += stats;
        total += rouge::rouge_multi(rouge::Kind::RougeL, &refs, prediction);
    }
    total + bleu::score(&corpus, false)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows = pairs();
    let mut timings = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..7 {
        let start = Instant::now();
        checksum = ours(&rows);
        timings.push(start.elapsed().as_secs_f64());
    }
    timings.sort_by(f64::total_cmp);
    let promptls = timings[timings.len() / 2];
    println!(
        "promptls: 10000 rows (sentence BLEU + ROUGE-L, corpus BLEU) in {:.1} ms (median of 7, one thread)",
        promptls * 1e3
    );
    // The same work as an evaluation does it: `score_rows` on every core.
    let borrowed: Vec<(&str, Vec<&str>)> = rows
        .iter()
        .map(|(p, r)| (p.as_str(), r.iter().map(String::as_str).collect()))
        .collect();
    let mut parallel = Vec::new();
    let mut parallel_sum = 0.0;
    for _ in 0..7 {
        let start = Instant::now();
        let (bleu_rows, corpus) = metrics::score_rows(Metric::Bleu, &borrowed, &Options::default());
        let (rouge_rows, _) = metrics::score_rows(Metric::RougeL, &borrowed, &Options::default());
        parallel.push(start.elapsed().as_secs_f64());
        parallel_sum = 100.0 * (bleu_rows.iter().flatten().sum::<f64>() + corpus)
            + rouge_rows.iter().flatten().sum::<f64>();
    }
    parallel.sort_by(f64::total_cmp);
    let parallel_median = parallel[parallel.len() / 2];
    println!(
        "promptls score_rows on {} threads: {:.1} ms (median of 7)",
        rayon::current_num_threads(),
        parallel_median * 1e3
    );
    assert!(
        (parallel_sum - checksum).abs() <= 1e-6 * checksum.abs(),
        "{parallel_sum} vs {checksum}"
    );

    let python = std::env::var("METRICS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let cache = std::env::var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache"));
            cache.join("promptls-test/metrics-venv/bin/python")
        });
    let data = std::env::temp_dir().join(format!("promptls-metrics-{}.jsonl", std::process::id()));
    let mut file = std::fs::File::create(&data).unwrap();
    for (p, r) in &rows {
        writeln!(
            file,
            "{}",
            serde_json::json!({"prediction": p, "references": r})
        )
        .unwrap();
    }
    drop(file);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/metrics_compare.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&data)
        .arg("3")
        .output();
    let _ = std::fs::remove_file(&data);
    match out {
        Ok(out) if out.status.success() => {
            let result: Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs = result["median_s"].as_f64().unwrap();
            let their_sum = result["checksum"].as_f64().unwrap();
            println!(
                "sacrebleu + rouge-score: the same rows in {:.1} ms (median of 3)",
                theirs * 1e3
            );
            println!(
                "ratio: promptls is {:.1}x faster on one thread, {:.1}x with score_rows",
                theirs / promptls,
                theirs / parallel_median
            );
            assert!(
                (checksum - their_sum).abs() <= 1e-6 * their_sum.abs(),
                "checksums differ: {checksum} vs {their_sum}"
            );
        }
        Ok(out) => println!(
            "the Python side failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("no Python with sacrebleu at {}: {e}", python.display()),
    }
}
