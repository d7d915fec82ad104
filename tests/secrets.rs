//! Secrets are never persisted or printed: the real binary against a model server on
//! 127.0.0.1 that echoes the bearer key back in its answers and in a long error body
//! (cut by promptls's excerpt in the middle of the key), and `promptls check` on a file
//! holding a key literal, in every output format.

#[path = "support/cli_run.rs"]
mod cli_run;
#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_run::text;
use mock_llm::{Mock, Received, Reply};
use serde_json::json;

/// The key of the environment; its first eight characters are masked too.
const KEY: &str = "zq-e2e-Kf83hQ2m5Tz7Wc1Lp9Vb";

fn bearer(request: &Received) -> String {
    request
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

fn user_text(request: &Received) -> String {
    request.body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| m["content"].to_string())
        .unwrap_or_default()
}

/// Echoes the key it was sent: in the answer, or (for the row that says "fail") in a
/// 500 error body long enough that promptls's 300-character excerpt ends inside the key.
fn echoing_model(request: &Received) -> Reply {
    let key = bearer(request);
    if user_text(request).contains("fail") {
        // `{"error":"` is 10 characters: the key starts at 290, the cut is at 300.
        let body = format!(
            "{{\"error\":\"{}{key} is not allowed here, {key}\"}}",
            "x".repeat(280)
        );
        return Reply::status(500, &body);
    }
    Reply::ok(json!({
        "choices": [{"message": {"role": "assistant", "content": format!("positive (your key is {key})")}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5}
    }))
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("promptls.toml", "[eval]\nattempts = 2\ntimeout = 5\n");
    write(
        "data/rows.csv",
        "text,label\nI love it,positive\nplease fail now,positive\nGreat value,positive\n",
    );
    write(
        "echo.prompt",
        "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\npromptls.dataset: data/rows.csv\npromptls.target: label\npromptls.metric: contains\n---\n{{text}}\n",
    );
    dir
}

/// Runs the binary in a trusted workspace (the repository is the test's own).
async fn promptls(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut env = env.to_vec();
    env.push(("PROMPTLS_TRUST_WORKSPACE", "1"));
    cli_run::promptls_with_env(dir, args, &env).await
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Neither the key nor its first eight characters are in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    assert!(
        !contains(bytes, &KEY[..8]),
        "{what} holds the key or its prefix:\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_echoed_back_is_in_no_output_no_log_and_no_file() {
    let mock = Mock::start_with(echoing_model).await;
    let ws = workspace();
    let env = [
        ("OPENAI_API_KEY", KEY),
        ("OPENAI_BASE_URL", &format!("{}/v1", mock.base_url)),
        ("PROMPTLS_LOG", "trace"),
    ];
    let eval = ["eval", "echo.prompt", "--format", "json"];
    let first = promptls(ws.path(), &eval, &env).await;
    // The row the provider refused fails the run.
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    assert_eq!(
        bearer(&mock.requests()[0]),
        KEY,
        "the key was sent to the provider"
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let rows = report["per_row"].as_array().unwrap();
    let answered: Vec<&str> = rows.iter().filter_map(|r| r["output"].as_str()).collect();
    assert!(
        answered.iter().any(|o| o.contains("your key is ***")),
        "{report:#}"
    );
    let error = rows
        .iter()
        .find_map(|r| r["error"].as_str())
        .expect("the refused row has an error");
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(error.contains("xxx***"), "the cut key is masked: {error}");
    assert_clean("stdout", &first.stdout);
    assert_clean("stderr", &first.stderr);

    // Answered from the cache, in the other formats.
    for format in ["human", "junit"] {
        let again = promptls(
            ws.path(),
            &["eval", "echo.prompt", "--format", format],
            &env,
        )
        .await;
        assert!(text(&again).contains("***"), "{format}: {}", text(&again));
        assert_clean(format, &again.stdout);
        assert_clean(format, &again.stderr);
    }

    // The cache (and its -wal), the history: not a byte of the key.
    let stored = files_under(&ws.path().join(".promptls"));
    assert!(
        stored.iter().any(|p| p.ends_with("cache.sqlite")),
        "{stored:?}"
    );
    for path in &stored {
        assert_clean(&path.display().to_string(), &std::fs::read(path).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_never_prints_a_key_literal_whole() {
    let ws = workspace();
    let literal = "sk-proj-Qw3rTy8uIo0pAs5dFg7hJk2lZx4cVb6n";
    std::fs::write(
        ws.path().join("leaky.prompt"),
        format!(
            "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\n---\nUse the key {literal} for {{{{text}}}}.\nOr {{{{gsk_0123456789abcdefghijABCDEFGHIJ}}}}.\n"
        ),
    )
    .unwrap();
    for format in ["human", "json", "sarif"] {
        let out = promptls(
            ws.path(),
            &["check", "leaky.prompt", "--format", format],
            &[("OPENAI_API_KEY", KEY)],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{format}: {}", text(&out));
        let all = text(&out);
        assert!(all.contains("api-key-literal"), "{format}: {all}");
        for whole in [literal, "gsk_0123456789abcdefghijABCDEFGHIJ"] {
            assert!(!all.contains(whole), "{format} printed {whole}: {all}");
            assert!(
                !all.contains(&whole[5..]),
                "{format} printed most of {whole}: {all}"
            );
        }
        if format == "human" {
            // The snippet shows where the key is, masked, with the carets under it.
            assert!(all.contains("sk-p************"), "{all}");
        }
    }
}
