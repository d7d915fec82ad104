//! Peak resident memory of `promptls check` and `promptls render` per input byte, on
//! large generated prompts of three shapes (issue 12: at most 10 bytes per input byte).
//!
//! Each run is its own process, so its peak (`ru_maxrss` from `wait4`) is the figure a
//! user sees, allocator and all. Shapes:
//! - `prose`: lines of words, 3 in 10 with a variable, an `#if`, an `#each`, a comment
//!   or an `#unless` (a long real prompt);
//! - `dense`: a mustache every ten bytes or so (the worst case for the syntax tree);
//! - `plain`: text without mustaches (the floor: reading the file, copying the text);
//! - `turns`: a few-shot classification prompt (roles, example turns, a variable, an
//!   `#if`) repeated: a tag every 40 bytes or so, as in the prompts in `examples/`.
//!
//! `cargo bench --bench memory` (`MEMORY_BENCH_MB=35` sets the size, `PROMPTLS_BIN` runs
//! another build of the binary, e.g. an older commit, for before/after figures).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const TURNS: &str = "Classify the sentiment of the review as positive, negative or neutral.\n\
Answer with the single word only.\n{{role \"user\"}}\n\
The battery died after two days and support never answered.\n{{role \"model\"}}\nnegative\n\
{{role \"user\"}}\nDoes what it says. Nothing more, nothing less.\n{{role \"model\"}}\nneutral\n\
{{role \"user\"}}\n{{text}}{{#if flag}} (be brief){{/if}}\n{{role \"system\"}}";

/// A small deterministic generator, so every run measures the same files.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

const HEAD: &str = "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\n    items(array): string\n    flag: boolean\n---\n{{role \"system\"}}\n";

fn generate(shape: &str, bytes: usize) -> String {
    let mut rng = Lcg(7);
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "while", "a", "careful",
        "reader", "checks", "each", "sentence", "for", "meaning", "and", "tone",
    ];
    let pieces = [
        "{{text}}",
        "{{#if flag}}yes{{else}}no{{/if}}",
        "{{#each items}}- {{this}}\n{{/each}}",
        "{{! a comment }}",
        "{{#unless flag}}plain{{/unless}}",
    ];
    let dense = ["word", "{{text}}", "{{#if text}}a{{/if}}", "more"];
    let mut out = String::with_capacity(bytes + 200);
    out.push_str(HEAD);
    while out.len() < bytes {
        match shape {
            "prose" => {
                for i in 0..14 {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(words[rng.next(words.len())]);
                }
                if rng.next(10) < 3 {
                    out.push(' ');
                    out.push_str(pieces[rng.next(pieces.len())]);
                }
            }
            "dense" => {
                for i in 0..12 {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(dense[rng.next(dense.len())]);
                }
            }
            "turns" => out.push_str(TURNS),
            _ => out.push_str("lorem ipsum dolor sit amet consectetur adipiscing elit sed do"),
        }
        out.push('\n');
    }
    out
}

/// Runs the binary and returns (peak RSS in bytes, wall seconds, exit code).
// wait4 reaps the child (std's wait would not return its resource usage).
#[allow(clippy::zombie_processes)]
fn peak_rss(bin: &Path, args: &[&str]) -> (u64, f64, i32) {
    let start = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the promptls binary starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; `pid` is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 on the child");
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    // Linux reports ru_maxrss in KiB.
    (
        usage.ru_maxrss as u64 * 1024,
        start.elapsed().as_secs_f64(),
        code,
    )
}

fn main() {
    let mb: usize = std::env::var("MEMORY_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(35);
    let bin = std::env::var_os("PROMPTLS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_promptls")));
    let dir = std::env::temp_dir().join(format!("promptls-memory-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let data = dir.join("data.json");
    std::fs::write(
        &data,
        r#"{"input": {"text": "hello", "items": ["a", "b"], "flag": true}}"#,
    )
    .expect("write data");
    let data_arg = format!("@{}", data.display());
    println!("binary: {}", bin.display());
    println!(
        "| shape | input | command | peak RSS | bytes per input byte | wall | exit |\n|---|---|---|---|---|---|---|"
    );
    for shape in ["prose", "dense", "turns", "plain"] {
        let text = generate(shape, mb * 1_000_000);
        let file = dir.join(format!("{shape}.prompt"));
        std::fs::File::create(&file)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write prompt");
        let size = text.len() as f64;
        drop(text);
        let path = file.to_str().expect("utf-8 temp path");
        let runs: [(&str, Vec<&str>); 2] = [
            ("check", vec!["check", path]),
            ("render", vec!["render", path, "--data", &data_arg]),
        ];
        for (name, args) in runs {
            let (rss, secs, code) = peak_rss(&bin, &args);
            println!(
                "| {shape} | {:.1} MB | {name} | {:.0} MB | {:.1} | {secs:.1} s | {code} |",
                size / 1e6,
                rss as f64 / 1e6,
                rss as f64 / size,
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
