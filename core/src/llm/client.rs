//! Model calls over HTTP: one request per attempt, retried by `RetryPolicy`, with errors
//! that say what happened and to which request, and never contain the key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::cache::{self, Cache};
use super::limits::{Gate, Limits};
use super::provider::{Api, Provider};
use super::retry::{self, RetryPolicy};
use super::wire::{self, ChatRequest, ChatResponse};

/// A call that failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
    /// The call was retried until its attempts ran out (429, 5xx, timeouts, broken
    /// connections): the provider may well answer later, so an evaluation tries the row
    /// once more in a final round. `false` for answers that will not change (400, 401…).
    pub transient: bool,
    /// The run's budget refused the next attempt: the call stopped without a provider
    /// error (`attempts` were made before it).
    pub over_budget: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// A successful call and how many attempts it took (0 when the cache answered).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub response: ChatResponse,
    pub attempts: u32,
    /// Whether the answer came from the cache.
    pub cached: bool,
}

/// A budget asked before every HTTP attempt of a call, retries included, so a run's
/// ceiling holds for requests actually sent.
pub trait Reserve: Send + Sync {
    /// May one more attempt of `request` to `provider` be sent? `reserved`: this attempt
    /// was already reserved with the run (a first attempt); otherwise it is reserved now.
    /// `Err` says why not, and ends the call.
    fn attempt(
        &self,
        provider: &Provider,
        request: &ChatRequest,
        reserved: bool,
    ) -> Result<(), Declined>;
}

/// Why a budget let no more attempts go: the budget's own reason (say, an optimizer's
/// `Stop`), shown as it is.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Declined(Box<dyn std::error::Error + Send + Sync>);

impl Declined {
    pub fn new(why: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Declined {
        Declined(why.into())
    }
}

/// No budget: every attempt may go.
pub struct Unlimited;

impl Reserve for Unlimited {
    fn attempt(&self, _: &Provider, _: &ChatRequest, _: bool) -> Result<(), Declined> {
        Ok(())
    }
}

/// Shared by every call of a process (wrap it in an `Arc`): each provider's pacing and
/// calls-in-flight limit hold across all evaluations and jobs.
pub struct Client {
    http: reqwest::Client,
    policy: RetryPolicy,
    /// Limits set in settings, by provider name; others use `Limits::default_for`.
    limits: HashMap<String, Limits>,
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    /// Answers by request; `None` calls every time.
    cache: Option<Mutex<Cache>>,
    /// Whether the cache answers (`--no-cache` calls every time but still stores what
    /// comes back, so the next run has it).
    read_cache: bool,
}

/// What one attempt came to.
enum Attempt {
    Done(ChatResponse),
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fail(String),
}

impl Client {
    pub fn new(policy: RetryPolicy) -> Client {
        Client::with_limits(policy, HashMap::new())
    }

