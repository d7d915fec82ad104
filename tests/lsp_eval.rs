//! Evaluations in the editor, end to end: the real `promptls lsp` over stdio, a model
//! server on 127.0.0.1: the Evaluate lens and command, work-done progress, the score
//! lens, failing rows as diagnostics and hovers in the dataset file, live scores from
//! the cache while typing, cancel, and evaluate-on-save.

#[path = "support/lsp_client.rs"]
mod lsp_client;
#[path = "support/mock_llm.rs"]
mod mock_llm;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lsp_client::{file_uri, Client};
use mock_llm::{Mock, Received, Reply};
use serde_json::{json, Value};

const KEY: &str = "sk-test-LSP-51c0";

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_promptls"))
}

fn last_user_text(request: &Received) -> String {
    request.body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .map(|m| {
            m["content"]
                .as_str()
                .map_or_else(|| m["content"].to_string(), str::to_string)
        })
        .unwrap_or_default()
}

/// Positive when the review says great or love (so it misses the sarcasm of row 4).
fn sentiment_model(request: &Received) -> Reply {
    let text = last_user_text(request).to_lowercase();
    let label = if text.contains("great") || text.contains("love") {
        "positive"
    } else {
        "negative"
    };
    Reply::ok(json!({
        "choices": [{"message": {"role": "assistant", "content": label}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10}
    }))
}

fn prompt(instruction: &str) -> String {
    format!(
        "---\nmodel: mock/tiny\ninput:\n  schema:\n    text: string\n    tier: string\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.metric: exact_match\n---\n{{{{role \"system\"}}}}\n{instruction}\n{{{{#ifEquals tier \"vip\"}}}}Be extra careful: a VIP customer.{{{{/ifEquals}}}}\n{{{{role \"user\"}}}}\n{{{{text}}}}\n"
    )
}

fn workspace(base_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "promptls.toml",
        &format!(
            "[providers.mock]\nbase_url = \"{base_url}\"\napi_key_env = \"MOCK_KEY\"\nprices = {{ \"tiny\" = {{ input = 1.0, output = 2.0 }} }}\n[eval]\nattempts = 1\n"
        ),
    );
    write(".env", &format!("MOCK_KEY={KEY}\n"));
    write(
        "data/reviews.csv",
        "text,tier,label\nI love it,vip,positive\nGreat value,basic,positive\nBroke in a day,basic,negative\n\"Great, it broke again\",vip,negative\nNever buying again,basic,negative\n",
    );
    write("sentiment.prompt", &prompt("Classify the review."));
    dir
}

fn capabilities() -> Value {
    json!({
        "window": {"workDoneProgress": true},
        "workspace": {"codeLens": {"refreshSupport": true}},
        "textDocument": {"hover": {"contentFormat": ["markdown"]}},
    })
}

fn lens_titles(client: &mut Client, uri: &str) -> Vec<String> {
    let lenses = client.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap().to_string())
        .collect()
}

/// The next `$/progress` of kind `kind`.
fn progress(client: &mut Client, kind: &str) -> Value {
    client.wait_for(&format!("progress {kind}"), |m| {
        m["method"] == "$/progress" && m["params"]["value"]["kind"] == kind
    })["params"]
        .clone()
}

/// Starts the model server on a runtime that lives as long as the test.
fn mock(
    respond: impl Fn(&Received) -> Reply + Send + Sync + 'static,
) -> (tokio::runtime::Runtime, Mock) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = runtime.block_on(Mock::start_with(respond));
    (runtime, mock)
}

fn start(root: &Path) -> Client {
    let mut client = Client::start(&binary(), false);
    client.initialize(root, capabilities(), json!({}));
    client
}

