//! The real HTTP client against scripted providers on 127.0.0.1: request bodies per API,
//! retries and backoff, errors that name the request and never the key.

#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::time::Duration;

use mock_llm::{Mock, Reply};
use std::collections::HashMap;
use std::sync::Arc;

use promptls_core::llm::cache::Cache;
use promptls_core::llm::client::{Client, Declined, Reserve};
use promptls_core::llm::limits::Limits;
use promptls_core::llm::provider::{Api, Provider, Secret};
use promptls_core::llm::retry::RetryPolicy;
use promptls_core::llm::wire::ChatRequest;
use serde_json::json;

const KEY: &str = "sk-test-0123456789abcdef";

fn provider(mock: &Mock, api: Api) -> Provider {
    Provider {
        // A name without default limits (groq would be paced at 30 RPM).
        name: "mock".into(),
        api,
        base_url: mock.base_url.clone(),
        key_env: Some("GROQ_API_KEY".into()),
        key: Some(Secret::new(KEY)),
        refused: None,
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "llama-3.1-8b-instant".into(),
        messages: vec![
            json!({"role": "system", "content": [{"text": "Classify."}]}),
            json!({"role": "user", "content": [{"text": "Great phone"}]}),
        ],
        config: serde_json::from_value(json!({"temperature": 0})).unwrap(),
        json_output: false,
    }
}

/// Quick retries for tests: the backoff starts at 40 ms.
fn fast() -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(40),
        timeout: Duration::from_millis(500),
        ..RetryPolicy::default()
    }
}

fn openai_answer(text: &str) -> Reply {
    Reply::ok(
        json!({"choices": [{"message": {"role": "assistant", "content": text}}], "usage": {"prompt_tokens": 12, "completion_tokens": 1}}),
    )
}

#[tokio::test]
async fn openai_compatible_request_and_answer() {
    let mock = Mock::start(vec![openai_answer("positive")]).await;
    let answer = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap();
    assert_eq!(
        (answer.response.text.as_str(), answer.attempts),
        ("positive", 1)
    );
    assert_eq!(
        (
            answer.response.prompt_tokens,
            answer.response.completion_tokens
        ),
        (12, 1)
    );
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.body["model"], "llama-3.1-8b-instant");
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "Classify."})
    );
    assert_eq!(sent.body["temperature"], 0);
}

