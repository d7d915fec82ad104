//! Another program's file in `.promptls/` is never changed: a SQLite database of its own
//! (rollback journal) or a junk file where promptls keeps its cache or its history is
//! refused with a message naming it, and afterwards its bytes are the same and no `-wal`
//! or `-shm` sits beside it. Commands that only read the history do not write it.

#[path = "support/cli_run.rs"]
mod cli_run;
#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_run::text;
use mock_llm::{Mock, Reply};
use serde_json::json;

fn workspace(base_url: &str) -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("promptls.toml", "[eval]\nattempts = 1\ntimeout = 5\n");
    write("data/rows.csv", "text,label\nhello,positive\n");
    write(
        "p.prompt",
        "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\npromptls.dataset: data/rows.csv\npromptls.target: label\n---\n{{text}}\n",
    );
    let env = vec![
        (
            "OPENAI_API_KEY".to_string(),
            "sk-foreign-test-key-0001".to_string(),
        ),
        ("OPENAI_BASE_URL".to_string(), format!("{base_url}/v1")),
    ];
    (dir, env)
}

/// Runs the binary in a trusted workspace (the repository is the test's own).
async fn promptls(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let mut env = env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect::<Vec<_>>();
    env.push(("PROMPTLS_TRUST_WORKSPACE", "1"));
    cli_run::promptls_with_env(dir, args, &env).await
}

/// Another program's database: a table of its own, rows, a rollback journal.
fn foreign_sqlite(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch(
        "PRAGMA journal_mode = DELETE;
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         INSERT INTO notes (body) VALUES ('mine'), ('also mine');",
    )
    .unwrap();
}

fn junk(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"not a database: another tool's notes\n").unwrap();
}

/// The file is byte for byte as it was, and nothing was made beside it.
fn assert_untouched(path: &Path, before: &[u8]) {
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "{} was changed",
        path.display()
    );
    for suffix in ["-wal", "-shm", "-journal"] {
        let sidecar = PathBuf::from(format!("{}{suffix}", path.display()));
        assert!(!sidecar.exists(), "{} was created", sidecar.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_cache_is_refused_and_left_as_it_was() {
    for make in [foreign_sqlite, junk] {
        let (ws, env) = workspace("http://127.0.0.1:9");
        let cache = ws.path().join(".promptls/cache.sqlite");
        make(&cache);
        let before = std::fs::read(&cache).unwrap();
        let out = promptls(ws.path(), &["eval", "p.prompt"], &env).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let all = text(&out);
        assert!(
            all.contains("cache.sqlite is not a promptls cache"),
            "{all}"
        );
        assert!(all.contains("move it away or set [eval] cache"), "{all}");
        assert_untouched(&cache, &before);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_history_is_refused_and_left_as_it_was() {
    let mock = Mock::start_with(|_| {
        Reply::ok(json!({
            "choices": [{"message": {"role": "assistant", "content": "positive"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}
        }))
    })
    .await;
    for make in [foreign_sqlite, junk] {
        let (ws, env) = workspace(&mock.base_url);
        let history = ws.path().join(".promptls/history.sqlite");
        make(&history);
        let before = std::fs::read(&history).unwrap();
        for args in [&["history", "p.prompt"][..], &["diff", "p.prompt"][..]] {
            let out = promptls(ws.path(), args, &env).await;
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
            assert!(
                text(&out).contains("history.sqlite is not a promptls history"),
                "{args:?}: {}",
                text(&out)
            );
            assert_untouched(&history, &before);
        }
        // The run itself goes ahead; it is not recorded, and says why.
        let out = promptls(ws.path(), &["eval", "p.prompt"], &env).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("history.sqlite is not a promptls history"),
            "{}",
            text(&out)
        );
        assert_untouched(&history, &before);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_the_history_writes_nothing() {
    let mock = Mock::start_with(|_| {
        Reply::ok(json!({
            "choices": [{"message": {"role": "assistant", "content": "positive"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}
        }))
    })
    .await;
    let (ws, env) = workspace(&mock.base_url);
    // No history yet: listing it does not create one.
    let out = promptls(ws.path(), &["history", "p.prompt"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!ws.path().join(".promptls/history.sqlite").exists());
    // A recorded run, then reads: the history's bytes stay as they were.
    let out = promptls(ws.path(), &["eval", "p.prompt"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let history = ws.path().join(".promptls/history.sqlite");
    let before = std::fs::read(&history).unwrap();
    let out = promptls(
        ws.path(),
        &["history", "p.prompt", "--format", "json"],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("\"number\": 1"), "{}", text(&out));
    assert_eq!(std::fs::read(&history).unwrap(), before);
}