#[test]
fn evaluate_from_the_editor_with_progress_lenses_and_row_diagnostics() {
    let (_rt, mock) = mock(sentiment_model);
    let dir = workspace(&mock.base_url);
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut client = start(&root);
    let prompt_path = root.join("sentiment.prompt");
    let uri = client.open(&prompt_path, &prompt("Classify the review."), 1);
    let dataset_uri = file_uri(&root.join("data/reviews.csv"));

    assert_eq!(
        lens_titles(&mut client, &uri),
        vec!["▶ Evaluate", "⚡ Optimize"]
    );
    // Lenses read the history; they do not create one.
    assert!(!root.join(".promptls").exists());
    let lenses = client.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(lenses[0]["command"]["command"], "promptls.evaluate");
    assert_eq!(lenses[0]["range"]["start"]["line"], 0);

    let started = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
    );
    assert_eq!(started, json!({"started": true}));
    let create = client.wait_for("a progress token", |m| {
        m["method"] == "window/workDoneProgress/create"
    });
    let token = create["params"]["token"].clone();
    let begin = progress(&mut client, "begin");
    assert_eq!(begin["token"], token);
    assert_eq!(begin["value"]["title"], "Evaluating sentiment.prompt");
    assert_eq!(begin["value"]["cancellable"], true);
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("exact_match 0.800 · 4/5 rows · 5 calls, 0 cached"),
        "{message}"
    );
    // The prompt is free, and its report the last, before the end goes out: lenses asked
    // for on seeing the end show the run finished.
    let titles = lens_titles(&mut client, &uri);
    assert_eq!(titles[0], "▶ Evaluate", "{titles:?}");
    assert!(
        titles.iter().any(|t| t.starts_with("exact_match 0.800")),
        "{titles:?}"
    );

    // The failing row, on its line of the dataset, with input, expected and output.
    let rows = client.diagnostics(&dataset_uri, |p| {
        !p["diagnostics"].as_array().unwrap().is_empty()
    });
    let rows = rows["diagnostics"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["range"]["start"]["line"], 4);
    assert_eq!(rows[0]["code"], "eval-row");
    let text = rows[0]["message"].as_str().unwrap();
    assert!(text.contains("row 4 failed: exact_match 0.000"), "{text}");
    assert!(
        text.contains("Great, it broke again")
            && text.contains("expected: negative")
            && text.contains("output: positive"),
        "{text}"
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": dataset_uri}, "position": {"line": 4, "character": 3}}),
    );
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        hover_text.contains("output: positive") && hover_text.contains("mock/tiny"),
        "{hover_text}"
    );

    client.wait_for("a lens refresh", |m| {
        m["method"] == "workspace/codeLens/refresh"
    });
    let titles = lens_titles(&mut client, &uri);
    assert!(
        titles.contains(&"exact_match 0.800 · 4/5 · $0.0006".to_string()),
        "{titles:?}"
    );

    // Live scores: an edit in the VIP branch makes the two VIP rows stale; the other
    // three are scored from the cache.
    let edited = prompt("Classify the review.").replace("Be extra careful", "Take care");
    client.change(&uri, 2, json!([{"text": edited}]));
    let mut live = String::new();
    for _ in 0..50 {
        client.wait_for("a lens refresh", |m| {
            m["method"] == "workspace/codeLens/refresh"
        });
        if let Some(t) = lens_titles(&mut client, &uri)
            .into_iter()
            .find(|t| t.starts_with("live"))
        {
            live = t;
            if live.ends_with("2 stale") {
                break;
            }
        }
    }
    assert_eq!(live, "live exact_match 1.000 · 3/3 from cache · 2 stale");
    // No call was made for the live scores.
    assert_eq!(mock.requests().len(), 5);

    // Evaluating again sends only the two changed rows.
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
    );
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(message.contains("2 calls, 3 cached"), "{message}");
    assert_eq!(mock.requests().len(), 7);

    let report = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.showEvaluation", "arguments": [{"uri": uri}]}),
    );
    assert_eq!(report["cache_hits"], 3);
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
}

