//! Pacing against a provider's limit: 300 calls to a mock that answers in 200 ms and,
//! like a provider, refuses (429) any request over its limit of 600 a minute, enforced
//! as 10 in any trailing second (so a burst would show). promptls is given 600 RPM; the
//! achieved rate should be close to it with no refusals.
//!
//!     cargo bench --bench providers_pacing     (about 30 s)

#[path = "../../tests/support/mock_llm.rs"]
mod mock_llm;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mock_llm::{Mock, Reply};
use promptls_core::llm::client::Client;
use promptls_core::llm::limits::Limits;
use promptls_core::llm::provider::{Api, Provider};
use promptls_core::llm::retry::RetryPolicy;
use promptls_core::llm::wire::ChatRequest;
use serde_json::json;

const CALLS: usize = 300;
const RPM: u32 = 600;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let answer = json!({"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 10, "completion_tokens": 1}});
        let mock = Mock::start_limited(
            vec![Reply::Slow(Duration::from_millis(200), Box::new(Reply::ok(answer)))],
            Some((RPM as usize / 60, Duration::from_secs(1))),
        )
        .await;
        // PACING=off runs the same calls without promptls's pacing, to show the mock
        // refusing a burst.
        let paced = std::env::var("PACING").as_deref() != Ok("off");
        let limits = HashMap::from([(
            "mock".to_string(),
            Limits {
                rpm: paced.then_some(RPM),
                tpm: None,
                concurrency: 8,
            },
        )]);
        let client = Arc::new(Client::with_limits(RetryPolicy::default(), limits));
        let provider = Provider {
            name: "mock".into(),
            api: Api::OpenAi,
            base_url: mock.base_url.clone(),
            key_env: None,
            key: None,
            refused: None,
        };
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![json!({"role": "user", "content": [{"text": "hi"}]})],
            config: Default::default(),
            json_output: false,
        };
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let (client, provider, request) = (client.clone(), provider.clone(), request.clone());
                tokio::spawn(async move { client.chat(&provider, &request).await })
            })
            .collect();
        let mut failed = 0;
        for call in calls {
            if call.await.unwrap().is_err() {
                failed += 1;
            }
        }
        let mut times: Vec<_> = mock.requests().iter().map(|r| r.at).collect();
        times.sort();
        let span = (*times.last().unwrap() - times[0]).as_secs_f64();
        let rate = (times.len() - 1) as f64 / span * 60.0;
        let refused = *mock.rejected.lock().unwrap();
        println!(
            "{CALLS} calls at a {RPM} RPM limit, 200 ms latency, pacing {}: {} requests over {span:.1} s = {rate:.1} per minute ({:.1}% of the limit); refused by the provider: {refused}; failed calls: {failed}",
            if paced { "on" } else { "off" },
            times.len(),
            rate / f64::from(RPM) * 100.0
        );
    });
}
