//! End-to-end runs of the `promptls` binary: exit codes, human/JSON/SARIF output,
//! `render`, and hostile input (never a panic, never a hang).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs promptls; a run that takes over a minute is a hang and fails the test.
fn promptls(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_promptls"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Read the pipes on another thread so a large output cannot block the child.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("promptls {args:?} hung");
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "promptls {args:?} panicked:\n{stderr}"
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("promptls-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const BROKEN: &str =
    "---\nmodel: openai/gpt-4o\npromptls.metric: acuracy\nmodle: x\n---\nHello {{name}}\n";

#[test]
fn examples_are_clean() {
    let out = promptls(&["check", "examples/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("no problems found"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn human_output_has_snippets_and_exit_code_1() {
    let dir = temp_dir("human");
    std::fs::write(dir.join("a.prompt"), BROKEN).unwrap();
    let out = promptls(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("error[unknown-metric]: unknown metric `acuracy`"),
        "{text}"
    );
    assert!(text.contains("a.prompt:3:18"), "{text}");
    assert!(text.contains("3 | promptls.metric: acuracy"), "{text}");
    assert!(text.contains("^^^^^^^"), "{text}");
    assert!(text.contains("warning[unknown-key]"), "{text}");
    assert!(text.contains("1 error, 1 warning"), "{text}");
}

#[test]
fn warnings_alone_exit_0() {
    let dir = temp_dir("warn");
    std::fs::write(dir.join("w.prompt"), "---\nmodle: x\n---\nHi\n").unwrap();
    let out = promptls(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn json_output() {
    let dir = temp_dir("json");
    std::fs::write(dir.join("a.prompt"), BROKEN).unwrap();
    let out = promptls(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["errors"], 1);
    let metric = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "unknown-metric")
        .unwrap();
    assert_eq!(
        metric["start"],
        serde_json::json!({"line": 3, "column": 18})
    );
    assert_eq!(metric["end"], serde_json::json!({"line": 3, "column": 25}));
    assert_eq!(metric["severity"], "error");
    let key = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "unknown-key")
        .unwrap();
    assert_eq!(key["fix"]["edits"][0]["new_text"], "model");
}

#[test]
fn sarif_output_matches_the_sarif_2_1_0_schema() {
    let schema_path = repo()
        .join("tests/compat/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    // Missing data fails the test, in CI or not: an unvalidated log proves nothing.
    assert!(
        schema_path.exists(),
        "the SARIF 2.1.0 schema is missing ({}): run `npm ci --prefix tests/compat` \
         (scripts/test does)",
        schema_path.display()
    );
    let dir = temp_dir("sarif");
    std::fs::write(dir.join("a.prompt"), BROKEN).unwrap();
    std::fs::write(dir.join("é.prompt"), "---\nmodel: 5\n---\n😀 {{x}}\n").unwrap();
    let out = promptls(&["check", "--format", "sarif", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results
        .iter()
        .any(|r| r["ruleId"] == "unknown-metric" && r["level"] == "error"));
    let region = &results
        .iter()
        .find(|r| r["ruleId"] == "unknown-metric")
        .unwrap()["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 3);
    assert_eq!(region["startColumn"], 18);
    // The published schema has a malformed `pattern` (a stray `]`) that meta-validation
    // rejects; use the pattern it means.
    let text = std::fs::read_to_string(schema_path).unwrap().replace(
        r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        r"^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn usage_and_io_failures_exit_2() {
    assert_eq!(
        promptls(&["check", "no/such/folder"]).status.code(),
        Some(2)
    );
    assert_eq!(
        promptls(&["check", "--format", "xml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        promptls(&["render", "no/such.prompt"]).status.code(),
        Some(2)
    );
    assert_eq!(
        promptls(&[
            "render",
            "examples/sentiment/sentiment.prompt",
            "--row",
            "999"
        ])
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        promptls(&[
            "render",
            "examples/sentiment/sentiment.prompt",
            "--data",
            "{oops"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn render_a_dataset_row() {
    let out = promptls(&[
        "render",
        "examples/sentiment/sentiment.prompt",
        "--row",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rendered["model"], "groq/llama-3.1-8b-instant");
    assert_eq!(rendered["ext"]["promptls"]["target"], "sentiment");
    let messages = rendered["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("calm support team"));
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(
        last["content"][0]["text"],
        "\nArrived broken, and the replacement was broken too."
    );

    let out = promptls(&[
        "render",
        "examples/sentiment/sentiment.prompt",
        "--format",
        "text",
        "--data",
        r#"{"input": {"text": "Meh."}}"#,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.starts_with("── system ──\n"), "{text}");
    assert!(text.ends_with("── user ──\n\nMeh.\n"), "{text}");
}

/// Hostile files: each must give a diagnostic or a clean error, never a panic or hang.
#[test]
fn hostile_input() {
    let dir = temp_dir("hostile");
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("binary.prompt", vec![0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 3]),
        ("latin1.prompt", b"---\nmodel: caf\xe9\n---\nHi".to_vec()),
        (
            "unterminated.prompt",
            b"---\nmodel: a/b\n---\nHello {{name\nand {{#if x}} and {{{raw".to_vec(),
        ),
        (
            "unclosed.prompt",
            b"{{#each items}}{{#if a}}x{{/each}}{{/if}} {{/nope}}".to_vec(),
        ),
        (
            "deep-yaml.prompt",
            format!("---\na: {}{}\n---\nHi", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
        ),
        ("deep-yaml-block.prompt", {
            let mut s = String::from("---\n");
            for i in 0..1000 {
                s.push_str(&" ".repeat(i));
                s.push_str("k:\n");
            }
            s.push_str("---\nHi");
            s.into_bytes()
        }),
        (
            "deep-blocks.prompt",
            format!("{}x{}", "{{#if a}}".repeat(1000), "{{/if}}".repeat(1000)).into_bytes(),
        ),
        (
            "long.prompt",
            "Line {{n}} of a long template {{#if x}}yes{{/if}}\n"
                .repeat(10_000)
                .into_bytes(),
        ),
        ("frontmatter-only.prompt", b"---\n---\n".to_vec()),
        ("empty.prompt", Vec::new()),
    ];
    let mut big = String::from("---\nmodel: openai/gpt-4o\n---\n");
    while big.len() < 10 * 1024 * 1024 {
        big.push_str("Some long context {{x}} paragraph that goes on and on.\n");
    }
    files.push(("ten-mb.prompt", big.into_bytes()));
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    for (name, _) in &files {
        let path = dir.join(name);
        let path = path.to_str().unwrap();
        let out = promptls(&["check", "--format", "json", path]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "check {name}: {:?}",
            out.status
        );
        let report: Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report["files"], 1, "{name}");
        let out = promptls(&["render", path]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "render {name}: {:?}",
            out.status
        );
    }
    let codes = |name: &str| -> Vec<String> {
        let out = promptls(&[
            "check",
            "--format",
            "json",
            dir.join(name).to_str().unwrap(),
        ]);
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes("binary.prompt"), ["not-text"]);
    assert_eq!(codes("latin1.prompt"), ["not-text"]);
    assert!(codes("deep-yaml.prompt").contains(&"yaml-syntax".to_string()));
}

#[test]
fn tree_prints_the_tree_sitter_tree() {
    let out = promptls(&["tree", "examples/sentiment/sentiment.prompt"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("(document [0, 0] - "), "{text}");
    assert!(
        text.contains("\n  (frontmatter [0, 0] - [16, 0]\n    (yaml_content [1, 0] - [15, 0]))"),
        "{text}"
    );
    assert!(text.contains("(demos_block [20, 0] - [29, 26]"), "{text}");
    let dir = temp_dir("tree");
    std::fs::write(dir.join("broken.prompt"), "Hi {{#if x}}").unwrap();
    let out = promptls(&["tree", dir.join("broken.prompt").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn model_aliases_from_promptls_toml_are_not_misspelt_names() {
    let dir = temp_dir("aliases");
    let prompt = dir.join("a.prompt");
    std::fs::write(
        &prompt,
        "---\nmodel: fast\npromptls.teacher: big\n---\nHi\n",
    )
    .unwrap();
    std::fs::write(dir.join("promptls.toml"), "").unwrap();
    let before = stdout(&promptls(&["check", prompt.to_str().unwrap()]));
    assert!(before.contains("warning[model-name]"), "{before}");
    std::fs::write(
        dir.join("promptls.toml"),
        "[models.aliases]\nbig = \"groq/llama-3.3-70b-versatile\"\n",
    )
    .unwrap();
    let after = stdout(&promptls(&["check", prompt.to_str().unwrap()]));
    assert!(after.contains("no problems found"), "{after}");
}

/// Thirty partials that each include the next twice (2^31 expansions), and a partial
/// that includes itself: `check` and `render` stop at once with an error naming the chain.
#[test]
fn exponential_and_recursive_partials_fail_fast_naming_the_chain() {
    let dir = temp_dir("partial-bomb");
    for i in 0..30 {
        std::fs::write(
            dir.join(format!("_p{i}.prompt")),
            format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.join("_p30.prompt"), "leaf").unwrap();
    std::fs::write(dir.join("_a.prompt"), "again {{> a}}").unwrap();
    let bomb = dir.join("bomb.prompt");
    std::fs::write(&bomb, "---\nmodel: openai/gpt-4o\n---\nhello {{> p0}}\n").unwrap();
    let selfish = dir.join("selfish.prompt");
    std::fs::write(&selfish, "hi {{> a}}\n").unwrap();
    let (bomb, selfish) = (bomb.to_str().unwrap(), selfish.to_str().unwrap());

    let started = std::time::Instant::now();
    let out = promptls(&["check", bomb, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let text = report.to_string();
    assert!(text.contains("partial-expansion"), "{text}");
    assert!(text.contains("p0 > p1 > p2 > p3"), "{text}");

    let out = promptls(&["render", bomb]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("more than 100000 partial expansions")
            && stderr.contains("(in p0 > p1 > p2"),
        "{stderr}"
    );

    let out = promptls(&["check", selfish]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("partial `a` always includes itself (a > a)"),
        "{}",
        stdout(&out)
    );
    let out = promptls(&["render", selfish]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nested more than 64 deep")
            && stderr.contains("partial `a` includes itself"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tree_output_cut_short_by_its_reader_is_not_a_panic() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.prompt");
    // Enough lines that the tree does not fit in the pipe's buffer.
    std::fs::write(&file, "Hello {{name}}\n".repeat(20_000)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_promptls"))
        .arg("tree")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    assert!(first.starts_with(b"(document"));
    drop(child.stdout.take()); // the reader goes away, as `| head` does
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