#[test]
fn cancel_stops_a_slow_run_and_evaluate_on_save_respects_the_row_budget() {
    let (_rt, mock) = mock(|request| {
        Reply::Slow(
            Duration::from_millis(400),
            Box::new(sentiment_model(request)),
        )
    });
    let dir = workspace(&mock.base_url);
    // One call at a time, so the run takes about 2 s.
    std::fs::write(
        dir.path().join("promptls.toml"),
        format!(
            "[providers.mock]\nbase_url = \"{}\"\nconcurrency = 1\n[eval]\nconcurrency = 1\n",
            mock.base_url
        ),
    )
    .unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut client = start(&root);
    let uri = client.open(
        &root.join("sentiment.prompt"),
        &prompt("Classify the review."),
        1,
    );
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
    );
    let begin = progress(&mut client, "begin");
    // The lenses are refreshed once as the run starts (to show "■ Cancel"); that
    // refresh is taken here so the one awaited below is the run's last.
    client.wait_for("the start's lens refresh", |m| {
        m["method"] == "workspace/codeLens/refresh"
    });
    // A second start while one runs is refused.
    let again = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
    );
    assert_eq!(again["started"], false);
    let titles = lens_titles(&mut client, &uri);
    assert!(titles[0].starts_with("■ Cancel evaluation"), "{titles:?}");
    client.notify(
        "window/workDoneProgress/cancel",
        json!({"token": begin["token"]}),
    );
    let end = progress(&mut client, "end");
    assert_eq!(end["value"]["message"], "cancelled");
    assert!(mock.requests().len() < 5, "the run stopped early");
    client.wait_for("a lens refresh", |m| {
        m["method"] == "workspace/codeLens/refresh"
    });
    assert_eq!(
        lens_titles(&mut client, &uri),
        vec!["▶ Evaluate", "⚡ Optimize"]
    );

    // Evaluate on save, at most two rows.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"promptls": {"evaluate": {"onSave": true, "rowBudget": 2}}}}),
    );
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(message.contains("/2 rows"), "{message}");
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
}

#[path = "support/sim_model.rs"]
mod sim_model;

