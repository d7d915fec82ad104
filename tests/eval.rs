//! `promptls eval` and `promptls doctor`, the real binary against a model server on
//! 127.0.0.1 started by each test: calls, cache hits and cost, only changed rows re-sent
//! after an edit, gates and their exit codes, JSON output and the judge, JUnit, and keys
//! kept out of the output, the logs and the cache file.

#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::path::{Path, PathBuf};
use std::process::Output;

use mock_llm::{Mock, Received, Reply};
use serde_json::{json, Value};

const KEY: &str = "sk-test-SECRET-7f3a9c";

/// The text of the last user message of an OpenAI-shaped request.
fn last_user_text(request: &Received) -> String {
    request.body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

fn system_text(request: &Received) -> String {
    request.body["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "system"))
        .map(|m| m["content"].to_string())
        .unwrap_or_default()
}

fn answer(text: &str) -> Reply {
    Reply::ok(json!({
        "choices": [{"message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}
    }))
}

/// A sentiment "model": positive when the review says great or love, else negative,
/// and it misses sarcasm ("great, it broke" is negative in the dataset).
fn sentiment_model(request: &Received) -> Reply {
    if request.path.ends_with("/models") {
        return Reply::ok(json!({"data": []}));
    }
    if system_text(request).contains("impartial grader") {
        let user = last_user_text(request);
        let score = if user.contains("RESPONSE:\npositive") {
            9
        } else {
            4
        };
        return answer(&format!("{{\"score\": {score}, \"reason\": \"graded\"}}"));
    }
    let text = last_user_text(request).to_lowercase();
    answer(if text.contains("great") || text.contains("love") {
        "positive"
    } else {
        "negative"
    })
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(mock: &Mock, toml_extra: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace { dir };
        ws.write(
            "promptls.toml",
            &format!(
                "[providers.mock]\nbase_url = \"{}\"\napi_key_env = \"MOCK_KEY\"\nconcurrency = 4\nprices = {{ \"tiny\" = {{ input = 1.0, output = 2.0 }} }}\n[eval]\nattempts = 2\ntimeout = 2\n{toml_extra}",
                mock.base_url
            ),
        );
        ws.write(".env", &format!("MOCK_KEY={KEY}\n"));
        ws.write(
            "data/reviews.csv",
            "text,tier,label\n\
             I love it,vip,positive\n\
             Great value,basic,positive\n\
             Broke in a day,basic,negative\n\
             \"Great, it broke again\",vip,negative\n\
             Never buying again,basic,negative\n",
        );
        ws.write(
            "sentiment.prompt",
            &sentiment_prompt("Classify the review."),
        );
        ws
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn sentiment_prompt(instruction: &str) -> String {
    format!(
        "---\nmodel: mock/tiny\ninput:\n  schema:\n    text: string\n    tier: string\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.metric: exact_match\n---\n{{{{role \"system\"}}}}\n{instruction}\n{{{{#ifEquals tier \"vip\"}}}}Be extra careful: a VIP customer.{{{{/ifEquals}}}}\n{{{{role \"user\"}}}}\n{{{{text}}}}\n"
    )
}

/// Runs the binary in `dir` (no key in its environment: it comes from `.env`).
async fn promptls(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("MOCK_KEY")
        .env_remove("PROMPTLS_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    tokio::task::spawn_blocking(move || command.output().expect("promptls runs"))
        .await
        .unwrap()
}

fn json_report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_reports_calls_cost_and_the_cache_answers_the_rerun() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let eval = ["eval", "sentiment.prompt", "--format", "json"];

    let first = promptls(ws.dir.path(), &eval, &[]).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let report = json_report(&first);
    // The model misses the sarcasm of row 4: 4 of 5.
    assert_eq!(report["metric"], "exact_match");
    assert_eq!(report["model"], "mock/tiny");
    assert!(
        (report["score"].as_f64().unwrap() - 0.8).abs() < 1e-12,
        "{report:#}"
    );
    assert_eq!(
        (report["rows"].as_u64(), report["passed_rows"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(
        (report["calls"].as_u64(), report["cache_hits"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(
        (
            report["prompt_tokens"].as_u64(),
            report["completion_tokens"].as_u64()
        ),
        (Some(500), Some(50))
    );
    // promptls.toml prices `tiny` at $1 in and $2 out per million tokens.
    let cost = report["cost_usd"].as_f64().unwrap();
    assert!((cost - 5.0 * (100.0 + 20.0) / 1e6).abs() < 1e-12, "{cost}");
    let [lo, hi] = [
        report["interval"][0].as_f64().unwrap(),
        report["interval"][1].as_f64().unwrap(),
    ];
    assert!(lo < 0.8 && 0.8 < hi, "{lo} {hi}");
    let failing: Vec<&Value> = report["per_row"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .collect();
    assert_eq!(failing.len(), 1);
    let row4_sarcasm = failing[0];
    assert_eq!(
        (
            &row4_sarcasm["row"],
            &row4_sarcasm["expected"],
            &row4_sarcasm["score"]
        ),
        (&json!(4), &json!("negative"), &json!(0.0))
    );
    assert_eq!(row4_sarcasm["input"]["text"], "Great, it broke again");
    assert_eq!(row4_sarcasm["output"], "positive");
    assert_eq!(row4_sarcasm["line"], 5);
    assert_eq!(mock.requests().len(), 5);
    // The request carries the rendered messages and the key from .env.
    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.body["model"], "tiny");

    // The same run again: every row from the cache, nothing sent, nothing spent.
    let again = json_report(&promptls(ws.dir.path(), &eval, &[]).await);
    assert_eq!(
        (again["calls"].as_u64(), again["cache_hits"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(again["cost_usd"], 0.0);
    assert_eq!(again["score"], report["score"]);
    assert_eq!(mock.requests().len(), 5);

    // An edit inside the VIP branch changes the rendered prompt of the two VIP rows only.
    let edited = sentiment_prompt("Classify the review.").replace("Be extra careful", "Take care");
    ws.write("sentiment.prompt", &edited);
    let after_edit = json_report(&promptls(ws.dir.path(), &eval, &[]).await);
    assert_eq!(
        (
            after_edit["calls"].as_u64(),
            after_edit["cache_hits"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let resent: Vec<String> = mock.requests()[5..].iter().map(last_user_text).collect();
    let mut resent_sorted = resent.clone();
    resent_sorted.sort();
    assert_eq!(resent_sorted.len(), 2);
    assert!(
        resent_sorted[0].contains("Great, it broke again")
            && resent_sorted[1].contains("I love it"),
        "{resent:?}"
    );

    // --no-cache sends every row.
    let fresh =
        json_report(&promptls(ws.dir.path(), &[&eval[..], &["--no-cache"]].concat(), &[]).await);
    assert_eq!(
        (fresh["calls"].as_u64(), fresh["cache_hits"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(mock.requests().len(), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn gates_fail_with_exit_code_one() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let pass = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--min-score", "0.8"],
        &[],
    )
    .await;
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    assert!(
        text(&pass).contains("PASS score 0.800 meets --min-score 0.8"),
        "{}",
        text(&pass)
    );

    let fail = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--min-score", "0.9"],
        &[],
    )
    .await;
    assert_eq!(fail.status.code(), Some(1), "{}", text(&fail));
    let out = text(&fail);
    assert!(
        out.contains("FAIL score 0.800 is below --min-score 0.9"),
        "{out}"
    );
    assert!(
        out.contains("row 4 (line 5)") && out.contains("\"positive\""),
        "{out}"
    );

    // A baseline prompt that gets every row right (it is told about sarcasm... and the
    // model below answers from the instruction): the candidate's drop fails the gate.
    ws.write("baseline.json", &json!({"score": 1.0}).to_string());
    let drop = promptls(
        ws.dir.path(),
        &[
            "eval",
            "sentiment.prompt",
            "--baseline",
            "baseline.json",
            "--max-drop",
            "0.1",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert_eq!(drop.status.code(), Some(1), "{}", text(&drop));
    let report = json_report(&drop);
    assert_eq!(report["baseline_score"], 1.0);
    assert_eq!(report["passed"], false);
    assert_eq!(report["gates"][0]["name"], "baseline");
    // Within the allowed drop, and against another .prompt file evaluated on the same rows.
    ws.write(
        "other.prompt",
        &sentiment_prompt("Classify this review, please."),
    );
    let within = promptls(
        ws.dir.path(),
        &[
            "eval",
            "sentiment.prompt",
            "--baseline",
            "other.prompt",
            "--max-drop",
            "0.0",
        ],
        &[],
    )
    .await;
    assert_eq!(within.status.code(), Some(0), "{}", text(&within));
    assert!(
        text(&within).contains("vs baseline 0.800 (other.prompt): +0.000"),
        "{}",
        text(&within)
    );

    let usage = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--max-drop", "0.1"],
        &[],
    )
    .await;
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage).contains("--max-drop needs --baseline"));
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_lists_rows_and_gates() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(
        ws.dir.path(),
        &[
            "eval",
            "sentiment.prompt",
            "--format",
            "junit",
            "--min-score",
            "0.9",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("tests=\"6\" failures=\"2\" errors=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 6, "{xml}");
    assert!(xml.contains("name=\"row 4 (line 5)\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"exact_match 0.000 below 1\">"),
        "{xml}"
    );
    assert!(xml.contains("Great, it broke again"), "{xml}");
    assert!(xml.contains("name=\"min-score\"><failure"), "{xml}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_calls_fail_the_run_and_never_show_the_key() {
    // The provider refuses the key and echoes it back, as some do.
    let mock = Mock::start_with(|_| {
        Reply::status(401, &format!("{{\"error\": \"invalid api key {KEY}\"}}"))
    })
    .await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt"],
        &[("PROMPTLS_LOG", "trace")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("5 of 5 rows could not be evaluated"), "{all}");
    assert!(all.contains("HTTP 401"), "{all}");
    assert!(!all.contains(KEY), "the key leaked: {all}");
    // 401 is not retried: one request per row.
    assert_eq!(mock.requests().len(), 5);

    // A good run at trace level: the key is in no log line and not in the cache file.
    let good = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&good, "");
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt"],
        &[("PROMPTLS_LOG", "trace")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains(KEY));
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(ws.path(".promptls")).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(stored.len() > 4096, "the cache was written");
    let needle = KEY.as_bytes();
    assert!(
        !stored.windows(needle.len()).any(|w| w == needle),
        "the key is in the cache"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_then_answers_and_counts_the_calls() {
    // Every first request of a row fails with 503; the retry succeeds.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let mock = Mock::start_with(move |request| {
        let text = last_user_text(request);
        if seen.lock().unwrap().insert(text) {
            Reply::status(503, "{\"error\": \"overloaded\"}")
        } else {
            sentiment_model(request)
        }
    })
    .await;
    let ws = Workspace::new(&mock, "");
    let report = json_report(
        &promptls(
            ws.dir.path(),
            &["eval", "sentiment.prompt", "--format", "json"],
            &[],
        )
        .await,
    );
    assert_eq!(report["calls"], 10, "{report:#}");
    assert!((report["score"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    assert!(report["per_row"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["calls"] == 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_parsed_checked_and_matched_field_by_field() {
    let mock = Mock::start_with(|request| {
        let text = last_user_text(request);
        assert_eq!(request.body["response_format"]["type"], "json_object");
        if text.contains("Ana") {
            answer("```json\n{\"name\": \"Ana\", \"emails\": [\"ana@x.org\"]}\n```")
        } else if text.contains("Tom") {
            answer("{\"name\": \"Tom\", \"emails\": \"tom@x.org\"}")
        } else {
            answer("Sorry, I cannot help with that.")
        }
    })
    .await;
    let ws = Workspace::new(&mock, "");
    ws.write(
        "data/contacts.jsonl",
        &[
            json!({"email": "Ana, ana@x.org", "expected": {"name": "Ana", "emails": ["ana@x.org"]}}),
            json!({"email": "Tom, tom@x.org", "expected": {"name": "Tom", "emails": ["tom@x.org"]}}),
            json!({"email": "Lee, lee@x.org", "expected": {"name": "Lee", "emails": ["lee@x.org"]}}),
        ]
        .iter()
        .map(|v| v.to_string() + "\n")
        .collect::<String>(),
    );
    ws.write(
        "extract.prompt",
        "---\nmodel: mock/tiny\ninput:\n  schema:\n    email: string\noutput:\n  format: json\n  schema:\n    name: string\n    emails(array): string\npromptls.dataset: data/contacts.jsonl\npromptls.target: expected\npromptls.metric: json_match\n---\nExtract the contact from: {{email}}\n",
    );
    let out = promptls(
        ws.dir.path(),
        &["eval", "extract.prompt", "--format", "json"],
        &[],
    )
    .await;
    let report = json_report(&out);
    let rows = report["per_row"].as_array().unwrap();
    assert_eq!(rows[0]["score"], 1.0, "{report:#}");
    assert_eq!(rows[0]["problems"], json!([]));
    assert_eq!(rows[1]["score"], 0.0);
    assert!(
        rows[1]["problems"][0]
            .as_str()
            .unwrap()
            .contains("output.schema at /emails"),
        "{report:#}"
    );
    assert!(
        rows[2]["problems"][0]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{report:#}"
    );
    assert!((report["score"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_judge_grades_with_its_own_model() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let prompt = sentiment_prompt("Classify the review.")
        .replace("promptls.metric: exact_match", "promptls.metric: judge\npromptls.judge: {rubric: \"Is the sentiment right?\", model: mock/judge-large}");
    ws.write("judged.prompt", &prompt);
    let report = json_report(
        &promptls(
            ws.dir.path(),
            &["eval", "judged.prompt", "--format", "json"],
            &[],
        )
        .await,
    );
    assert_eq!(report["metric"], "judge");
    // The judge gives 9 to "positive" answers and 4 to the rest: 3 positive answers.
    let want = (3.0 * 0.9 + 2.0 * 0.4) / 5.0;
    assert!(
        (report["score"].as_f64().unwrap() - want).abs() < 1e-12,
        "{report:#}"
    );
    assert_eq!(report["calls"], 10);
    assert_eq!(report["per_row"][0]["reason"], "graded");
    let models: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        models.iter().filter(|m| *m == "judge-large").count(),
        5,
        "{models:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_errors_are_clear_and_exit_two() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    ws.write("nodata.prompt", "---\nmodel: mock/tiny\n---\nHi {{text}}\n");
    let out = promptls(ws.dir.path(), &["eval", "nodata.prompt"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("nodata.prompt: no `promptls.target`"),
        "{}",
        text(&out)
    );
    ws.write("promptls.toml", "[providers.mock]\nrmp = 3\n");
    let out = promptls(ws.dir.path(), &["eval", "sentiment.prompt"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("promptls.toml") && text(&out).contains("rmp"),
        "{}",
        text(&out)
    );
}

/// A panic inside the evaluation's job (the debug-only fault `PROMPTLS_TEST_PANIC_IN_JOB=1`
/// fires in the first job of the process) is an error with exit code 1: no report, no
/// call, no version in the history. The next run is whole and records the first version.
#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_the_evaluation_is_an_error_and_leaves_nothing_half_done() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let eval = ["eval", "sentiment.prompt", "--format", "json"];
    let failed = promptls(ws.dir.path(), &eval, &[("PROMPTLS_TEST_PANIC_IN_JOB", "1")]).await;
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains(
            "error: sentiment.prompt: the evaluation failed with an internal error \
             (panic: PROMPTLS_TEST_PANIC_IN_JOB)"
        ),
        "{stderr}"
    );
    assert!(failed.stdout.is_empty(), "{}", text(&failed));
    assert!(mock.requests().is_empty());
    let history = promptls(
        ws.dir.path(),
        &["history", "sentiment.prompt", "--format", "json"],
        &[],
    )
    .await;
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    assert_eq!(json_report(&history)["versions"], json!([]));

    let again = promptls(ws.dir.path(), &eval, &[]).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let report = json_report(&again);
    assert_eq!(
        (report["calls"].as_u64(), report["version"].as_u64()),
        (Some(5), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_shows_keys_by_source_and_probes_endpoints() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(ws.dir.path(), &["doctor"], &[("GROQ_API_KEY", "")]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("set ($MOCK_KEY, .env)"), "{all}");
    assert!(all.contains("answers ("), "{all}");
    assert!(!all.contains(KEY), "{all}");
    assert_eq!(mock.requests().last().unwrap().path, "/models");
    // A prompt using groq without a key: a problem, exit 1.
    ws.write(
        "groq.prompt",
        "---\nmodel: groq/llama-3.1-8b-instant\n---\nHi\n",
    );
    let out = promptls(
        ws.dir.path(),
        &["doctor", "--offline"],
        &[("GROQ_API_KEY", "")],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("missing ($GROQ_API_KEY)"), "{all}");
    assert!(all.contains("30 rpm"), "{all}");
}

/// The label the sentiment "model" gives `text`.
fn label_for(text: &str) -> &'static str {
    let text = text.to_lowercase();
    if text.contains("great") || text.contains("love") {
        "positive"
    } else {
        "negative"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_and_anthropic_shaped_providers_evaluate_the_same() {
    // One server answering in both shapes, by path.
    let mock = Mock::start_with(|request| {
        let body = &request.body;
        if request.path.ends_with(":generateContent") {
            let text = body["contents"].as_array().unwrap().last().unwrap()["parts"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_string();
            Reply::ok(json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": label_for(&text)}]}}],
                "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 1}
            }))
        } else if request.path == "/messages" {
            let last = body["messages"].as_array().unwrap().last().unwrap();
            let text = match &last["content"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Reply::ok(json!({
                "content": [{"type": "text", "text": label_for(&text)}],
                "usage": {"input_tokens": 30, "output_tokens": 1}
            }))
        } else {
            Reply::status(404, "{}")
        }
    })
    .await;
    let ws = Workspace::new(&mock, "");
    ws.write(
        "promptls.toml",
        &format!(
            // Gemini's default of 15 requests a minute would pace these calls 4 s apart.
            "[providers.gemini]\nbase_url = \"{0}\"\nrpm = 6000\n[providers.anthropic]\nbase_url = \"{0}\"\n",
            mock.base_url
        ),
    );
    ws.write(
        ".env",
        "GEMINI_API_KEY=g-secret-1\nANTHROPIC_API_KEY=a-secret-2\n",
    );
    for (model, path, header, key) in [
        (
            "gemini/gemini-2.0-flash",
            "/models/gemini-2.0-flash:generateContent",
            "x-goog-api-key",
            "g-secret-1",
        ),
        (
            "anthropic/claude-3-5-haiku-latest",
            "/messages",
            "x-api-key",
            "a-secret-2",
        ),
    ] {
        let before = mock.requests().len();
        let out = promptls(
            ws.dir.path(),
            &[
                "eval",
                "sentiment.prompt",
                "--model",
                model,
                "--format",
                "json",
            ],
            &[],
        )
        .await;
        let report = json_report(&out);
        assert!(
            (report["score"].as_f64().unwrap() - 0.8).abs() < 1e-12,
            "{model}: {report:#}"
        );
        assert_eq!(report["prompt_tokens"], 150, "{model}");
        let sent = &mock.requests()[before..];
        assert_eq!(sent.len(), 5);
        assert!(
            sent.iter()
                .all(|r| r.path == path && r.header(header) == Some(key)),
            "{model}: {:?}",
            sent[0].path
        );
        // The system turn goes where each API wants it.
        match header {
            "x-goog-api-key" => assert!(sent[0].body["systemInstruction"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .contains("Classify the review.")),
            _ => assert!(sent[0].body["system"]
                .to_string()
                .contains("Classify the review.")),
        }
    }
}

/// A workspace whose prompt calls `openai/gpt-4o-mini` at `OPENAI_BASE_URL`.
fn openai_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/reviews.csv"),
        "text,label\nI love it,positive\nBroke in a day,negative\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sentiment.prompt"),
        "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\npromptls.dataset: data/reviews.csv\npromptls.target: label\n---\nClassify: {{text}}\n",
    )
    .unwrap();
    dir
}

/// `promptls eval` against `mock` as the OpenAI endpoint; the run, and how long it took.
async fn eval_openai(mock: &Mock, dir: &Path) -> (Output, std::time::Duration) {
    let started = std::time::Instant::now();
    let out = promptls(
        dir,
        &["eval", "sentiment.prompt", "--no-cache"],
        &[
            ("PROMPTLS_TRUST_WORKSPACE", "1"),
            ("OPENAI_BASE_URL", &mock.base_url),
            ("OPENAI_API_KEY", KEY),
        ],
    )
    .await;
    (out, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absurd_retry_after_fails_the_call_at_once_without_a_panic() {
    for header in [
        "1e20",
        "inf",
        "18446744073709551616",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let mock = Mock::start(vec![Reply::retry_after(429, header)]).await;
        let dir = openai_workspace();
        let (out, took) = eval_openai(&mock, dir.path()).await;
        let all = text(&out);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "Retry-After {header}: {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
        assert!(
            all.contains("asks to wait at least 86400s (Retry-After)"),
            "Retry-After {header}: {all}"
        );
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        // Not retried: one request per row.
        assert_eq!(mock.requests().len(), 2, "Retry-After {header}");
    }
    // NaN and negative values are ignored: the usual backoff, then the answer.
    let mock = Mock::start(vec![
        Reply::retry_after(429, "NaN"),
        Reply::retry_after(429, "-3"),
        answer("positive"),
    ])
    .await;
    let dir = openai_workspace();
    let (out, _) = eval_openai(&mock, dir.path()).await;
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    assert!(mock.requests().len() >= 3, "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_response_body_is_refused_not_buffered() {
    let cases = [
        // A giant Content-Length: refused before reading.
        (Some(1u64 << 40), 1024u64),
        // No Content-Length, 100 MiB streamed: reading stops at the limit.
        (None, 100 << 20),
    ];
    for (content_length, bytes) in cases {
        let mock = Mock::start(vec![Reply::Huge {
            status: 200,
            content_length,
            bytes,
        }])
        .await;
        let dir = openai_workspace();
        let (out, took) = eval_openai(&mock, dir.path()).await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("over the 32 MiB promptls reads"), "{all}");
        assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    }
}

/// The prompt of `Workspace::new` with its user turn replaced by `user` (and, without
/// `schema`, no `input.schema`).
fn prompt_with(user: &str, schema: bool) -> String {
    let prompt = sentiment_prompt("Classify the review.").replace("{{text}}", user);
    if schema {
        prompt
    } else {
        prompt.replace(
            "input:\n  schema:\n    text: string\n    tier: string\n",
            "",
        )
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_rows_fail_the_run_unless_allowed() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    // Lines 3 and 4 have too few and too many fields; the other two rows are answered
    // right, so the old gate passed `--min-score 1.0` on half the dataset.
    ws.write(
        "data/reviews.csv",
        "text,tier,label\n\
         I love it,vip,positive\n\
         Great value,basic\n\
         Broke in a day,basic,negative,extra\n\
         Never buying again,basic,negative\n",
    );
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--min-score", "1.0"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("2 of 4 rows could not be read or rendered"),
        "{all}"
    );
    assert!(all.contains("line 3: row has 2 fields"), "{all}");
    assert!(all.contains("line 4: row has 4 fields"), "{all}");
    assert!(
        all.contains("FAIL score 0.500, counting the 2 bad rows as 0"),
        "{all}"
    );

    // Allowed: reported and counted; the gates see the bad rows as failures.
    for (min, code) in [("1.0", 1), ("0.5", 0)] {
        let out = promptls(
            ws.dir.path(),
            &[
                "eval",
                "sentiment.prompt",
                "--allow-bad-rows",
                "--min-score",
                min,
                "--format",
                "json",
            ],
            &[],
        )
        .await;
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
        let report = json_report(&out);
        assert_eq!(report["bad_rows"], 2, "{report:#}");
        assert_eq!(report["rows"], 2);
        assert_eq!(report["scored"], 2);
        assert_eq!(report["score"], 1.0);
        assert_eq!(report["gate_score"], 0.5);
        assert_eq!(report["unreadable"][0]["line"], 3);
        assert_eq!(report["unreadable"][1]["line"], 4);
        let bad = report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "bad-rows")
            .unwrap();
        assert_eq!(bad["passed"], true, "{bad}");
    }
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--allow-bad-rows"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("(over 2 of 4 rows)"), "{all}");
    assert!(
        all.contains("bad rows 2 of 4 could not be read or rendered"),
        "{all}"
    );

    // JSONL: a line that is not JSON and a row without its target value.
    ws.write(
        "data/reviews.jsonl",
        "{\"text\": \"I love it\", \"tier\": \"vip\", \"label\": \"positive\"}\n\
         {\"text\": \"Great value\", \"tier\": \n\
         {\"text\": \"Broke in a day\", \"tier\": \"basic\"}\n\
         {\"text\": \"Never buying again\", \"tier\": \"basic\", \"label\": \"negative\"}\n",
    );
    let out = promptls(
        ws.dir.path(),
        &[
            "eval",
            "sentiment.prompt",
            "--dataset",
            "data/reviews.jsonl",
            "--min-score",
            "1.0",
        ],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("2 of 4 rows could not be read or rendered"),
        "{all}"
    );
    assert!(all.contains("line 2:"), "{all}");
    assert!(all.contains("row 2 (line 3): no `label` value"), "{all}");
    // The bad rows were never sent.
    let sent: Vec<String> = mock.requests().iter().map(last_user_text).collect();
    assert!(
        !sent.iter().any(|t| t.contains("Broke in a day")),
        "{sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn template_problems_stop_the_run_before_any_call() {
    let mock = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&mock, "");
    let cases = [
        // A misspelt variable against input.schema, then against the dataset's columns.
        (
            prompt_with("{{txet}}", true),
            "sentiment.prompt:15:3:",
            "[undeclared-variable]",
        ),
        (
            prompt_with("{{txet}}", false),
            "sentiment.prompt:11:3:",
            "[variable-not-in-dataset]",
        ),
        (
            prompt_with("{{text}}\n{{> footer}}", true),
            "sentiment.prompt:16:",
            "[missing-partial]",
        ),
        (
            prompt_with("{{#if text}}{{text}}", true),
            "sentiment.prompt:15:",
            "[unclosed-block]",
        ),
    ];
    for (prompt, at, code) in cases {
        ws.write("sentiment.prompt", &prompt);
        for format in ["human", "json"] {
            let out = promptls(
                ws.dir.path(),
                &["eval", "sentiment.prompt", "--format", format],
                &[],
            )
            .await;
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{code}: {all}");
            assert!(all.contains(at), "{code}: {all}");
            assert!(all.contains(code), "{code}: {all}");
            assert!(all.contains("nothing was sent"), "{all}");
        }
        assert_eq!(mock.requests().len(), 0, "{code}: a call went out");
    }
    // The same checks hold for `optimize`, which plans its runs the same way.
    ws.write("sentiment.prompt", &prompt_with("{{txet}}", true));
    let out = promptls(ws.dir.path(), &["optimize", "sentiment.prompt"], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("[undeclared-variable]"),
        "{}",
        text(&out)
    );
    assert_eq!(mock.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_stops_the_run_before_any_call() {
    let mock = Mock::start_with(sentiment_model).await;
    let dir = openai_workspace();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"));
    command
        .args(["eval", "sentiment.prompt"])
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("PROMPTLS_TRUST_WORKSPACE")
        .env_remove("PROMPTLS_LOG")
        .env("OPENAI_BASE_URL", &mock.base_url);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("$OPENAI_API_KEY is not set"), "{all}");
    assert!(all.contains("nothing was sent"), "{all}");
    assert_eq!(mock.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_where_every_row_failed_has_no_score() {
    let mock = Mock::start_with(|_| Reply::status(400, "{\"error\": \"bad request\"}")).await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--format", "json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_report(&out);
    assert_eq!(report["score"], Value::Null, "{report:#}");
    assert_eq!(report["interval"], Value::Null);
    assert_eq!(report["error_rows"], 5);
    assert_eq!(report["passed"], false);
    // A 400 is not a transient fault: one request per row, no final round.
    assert_eq!(report["retried_rows"], 0);
    assert_eq!(mock.requests().len(), 5);

    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--min-score", "0"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("score    no score: every row failed"), "{all}");
    assert!(!all.contains("0.000"), "{all}");
    assert!(all.contains("FAIL no score to meet --min-score 0"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_faults_get_a_final_round_and_lose_no_rows() {
    // The fault-free score.
    let clean = Mock::start_with(sentiment_model).await;
    let ws = Workspace::new(&clean, "");
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--format", "json"],
        &[],
    )
    .await;
    let fault_free = json_report(&out)["score"].as_f64().unwrap();

    // Every 4th request is a 503; the first request of one row is a 429 with
    // Retry-After: 1; and one row's first two requests (all its attempts, `attempts = 2`)
    // are 503s, so that row needs the final round for sure.
    let count = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        usize,
    >::new()));
    let total = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mock = Mock::start_with(move |request| {
        let text = last_user_text(request);
        let seen = {
            let mut c = count.lock().unwrap();
            let n = c.entry(text.clone()).or_default();
            *n += 1;
            *n
        };
        if text.contains("Broke in a day") && seen <= 2 {
            return Reply::status(503, "{\"error\": \"overloaded\"}");
        }
        if text.contains("Never buying") && seen == 1 {
            return Reply::retry_after(429, "1");
        }
        if total.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 4 == 3 {
            return Reply::status(503, "{\"error\": \"overloaded\"}");
        }
        sentiment_model(request)
    })
    .await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(
        ws.dir.path(),
        &[
            "eval",
            "sentiment.prompt",
            "--format",
            "json",
            "--min-score",
            "0.8",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json_report(&out);
    assert_eq!(report["score"].as_f64().unwrap(), fault_free, "{report:#}");
    assert_eq!(report["error_rows"], 0);
    assert_eq!(report["scored"], 5);
    let rows = report["per_row"].as_array().unwrap();
    let retried = rows.iter().filter(|r| r["retried"] == true).count();
    assert!(retried >= 1, "{report:#}");
    assert_eq!(report["retried_rows"], retried);
    assert!(rows[2]["retried"] == true && rows[2]["calls"].as_u64().unwrap() >= 3);

    // The human report says so too (answers are cached now: clear the cache).
    std::fs::remove_dir_all(ws.path(".promptls")).unwrap();
    let out = promptls(
        ws.dir.path(),
        &["eval", "sentiment.prompt", "--no-cache"],
        &[],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("went again in the final round"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_that_fails_in_the_final_round_too_fails_the_run() {
    let mock = Mock::start_with(|request| {
        if last_user_text(request).contains("Broke in a day") {
            Reply::status(500, "{\"error\": \"internal\"}")
        } else {
            sentiment_model(request)
        }
    })
    .await;
    let ws = Workspace::new(&mock, "");
    let out = promptls(ws.dir.path(), &["eval", "sentiment.prompt"], &[]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 of 5 rows could not be evaluated (1 failed again in the final round); the first, row 3 (line 4)"),
        "{all}"
    );
    // Two attempts in the run, two more in the final round.
    let sent = mock
        .requests()
        .iter()
        .filter(|r| last_user_text(r).contains("Broke in a day"))
        .count();
    assert_eq!(sent, 4);
}
