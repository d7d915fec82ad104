//! Rendering throughput: one template over 100,000 rows, promptls vs the npm `dotprompt`
//! package (Node) in the same run, same template, same data.
//!
//!     cargo bench --bench render_compare            # needs `npm ci --prefix tests/compat`
//!
//! Prints both timings and the ratio; BENCHMARKS.md records them.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use promptls_core::render::messages::Message;
use promptls_core::render::{DataArgument, Renderer};
use serde_json::{json, Map, Value};

// The same allocator as the promptls binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: usize = 100_000;

/// Deterministic rows (a small LCG), varied enough to take every branch.
fn rows() -> Vec<Map<String, Value>> {
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let words = [
        "late", "refund", "broken", "login", "invoice", "upgrade", "cancel", "thanks",
    ];
    (0..ROWS)
        .map(|i| {
            let n_tags = next() % 4;
            let tags: Vec<Value> = (0..n_tags).map(|_| json!(words[next() % words.len()])).collect();
            let mut row = Map::new();
            row.insert("customer".into(), json!(if next() % 5 == 0 { "ACME".to_string() } else { format!("Customer {}", next() % 1000) }));
            let text: Vec<&str> = (0..(5 + next() % 30)).map(|_| words[next() % words.len()]).collect();
            row.insert("text".into(), json!(format!("Ticket {i}: {}", text.join(" "))));
            row.insert("tags".into(), Value::Array(tags));
            if next() % 2 == 0 {
                row.insert("priority".into(), json!(next() % 5));
            }
            if next() % 3 != 0 {
                row.insert("order".into(), json!({"id": format!("A-{}", next() % 100000), "total": (next() % 100000) as f64 / 100.0}));
            }
            row
        })
        .collect()
}

fn text_len(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|m| m.text().encode_utf16().count())
        .sum()
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template_path = manifest.join("benches/data/render.prompt");
    let source = std::fs::read_to_string(&template_path).unwrap();
    let rows = rows();

    let rows_path = std::env::temp_dir().join("promptls-render-rows.jsonl");
    let mut jsonl = String::new();
    for r in &rows {
        jsonl.push_str(&serde_json::to_string(r).unwrap());
        jsonl.push('\n');
    }
    std::fs::write(&rows_path, jsonl).unwrap();

    let renderer = Renderer::new();
    let compiled = renderer.compile(&source).expect("bench template compiles");
    let data: Vec<DataArgument> = rows
        .into_iter()
        .map(|input| DataArgument {
            input,
            ..Default::default()
        })
        .collect();
    for d in data.iter().take(1000) {
        compiled.render(d, None).unwrap();
    }
    let start = Instant::now();
    let mut checksum = 0;
    // Each row is rendered once, as in an evaluation: the row moves into the render.
    for d in data {
        let out = compiled.render_owned(d, None).unwrap();
        checksum += text_len(&out.messages);
    }
    let ours_ms = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "promptls: {ROWS} renders in {ours_ms:.1} ms ({:.2} µs/row)",
        ours_ms * 1e3 / ROWS as f64
    );

    let script = manifest.join("../tests/compat/bench_render.mjs");
    let node = Command::new("node")
        .arg(&script)
        .arg(&template_path)
        .arg(&rows_path)
        .output();
    match node {
        Ok(out) if out.status.success() => {
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let node_ms = report["ms"].as_f64().unwrap();
            println!(
                "npm dotprompt: {ROWS} renders in {node_ms:.1} ms ({:.2} µs/row)",
                node_ms * 1e3 / ROWS as f64
            );
            println!("ratio: promptls is {:.1}x faster", node_ms / ours_ms);
            let node_sum = report["checksum"].as_u64().unwrap() as usize;
            assert_eq!(
                checksum, node_sum,
                "both renderers must produce the same amount of text"
            );
        }
        Ok(out) => println!(
            "npm dotprompt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("node not available: {e}"),
    }
}
