//! `promptls optimize` against the simulated model (tests/support/sim_model.rs): each
//! optimizer raises the score on held-out rows, accounts for its calls per model, leaves
//! the file alone without --write and rewrites only its parts with it, and reaches the
//! same result when the model fails one call in five.

#[path = "support/cli_run.rs"]
mod cli_run;
#[path = "support/mock_llm.rs"]
mod mock_llm;
#[path = "support/sim_model.rs"]
mod sim_model;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mock_llm::{Mock, Reply};

use cli_run::{json as report, promptls};
use sim_model::PROMPT;

fn workspace(mock: &Mock) -> tempfile::TempDir {
    sim_model::workspace(
        &mock.base_url,
        "concurrency = 8\n[eval]\nattempts = 4\n",
        60,
        11,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_raises_the_held_out_score_and_writes_only_with_write() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let out = promptls(
        ws.path(),
        &[
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "bootstrap",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    // The chatty student fails every row until demos show it the one-word format.
    assert_eq!(r["baseline_score"], 0.0, "{r:#}");
    let score = r["score"].as_f64().unwrap();
    assert!(score >= 0.7, "{r:#}");
    let demos = r["demos"].as_array().unwrap();
    assert!(!demos.is_empty() && demos.len() <= 4, "{r:#}");
    // The teacher is wrong on some rows; none of its wrong answers became a demo.
    for d in demos {
        let input = d["input"].as_str().unwrap();
        assert_eq!(d["output"], sim_model::truth(input), "{d}");
    }
    assert_eq!(r["calls"]["sim/teacher-70b"]["role"], "teacher", "{r:#}");
    assert!(r["calls"]["sim/teacher-70b"]["calls"].as_u64().unwrap() >= 4);
    assert_eq!(r["calls"]["sim/small"]["role"], "task");
    // As DSPy's, the optimizer itself only asks the teacher; the student's calls score
    // the prompt before and after for the report.
    let spent: Vec<&String> = r["optimizer_calls"].as_object().unwrap().keys().collect();
    assert_eq!(spent, ["sim/teacher-70b"], "{r:#}");
    assert_eq!(
        r["total_calls"].as_u64().unwrap(),
        mock.requests().len() as u64,
        "every request is accounted for"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("sentiment.prompt")).unwrap(),
        PROMPT
    );

    // Again with --write: every candidate is in the cache, and the file gets the demos.
    let before = mock.requests().len();
    let out = promptls(
        ws.path(),
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
    let again = report(&out);
    assert_eq!(again["score"], r["score"]);
    assert_eq!(again["total_calls"], 0, "{again:#}");
    assert_eq!(mock.requests().len(), before);
    let written = std::fs::read_to_string(ws.path().join("sentiment.prompt")).unwrap();
    assert!(
        written.starts_with(&PROMPT[..PROMPT.find("{{role \"user\"}}").unwrap()]),
        "{written}"
    );
    assert!(written.contains("{{!-- promptls:demos --}}"), "{written}");
    assert!(
        written.ends_with("{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}\n"),
        "{written}"
    );
    // What was written evaluates to the reported score.
    let eval =
        report(&promptls(ws.path(), &["eval", "sentiment.prompt", "--format", "json"]).await);
    assert_eq!(eval["score"], r["score"]);
    assert_eq!(eval["calls"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn random_search_tries_the_dspy_candidates_and_keeps_the_best() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    let out = promptls(
        ws.path(),
        &[
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "random",
            "--trials",
            "6",
            "--demos",
            "4",
            "--seed",
            "5",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let trials = r["trials"].as_array().unwrap();
    let labels: Vec<&str> = trials
        .iter()
        .map(|t| t["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        &labels[..4],
        &["baseline", "zero-shot", "labelled only", "bootstrap"],
        "{labels:?}"
    );
    let best = trials
        .iter()
        .filter(|t| t["label"] != "final")
        .map(|t| t["score"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(r["score"].as_f64().unwrap(), best, "{r:#}");
    assert!(best >= 0.7, "{r:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failed_call_in_five_changes_nothing() {
    let clean = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&clean);
    let args = [
        "optimize",
        "sentiment.prompt",
        "--optimizer",
        "bootstrap",
        "--format",
        "json",
    ];
    let want = report(&promptls(ws.path(), &args).await);

    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let flaky = Mock::start_with(move |request| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if n % 5 == 4 {
            if n.is_multiple_of(2) {
                Reply::status(503, "{\"error\": \"overloaded\"}")
            } else {
                Reply::retry_after(429, "0")
            }
        } else {
            sim_model::respond(request)
        }
    })
    .await;
    let ws = workspace(&flaky);
    let got = report(&promptls(ws.path(), &args).await);
    for field in ["baseline_score", "score", "demos", "instruction"] {
        assert_eq!(got[field], want[field], "{field}");
    }
    assert!(count.load(Ordering::SeqCst) > want["total_calls"].as_u64().unwrap() as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn mipro_proposes_grounded_instructions_and_searches_with_minibatches() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    // 200 rows: 100 validation rows, so trials score on minibatches of 35.
    std::fs::write(
        ws.path().join("data/reviews.csv"),
        sim_model::csv(&sim_model::rows(200, 11)),
    )
    .unwrap();
    let args = [
        "optimize",
        "sentiment.prompt",
        "--optimizer",
        "mipro",
        "--auto",
        "light",
        "--seed",
        "9",
        "--format",
        "json",
    ];
    let out = promptls(ws.path(), &args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let trials = r["trials"].as_array().unwrap();
    assert!(
        trials
            .iter()
            .any(|t| t["minibatch"] == true && t["rows"] == 35),
        "{r:#}"
    );
    assert!(
        trials
            .iter()
            .any(|t| t["minibatch"] == false && t["label"].as_str().unwrap().starts_with("full:")),
        "{r:#}"
    );
    assert_eq!(
        trials.iter().filter(|t| t["minibatch"] == true).count(),
        10,
        "light: 10 trials"
    );
    // The winner handles negation and sarcasm, by its instruction (the teacher's
    // grounded proposals name them) or by its demos.
    let score = r["score"].as_f64().unwrap();
    assert!(score >= 0.95, "{r:#}");
    let instruction = r["instruction"].as_str().unwrap().to_lowercase();
    let demo_inputs: Vec<&str> = r["demos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["input"].as_str().unwrap())
        .collect();
    assert!(
        instruction.contains("negat") || demo_inputs.iter().any(|d| sim_model::is_negated(d)),
        "{r:#}"
    );
    assert!(
        instruction.contains("sarcas") || demo_inputs.iter().any(|d| sim_model::is_sarcastic(d)),
        "{r:#}"
    );
    let proposals = trials
        .iter()
        .filter_map(|t| t["label"].as_str())
        .filter(|l| l.starts_with("instruction 1") || l.starts_with("instruction 2"))
        .count();
    assert!(proposals > 0, "proposed instructions were tried: {r:#}");
    // Reproducible given the same answers: a second run is all cache hits and the same.
    let again = report(&promptls(ws.path(), &args).await);
    assert_eq!(again["instruction"], r["instruction"]);
    assert_eq!(again["demos"], r["demos"]);
    assert_eq!(again["score"], r["score"]);
    assert_eq!(again["total_calls"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn gepa_reflects_on_failures_and_evolves_the_instruction() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&mock);
    // Start from an instruction that asks for one word: the student then fails only on
    // negation and sarcasm, which reflection on its failures can name.
    let prompt = PROMPT.replace(
        "Classify the sentiment of the review.",
        "Classify the sentiment of the review in one word.",
    );
    std::fs::write(ws.path().join("sentiment.prompt"), &prompt).unwrap();
    let out = promptls(
        ws.path(),
        &[
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "gepa",
            "--trials",
            "8",
            "--seed",
            "2",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let baseline = r["baseline_score"].as_f64().unwrap();
    let score = r["score"].as_f64().unwrap();
    assert!(baseline < 0.8 && score > baseline + 0.15, "{r:#}");
    let instruction = r["instruction"].as_str().unwrap().to_lowercase();
    assert!(
        instruction.contains("negation") || instruction.contains("sarcasm"),
        "{instruction}"
    );
    assert_eq!(
        r["demos"],
        serde_json::json!([]),
        "GEPA evolves the instruction only"
    );
    assert!(
        r["trials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["label"].as_str().unwrap().contains("child of")),
        "{r:#}"
    );
    // A budget: with --max-calls on a fresh cache the run stops early, keeps its best so
    // far, and makes no call past the budget.
    let fresh = Mock::start_with(sim_model::respond).await;
    let ws = workspace(&fresh);
    std::fs::write(ws.path().join("sentiment.prompt"), &prompt).unwrap();
    let capped = report(
        &promptls(
            ws.path(),
            &[
                "optimize",
                "sentiment.prompt",
                "--optimizer",
                "gepa",
                "--trials",
                "8",
                "--seed",
                "2",
                "--max-calls",
                "60",
                "--format",
                "json",
            ],
        )
        .await,
    );
    let calls = capped["total_calls"].as_u64().unwrap();
    assert!(calls <= 60, "{capped:#}");
    assert!(fresh.requests().len() <= 60);
    assert_eq!(capped["stopped"], "max-calls", "{capped:#}");
    assert!(calls < r["total_calls"].as_u64().unwrap(), "{capped:#}");
    assert!(capped["score"].as_f64().unwrap() >= capped["baseline_score"].as_f64().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_run_leaves_the_file_and_the_cache_intact() {
    let mock = Mock::start_with(|request| {
        Reply::Slow(
            std::time::Duration::from_millis(100),
            Box::new(sim_model::respond(request)),
        )
    })
    .await;
    let ws = workspace(&mock);
    std::fs::write(
        ws.path().join("promptls.toml"),
        format!(
            "[providers.sim]\nbase_url = \"{}\"\nconcurrency = 2\n",
            mock.base_url
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_promptls"))
        .args([
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "random",
            "--write",
            "--format",
            "json",
        ])
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while mock.requests().len() < 12 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let sent = mock.requests().len();
    assert!(sent >= 12, "the run was under way");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("sentiment.prompt")).unwrap(),
        PROMPT
    );
    let leftovers: Vec<_> = std::fs::read_dir(ws.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let db = rusqlite::Connection::open(ws.path().join(".promptls/cache.sqlite")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let stored: i64 = db
        .query_row("SELECT count(*) FROM calls", [], |r| r.get(0))
        .unwrap();
    assert!(stored > 0);
    drop(db);
    // The next run finishes, reusing what the killed one stored.
    let out = promptls(
        ws.path(),
        &[
            "optimize",
            "sentiment.prompt",
            "--optimizer",
            "random",
            "--write",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    assert!(r["written"] == true, "{r:#}");
    let cached: u64 = r["calls"]
        .as_object()
        .unwrap()
        .values()
        .map(|u| u["cache_hits"].as_u64().unwrap())
        .sum();
    assert!(cached > 0, "{r:#}");
}

/// A panic inside the optimization's job (the debug-only fault
/// `PROMPTLS_TEST_PANIC_IN_JOB=1`) is an error with exit code 1: no report, no call, the
/// file as it was, nothing in the history.
#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_the_optimization_is_an_error_and_the_file_is_unchanged() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = small_workspace(&mock, "", 12);
    let out = cli_run::promptls_with_env(
        ws.path(),
        &optimize_args("random", &["--write"]),
        &[("PROMPTLS_TEST_PANIC_IN_JOB", "1")],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", cli_run::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: sentiment.prompt: the optimization failed with an internal error \
             (panic: PROMPTLS_TEST_PANIC_IN_JOB); the file is unchanged"
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", cli_run::text(&out));
    assert!(mock.requests().is_empty());
    assert_eq!(
        std::fs::read_to_string(ws.path().join("sentiment.prompt")).unwrap(),
        PROMPT
    );
    let history = promptls(
        ws.path(),
        &["history", "sentiment.prompt", "--format", "json"],
    )
    .await;
    assert_eq!(report(&history)["versions"], serde_json::json!([]));
}

// Budgets, write-only-if-better and the split (issue 12, items 1–3).

/// A workspace of `rows` rows with `settings` in `promptls.toml` (after the base URL).
fn small_workspace(mock: &Mock, settings: &str, rows: usize) -> tempfile::TempDir {
    sim_model::workspace(
        &mock.base_url,
        &format!("concurrency = 4\n{settings}[eval]\nattempts = 4\n"),
        rows,
        11,
    )
}

fn optimize_args<'a>(optimizer: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "optimize",
        "sentiment.prompt",
        "--optimizer",
        optimizer,
        "--trials",
        "6",
        "--seed",
        "1",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args
}

/// The JSON report of `optimizer` with a budget (`--max-calls N`, `--max-cost USD`) on 24
/// rows against `mock`, which must succeed.
async fn optimize_within(
    mock: &Mock,
    settings: &str,
    optimizer: &str,
    flag: &str,
    max: &str,
) -> serde_json::Value {
    let ws = small_workspace(mock, settings, 24);
    let out = promptls(ws.path(), &optimize_args(optimizer, &[flag, max])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{optimizer} {flag} {max}: {}",
        cli_run::text(&out)
    );
    report(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn max_calls_bounds_every_request_of_every_optimizer() {
    // 24 rows, half of them validation rows: the baseline needs 12 calls.
    for optimizer in ["bootstrap", "random", "mipro", "gepa"] {
        let mut unbounded = None;
        for max in [12u64, 15, 30, 60] {
            let mock = Mock::start_with(sim_model::respond).await;
            let r = optimize_within(&mock, "", optimizer, "--max-calls", &max.to_string()).await;
            let received = mock.requests().len() as u64;
            assert!(
                received <= max,
                "{optimizer} --max-calls {max}: {received} requests"
            );
            assert_eq!(
                r["total_calls"].as_u64().unwrap(),
                received,
                "{optimizer} {max}"
            );
            let stopped = &r["stopped"];
            assert!(
                stopped.is_null() || stopped == "max-calls",
                "{optimizer} {max}: {stopped}"
            );
            // The best so far: never below the start.
            assert!(
                r["score"].as_f64().unwrap() >= r["baseline_score"].as_f64().unwrap(),
                "{r:#}"
            );
            if max == 12 {
                // Only the baseline fits.
                assert_eq!(stopped, "max-calls", "{optimizer}: {r:#}");
                assert_eq!(received, 12, "{optimizer}");
            }
            if stopped.is_null() {
                unbounded.get_or_insert(received);
            }
            eprintln!("{optimizer} --max-calls {max}: {received} requests, stopped {stopped}");
        }
        // The human report says why it stopped.
        let mock = Mock::start_with(sim_model::respond).await;
        let ws = small_workspace(&mock, "", 24);
        let mut args = optimize_args(optimizer, &["--max-calls", "15"]);
        args.retain(|a| *a != "--format" && *a != "json");
        let out = promptls(ws.path(), &args).await;
        let text = cli_run::text(&out);
        assert!(mock.requests().len() <= 15);
        assert!(
            text.contains("stopped: max-calls reached after") && text.contains("kept the best of"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn max_cost_bounds_the_spend_with_prices_from_the_config() {
    let prices = "prices = { \"small\" = { input = 1.0, output = 2.0 }, \"teacher\" = { input = 3.0, output = 6.0 } }\n";
    for optimizer in ["bootstrap", "random", "mipro", "gepa"] {
        for max in [0.03f64, 0.06, 0.15] {
            let mock = Mock::start_with(sim_model::respond).await;
            let r = optimize_within(&mock, prices, optimizer, "--max-cost", &max.to_string()).await;
            let cost = r["cost_usd"].as_f64().unwrap();
            assert!(
                cost > 0.0 && cost <= max,
                "{optimizer} --max-cost {max}: ${cost}"
            );
            let stopped = &r["stopped"];
            assert!(stopped.is_null() || stopped == "max-cost", "{stopped}");
            assert_eq!(
                r["total_calls"].as_u64().unwrap(),
                mock.requests().len() as u64
            );
            eprintln!(
                "{optimizer} --max-cost {max}: ${cost:.5}, {} requests, stopped {stopped}",
                mock.requests().len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_too_small_for_the_baseline_is_an_error_before_any_call() {
    let prices = "prices = { \"small\" = { input = 1.0, output = 2.0 } }\n";
    for (flag, value) in [("--max-calls", "5"), ("--max-cost", "0.001")] {
        for optimizer in ["bootstrap", "random", "mipro", "gepa"] {
            let mock = Mock::start_with(sim_model::respond).await;
            let ws = small_workspace(&mock, prices, 24);
            let out = promptls(ws.path(), &optimize_args(optimizer, &[flag, value])).await;
            assert_eq!(out.status.code(), Some(2), "{}", cli_run::text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("cannot score the prompt as it is"), "{err}");
            assert!(err.contains("12 validation rows"), "{err}");
            assert_eq!(mock.requests().len(), 0, "{flag} {optimizer}");
        }
    }
    // A model without a price cannot be bounded by --max-cost (the teacher here).
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = small_workspace(&mock, prices, 24);
    let out = promptls(ws.path(), &optimize_args("bootstrap", &["--max-cost", "1"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", cli_run::text(&out));
    assert!(
        cli_run::text(&out).contains("--max-cost needs the price of `sim/teacher-70b`"),
        "{}",
        cli_run::text(&out)
    );
    assert_eq!(mock.requests().len(), 0);
}

/// An instruction the simulated student answers every row right with.
const OPTIMAL: &str =
    "Classify the sentiment of the review. Mind negation and sarcasm. Answer in one word.";

#[tokio::test(flavor = "multi_thread")]
async fn write_writes_only_an_improvement_unless_forced() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = small_workspace(&mock, "", 24);
    let file = ws.path().join("sentiment.prompt");
    let optimal = PROMPT.replace("Classify the sentiment of the review.", OPTIMAL);
    std::fs::write(&file, &optimal).unwrap();
    let out = promptls(ws.path(), &optimize_args("bootstrap", &["--write"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", cli_run::text(&out));
    let r = report(&out);
    assert_eq!(r["baseline_score"], 1.0, "{r:#}");
    assert_eq!(r["improved"], false);
    assert_eq!(r["written"], false);
    assert!(
        r["not_written"]
            .as_str()
            .unwrap()
            .starts_with("not written: 1.000 → 1.000 is no improvement; --force writes it"),
        "{r:#}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), optimal.as_bytes());
    // The human report says so too.
    let mut args = optimize_args("bootstrap", &["--write"]);
    args.retain(|a| *a != "--format" && *a != "json");
    let out = promptls(ws.path(), &args).await;
    assert_eq!(out.status.code(), Some(0));
    let text = cli_run::text(&out);
    assert!(
        text.contains("not written: 1.000 → 1.000 is no improvement"),
        "{text}"
    );
    assert!(!text.contains("wrote "), "{text}");
    assert_eq!(std::fs::read(&file).unwrap(), optimal.as_bytes());

    // --force writes it anyway.
    let out = promptls(
        ws.path(),
        &optimize_args("bootstrap", &["--write", "--force"]),
    )
    .await;
    let r = report(&out);
    assert_eq!(r["written"], true, "{r:#}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("{{!-- promptls:demos --}}"), "{written}");

    // A prompt that improves is written.
    std::fs::write(&file, PROMPT).unwrap();
    let out = promptls(ws.path(), &optimize_args("bootstrap", &["--write"])).await;
    let r = report(&out);
    assert_eq!(r["improved"], true, "{r:#}");
    assert_eq!(r["written"], true, "{r:#}");
    assert_ne!(std::fs::read_to_string(&file).unwrap(), PROMPT);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_split_validation_rows_are_never_training_rows() {
    let rows = 24;
    let data = sim_model::rows(rows, 11);
    for optimizer in ["bootstrap", "random", "mipro", "gepa"] {
        let mock = Mock::start_with(sim_model::respond).await;
        let ws = small_workspace(&mock, "", rows);
        let file = ws.path().join("sentiment.prompt");
        let unsplit = PROMPT.replace("promptls.split: {train: 0.5, seed: 3}\n", "");
        std::fs::write(&file, &unsplit).unwrap();
        let out = promptls(
            ws.path(),
            &optimize_args(optimizer, &["--write", "--force"]),
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", cli_run::text(&out));
        let r = report(&out);
        let split = &r["split"];
        assert_eq!(split["source"], "auto", "{r:#}");
        assert_eq!(split["seed"], 1);
        let numbers = |key: &str| -> Vec<usize> {
            split[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap() as usize)
                .collect()
        };
        let (train, dev) = (numbers("train"), numbers("dev"));
        assert!(!train.is_empty() && !dev.is_empty());
        assert!(train.iter().all(|t| !dev.contains(t)), "{split}");
        let mut all: Vec<usize> = train.iter().chain(&dev).copied().collect();
        all.sort();
        assert_eq!(all, (1..=rows).collect::<Vec<_>>());
        // Scored on the validation rows only.
        assert_eq!(r["trials"][0]["rows"], dev.len(), "{r:#}");
        let dev_texts: Vec<&str> = dev.iter().map(|&n| data[n - 1].0.as_str()).collect();
        let train_texts: Vec<&str> = train.iter().map(|&n| data[n - 1].0.as_str()).collect();
        for demo in r["demos"].as_array().unwrap() {
            let input = demo["input"].as_str().unwrap();
            assert!(train_texts.contains(&input), "{optimizer}: {input}");
            assert!(!dev_texts.contains(&input), "{optimizer}: {input}");
        }
        let written = std::fs::read_to_string(&file).unwrap();
        if r["written"] == true {
            assert!(
                written.contains("promptls.split: {train: 0.5, seed: 1}"),
                "{written}"
            );
        }
        let check = promptls(ws.path(), &["check", "sentiment.prompt"]).await;
        let text = cli_run::text(&check);
        assert!(
            !text.contains("demo-leak"),
            "{optimizer}: {text}\n{written}"
        );
    }
    // Fewer than 2 rows: an error.
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = small_workspace(&mock, "", 1);
    let unsplit = PROMPT.replace("promptls.split: {train: 0.5, seed: 3}\n", "");
    std::fs::write(ws.path().join("sentiment.prompt"), &unsplit).unwrap();
    let out = promptls(ws.path(), &optimize_args("bootstrap", &[])).await;
    assert_eq!(out.status.code(), Some(2), "{}", cli_run::text(&out));
    assert!(cli_run::text(&out).contains("at least 2"));
    assert_eq!(mock.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_reserved_so_max_calls_counts_every_request() {
    // 24 rows, 12 of them validation rows: the baseline's 12 requests are answered, and
    // every request after them is a 503 or a 429, so each later call is retried (and its
    // row tried again in the final round) until the budget refuses an attempt.
    for optimizer in ["random", "mipro", "gepa", "bootstrap"] {
        for max in [14u64, 21] {
            let count = Arc::new(AtomicUsize::new(0));
            let counter = count.clone();
            let mock = Mock::start_with(move |request| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if n < 12 {
                    sim_model::respond(request)
                } else if n.is_multiple_of(2) {
                    Reply::status(503, "{\"error\": \"overloaded\"}")
                } else {
                    Reply::retry_after(429, "0")
                }
            })
            .await;
            let r = optimize_within(&mock, "", optimizer, "--max-calls", &max.to_string()).await;
            let received = mock.requests().len() as u64;
            eprintln!("{optimizer} --max-calls {max}: {received} requests");
            assert!(
                received <= max,
                "{optimizer} --max-calls {max}: {received} requests"
            );
            assert_eq!(r["total_calls"].as_u64().unwrap(), received, "{r:#}");
            assert_eq!(r["stopped"], "max-calls", "{optimizer} {max}: {r:#}");
            // The baseline is kept: no failed call was scored.
            assert_eq!(r["score"], r["baseline_score"], "{r:#}");
            if matches!(optimizer, "random" | "mipro") {
                // Their first calls after the baseline fit (a one-row bootstrap, a
                // teacher question), so retries spend the budget to the last request.
                assert_eq!(received, max, "{optimizer}: {r:#}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_dataset_row_fails_the_run_unless_bad_rows_are_allowed() {
    let mock = Mock::start_with(sim_model::respond).await;
    let ws = small_workspace(&mock, "", 24);
    let data = ws.path().join("data/reviews.csv");
    let mut csv = std::fs::read_to_string(&data).unwrap();
    // Line 6 of the file: three fields under a header of two.
    let at = csv.match_indices('\n').nth(4).unwrap().0 + 1;
    csv.insert_str(at, "\"A lamp\",positive,extra\n");
    std::fs::write(&data, csv).unwrap();

    let out = promptls(ws.path(), &optimize_args("bootstrap", &[])).await;
    let all = cli_run::text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 dataset row could not be read or rendered:")
            && all.contains("reviews.csv line 6:")
            && all.contains("--allow-bad-rows"),
        "{all}"
    );
    assert_eq!(mock.requests().len(), 0, "nothing is sent");

    let out = promptls(
        ws.path(),
        &optimize_args("bootstrap", &["--allow-bad-rows"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", cli_run::text(&out));
    let r = report(&out);
    assert_eq!(r["bad_rows"], 1, "{r:#}");
    let why = r["bad_row_errors"][0].as_str().unwrap();
    assert!(why.contains("reviews.csv line 6:"), "{why}");
    // The 24 readable rows are split and optimized on; the bad one is in neither part.
    let split = |part: &str| r["split"][part].as_array().unwrap().len();
    assert_eq!(split("train") + split("dev"), 24, "{r:#}");
    assert!(r["score"].as_f64().unwrap() >= r["baseline_score"].as_f64().unwrap());
}
