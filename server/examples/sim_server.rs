//! The simulated model of tests/support/sim_model.rs as a server, for benchmarks that
//! drive it from another process (scripts/dspy_compare.py):
//!
//!     cargo run --release --example sim_server -- PORT
//!
//! OpenAI-compatible at `http://127.0.0.1:PORT/v1/chat/completions` (and without `/v1`).
//! `GET /stats` returns the requests received per model; `POST /reset` zeroes them.
//! `sim_server --csv N SEED` prints a dataset of N rows instead; `sim_server PORT
//! --latency` answers after a simulated response time.

#[path = "../../tests/support/mock_llm.rs"]
mod mock_llm;
#[path = "../../tests/support/sim_model.rs"]
mod sim_model;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mock_llm::Reply;
use serde_json::json;

fn main() {
    // `sim_server --csv N SEED` prints N rows of the simulated task as CSV instead.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--csv") {
        let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
        let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        print!("{}", sim_model::csv(&sim_model::rows(n, seed)));
        return;
    }
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(8790);
    // `--latency`: answer after the time `sim_model::latency` gives.
    let slow = args.iter().any(|a| a == "--latency");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let seen = counts.clone();
        let mock = mock_llm::Mock::start_on(port, move |request| {
            if request.path.ends_with("/stats") {
                return Reply::ok(json!(*seen.lock().unwrap()));
            }
            if request.path.ends_with("/reset") {
                seen.lock().unwrap().clear();
                return Reply::ok(json!({}));
            }
            let model = request.body["model"].as_str().unwrap_or("?").to_string();
            *seen.lock().unwrap().entry(model).or_default() += 1;
            let reply = sim_model::respond(request);
            if slow {
                let messages = request.body["messages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let text =
                    sim_model::answer(request.body["model"].as_str().unwrap_or(""), &messages);
                let (p, c) = sim_model::tokens(&messages, &text);
                return Reply::Slow(sim_model::latency(p, c), Box::new(reply));
            }
            reply
        })
        .await;
        eprintln!("sim_server listening on {}", mock.base_url);
        std::future::pending::<()>().await;
    });
}
