//! The language server measured over real stdio, as an editor drives it:
//!
//! - keystroke -> publishDiagnostics on a 300-line prompt (20 demos), 1000 edits:
//!   typed back to back (each edit waits for its diagnostics), and in a burst paced at
//!   one edit per 2 ms (every version's latency, where it was published);
//! - resident memory with 200 open prompt files;
//! - start-up: process spawn to the `initialize` reply;
//! - one 50 MB document (`LSP_BENCH=large`, `LSP_BENCH_MB` sets the size), in two
//!   shapes: `scripts/big_prompt.py`'s prose and a line of 12 random picks of
//!   `word`, `{{text}}`, `{{#if text}}a{{/if}}`, `more` (far more mustaches): the
//!   server's peak and resident memory from didOpen through diagnostics, folding and
//!   semantic tokens to didClose, and how long folding and semantic tokens take.
//!
//!     cargo bench --bench lsp
//!
//! Prints one line per figure; BENCHMARKS.md keeps them.

#[path = "../../tests/support/lsp_client.rs"]
mod lsp_client;
#[path = "../../core/benches/support/prompts.rs"]
mod prompts;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_client::Client;
use serde_json::{json, Value};

fn binary() -> PathBuf {
    // `cargo bench` builds the binary in release mode next to the bench executable;
    // `LSP_BENCH_BINARY` measures another build (an older commit's, for a before/after).
    std::env::var_os("LSP_BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_promptls")))
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

/// `scripts/big_prompt.py`'s prompt of about `bytes` bytes (prose with some mustaches).
fn prose_prompt(root: &Path, bytes: usize) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/big_prompt.py");
    let out = root.join("prose.prompt");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .arg(&out)
        .arg(bytes.to_string())
        .status()
        .expect("python3 runs scripts/big_prompt.py");
    assert!(status.success(), "{} failed", script.display());
    std::fs::read_to_string(&out).unwrap()
}

/// About `bytes` bytes of lines of 12 random picks, most of them mustaches: the worst
/// case for the parse, the tree and the semantic tokens.
fn mustache_prompt(bytes: usize) -> String {
    let picks = ["word", "{{text}}", "{{#if text}}a{{/if}}", "more"];
    let mut out = String::from("---\ninput:\n  schema:\n    text: string\n---\n");
    // xorshift64: the same text on every run without a dependency.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < bytes {
        for i in 0..12 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if i > 0 {
                out.push(' ');
            }
            out.push_str(picks[(seed % 4) as usize]);
        }
        out.push('\n');
    }
    out
}

/// Kills the server (a child of this process) if its resident memory passes `cap_kib`,
/// so a run of the old code cannot take the machine's memory; returns whether it did.
fn rss_cap(pid: u32, cap_kib: u64) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let killed = std::sync::Arc::new(AtomicBool::new(false));
    let flag = killed.clone();
    std::thread::spawn(move || loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
        if status.is_err() {
            return;
        }
        let (rss, _) = resident_kib(pid);
        if rss > cap_kib {
            flag.store(true, Ordering::SeqCst);
            eprintln!(
                "the server passed {} MiB resident; killing it",
                cap_kib / 1024
            );
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    });
    killed
}

fn large_one(root: &Path, name: &str, text: &str) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let input_mb = text.len() as f64 / 1e6;
    let mut client = start(root);
    // Minutes, not the tests' liveness bound: the old code took that long.
    client.timeout = Duration::from_secs(1800);
    let pid = client.pid();
    let cap_mib: u64 = std::env::var("LSP_BENCH_MAX_RSS_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12_000);
    let _killed = rss_cap(pid, cap_mib * 1024);
    let (idle, _) = resident_kib(pid);
    let path = root.join(format!("{name}.prompt"));
    let sent = Instant::now();
    let uri = client.open(&path, text, 1);
    let diagnostics = client.diagnostics_for_version(&uri, 1);
    let diagnostics_ms = client.last_arrival().duration_since(sent).as_secs_f64() * 1e3;
    let (rss_diagnosed, _) = resident_kib(pid);

    let sent = Instant::now();
    let folds = client.request(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": uri}}),
    );
    let folding_ms = client.last_arrival().duration_since(sent).as_secs_f64() * 1e3;
    let sent = Instant::now();
    let tokens = client.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let tokens_ms = client.last_arrival().duration_since(sent).as_secs_f64() * 1e3;
    let (rss_open, peak) = resident_kib(pid);

    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    client.diagnostics(&uri, |p| p["diagnostics"] == json!([]));
    let (rss_closed, _) = resident_kib(pid);
    std::thread::sleep(Duration::from_secs(3));
    let (rss_closed_later, _) = resident_kib(pid);

    println!("{name}, {input_mb:.1} MB, {} lines:", text.lines().count());
    println!(
        "  didOpen -> diagnostics {diagnostics_ms:.0} ms ({} published)",
        diagnostics.len()
    );
    println!(
        "  folding {folding_ms:.0} ms ({} ranges), semantic tokens {tokens_ms:.0} ms ({} tokens)",
        folds.as_array().map_or(0, Vec::len),
        tokens["data"].as_array().map_or(0, |d| d.len() / 5),
    );
    println!(
        "  peak RSS {:.0} MiB = {:.1} MiB per input MB (idle {:.1} MiB, {:.0} MiB after diagnostics, {:.0} MiB after folding and tokens)",
        mib(peak),
        mib(peak) / input_mb,
        mib(idle),
        mib(rss_diagnosed),
        mib(rss_open)
    );
    println!(
        "  RSS after didClose {:.0} MiB at once, {:.0} MiB 3 s later",
        mib(rss_closed),
        mib(rss_closed_later)
    );
    client.shutdown_and_exit();
}

fn large(root: &Path) {
    let mb: f64 = std::env::var("LSP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50.0);
    let bytes = (mb * 1e6) as usize;
    let shape = std::env::var("LSP_BENCH_SHAPE").ok();
    if shape.as_deref().is_none_or(|s| s == "prose") {
        large_one(root, "prose", &prose_prompt(root, bytes));
    }
    if shape.as_deref().is_none_or(|s| s == "mustaches") {
        large_one(root, "mustaches", &mustache_prompt(bytes));
    }
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
    // Not part of the default run: it takes minutes and gigabytes on the old code.
    if only.as_deref() == Some("large") {
        large(&dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