#[tokio::test]
async fn gemini_and_anthropic_requests() {
    let gemini = Mock::start(vec![Reply::ok(json!({"candidates": [{"content": {"parts": [{"text": "neutral"}]}}], "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1}}))]).await;
    let mut r = request();
    r.json_output = true;
    r.model = "gemini-2.0-flash".into();
    let answer = Client::new(fast())
        .chat(&provider(&gemini, Api::Gemini), &r)
        .await
        .unwrap();
    assert_eq!(answer.response.text, "neutral");
    let sent = &gemini.requests()[0];
    assert_eq!(sent.path, "/models/gemini-2.0-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        "Classify."
    );
    assert_eq!(
        sent.body["generationConfig"]["responseMimeType"],
        "application/json"
    );

    let anthropic = Mock::start(vec![Reply::ok(json!({"content": [{"type": "text", "text": "negative"}], "usage": {"input_tokens": 9, "output_tokens": 1}}))]).await;
    let answer = Client::new(fast())
        .chat(&provider(&anthropic, Api::Anthropic), &request())
        .await
        .unwrap();
    assert_eq!(
        (answer.response.text.as_str(), answer.response.prompt_tokens),
        ("negative", 9)
    );
    let sent = &anthropic.requests()[0];
    assert_eq!(sent.path, "/messages");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        (
            sent.body["system"].as_str(),
            sent.body["max_tokens"].as_u64()
        ),
        (Some("Classify."), Some(1024))
    );
}

#[tokio::test]
async fn retries_429_honouring_retry_after_and_5xx() {
    let mock = Mock::start(vec![
        Reply::retry_after(429, "1"),
        Reply::status(503, "busy"),
        openai_answer("ok"),
    ])
    .await;
    let answer = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap();
    assert_eq!((answer.response.text.as_str(), answer.attempts), ("ok", 3));
    let sent = mock.requests();
    assert_eq!(sent.len(), 3);
    let first_wait = sent[1].at - sent[0].at;
    assert!(
        first_wait >= Duration::from_millis(990),
        "waited {first_wait:?}, Retry-After said 1 s"
    );
    let second_wait = sent[2].at - sent[1].at;
    // Backoff for the second retry: 40 ms * 2, halved, plus jitter: 40..80 ms.
    assert!(
        second_wait >= Duration::from_millis(35) && second_wait < Duration::from_millis(900),
        "{second_wait:?}"
    );
}

#[tokio::test]
async fn gives_up_after_three_attempts_with_a_clear_error() {
    let mock = Mock::start(vec![Reply::status(
        500,
        &format!("internal error for key {KEY}"),
    )])
    .await;
    let error = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap_err();
    assert_eq!(mock.requests().len(), 3);
    assert_eq!(error.attempts, 3);
    // Out of attempts on a fault that may pass: an evaluation tries it again later.
    assert!(error.transient);
    let text = error.to_string();
    assert!(
        text.starts_with("mock/llama-3.1-8b-instant: HTTP 500"),
        "{text}"
    );
    assert!(text.contains("gave up after 3 attempts"), "{text}");
    assert!(!text.contains(KEY), "the key leaked into: {text}");
    assert!(text.contains("***"), "{text}");
}

/// A budget of `left` attempts beyond those reserved in advance, counting what it is asked.
struct Attempts {
    left: std::sync::Mutex<u32>,
    asked: std::sync::Mutex<Vec<bool>>,
}

impl Attempts {
    fn new(left: u32) -> Attempts {
        Attempts {
            left: std::sync::Mutex::new(left),
            asked: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Reserve for Attempts {
    fn attempt(&self, _: &Provider, _: &ChatRequest, reserved: bool) -> Result<(), Declined> {
        self.asked.lock().unwrap().push(reserved);
        let mut left = self.left.lock().unwrap();
        if reserved {
            return Ok(());
        }
        if *left == 0 {
            return Err(Declined::new("max-calls reached"));
        }
        *left -= 1;
        Ok(())
    }
}

#[tokio::test]
async fn every_retry_is_reserved_before_it_is_sent() {
    let mock = Mock::start(vec![Reply::status(503, "{}")]).await;
    let budget = Attempts::new(1);
    let e = Client::new(fast())
        .chat_within(&provider(&mock, Api::OpenAi), &request(), &budget, 1)
        .await
        .unwrap_err();
    // The first attempt was reserved, the second reserved now, the third refused.
    assert_eq!(*budget.asked.lock().unwrap(), [true, false, false]);
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(e.attempts, 2);
    assert!(e.over_budget && !e.transient, "{e:?}");
    assert!(
        e.message
            .contains("mock/llama-3.1-8b-instant: not sent: max-calls reached"),
        "{}",
        e.message
    );

    // Nothing reserved in advance (a final round): the first attempt is asked too.
    let mock = Mock::start(vec![openai_answer("positive")]).await;
    let none = Attempts::new(0);
    let e = Client::new(fast())
        .chat_within(&provider(&mock, Api::OpenAi), &request(), &none, 0)
        .await
        .unwrap_err();
    assert_eq!((e.attempts, mock.requests().len()), (0, 0));
    assert!(e.over_budget);
}

#[tokio::test]
async fn no_retry_on_400_and_401() {
    for status in [400, 401] {
        let mock = Mock::start(vec![Reply::status(
            status,
            r#"{"error": {"message": "bad"}}"#,
        )])
        .await;
        let error = Client::new(fast())
            .chat(&provider(&mock, Api::OpenAi), &request())
            .await
            .unwrap_err();
        assert_eq!(mock.requests().len(), 1, "status {status} is not retried");
        assert!(!error.transient, "status {status} will not change");
        assert!(
            error.to_string().contains(&format!("HTTP {status}")),
            "{error}"
        );
        assert!(error.to_string().contains("bad"), "{error}");
    }
}

#[tokio::test]
async fn timeouts_cut_off_bodies_and_broken_json() {
    // Slower than the 500 ms timeout, then an answer.
    let mock = Mock::start(vec![
        Reply::Slow(Duration::from_millis(1500), Box::new(openai_answer("late"))),
        openai_answer("ok"),
    ])
    .await;
    let answer = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap();
    assert_eq!((answer.response.text.as_str(), answer.attempts), ("ok", 2));

    let mock = Mock::start(vec![
        Reply::Truncated(r#"{"choices": [{"mess"#.into()),
        openai_answer("whole"),
    ])
    .await;
    let answer = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap();
    assert_eq!(
        (answer.response.text.as_str(), answer.attempts),
        ("whole", 2)
    );

    let mock = Mock::start(vec![Reply::status(200, "<html>gateway</html>")]).await;
    let error = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap_err();
    assert_eq!(mock.requests().len(), 1);
    assert!(
        error.to_string().contains("not JSON") && error.to_string().contains("gateway"),
        "{error}"
    );

    // Nothing listening: connection errors are retried, then named.
    let closed = Provider {
        base_url: "http://127.0.0.1:9".into(),
        ..provider(&Mock::start(vec![openai_answer("x")]).await, Api::OpenAi)
    };
    let error = Client::new(fast())
        .chat(&closed, &request())
        .await
        .unwrap_err();
    assert_eq!(error.attempts, 3);
    assert!(
        error
            .to_string()
            .contains("cannot reach http://127.0.0.1:9"),
        "{error}"
    );
}

#[tokio::test]
async fn a_long_retry_after_fails_instead_of_waiting() {
    let mock = Mock::start(vec![Reply::retry_after(429, "3600")]).await;
    let error = Client::new(fast())
        .chat(&provider(&mock, Api::OpenAi), &request())
        .await
        .unwrap_err();
    assert_eq!(mock.requests().len(), 1);
    assert!(error.to_string().contains("asks to wait 3600s"), "{error}");
    assert!(
        !error.transient,
        "a wait beyond the run's patience is not tried again"
    );
}

#[tokio::test]
async fn calls_are_paced_under_the_providers_limit() {
    let mock = Mock::start(vec![openai_answer("ok")]).await;
    let limits = HashMap::from([(
        "mock".to_string(),
        Limits {
            rpm: Some(600),
            tpm: None,
            concurrency: 8,
        },
    )]);
    let client = Arc::new(Client::with_limits(fast(), limits));
    let provider = provider(&mock, Api::OpenAi);
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (client, provider) = (client.clone(), provider.clone());
            tokio::spawn(async move { client.chat(&provider, &request()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let mut times: Vec<_> = mock.requests().iter().map(|r| r.at).collect();
    times.sort();
    // 600 RPM: one call every 100 ms, even when six are started at once.
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(90), "calls {gap:?} apart");
    }
    let total = times[5] - times[0];
    assert!(
        total < Duration::from_millis(800),
        "paced, not serialised: {total:?}"
    );
}

#[tokio::test]
async fn the_cache_answers_repeats_and_keeps_no_key() {
    let mock = Mock::start(vec![openai_answer("positive")]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.sqlite");
    let provider = provider(&mock, Api::OpenAi);
    {
        let client = Client::new(fast()).with_cache(Cache::open(&path).unwrap());
        let first = client.chat(&provider, &request()).await.unwrap();
        assert!(!first.cached);
        let again = client.chat(&provider, &request()).await.unwrap();
        assert!(again.cached && again.attempts == 0);
        assert_eq!(again.response, first.response);
        assert_eq!(mock.requests().len(), 1, "a repeated request costs no call");
    }
    // A new process (a new client on the same file): still cached. An edited prompt is
    // sent.
    let client = Client::new(fast()).with_cache(Cache::open(&path).unwrap());
    assert!(client.chat(&provider, &request()).await.unwrap().cached);
    let mut edited = request();
    edited.messages[1] = json!({"role": "user", "content": [{"text": "Great phone!"}]});
    assert!(!client.chat(&provider, &edited).await.unwrap().cached);
    assert_eq!(mock.requests().len(), 2);
    // Without a cache (--no-cache), every call goes out.
    Client::new(fast())
        .chat(&provider, &request())
        .await
        .unwrap();
    assert_eq!(mock.requests().len(), 3);
    drop(client);
    // The key is nowhere in the cache's files.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key was written to disk"
        );
    }
}
