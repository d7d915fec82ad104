//! A whole evaluation re-run from the cache: 10,000 dataset rows, every answer already in
//! the SQLite cache (as after a first run). Each row is rendered, its request hashed and
//! looked up, its answer read and scored with ROUGE-L; then the aggregate and its
//! bootstrap interval. This is what `promptls eval` and the editor's live scores do when
//! nothing changed.
//!
//!     cargo bench --bench eval_cached

use std::time::Instant;

use promptls_core::analysis::Analysis;
use promptls_core::config::Config;
use promptls_core::eval::run::{self, Overrides};
use promptls_core::llm::cache;
use promptls_core::llm::wire::ChatResponse;
use tokio_util::sync::CancellationToken;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: usize = 10_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("promptls.toml"),
        "[providers.mock]\nbase_url = \"http://127.0.0.1:9/v1\"\n",
    )
    .unwrap();
    let mut csv = String::from("review,summary\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "\"Row {i}: the battery lasts two days, the screen is sharp, and support answered within an hour.\",\"battery lasts {} days and support is quick {i}\"\n",
            i % 5 + 1
        ));
    }
    std::fs::write(root.join("reviews.csv"), csv).unwrap();
    let prompt = "---\nmodel: mock/tiny\ninput:\n  schema:\n    review: string\npromptls.dataset: reviews.csv\npromptls.target: summary\npromptls.metric: rougeL\n---\n{{role \"system\"}}\nSummarise the review in one short sentence.\n{{role \"user\"}}\n{{review}}\n";
    let file = root.join("summary.prompt");
    std::fs::write(&file, prompt).unwrap();

    let config = Config::load(&file).unwrap();
    let plan = run::plan(
        &Analysis::new(prompt, Some(&file)),
        &config,
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(plan.rows.len(), ROWS);
    {
        // Fill the cache as a first run would.
        let store = cache::Cache::open(&config.cache_path_ensured().unwrap()).unwrap();
        for (i, row) in plan.rows.iter().enumerate() {
            let request = plan.request(row).unwrap();
            let key = cache::key(&plan.provider.name, &request);
            let answer = ChatResponse {
                text: format!(
                    "the battery lasts {} days and support answers fast {i}",
                    i % 3 + 1
                ),
                prompt_tokens: 40,
                completion_tokens: 12,
            };
            store.put(&key, "mock", "tiny", &answer).unwrap();
        }
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut plans = Vec::new();
    let mut runs = Vec::new();
    let mut score = 0.0;
    for _ in 0..7 {
        let started = Instant::now();
        let plan = run::plan(
            &Analysis::new(prompt, Some(&file)),
            &config,
            &Overrides::default(),
        )
        .unwrap();
        let client = config.client(true).unwrap();
        plans.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let report = runtime
            .block_on(run::run(
                &plan,
                &client,
                8,
                &CancellationToken::new(),
                &|_, _, _| {},
            ))
            .unwrap();
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!((report.cache_hits, report.calls), (ROWS as u64, 0));
        score = report.score;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "eval_cached: {ROWS} rows, rougeL {score:.4}: plan (read dataset, compile, open cache) {:.1} ms, run (render, key, cache lookup, read, score, interval) {:.1} ms (medians of 7)",
        median(&mut plans),
        median(&mut runs)
    );
}