#[test]
fn optimize_from_a_code_action_then_apply_over_later_edits() {
    let (_rt, mock) = mock(sim_model::respond);
    let dir = sim_model::workspace(&mock.base_url, "", 60, 11);
    let text = "---\nmodel: sim/small\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.split: {train: 0.5, seed: 3}\npromptls.teacher: sim/teacher-70b\n---\n{{role \"system\"}}\nClassify the sentiment of the review.\n{{role \"user\"}}\n{{text}}\n";
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = root.join("sentiment.prompt");
    std::fs::write(&path, text).unwrap();
    let mut client = Client::start(&binary(), false);
    let mut caps = capabilities();
    caps["workspace"]["workspaceEdit"] = json!({"documentChanges": true});
    client.initialize(&root, caps, json!({}));
    let uri = client.open(&path, text, 1);

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 8, "character": 0}, "end": {"line": 8, "character": 0}}, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["title"].as_str())
        .collect();
    for want in [
        "Optimize: bootstrap few-shot",
        "Optimize: MIPROv2",
        "Optimize: GEPA",
    ] {
        assert!(titles.contains(&want), "{titles:?}");
    }
    assert!(lens_titles(&mut client, &uri).contains(&"⚡ Optimize".to_string()));
    let bootstrap = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Optimize: bootstrap few-shot")
        .unwrap();
    client.replies.insert(
        "window/showMessageRequest".into(),
        json!({"title": "Apply"}),
    );
    client
        .replies
        .insert("workspace/applyEdit".into(), json!({"applied": true}));
    let started = client.request("workspace/executeCommand", bootstrap["command"].clone());
    assert_eq!(started, json!({"started": true}));
    progress(&mut client, "begin");
    // The user keeps typing while the job runs: a line added at the end.
    client.change(&uri, 2, json!([{"range": {"start": {"line": 11, "character": 0}, "end": {"line": 11, "character": 0}}, "text": "{{!-- note --}}\n"}]));
    let report = progress(&mut client, "report");
    assert!(
        report["value"]["message"]
            .as_str()
            .unwrap()
            .starts_with("trial 1 · baseline 0.000"),
        "{report}"
    );
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(message.starts_with("exact_match 0.000 → 0.8"), "{message}");
    let ask = client.wait_for("the apply question", |m| {
        m["method"] == "window/showMessageRequest"
    });
    assert!(
        ask["params"]["message"]
            .as_str()
            .unwrap()
            .contains("bootstrap raised exact_match from 0.000 to 0.8"),
        "{ask}"
    );
    let apply = client.wait_for("the edit", |m| m["method"] == "workspace/applyEdit");
    let change = &apply["params"]["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["version"], 2);
    let edit = &change["edits"][0];
    // An insertion after the instruction: the demos region; the line typed meanwhile
    // stays.
    assert_eq!(edit["range"]["start"], edit["range"]["end"]);
    let typed = format!("{text}{{{{!-- note --}}}}\n");
    let at = offset(&typed, &edit["range"]["start"]);
    let mut result = typed.clone();
    result.insert_str(at, edit["newText"].as_str().unwrap());
    assert!(
        result.starts_with("---\nmodel: sim/small\n") && result.contains("Classify the sentiment of the review.\n{{!-- promptls:demos --}}\n{{role \"user\"}}\n"),
        "{result}"
    );
    assert!(
        result.ends_with(
            "{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}\n{{!-- note --}}\n"
        ),
        "{result}"
    );
    // The applied result is in the history as the optimizer's child of the start.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let history = loop {
        let out = std::process::Command::new(binary())
            .args(["history", "sentiment.prompt", "--format", "json"])
            .current_dir(&root)
            .output()
            .unwrap();
        let h: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if h["versions"].as_array().is_some_and(|v| v.len() == 2)
            || std::time::Instant::now() > deadline
        {
            break h;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(history["versions"][1]["origin"], "optimizer", "{history:#}");
    assert_eq!(history["versions"][1]["parents"], json!([1]));
    assert_eq!(history["versions"][1]["detail"]["optimizer"], "bootstrap");
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
}

#[test]
fn a_cancelled_optimization_leaves_the_file_untouched() {
    let (_rt, mock) = mock(|request| {
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(sim_model::respond(request)),
        )
    });
    let dir = sim_model::workspace(
        &mock.base_url,
        "concurrency = 1\n[eval]\nconcurrency = 1\n",
        40,
        1,
    );
    let text = "---\nmodel: sim/small\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.split: 0.5\n---\n{{role \"system\"}}\nClassify.\n{{role \"user\"}}\n{{text}}\n";
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = root.join("s.prompt");
    std::fs::write(&path, text).unwrap();
    let mut client = start(&root);
    let uri = client.open(&path, text, 1);
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.optimize", "arguments": [{"uri": uri, "optimizer": "mipro"}]}),
    );
    let begin = progress(&mut client, "begin");
    assert!(lens_titles(&mut client, &uri)
        .iter()
        .any(|t| t.starts_with("■ Cancel optimization")));
    client.notify(
        "window/workDoneProgress/cancel",
        json!({"token": begin["token"]}),
    );
    let end = progress(&mut client, "end");
    assert_eq!(end["value"]["message"], "cancelled");
    // Freed before the end went out, as an evaluation is.
    let titles = lens_titles(&mut client, &uri);
    assert!(titles.contains(&"⚡ Optimize".to_string()), "{titles:?}");
    assert!(
        !titles.iter().any(|t| t.starts_with("■ Cancel")),
        "{titles:?}"
    );
    let told = client.wait_for("the notice", |m| m["method"] == "window/showMessage");
    assert!(
        told["params"]["message"]
            .as_str()
            .unwrap()
            .contains("cancelled; the file is untouched"),
        "{told}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // A job still running when the editor closes is stopped; the server exits cleanly
    // and the file stays as it was.
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.optimize", "arguments": [{"uri": uri, "optimizer": "gepa"}]}),
    );
    progress(&mut client, "begin");
    let closing = std::time::Instant::now();
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
    assert!(
        closing.elapsed() < Duration::from_secs(5),
        "{:?}",
        closing.elapsed()
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn an_optimization_stops_at_the_budget_in_promptls_optimizer() {
    let (_rt, mock) = mock(sim_model::respond);
    let dir = sim_model::workspace(&mock.base_url, "", 24, 11);
    let text = "---\nmodel: sim/small\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.split: {train: 0.5, seed: 3}\npromptls.teacher: sim/teacher-70b\npromptls.optimizer: {name: random, trials: 6, max_calls: 20}\n---\n{{role \"system\"}}\nClassify the sentiment of the review.\n{{role \"user\"}}\n{{text}}\n";
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = root.join("sentiment.prompt");
    std::fs::write(&path, text).unwrap();
    let mut client = start(&root);
    let uri = client.open(&path, text, 1);
    client.replies.insert(
        "window/showMessageRequest".into(),
        json!({"title": "Discard"}),
    );
    let started = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.optimize", "arguments": [{"uri": uri}]}),
    );
    assert_eq!(started, json!({"started": true}));
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(
        message.contains("stopped: max-calls reached after")
            && message.contains("kept the best of"),
        "{message}"
    );
    assert!(
        mock.requests().len() <= 20,
        "{} requests",
        mock.requests().len()
    );
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn an_optimization_that_finds_no_improvement_offers_no_apply() {
    let (_rt, mock) = mock(sim_model::respond);
    let dir = sim_model::workspace(&mock.base_url, "", 24, 11);
    // The simulated student answers every row right with this instruction.
    let text = "---\nmodel: sim/small\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.split: {train: 0.5, seed: 3}\npromptls.teacher: sim/teacher-70b\n---\n{{role \"system\"}}\nClassify the sentiment of the review. Mind negation and sarcasm. Answer in one word.\n{{role \"user\"}}\n{{text}}\n";
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = root.join("sentiment.prompt");
    std::fs::write(&path, text).unwrap();
    let mut client = start(&root);
    let uri = client.open(&path, text, 1);
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.optimize", "arguments": [{"uri": uri, "optimizer": "bootstrap"}]}),
    );
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("exact_match 1.000 → 1.000")
            && message.contains("no improvement found"),
        "{message}"
    );
    // A notice, not a question with Apply.
    let told = client.wait_for("the notice", |m| {
        m["method"] == "window/showMessage" || m["method"] == "window/showMessageRequest"
    });
    assert_eq!(told["method"], "window/showMessage", "{told}");
    assert!(
        told["params"]["message"]
            .as_str()
            .unwrap()
            .contains("found no improvement on exact_match 1.000; the file is untouched"),
        "{told}"
    );
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

