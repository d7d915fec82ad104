//! Tier-1 latency: parse + every check on a 300-line prompt with 20 demos (the budget is
//! a median under 1 ms), and the same on the examples.
//!
//!     cargo bench --bench check

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use promptls_core::check::{self, Disk};

#[path = "support/prompts.rs"]
mod prompts;
use prompts::big_prompt;

fn bench(c: &mut Criterion) {
    let source = big_prompt();
    assert!(source.lines().count() >= 300);
    c.bench_function("parse+check 300-line prompt, 20 demos", |b| {
        b.iter(|| check::check(black_box(&source), None, &Disk))
    });
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sentiment/sentiment.prompt");
    let text = std::fs::read_to_string(&example).unwrap();
    c.bench_function("parse+check examples/sentiment (dataset on disk)", |b| {
        b.iter(|| check::check(black_box(&text), Some(&example), &Disk))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
