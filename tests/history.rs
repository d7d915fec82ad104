//! The version history through the real binary: the DAG rules (an edit's parent is the
//! previous version, earlier content reuses its version, an optimizer's result is a child
//! of where it started), scores, tags and their audit trail, diffs, `eval --baseline
//! production`, restore, renames, concurrent writers, and a foreign file left alone.

#[path = "support/cli_run.rs"]
mod cli_run;
#[path = "support/mock_llm.rs"]
mod mock_llm;
#[path = "support/sim_model.rs"]
mod sim_model;

use std::path::Path;

use mock_llm::Mock;
use serde_json::Value;

use cli_run::{json, promptls, text};
use sim_model::PROMPT;

fn workspace(mock: &Mock) -> tempfile::TempDir {
    sim_model::workspace(&mock.base_url, "concurrency = 8\n", 40, 11)
}

async fn history(dir: &Path) -> Value {
    json(&promptls(dir, &["history", "sentiment.prompt", "--format", "json"]).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_form_a_dag_with_scores_tags_and_diffs() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path();
    let file = dir.join("sentiment.prompt");
    let eval = ["eval", "sentiment.prompt", "--format", "json"];

    // v1: the first eval records the file and its score.
    let first = json(&promptls(dir, &eval).await);
    assert_eq!(first["version"], 1, "{first:#}");
    // The same content again: still v1.
    assert_eq!(json(&promptls(dir, &eval).await)["version"], 1);
    // An edit: v2, child of v1.
    let one_word = PROMPT.replace("of the review.", "of the review in one word.");
    std::fs::write(&file, &one_word).unwrap();
    let second = json(&promptls(dir, &eval).await);
    assert_eq!(second["version"], 2);
    assert!(second["score"].as_f64().unwrap() > first["score"].as_f64().unwrap());
    // Back to the first content: v1 again; the next edit is v1's child.
    std::fs::write(&file, PROMPT).unwrap();
    assert_eq!(json(&promptls(dir, &eval).await)["version"], 1);
    std::fs::write(&file, PROMPT.replace("review.", "product review.")).unwrap();
    assert_eq!(json(&promptls(dir, &eval).await)["version"], 3);
    let h = history(dir).await;
    let versions = h["versions"].as_array().unwrap();
    let parents: Vec<&Value> = versions.iter().map(|v| &v["parents"]).collect();
    assert_eq!(
        parents,
        [
            &serde_json::json!([]),
            &serde_json::json!([1]),
            &serde_json::json!([1])
        ],
        "{h:#}"
    );
    assert_eq!(versions[1]["scores"][0]["metric"], "exact_match");
    assert_eq!(versions[1]["scores"][0]["model"], "sim/small");
    assert!(versions
        .iter()
        .all(|v| v["origin"] == "edit" && !v["author"].as_str().unwrap().is_empty()));

    // Tags, each move recorded.
    let out = promptls(
        dir,
        &["promote", "sentiment.prompt", "v1", "--tag", "production"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = promptls(
        dir,
        &["promote", "sentiment.prompt", "v2", "--tag", "production"],
    )
    .await;
    assert!(
        text(&out).contains("production → v2, was v1"),
        "{}",
        text(&out)
    );
    promptls(
        dir,
        &["promote", "sentiment.prompt", "v3", "--tag", "staging"],
    )
    .await;
    let h = history(dir).await;
    assert_eq!(h["versions"][1]["tags"], serde_json::json!(["production"]));
    assert_eq!(h["versions"][2]["tags"], serde_json::json!(["staging"]));
    let moves = h["tag_moves"].as_array().unwrap();
    assert_eq!(moves.len(), 3);
    assert_eq!(
        (&moves[1]["from"], &moves[1]["to"]),
        (&serde_json::json!(1), &serde_json::json!(2))
    );

    // diff: production (v2) against the working file (v3's content).
    let d = json(
        &promptls(
            dir,
            &["diff", "sentiment.prompt", "--format", "json", "--offline"],
        )
        .await,
    );
    assert_eq!(d["from"], "v2");
    assert_eq!(d["changelog_by"], "offline");
    assert_eq!(
        d["diff"]["instruction"],
        "Classify the sentiment of the [-review-]{+product+} [-in one word.-]{+review.+}"
    );
    let changelog = d["changelog"].as_str().unwrap();
    assert!(
        changelog.starts_with("Instruction reworded") && changelog.contains("exact_match"),
        "{changelog}"
    );
    let between = promptls(dir, &["diff", "sentiment.prompt", "v1", "v2"]).await;
    assert!(
        text(&between).starts_with("v1 → v2: Instruction reworded"),
        "{}",
        text(&between)
    );
    // With a teacher configured, the teacher writes the changelog sentence (cached: the
    // second time costs no call).
    let by_model = json(
        &promptls(
            dir,
            &["diff", "sentiment.prompt", "v1", "v2", "--format", "json"],
        )
        .await,
    );
    assert_eq!(by_model["changelog_by"], "model sim/teacher-70b");
    assert_eq!(
        by_model["changelog"],
        "Asked for a one-word answer, and the score moved as shown."
    );
    let calls = mock.requests().len();
    promptls(
        dir,
        &["diff", "sentiment.prompt", "v1", "v2", "--format", "json"],
    )
    .await;
    assert_eq!(mock.requests().len(), calls);

    // eval against production uses its stored score.
    let before = mock.requests().len();
    let gate = json(
        &promptls(
            dir,
            &[
                "eval",
                "sentiment.prompt",
                "--baseline",
                "production",
                "--format",
                "json",
            ],
        )
        .await,
    );
    assert_eq!(gate["baseline_score"], second["score"]);
    assert_eq!(
        gate["passed"], false,
        "v3 scores below production: {gate:#}"
    );
    assert!(
        gate["gates"][0]["message"]
            .as_str()
            .unwrap()
            .contains("production = v2, stored"),
        "{gate:#}"
    );
    assert_eq!(
        mock.requests().len(),
        before,
        "all from the cache and the history"
    );

    // restore v2: the file gets its content back and v2 is the head again.
    let out = promptls(dir, &["restore", "sentiment.prompt", "v2"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), one_word);
    std::fs::write(&file, one_word.replace("one word", "a single word")).unwrap();
    assert_eq!(json(&promptls(dir, &eval).await)["version"], 4);
    let h = history(dir).await;
    assert_eq!(h["versions"][3]["parents"], serde_json::json!([2]));

    // A rename keeps the history (the prompt has no `name`).
    std::fs::rename(&file, dir.join("renamed.prompt")).unwrap();
    let renamed = json(&promptls(dir, &["eval", "renamed.prompt", "--format", "json"]).await);
    assert_eq!(renamed["version"], 4);
    let h = json(&promptls(dir, &["history", "renamed.prompt", "--format", "json"]).await);
    assert_eq!(h["versions"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_optimizer_result_is_a_child_of_where_it_started() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path();
    let out = promptls(
        dir,
        &[
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "bootstrap",
            "--write",
            "--format",
            "json",
        ],
    )
    .await;
    let r = json(&out);
    assert_eq!(
        r["versions"],
        serde_json::json!({"start": 1, "result": 2}),
        "{r:#}"
    );
    let h = history(dir).await;
    let v2 = &h["versions"][1];
    assert_eq!(v2["origin"], "optimizer");
    assert_eq!(v2["parents"], serde_json::json!([1]));
    assert_eq!(v2["detail"]["optimizer"], "bootstrap");
    assert!(v2["detail"]["detail"]["calls"].as_u64().unwrap() > 0);
    assert_eq!(v2["scores"][0]["score"], r["score"]);
    assert_eq!(h["versions"][0]["scores"][0]["score"], r["baseline_score"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_lose_nothing() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path().to_path_buf();
    for i in 0..6 {
        std::fs::write(
            dir.join(format!("p{i}.prompt")),
            PROMPT.replace("Classify", &format!("Classify ({i})")),
        )
        .unwrap();
    }
    let runs: Vec<_> = (0..6)
        .map(|i| {
            let dir = dir.clone();
            tokio::spawn(async move {
                let name = format!("p{i}.prompt");
                promptls(&dir, &["eval", &name, "--format", "json"]).await
            })
        })
        .collect();
    for run in runs {
        let out = run.await.unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            !text(&out).contains("locked") && !text(&out).contains("busy"),
            "{}",
            text(&out)
        );
        assert_eq!(json(&out)["version"], 1);
    }
    let db = rusqlite::Connection::open(dir.join(".promptls/history.sqlite")).unwrap();
    let prompts: i64 = db
        .query_row("SELECT count(*) FROM prompts", [], |r| r.get(0))
        .unwrap();
    let scores: i64 = db
        .query_row("SELECT count(*) FROM scores", [], |r| r.get(0))
        .unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!((prompts, scores, check.as_str()), (6, 6, "ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_history_file_is_refused_and_left_alone() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path();
    std::fs::create_dir_all(dir.join(".promptls")).unwrap();
    let junk = b"this is not a database at all, but it is somebody's file\n".repeat(50);
    std::fs::write(dir.join(".promptls/history.sqlite"), &junk).unwrap();
    let out = promptls(dir, &["history", "sentiment.prompt"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("history.sqlite") && text(&out).contains("left untouched"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(dir.join(".promptls/history.sqlite")).unwrap(),
        junk
    );
    // Another program's SQLite file, too.
    let other = dir.join(".promptls/other.sqlite");
    let db = rusqlite::Connection::open(&other).unwrap();
    db.execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(db);
    std::fs::rename(&other, dir.join(".promptls/history.sqlite")).unwrap();
    let out = promptls(dir, &["history", "sentiment.prompt"]).await;
    assert!(
        text(&out).contains("not a promptls history"),
        "{}",
        text(&out)
    );
    let db = rusqlite::Connection::open(dir.join(".promptls/history.sqlite")).unwrap();
    let note: String = db
        .query_row("SELECT x FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "mine");
    // An eval still runs; it only warns that it could not record.
    drop(db);
    let out = promptls(dir, &["eval", "sentiment.prompt"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("was not recorded"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn export_and_import_share_the_history() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path();
    promptls(dir, &["eval", "sentiment.prompt"]).await;
    let v2 = PROMPT.replace("review.", "review in one word.");
    std::fs::write(dir.join("sentiment.prompt"), &v2).unwrap();
    promptls(dir, &["eval", "sentiment.prompt"]).await;
    promptls(
        dir,
        &["promote", "sentiment.prompt", "v2", "--tag", "production"],
    )
    .await;
    let export = promptls(dir, &["history", "export"]).await;
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let exported = json(&export);
    assert_eq!(
        exported["prompts"][0]["versions"].as_array().unwrap().len(),
        2
    );

    // A teammate's clone: the same file, no history yet.
    let other = workspace(&mock);
    std::fs::write(other.path().join("sentiment.prompt"), &v2).unwrap();
    std::fs::write(other.path().join("shared.json"), export.stdout).unwrap();
    let out = promptls(other.path(), &["history", "import", "shared.json"]).await;
    assert!(
        text(&out).contains("imported 2 versions (0 already here)"),
        "{}",
        text(&out)
    );
    let mine = history(dir).await;
    let theirs = history(other.path()).await;
    for field in [
        "number", "hash", "parents", "origin", "tags", "scores", "author", "created",
    ] {
        let a: Vec<&Value> = mine["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v[field])
            .collect();
        let b: Vec<&Value> = theirs["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v[field])
            .collect();
        assert_eq!(a, b, "{field}");
    }
    let again = promptls(other.path(), &["history", "import", "shared.json"]).await;
    assert!(
        text(&again).contains("imported 0 versions (2 already here)"),
        "{}",
        text(&again)
    );
    // A tampered export is refused whole.
    let mut bad = exported.clone();
    bad["prompts"][0]["versions"][0]["content"] = Value::from("changed");
    std::fs::write(other.path().join("bad.json"), bad.to_string()).unwrap();
    let refused = promptls(other.path(), &["history", "import", "bad.json"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("does not match its hash"),
        "{}",
        text(&refused)
    );
}

#[test]
fn an_empty_or_old_file_is_migrated_to_the_current_schema() {
    // Schema version 0: an empty SQLite file (what an interrupted first run leaves).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".promptls")).unwrap();
    let db = rusqlite::Connection::open(dir.path().join(".promptls/history.sqlite")).unwrap();
    db.pragma_update(None, "user_version", 0).unwrap();
    drop(db);
    let store = promptls_core::store::Store::open(dir.path()).unwrap();
    drop(store);
    let db = rusqlite::Connection::open(dir.path().join(".promptls/history.sqlite")).unwrap();
    let version: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, promptls_core::store::SCHEMA_VERSION);
    // A newer schema than this promptls knows is refused, untouched.
    db.pragma_update(None, "user_version", 99).unwrap();
    drop(db);
    let err = promptls_core::store::Store::open(dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("newer than this promptls"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_writer_killed_mid_run_leaves_a_consistent_history() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let dir = ws.path().to_path_buf();
    // How long a whole run takes on this machine now (a loaded CI machine is slower).
    let started = std::time::Instant::now();
    let out = promptls(&dir, &["eval", "sentiment.prompt"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let whole = started.elapsed().as_millis() as u64;
    // Many short writers, killed at moments spread over a whole run.
    for i in 0..12 {
        std::fs::write(
            dir.join("sentiment.prompt"),
            PROMPT.replace("review.", &format!("review ({i}).")),
        )
        .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"))
            .args(["eval", "sentiment.prompt"])
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // From before the history is opened to after the run has finished.
        tokio::time::sleep(std::time::Duration::from_millis(10 + whole * (i + 1) / 10)).await;
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        dir.join(".promptls/history.sqlite").exists(),
        "some runs got to record"
    );
    let db = rusqlite::Connection::open(dir.join(".promptls/history.sqlite")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // On a loaded machine every writer may have been killed before the schema was made;
    // the file is then an empty history, which the next run takes up.
    let migrated: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'parents'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if migrated > 0 {
        let orphans: i64 = db
            .query_row(
                "SELECT count(*) FROM parents p LEFT JOIN versions v ON v.id = p.parent WHERE v.id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0);
    }
    drop(db);
    // The history still works and records.
    let out = promptls(&dir, &["eval", "sentiment.prompt", "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(json(&out)["version"].as_i64().unwrap() >= 1);
}