/// The byte offset of an LSP position in ASCII text.
fn offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap() as usize;
    let character = position["character"].as_u64().unwrap() as usize;
    text.split_inclusive('\n')
        .take(line)
        .map(str::len)
        .sum::<usize>()
        + character
}

#[test]
fn history_lens_hover_and_commands_through_the_server() {
    let (_rt, mock) = mock(sim_model::respond);
    let dir = sim_model::workspace(&mock.base_url, "", 30, 4);
    let v1 = "---\nmodel: sim/small\npromptls.dataset: data/reviews.csv\npromptls.target: label\n---\n{{role \"system\"}}\nClassify the review.\n{{role \"user\"}}\n{{text}}\n";
    let v2 = v1.replace("Classify the review.", "Classify the review in one word.");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let path = root.join("s.prompt");
    std::fs::write(&path, v1).unwrap();
    let mut client = Client::start(&binary(), false);
    let mut caps = capabilities();
    caps["workspace"]["workspaceEdit"] = json!({"documentChanges": true});
    client.initialize(&root, caps, json!({}));
    let uri = client.open(&path, v1, 1);
    let evaluate = |client: &mut Client| {
        client.request(
            "workspace/executeCommand",
            json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
        );
        progress(client, "end");
        client.wait_for("a lens refresh", |m| {
            m["method"] == "workspace/codeLens/refresh"
        });
    };
    // Saving records v1; evaluating gives it a score.
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    client.wait_for("a lens refresh", |m| {
        m["method"] == "workspace/codeLens/refresh"
    });
    wait_lens(&mut client, &uri, |t| t == "v1 · history");
    evaluate(&mut client);
    wait_lens(&mut client, &uri, |t| {
        t == "v1 · exact_match 0.000 · history"
    });
    // Promote asks first.
    client.replies.insert(
        "window/showMessageRequest".into(),
        json!({"title": "Promote"}),
    );
    let promoted = client.request("workspace/executeCommand", json!({"command": "promptls.promote", "arguments": [{"uri": uri, "version": "v1", "tag": "production"}]}));
    assert_eq!(promoted["promoted"], true);
    let ask = client.wait_for("the confirmation", |m| {
        m["method"] == "window/showMessageRequest"
    });
    assert_eq!(
        ask["params"]["message"],
        "Promote s.prompt v1 to production?"
    );
    // An edit, saved and evaluated: v2 against production.
    client.change(&uri, 2, json!([{"text": v2}]));
    std::fs::write(&path, &v2).unwrap();
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    evaluate(&mut client);
    let lens = wait_lens(&mut client, &uri, |t| {
        t.starts_with("v2 · exact_match ") && t.ends_with("· history")
    });
    assert!(
        lens.contains(" ▲") && lens.contains("vs production v1"),
        "{lens}"
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}),
    );
    let text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("v2 against production v1") && text.contains("Instruction reworded"),
        "{text}"
    );
    let shown = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.showHistory", "arguments": [{"uri": uri}]}),
    );
    let markdown = shown["markdown"].as_str().unwrap();
    assert!(
        markdown.contains("| v2 |") && markdown.contains("| v1 | production |"),
        "{markdown}"
    );
    // Restore v1: an edit replacing the document with v1's content.
    client
        .replies
        .insert("workspace/applyEdit".into(), json!({"applied": true}));
    let restored = client.request("workspace/executeCommand", json!({"command": "promptls.restoreVersion", "arguments": [{"uri": uri, "version": "production"}]}));
    assert_eq!(restored, json!({"restored": 1, "applied": true}));
    let apply = client.wait_for("the edit", |m| m["method"] == "workspace/applyEdit");
    assert_eq!(
        apply["params"]["edit"]["documentChanges"][0]["edits"][0]["newText"],
        v1
    );
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
}