    pub fn with_limits(policy: RetryPolicy, limits: HashMap<String, Limits>) -> Client {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent(concat!("promptls/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry `x-api-key`/`x-goog-api-key` to wherever it points
            // (reqwest strips only `Authorization`); model APIs do not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with rustls and a timeout builds");
        Client {
            http,
            policy,
            limits,
            gates: Mutex::new(HashMap::new()),
            cache: None,
            read_cache: true,
        }
    }

    /// Answers repeated requests from `cache` and stores new answers in it.
    pub fn with_cache(mut self, cache: Cache) -> Client {
        self.cache = Some(Mutex::new(cache));
        self
    }

    /// Calls every time, storing the answers (`--no-cache`).
    pub fn without_cache_reads(mut self) -> Client {
        self.read_cache = false;
        self
    }

    /// The cached answer to `request`, without calling (live scores in the editor).
    pub fn cached(&self, provider: &Provider, request: &ChatRequest) -> Option<ChatResponse> {
        let cache = self.cache.as_ref()?;
        let key = cache::key(&provider.name, request);
        cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
    }

    /// The cached answers to many requests, read in one transaction; `None` for a miss,
    /// and for every request when the cache is not read (`--no-cache`).
    pub fn cached_many(&self, keys: &[&str]) -> Vec<Option<ChatResponse>> {
        match (&self.cache, self.read_cache) {
            (Some(cache), true) => cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_many(keys),
            _ => vec![None; keys.len()],
        }
    }

    /// The provider's gate, made on first use.
    fn gate(&self, provider: &str) -> Arc<Gate> {
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        gates
            .entry(provider.to_string())
            .or_insert_with(|| {
                let limits = self
                    .limits
                    .get(provider)
                    .copied()
                    .unwrap_or_else(|| Limits::default_for(provider));
                Arc::new(Gate::new(&limits))
            })
            .clone()
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Calls `provider` with `request`, retrying as the policy says.
    pub async fn chat(
        &self,
        provider: &Provider,
        request: &ChatRequest,
    ) -> Result<Answer, CallError> {
        self.chat_within(provider, request, &Unlimited, 0).await
    }

    /// As `chat`, with every HTTP attempt asked of `budget` before it is sent; the first
    /// `reserved` attempts were reserved in advance (a run reserves each call's first).
    pub async fn chat_within(
        &self,
        provider: &Provider,
        request: &ChatRequest,
        budget: &dyn Reserve,
        reserved: u32,
    ) -> Result<Answer, CallError> {
        let what = format!("{}/{}", provider.name, request.model);
        if let Some(refusal) = &provider.refused {
            // The last line of defence: front-ends refuse before they start a run.
            return Err(CallError {
                message: refusal.to_string(),
                attempts: 0,
                transient: false,
                over_budget: false,
            });
        }
        let key = self
            .cache
            .as_ref()
            .map(|_| cache::key(&provider.name, request));
        if let (Some(cache), Some(key), true) = (&self.cache, &key, self.read_cache) {
            let hit = cache.lock().unwrap_or_else(|p| p.into_inner()).get(key);
            if let Some(response) = hit {
                return Ok(Answer {
                    response,
                    attempts: 0,
                    cached: true,
                });
            }
        }
        let gate = self.gate(&provider.name);
        let tokens = estimate_tokens(request);
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts.max(1) {
            if let Err(why) = budget.attempt(provider, request, attempt <= reserved) {
                return Err(CallError {
                    over_budget: true,
                    ..self.error(provider, format!("{what}: not sent: {why}"), attempt - 1)
                });
            }
            let outcome = {
                let _in_flight = gate.enter(tokens).await;
                self.attempt(provider, request).await
            };
            match outcome {
                Attempt::Done(mut response) => {
                    // A key the model echoed back is masked before the answer is stored
                    // or shown (cache, reports, diagnostics, history all get this text).
                    response.text = crate::secrets::redact_owned(response.text);
                    if let (Some(cache), Some(key)) = (&self.cache, &key) {
                        let stored = cache.lock().unwrap_or_else(|p| p.into_inner()).put(
                            key,
                            &provider.name,
                            &request.model,
                            &response,
                        );
                        if let Err(e) = stored {
                            tracing::warn!("{what}: {e}");
                        }
                    }
                    return Ok(Answer {
                        response,
                        attempts: attempt,
                        cached: false,
                    });
                }
                Attempt::Fail(why) => {
                    return Err(self.error(provider, format!("{what}: {why}"), attempt));
                }
                Attempt::Retry { why, after } => {
                    if let Some(after) = after {
                        if after > self.policy.max_retry_after {
                            let asked = if after >= retry::RETRY_AFTER_CAP {
                                format!("at least {}s", retry::RETRY_AFTER_CAP.as_secs())
                            } else {
                                format!("{}s", after.as_secs())
                            };
                            return Err(self.error(
                                provider,
                                format!(
                                    "{what}: {why}, and the provider asks to wait {asked} (Retry-After), more than the {}s promptls waits; not retried",
                                    self.policy.max_retry_after.as_secs()
                                ),
                                attempt,
                            ));
                        }
                    }
                    last = self.error(provider, why, attempt).message;
                    if attempt < self.policy.attempts {
                        let wait = self.policy.delay(attempt, retry::jitter(), after);
                        tracing::info!("{what}: {last}; retrying in {:.1}s", wait.as_secs_f64());
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        let attempts = self.policy.attempts.max(1);
        Err(CallError {
            transient: true,
            ..self.error(
                provider,
                format!("{what}: {last} (gave up after {attempts} attempts)"),
                attempts,
            )
        })
    }

    /// An error whose text cannot hold the key, even if a provider echoed it back: the
    /// provider's key and every registered secret (or a prefix of one) are masked.
    fn error(&self, provider: &Provider, message: String, attempts: u32) -> CallError {
        let message = match &provider.key {
            Some(key) if !key.expose().is_empty() => message.replace(key.expose(), "***"),
            _ => message,
        };
        let message = crate::secrets::redact_owned(message);
        CallError {
            message,
            attempts,
            transient: false,
            over_budget: false,
        }
    }

    /// Whether `provider`'s endpoint answers: one `GET {base}/models` (every supported
    /// API lists models there) with the key, no retries. `Ok` is the HTTP status; `Err`
    /// says why nothing answered. Neither holds the key.
    pub async fn probe(&self, provider: &Provider) -> Result<u16, super::Error> {
        if let Some(refusal) = &provider.refused {
            return Err(super::Error::Refused(refusal.clone()));
        }
        let mut http = self
            .http
            .get(format!("{}/models", provider.base_url))
            .timeout(self.policy.timeout.min(std::time::Duration::from_secs(10)));
        if provider.api == Api::Anthropic {
            http = http.header("anthropic-version", "2023-06-01");
        }
        if let Some(key) = &provider.key {
            http = match provider.api {
                Api::OpenAi => http.bearer_auth(key.expose()),
                Api::Gemini => http.header("x-goog-api-key", key.expose()),
                Api::Anthropic => http.header("x-api-key", key.expose()),
            };
        }
        match http.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => {
                let why = if e.is_timeout() {
                    "no answer in time".to_string()
                } else {
                    source_chain(&e)
                };
                Err(super::Error::Unreachable(self.error(
                    provider,
                    format!("cannot reach {}: {why}", provider.base_url),
                    1,
                )))
            }
        }
    }

    async fn attempt(&self, provider: &Provider, request: &ChatRequest) -> Attempt {
        let body = wire::body(provider.api, request);
        let mut http = match provider.api {
            Api::OpenAi => self
                .http
                .post(format!("{}/chat/completions", provider.base_url)),
            Api::Gemini => self.http.post(format!(
                "{}/models/{}:generateContent",
                provider.base_url, request.model
            )),
            Api::Anthropic => self
                .http
                .post(format!("{}/messages", provider.base_url))
                .header("anthropic-version", "2023-06-01"),
        };
        if let Some(key) = &provider.key {
            http = match provider.api {
                Api::OpenAi => http.bearer_auth(key.expose()),
                Api::Gemini => http.header("x-goog-api-key", key.expose()),
                Api::Anthropic => http.header("x-api-key", key.expose()),
            };
        }
        let response = match http.json(&body).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry {
                    why: format!("no answer within {}s", self.policy.timeout.as_secs()),
                    after: None,
                }
            }
            Err(e) => {
                return Attempt::Retry {
                    why: format!("cannot reach {}: {}", provider.base_url, source_chain(&e)),
                    after: None,
                }
            }
        };
        let status = response.status();
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::retry_after(v, SystemTime::now()));
        let text = match read_body(response, MAX_RESPONSE_BYTES).await {
            Ok(t) => t,
            Err(BodyError::TooLarge(announced)) => {
                let size = announced.map_or_else(|| "more".to_string(), |n| format!("{n} bytes"));
                let why = format!(
                    "HTTP {status}: the response is {size}, over the {} MiB promptls reads; not read",
                    MAX_RESPONSE_BYTES >> 20
                );
                // A refusal or an overload is still one, whatever its body.
                return if !status.is_success() && retry::retryable_status(status.as_u16()) {
                    Attempt::Retry { why, after }
                } else {
                    Attempt::Fail(why)
                };
            }
            Err(BodyError::Read(e)) if e.is_timeout() => {
                return Attempt::Retry {
                    why: format!("no whole answer within {}s", self.policy.timeout.as_secs()),
                    after: None,
                }
            }
            Err(BodyError::Read(e)) => {
                return Attempt::Retry {
                    why: format!("the response was cut off: {}", source_chain(&e)),
                    after: None,
                }
            }
        };
        if !status.is_success() {
            let why = format!("HTTP {status}: {}", excerpt(&text));
            return if retry::retryable_status(status.as_u16()) {
                Attempt::Retry { why, after }
            } else {
                Attempt::Fail(why)
            };
        }
        let json: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                return Attempt::Fail(format!(
                    "the response is not JSON ({e}): {}",
                    excerpt(&text)
                ))
            }
        };
        match wire::parse(provider.api, &json) {
            Ok(r) => Attempt::Done(r),
            Err(why) => Attempt::Fail(format!("{why}: {}", excerpt(&text))),
        }
    }
}

/// The most of a provider's response body promptls reads: 32 MiB. A chat answer is a
/// few kilobytes to a few megabytes; a larger body (or a Content-Length announcing one)
/// fails the attempt instead of being buffered.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

enum BodyError {
    /// Over the limit: the announced length, if there was one.
    TooLarge(Option<u64>),
    Read(reqwest::Error),
}

/// The body as text (invalid UTF-8 replaced), read chunk by chunk and given up on as
/// soon as it would exceed `limit` bytes.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(announced));
    }
    let mut body: Vec<u8> = Vec::with_capacity(announced.map_or(8 * 1024, |n| n as usize));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(announced));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// What a call may use of a tokens-per-minute budget: the prompt's text at about four
/// characters a token, plus the output allowance.
fn estimate_tokens(request: &ChatRequest) -> u32 {
    let chars: usize = request
        .messages
        .iter()
        .flat_map(|m| {
            m.get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .map(str::len)
        .sum();
    let output = request
        .config
        .get("maxOutputTokens")
        .and_then(Value::as_u64)
        .unwrap_or(256);
    (chars as u64 / 4 + output).min(u64::from(u32::MAX)) as u32
}

/// An error with its causes (reqwest's own message is often just "error sending request").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The start of a response body, on one line, with secrets masked before it is cut (a
/// key cut in half would no longer be recognised).
fn excerpt(text: &str) -> String {
    let text = crate::secrets::redact(text);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        format!("{}…", flat.chars().take(300).collect::<String>())
    } else if flat.is_empty() {
        "(empty body)".into()
    } else {
        flat
    }
}
