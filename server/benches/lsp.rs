//! The language server measured over real stdio, as an editor drives it:
//!
//! - keystroke -> publishDiagnostics on a 300-line prompt (20 demos), 1000 edits:
//!   typed back to back (each edit waits for its diagnostics), and in a burst paced at
//!   one edit per 2 ms (every version's latency, where it was published);
//! - resident memory with 200 open prompt files;
//! - start-up: process spawn to the `initialize` reply.
//!
//!     cargo bench --bench lsp
//!
//! Prints one line per figure; BENCHMARKS.md keeps them.

#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[path = "support/prompts.rs"]
mod prompts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::Client;
use serde_json::{json, Value};

fn binary() -> PathBuf {
    // `cargo bench` builds the binary in release mode next to the bench executable.
    PathBuf::from(env!("CARGO_BIN_EXE_promptls"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.9).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// The edit for keystroke `i`: type or delete a character inside the system
/// instruction (line 30), alternating, so the text stays 300 lines and realistic.
fn keystroke(i: usize) -> Value {
    let column = 10 + (i / 2) % 40;
    if i.is_multiple_of(2) {
        json!([{"range": {"start": {"line": 30, "character": column}, "end": {"line": 30, "character": column}}, "text": "x"}])
    } else {
        json!([{"range": {"start": {"line": 30, "character": column}, "end": {"line": 30, "character": column + 1}}, "text": ""}])
    }
}

fn start(root: &Path) -> Client {
    let mut client = Client::start(&binary(), true);
    client.initialize(root, json!({}), json!({}));
    client
}

fn typing(root: &Path) {
    let mut client = start(root);
    let text = prompts::big_prompt();
    assert!(text.lines().count() >= 300);
    let uri = client.open(&root.join("big.prompt"), &text, 0);
    client.diagnostics_for_version(&uri, 0);
    // Warm-up (first-use costs such as the tokenizer tables).
    for version in 1..=50 {
        client.change(&uri, version, keystroke(version as usize));
        client.diagnostics_for_version(&uri, version);
    }
    let mut samples = Vec::new();
    for i in 0..1000 {
        let version = 51 + i as i64;
        let sent = Instant::now();
        client.change(&uri, version, keystroke(version as usize));
        client.diagnostics_for_version(&uri, version);
        samples.push(client.last_arrival().duration_since(sent));
    }
    summary(
        "keystroke -> publishDiagnostics, 1000 edits typed back to back",
        samples,
    );

    // A burst: edits every 2 ms without waiting; latency of each published version.
    let first = 2000i64;
    let mut sent_at: HashMap<i64, Instant> = HashMap::new();
    let begin = Instant::now();
    for i in 0..1000i64 {
        let version = first + i;
        let due = begin + Duration::from_millis(2 * i as u64);
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        sent_at.insert(version, Instant::now());
        client.change(&uri, version, keystroke(version as usize));
    }
    let last = first + 999;
    let mut latencies = Vec::new();
    loop {
        let params = client.diagnostics(&uri, |p| p["version"].as_i64().is_some());
        let version = params["version"].as_i64().unwrap();
        if let Some(sent) = sent_at.get(&version) {
            latencies.push(client.last_arrival().duration_since(*sent));
        }
        if version == last {
            break;
        }
    }
    let published = latencies.len();
    summary(
        &format!(
            "burst of 1000 edits 2 ms apart ({published} versions published, the rest superseded)"
        ),
        latencies,
    );

    // 1000 edits with no pause at all: the server skips superseded versions; what the
    // user waits for is the last version's diagnostics after the last keystroke.
    let first = 4000i64;
    for i in 0..1000i64 {
        client.change(&uri, first + i, keystroke((first + i) as usize));
    }
    let sent = Instant::now();
    client.diagnostics_for_version(&uri, first + 999);
    println!(
        "1000 edits sent at once: last edit -> its diagnostics {:.3} ms",
        client.last_arrival().duration_since(sent).as_secs_f64() * 1e3
    );
    client.shutdown_and_exit();
}

fn resident_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn memory(root: &Path, only_big: bool) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let sources: Vec<String> = [
        "sentiment/sentiment.prompt",
        "sentiment/sentiment.concise.prompt",
        "extract/extract_contact.prompt",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(examples.join(p)).unwrap())
    .chain(std::iter::once(prompts::big_prompt()))
    .collect();
    let sources = if only_big {
        vec![prompts::big_prompt()]
    } else {
        sources
    };
    let mut client = start(root);
    let (idle, _) = resident_kib(client.pid());
    let mut uris = Vec::new();
    for i in 0..200 {
        let text = &sources[i % sources.len()];
        uris.push(client.open(&root.join(format!("p{i:03}.prompt")), text, 1));
    }
    for uri in &uris {
        client.diagnostics_for_version(uri, 1);
    }
    // Ask something of every file, as an editor does when showing them.
    for uri in &uris {
        client.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        client.request(
            "textDocument/foldingRange",
            json!({"textDocument": {"uri": uri}}),
        );
    }
    let (rss, peak) = resident_kib(client.pid());
    let what = if only_big {
        "200 copies of the 300-line prompt"
    } else {
        "200 open prompt files (the three examples and the 300-line prompt, in turn)"
    };
    println!(
        "memory with {what}: resident {:.1} MiB (peak {:.1} MiB; {:.1} MiB after initialize)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    client.shutdown_and_exit();
}

fn startup(root: &Path) {
    let mut samples = Vec::new();
    for _ in 0..50 {
        let begin = Instant::now();
        let mut client = Client::start(&binary(), true);
        client.initialize(root, json!({}), json!({}));
        samples.push(begin.elapsed());
        client.shutdown_and_exit();
    }
    summary("start-up: spawn -> initialize reply", samples);
}

fn main() {
    let only: Option<String> = std::env::var("LSP_BENCH").ok();
    // `cargo test --benches` runs benches with `--test`-like args; only measure when
    // asked by `cargo bench` (which passes --bench).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("promptls-lsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("startup") {
        startup(&dir);
    }
    if run("typing") {
        typing(&dir);
    }
    if run("memory") {
        memory(&dir, false);
        memory(&dir, true);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