/// The first lens title matching `want`, asking again until it appears (lenses follow
/// background work).
fn wait_lens(client: &mut Client, uri: &str, want: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let titles = lens_titles(client, uri);
        if let Some(t) = titles.iter().find(|t| want(t)) {
            return t.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such lens in {titles:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The editor in an untrusted workspace whose `promptls.toml` points `openai` at a host
/// it chose: offline features work, an evaluation is refused before any call with one
/// clear message, and nothing reaches the host; the editor's word (VS Code's workspace
/// trust, `workspaceTrusted`) decides, over `PROMPTLS_TRUST_WORKSPACE`.
#[test]
fn an_untrusted_workspace_gets_no_model_call_from_the_editor() {
    const USER_KEY: &str = "sk-user-EDITOR-7d1f0a3c";
    let (_rt, mock) = mock(sentiment_model);
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        root.join("promptls.toml"),
        format!("[providers.openai]\nbase_url = \"{}/v1\"\n", mock.base_url),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(
        root.join("data/reviews.csv"),
        "text,tier,label\nI love it,vip,positive\nBroke,basic,negative\n",
    )
    .unwrap();
    let source = prompt("Classify the review.").replace("mock/tiny", "openai/gpt-4o-mini");
    let home_path = home.path().to_str().unwrap().to_string();
    let run = |options: Value, trust_env: &str| {
        let mut client = Client::start_with_env(
            &binary(),
            true,
            &[
                ("OPENAI_API_KEY", USER_KEY),
                ("OPENAI_BASE_URL", ""),
                ("XDG_CONFIG_HOME", &home_path),
                ("PROMPTLS_TRUST_WORKSPACE", trust_env),
            ],
        );
        client.initialize(&root, capabilities(), options);
        let uri = client.open(&root.join("sentiment.prompt"), &source, 1);
        (client, uri)
    };

    for (options, trust_env) in [(json!({}), ""), (json!({"workspaceTrusted": false}), "1")] {
        let (mut client, uri) = run(options, trust_env);
        // Offline features: diagnostics and hover.
        client.diagnostics(&uri, |_| true);
        let hover = client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 2}}),
        );
        assert!(!hover.is_null());
        let started = client.request(
            "workspace/executeCommand",
            json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
        );
        assert_eq!(started, json!({"started": true}));
        let shown = client.wait_for("the refusal", |m| m["method"] == "window/showMessage");
        let message = shown["params"]["message"].as_str().unwrap();
        assert!(
            message.contains("untrusted workspace")
                && message.contains("promptls.toml:2")
                && message.contains("providers.openai.base_url")
                && message.contains("promptls trust")
                && !message.contains(USER_KEY),
            "{message}"
        );
        assert_eq!(client.shutdown_and_exit().code(), Some(0));
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());

    // VS Code trusts the workspace: the same evaluation goes out with the user's key.
    let (mut client, uri) = run(json!({"promptls": {"workspaceTrusted": true}}), "");
    client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]}),
    );
    let end = progress(&mut client, "end");
    assert!(
        end["value"]["message"]
            .as_str()
            .unwrap()
            .contains("2 calls"),
        "{end}"
    );
    let auth: Vec<_> = mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(auth, vec![Some(format!("Bearer {USER_KEY}")); 2]);
    assert_eq!(client.shutdown_and_exit().code(), Some(0));
}

