//! Hostile workspaces through the real binary: paths that workspace files name
//! (`promptls.dataset`, `promptls.split`, partials, `[eval] cache`, `.promptls`) and that
//! lead outside the workspace are refused. Nothing outside is read into any output, and
//! nothing outside is written.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use lsp_client::Client;
use serde_json::{json, Value};

/// A scratch folder holding `ws/` (the workspace, with `promptls.toml`) and `outside/`
/// beside it, holding `secret.csv` and `_secret.prompt` with a marker no output may show.
struct Layout {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
    marker: String,
}

fn layout() -> Layout {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(ws.join("data")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let marker = format!("HOSTILEMARKER{}x{nanos}", std::process::id());
    std::fs::write(ws.join("promptls.toml"), "").unwrap();
    std::fs::write(ws.join("data/in.csv"), "text,label\nhello,greeting\n").unwrap();
    std::fs::write(
        outside.join("secret.csv"),
        format!("text,label\n{marker},{marker}\n"),
    )
    .unwrap();
    std::fs::write(
        outside.join("_secret.prompt"),
        format!("{marker} {{{{text}}}} {{{{#if}}\n"),
    )
    .unwrap();
    Layout {
        _dir: dir,
        ws,
        outside,
        marker,
    }
}

/// A prompt whose dataset is `dataset` (as written), with `extra` frontmatter lines.
fn prompt(dataset: &str, extra: &str) -> String {
    format!(
        "---\nmodel: openai/gpt-4o-mini\ninput:\n  schema:\n    text: string\npromptls.dataset: {dataset}\npromptls.target: label\n{extra}---\nClassify {{{{text}}}}\n"
    )
}

/// An address on 127.0.0.1 where nothing listens: a model call that gets out fails.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

/// Runs promptls in `dir`; a run over a minute is a hang and fails the test.
fn promptls(dir: &Path, args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_promptls"))
        .args(args)
        .current_dir(dir)
        .env_remove("PROMPTLS_LOG")
        .env("OPENAI_BASE_URL", dead_endpoint())
        .env("OPENAI_API_KEY", "test")
        .env("PROMPTLS_TRUST_WORKSPACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("promptls {args:?} hung");
        }
    };
    assert!(
        !text(&out).contains("panicked"),
        "promptls {args:?} panicked:\n{}",
        text(&out)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every entry under `dir` (symlinks not followed) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path.clone());
                out.insert(path, None);
            } else {
                out.insert(path.clone(), Some(std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out
}

/// `check` on the workspace, human and JSON: `path-outside-workspace` reported, exit 1,
/// and the marker nowhere.
fn assert_check_refuses(l: &Layout) {
    let human = promptls(&l.ws, &["check", "."]);
    let shown = text(&human);
    assert_eq!(human.status.code(), Some(1), "{shown}");
    assert!(shown.contains("error[path-outside-workspace]"), "{shown}");
    assert!(
        !shown.contains(&l.marker),
        "check shows the outside file: {shown}"
    );
    let json = promptls(&l.ws, &["check", ".", "--format", "json"]);
    let shown = text(&json);
    assert_eq!(json.status.code(), Some(1), "{shown}");
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        report.to_string().contains("\"path-outside-workspace\""),
        "{report}"
    );
    assert!(
        !shown.contains(&l.marker),
        "check shows the outside file: {shown}"
    );
}

/// `render --row 1` and `eval` on `file`: exit 2 naming the dataset, the marker nowhere,
/// nothing written outside.
fn assert_row_commands_refuse(l: &Layout, file: &str, written: &str) {
    let before = snapshot(&l.outside);
    let render = promptls(&l.ws, &["render", file, "--row", "1"]);
    let shown = text(&render);
    assert_eq!(render.status.code(), Some(2), "{shown}");
    assert!(
        !shown.contains(&l.marker),
        "render shows the outside file: {shown}"
    );
    assert!(
        shown.contains(&format!(
            "{file}: promptls.dataset `{written}` is outside the workspace"
        )),
        "{shown}"
    );
    let eval = promptls(&l.ws, &["eval", file]);
    let shown = text(&eval);
    assert_eq!(eval.status.code(), Some(2), "{shown}");
    assert!(
        !shown.contains(&l.marker),
        "eval shows the outside file: {shown}"
    );
    assert!(
        shown.contains(&format!(
            "{file}: promptls.dataset `{written}` is outside the workspace"
        )),
        "{shown}"
    );
    assert_eq!(
        snapshot(&l.outside),
        before,
        "something was written outside"
    );
}

#[test]
fn a_dataset_up_the_tree_is_refused() {
    let l = layout();
    std::fs::write(l.ws.join("p.prompt"), prompt("../outside/secret.csv", "")).unwrap();
    assert_check_refuses(&l);
    assert_row_commands_refuse(&l, "p.prompt", "../outside/secret.csv");
}

#[test]
fn an_absolute_dataset_is_refused() {
    let l = layout();
    let absolute = l.outside.join("secret.csv").display().to_string();
    std::fs::write(l.ws.join("p.prompt"), prompt(&absolute, "")).unwrap();
    assert_check_refuses(&l);
    assert_row_commands_refuse(&l, "p.prompt", &absolute);
}

#[test]
fn a_symlinked_dataset_is_refused() {
    let l = layout();
    symlink(l.outside.join("secret.csv"), l.ws.join("data/link.csv")).unwrap();
    std::fs::write(l.ws.join("p.prompt"), prompt("data/link.csv", "")).unwrap();
    assert_check_refuses(&l);
    assert_row_commands_refuse(&l, "p.prompt", "data/link.csv");
}

#[test]
fn a_dataset_in_a_symlinked_folder_is_refused() {
    let l = layout();
    symlink(&l.outside, l.ws.join("shared")).unwrap();
    std::fs::write(l.ws.join("p.prompt"), prompt("shared/secret.csv", "")).unwrap();
    assert_check_refuses(&l);
    assert_row_commands_refuse(&l, "p.prompt", "shared/secret.csv");
}

#[test]
fn split_files_outside_are_refused() {
    let l = layout();
    let split = "promptls.split: {train: ../outside/secret.csv, dev: data/in.csv}\n";
    std::fs::write(l.ws.join("p.prompt"), prompt("data/in.csv", split)).unwrap();
    assert_check_refuses(&l);
    let before = snapshot(&l.outside);
    let eval = promptls(&l.ws, &["eval", "p.prompt", "--rows", "train"]);
    let shown = text(&eval);
    assert_eq!(eval.status.code(), Some(2), "{shown}");
    assert!(!shown.contains(&l.marker), "{shown}");
    assert!(
        shown.contains("promptls.split `../outside/secret.csv` is outside the workspace"),
        "{shown}"
    );
    assert_eq!(snapshot(&l.outside), before);
}

#[test]
fn a_dataset_named_on_the_command_line_is_the_users_choice() {
    // `--dataset` outside the workspace is allowed: the user named it. The run gets as
    // far as the (dead) model endpoint, so the file was read.
    let l = layout();
    std::fs::write(l.ws.join("p.prompt"), prompt("data/in.csv", "")).unwrap();
    let secret = l.outside.join("secret.csv").display().to_string();
    let eval = promptls(
        &l.ws,
        &["eval", "p.prompt", "--dataset", &secret, "--format", "json"],
    );
    let shown = text(&eval);
    assert!(!shown.contains("outside the workspace"), "{shown}");
    assert_ne!(eval.status.code(), Some(0), "{shown}");
}

#[test]
fn a_symlinked_partial_outside_is_not_rendered() {
    let l = layout();
    symlink(l.outside.join("_secret.prompt"), l.ws.join("_x.prompt")).unwrap();
    std::fs::write(
        l.ws.join("p.prompt"),
        prompt("data/in.csv", "").replace("Classify", "{{> x}} Classify"),
    )
    .unwrap();
    assert_check_refuses(&l);
    let check = text(&promptls(&l.ws, &["check", "."]));
    assert!(
        check.contains("partial `x`: `_x.prompt` is outside the workspace"),
        "{check}"
    );
    let before = snapshot(&l.outside);
    for args in [
        &["render", "p.prompt"][..],
        &["render", "p.prompt", "--row", "1"],
        &["render", "p.prompt", "--format", "text"],
        &["eval", "p.prompt"],
    ] {
        let out = promptls(&l.ws, args);
        let shown = text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {shown}");
        assert!(
            !shown.contains(&l.marker),
            "{args:?} shows the partial: {shown}"
        );
    }
    assert_eq!(snapshot(&l.outside), before);
}

#[test]
fn a_cache_outside_the_workspace_is_refused() {
    let l = layout();
    let cache = l.outside.join("x.sqlite");
    std::fs::write(
        l.ws.join("promptls.toml"),
        format!("[eval]\ncache = \"{}\"\n", cache.display()),
    )
    .unwrap();
    std::fs::write(l.ws.join("p.prompt"), prompt("data/in.csv", "")).unwrap();
    let before = snapshot(&l.outside);
    let eval = promptls(&l.ws, &["eval", "p.prompt"]);
    let shown = text(&eval);
    assert_eq!(eval.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains(&format!(
            "the model-call cache `{}` is outside the workspace",
            cache.display()
        )),
        "{shown}"
    );
    assert_eq!(
        snapshot(&l.outside),
        before,
        "the cache was created outside"
    );
    // Relative, up the tree: the same.
    std::fs::write(
        l.ws.join("promptls.toml"),
        "[eval]\ncache = \"../outside/y.sqlite\"\n",
    )
    .unwrap();
    let eval = promptls(&l.ws, &["eval", "p.prompt"]);
    assert_eq!(eval.status.code(), Some(2), "{}", text(&eval));
    assert_eq!(
        snapshot(&l.outside),
        before,
        "the cache was created outside"
    );
}

#[test]
fn a_symlinked_promptls_folder_gets_nothing_written() {
    let l = layout();
    std::fs::create_dir_all(l.outside.join("state")).unwrap();
    symlink(l.outside.join("state"), l.ws.join(".promptls")).unwrap();
    std::fs::write(l.ws.join("p.prompt"), prompt("data/in.csv", "")).unwrap();
    let before = snapshot(&l.outside);
    let eval = promptls(&l.ws, &["eval", "p.prompt"]);
    let shown = text(&eval);
    assert_eq!(eval.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("`.promptls/cache.sqlite` is outside the workspace"),
        "{shown}"
    );
    let history = promptls(&l.ws, &["history", "p.prompt"]);
    let shown = text(&history);
    assert_eq!(history.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("`.promptls` is outside the workspace"),
        "{shown}"
    );
    assert_eq!(
        snapshot(&l.outside),
        before,
        "something was written outside"
    );
    // Dangling: the folder it points at does not exist yet, and is not created.
    std::fs::remove_file(l.ws.join(".promptls")).unwrap();
    symlink(l.outside.join("later"), l.ws.join(".promptls")).unwrap();
    for args in [&["eval", "p.prompt"][..], &["history", "p.prompt"]] {
        let out = promptls(&l.ws, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    assert_eq!(
        snapshot(&l.outside),
        before,
        "something was written outside"
    );
}

#[test]
fn the_editor_never_points_outside() {
    let l = layout();
    let path = l.ws.join("p.prompt");
    let source = prompt("../outside/secret.csv", "").replace("Classify", "{{> x}} Classify");
    symlink(l.outside.join("_secret.prompt"), l.ws.join("_x.prompt")).unwrap();
    std::fs::write(&path, &source).unwrap();
    let mut client = Client::start(Path::new(env!("CARGO_BIN_EXE_promptls")), true);
    client.initialize(&l.ws, json!({}), json!({}));
    let uri = client.open(&path, &source, 1);
    let published = client.diagnostics(&uri, |p| {
        p["diagnostics"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["code"] == "path-outside-workspace"))
    });
    assert!(!published.to_string().contains(&l.marker), "{published}");
    let codes = published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "path-outside-workspace")
        .count();
    assert_eq!(codes, 2, "the dataset and the partial: {published}");

    let line_of = |needle: &str| source.lines().position(|l| l.contains(needle)).unwrap() as u32;
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
    let dataset_line = line_of("promptls.dataset");
    let definition = client.request("textDocument/definition", at(dataset_line, 22));
    assert!(definition.is_null(), "the outside dataset: {definition}");
    let partial_line = line_of("{{> x}}");
    let definition = client.request("textDocument/definition", at(partial_line, 4));
    assert!(definition.is_null(), "the outside partial: {definition}");
    let links = client.request(
        "textDocument/documentLink",
        json!({"textDocument": {"uri": uri}}),
    );
    assert!(
        links.is_null() || links == json!([]),
        "no links outside: {links}"
    );
    for (line, character) in [(dataset_line, 22), (partial_line, 4), (partial_line, 20)] {
        let hover = client.request("textDocument/hover", at(line, character));
        assert!(!hover.to_string().contains(&l.marker), "{hover}");
    }
    assert!(client.shutdown_and_exit().success());
}
