//! The version history with 10,000 versions of one prompt: the editor's first-line lens
//! (its summary: the working version, tags, score, production), a part-aware diff of two
//! versions, and `history --format json` (in process, and the binary end to end).
//!
//!     cargo bench --bench history

use std::path::Path;
use std::time::Instant;

use promptls_core::store::{self, diff, Origin, Score, Store};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VERSIONS: usize = 10_000;

fn prompt(i: usize) -> String {
    format!(
        "---\nmodel: groq/llama-3.1-8b-instant\nconfig:\n  temperature: {}\npromptls.dataset: data.csv\npromptls.target: label\n---\n{{{{role \"system\"}}}}\nClassify the sentiment of the review, revision {i}. Answer with one word.\n{{{{!-- promptls:demos --}}}}\n{{{{role \"user\"}}}}\nThe kettle broke (#{i}).\n{{{{role \"model\"}}}}\nnegative\n{{{{role \"user\"}}}}\nI love it.\n{{{{role \"model\"}}}}\npositive\n{{{{!-- /promptls:demos --}}}}\n{{{{role \"user\"}}}}\n{{{{text}}}}\n",
        (i % 10) as f64 / 10.0
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = root.join("p.prompt");
    let mut store = Store::open(root).unwrap();
    let started = Instant::now();
    for i in 0..VERSIONS {
        let text = prompt(i);
        let (n, _) = store.record(&file, &text, &Origin::Edit, None).unwrap();
        store
            .record_score(
                &file,
                &text,
                n,
                &Score {
                    dataset: "d".into(),
                    metric: "exact_match".into(),
                    model: "groq/llama-3.1-8b-instant".into(),
                    score: (i % 100) as f64 / 100.0,
                    rows: 100,
                    created: store::now(),
                },
            )
            .unwrap();
    }
    let filling = started.elapsed().as_secs_f64();
    let last = prompt(VERSIONS - 1);
    store.promote(&file, &last, 9_000, "production").unwrap();
    store.promote(&file, &last, 9_990, "staging").unwrap();
    std::fs::write(&file, &last).unwrap();

    // The lens: open the store (as the server does per request) and summarise.
    let lens: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let s = Store::open(root).unwrap();
            let summary = s.summary(&file, &last).unwrap().unwrap();
            assert_eq!(summary.number, Some(VERSIONS as i64));
            assert!(summary.production.is_some());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let lens_warm: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            let summary = store.summary(&file, &last).unwrap().unwrap();
            std::hint::black_box(summary);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();

    // A diff of two versions (their contents in hand).
    let a = store.content(&file, &last, 9_000).unwrap();
    let diffs: Vec<f64> = (0..500)
        .map(|_| {
            let t = Instant::now();
            let d = diff::diff(&a, &last, &[], &[]);
            std::hint::black_box(diff::changelog(&d));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();

    // history --format json: in process, and the binary.
    let history: Vec<f64> = (0..10)
        .map(|_| {
            let t = Instant::now();
            let versions = store.history(&file, &last).unwrap();
            assert_eq!(versions.len(), VERSIONS);
            std::hint::black_box(serde_json::to_string(&versions).unwrap());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/promptls");
    let cli: Vec<f64> = if binary.exists() {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let out = std::process::Command::new(&binary)
                    .args(["history", "p.prompt", "--format", "json"])
                    .current_dir(root)
                    .output()
                    .unwrap();
                assert!(out.status.success() && out.stdout.len() > 1_000_000);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect()
    } else {
        Vec::new()
    };
    println!("history: {VERSIONS} versions recorded with scores in {filling:.1} s");
    println!(
        "lens summary: {:.3} ms opening the store each time, {:.3} ms on an open store (medians)",
        median(lens),
        median(lens_warm)
    );
    println!(
        "diff of two versions + changelog: {:.3} ms (median of 500)",
        median(diffs)
    );
    println!(
        "history of {VERSIONS} versions to JSON in process: {:.1} ms (median of 10)",
        median(history)
    );
    if cli.is_empty() {
        println!(
            "(build target/release/promptls for the end-to-end `history --format json` figure)"
        );
    } else {
        println!(
            "`promptls history --format json`, the binary end to end: {:.1} ms (median of 5)",
            median(cli)
        );
    }
}