/// A panic inside a background job (the debug-only fault `PROMPTLS_TEST_PANIC_IN_JOB=1`
/// fires in the first job): the job ends with an error message and the end of its
/// progress, and the prompt is free: the next evaluation starts and finishes.
#[test]
fn a_panic_in_a_job_ends_it_with_an_error_and_frees_the_prompt() {
    let (_rt, mock) = mock(sentiment_model);
    let dir = workspace(&mock.base_url);
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let mut client = Client::start_with_env(
        &binary(),
        false,
        &[
            ("PROMPTLS_TEST_PANIC_IN_JOB", "1"),
            ("PROMPTLS_TRUST_WORKSPACE", "1"),
        ],
    );
    client.initialize(&root, capabilities(), json!({}));
    let uri = client.open(
        &root.join("sentiment.prompt"),
        &prompt("Classify the review."),
        1,
    );
    let evaluate = json!({"command": "promptls.evaluate", "arguments": [{"uri": uri}]});

    let started = client.request("workspace/executeCommand", evaluate.clone());
    assert_eq!(started, json!({"started": true}));
    let begin = progress(&mut client, "begin");
    let end = progress(&mut client, "end");
    assert_eq!(end["token"], begin["token"]);
    let message = end["value"]["message"].as_str().unwrap();
    assert!(message.contains("internal error"), "{message}");
    let shown = client.wait_for("the error message", |m| {
        m["method"] == "window/showMessage" && m["params"]["type"] == 1
    });
    let text = shown["params"]["message"].as_str().unwrap();
    assert!(
        text.contains("sentiment.prompt: the evaluation failed with an internal error")
            && text.contains("PROMPTLS_TEST_PANIC_IN_JOB"),
        "{text}"
    );

    // Not "already running": the next one starts and runs to its score.
    let again = client.request("workspace/executeCommand", evaluate);
    assert_eq!(again, json!({"started": true}));
    let begin = progress(&mut client, "begin");
    assert_eq!(begin["value"]["title"], "Evaluating sentiment.prompt");
    let end = progress(&mut client, "end");
    let message = end["value"]["message"].as_str().unwrap();
    assert!(message.starts_with("exact_match 0.800"), "{message}");
    // The server still answers.
    let lenses = client.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    assert!(lenses.is_array());
    assert!(client.shutdown_and_exit().success());
}
