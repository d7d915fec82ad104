//! The language server end to end: the real `promptls lsp` binary over stdio, driven by
//! a client that checks every byte on stdout is a protocol message.

#[path = "support/lsp_client.rs"]
mod lsp_client;

use std::path::{Path, PathBuf};

use lsp_client::{file_uri, Client};
use serde_json::{json, Value};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_promptls"))
}

/// A copy of `examples/sentiment` in a fresh folder.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sentiment");
    copy_dir(&examples, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn start(root: &Path) -> Client {
    let mut client = Client::start(&binary(), false);
    client.initialize(root, capabilities(), json!({}));
    client
}

fn capabilities() -> Value {
    json!({
        "textDocument": {
            "hover": {"contentFormat": ["markdown", "plaintext"]},
            "completion": {"completionItem": {"snippetSupport": true}},
            "documentSymbol": {"hierarchicalDocumentSymbolSupport": true},
            "publishDiagnostics": {"versionSupport": true},
        },
        "workspace": {
            "workspaceEdit": {"documentChanges": true, "resourceOperations": ["create"]},
            "didChangeWatchedFiles": {"dynamicRegistration": true},
            "configuration": true,
        },
    })
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn find<'a>(diagnostics: &'a [Value], code: &str) -> &'a Value {
    diagnostics
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no `{code}` diagnostic in {diagnostics:#?}"))
}

/// That `response` is an error with `code` and a message containing `part`.
fn assert_error(response: &Value, code: i64, part: &str) {
    assert_eq!(response["error"]["code"], code, "{response}");
    let message = response["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(part), "{response}");
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Value {
    json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}})
}

/// Applies LSP text edits (single-line ranges or whole lines) to `text`, for checking
/// code actions; columns are UTF-16 units.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |pos: &Value| -> usize {
        let line = pos["line"].as_u64().unwrap() as usize;
        let character = pos["character"].as_u64().unwrap() as usize;
        let mut start = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            if i == line {
                let mut units = 0;
                for (b, ch) in l.char_indices() {
                    if units >= character {
                        return start + b;
                    }
                    units += ch.len_utf16();
                }
                return start + l.trim_end_matches('\n').len();
            }
            start += l.len();
        }
        text.len()
    };
    let mut edits: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, new_text) in edits {
        out.replace_range(start..end, &new_text);
    }
    out
}

const BROKEN: &str = "---\nmodle: groq/llama-3.1-8b-instant\ninput:\n  schema:\n    text: string\n---\n{{role \"user\"}}\nRéview: {{txet}}\n";

#[test]
fn initialize_negotiates_the_position_encoding() {
    let dir = workspace();
    let mut client = Client::start(&binary(), false);
    let result = client.initialize(dir.path(), json!({}), Value::Null);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(
        result["capabilities"]["textDocumentSync"]["change"], 2,
        "incremental sync"
    );
    assert_eq!(result["serverInfo"]["name"], "promptls");
    assert_eq!(
        result["capabilities"]["executeCommandProvider"]["commands"],
        json!([
            "promptls.render",
            "promptls.evaluate",
            "promptls.cancelEvaluation",
            "promptls.showEvaluation",
            "promptls.optimize",
            "promptls.cancelOptimization",
            "promptls.showHistory",
            "promptls.compareVersion",
            "promptls.restoreVersion",
            "promptls.promote"
        ])
    );
    assert!(client.shutdown_and_exit().success());

    let mut client = Client::start(&binary(), false);
    let caps = json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}});
    let result = client.initialize(dir.path(), caps, Value::Null);
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    // Columns are now bytes: `txet` after "Réview: {{" starts at byte 11, not unit 10.
    let uri = client.open(&dir.path().join("broken.prompt"), BROKEN, 1);
    let diagnostics = client.diagnostics_for_version(&uri, 1);
    let undeclared = find(&diagnostics, "undeclared-variable");
    assert_eq!(
        undeclared["range"]["start"],
        json!({"line": 7, "character": 11})
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn diagnostics_follow_incremental_edits() {
    let dir = workspace();
    let mut client = start(dir.path());
    let uri = client.open(&dir.path().join("broken.prompt"), BROKEN, 1);
    let first = client.diagnostics_for_version(&uri, 1);
    assert_eq!(find(&first, "unknown-key")["range"], range(1, 0, 1, 5));
    assert_eq!(
        find(&first, "undeclared-variable")["range"],
        range(7, 10, 7, 14)
    );
    assert_eq!(find(&first, "undeclared-variable")["source"], "promptls");

    // Fix the key, and the variable name after the multi-byte "é" (UTF-16 columns).
    client.change(
        &uri,
        2,
        json!([{"range": range(1, 0, 1, 5), "text": "model"}]),
    );
    client.change(
        &uri,
        3,
        json!([{"range": range(7, 10, 7, 14), "text": "text"}]),
    );
    let third = client.diagnostics_for_version(&uri, 3);
    assert!(third.is_empty(), "still reported: {:?}", codes(&third));

    // CRLF line endings and an emoji: a new mistake on the last line.
    client.change(
        &uri,
        4,
        json!([{"range": range(8, 0, 8, 0), "text": "😀 {{#if x}}\r\nno end\r\n"}]),
    );
    let fourth = client.diagnostics_for_version(&uri, 4);
    let unclosed = find(&fourth, "unclosed-block");
    assert_eq!(unclosed["range"]["start"]["line"], 8);
    // The emoji is two UTF-16 units, then a space: the block starts at column 3.
    assert_eq!(unclosed["range"]["start"]["character"], 3);
    // A whole-document replacement works too.
    client.change(&uri, 5, json!([{"text": "Hello {{name}}\r\n"}]));
    let fifth = client.diagnostics_for_version(&uri, 5);
    assert!(fifth.is_empty(), "{fifth:?}");
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn closing_clears_diagnostics() {
    let dir = workspace();
    let mut client = start(dir.path());
    let uri = client.open(&dir.path().join("broken.prompt"), BROKEN, 1);
    assert!(!client.diagnostics_for_version(&uri, 1).is_empty());
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    let cleared = client.diagnostics(&uri, |p| p["diagnostics"] == json!([]));
    assert!(cleared.get("version").is_none_or(Value::is_null));
    assert!(client.shutdown_and_exit().success());
}

/// A document over the server's size limit (16 MB) gets one diagnostic saying what is
/// off, and no folding, tokens, hover or symbols; cut below the limit it is checked again,
/// grown over it again it is declined again, and once closed the server has nothing of it.
#[test]
fn a_document_over_the_size_limit_is_declined_with_one_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let mut client = start(dir.path());
    // Not on disk, so after didClose the server cannot fall back to a file.
    let path = dir.path().join("huge.prompt");
    let small =
        "---\ninput:\n  schema:\n    text: string\n---\n{{#if text}}\nyes\n{{/if}}\n{{nope}}\n";
    let filler = "word {{text}} more {{#if text}}a{{/if}} word\n";
    let huge = format!("{small}{}", filler.repeat(17_000_000 / filler.len()));
    assert!(huge.len() > 17_000_000);
    let uri = client.open(&path, &huge, 1);
    let doc = json!({"textDocument": {"uri": uri}});

    let declined = |client: &mut Client, version: i64| {
        let diagnostics = client.diagnostics_for_version(&uri, version);
        assert_eq!(
            codes(&diagnostics),
            vec!["document-too-large"],
            "{diagnostics:?}"
        );
        let note = &diagnostics[0];
        assert_eq!(note["severity"], 2, "a warning: {note}");
        assert_eq!(
            note["range"],
            range(0, 0, 0, 3),
            "over the first line: {note}"
        );
        let message = note["message"].as_str().unwrap();
        assert!(
            message.contains("17.0 MB, over the 16 MB")
                && message.contains("folding")
                && message.contains("semantic highlighting"),
            "{message}"
        );
        let folds = client.request("textDocument/foldingRange", doc.clone());
        assert_eq!(folds, json!([]));
        let tokens = client.request("textDocument/semanticTokens/full", doc.clone());
        assert_eq!(tokens["data"], json!([]), "{tokens}");
        // On `text` in `{{#if text}}`, which has a hover in a smaller document.
        let at = json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 7}});
        assert_eq!(client.request("textDocument/hover", at), Value::Null);
        let symbols = client.request("textDocument/documentSymbol", doc.clone());
        assert_eq!(symbols, Value::Null);
    };
    declined(&mut client, 1);

    // Cut to its first ten lines: checked and folded as any document.
    let lines = huge.lines().count() as u32;
    client.change(
        &uri,
        2,
        json!([{"range": range(9, 0, lines, 0), "text": ""}]),
    );
    let checked = client.diagnostics_for_version(&uri, 2);
    let checked = codes(&checked);
    assert!(
        checked.contains(&"undeclared-variable".to_string())
            && !checked.contains(&"document-too-large".to_string()),
        "{checked:?}"
    );
    let folds = client.request("textDocument/foldingRange", doc.clone());
    assert!(
        folds
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["startLine"] == 5),
        "the `{{{{#if}}}}` block folds: {folds}"
    );
    let at = json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 7}});
    assert_ne!(client.request("textDocument/hover", at), Value::Null);

    // Grown over the limit again by one edit.
    let grown = filler.repeat(17_000_000 / filler.len());
    client.change(
        &uri,
        3,
        json!([{"range": range(9, 0, 9, 0), "text": grown}]),
    );
    declined(&mut client, 3);

    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri}}),
    );
    let cleared = client.diagnostics(&uri, |p| p["diagnostics"] == json!([]));
    assert!(cleared.get("version").is_none_or(Value::is_null));
    // Nothing of it is left: a request on it now goes to the disk, where it is not.
    let id = client.request_async("textDocument/foldingRange", doc);
    assert_error(&client.response(id), -32602, "is not open");
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn hover_completion_and_definition() {
    let dir = workspace();
    let mut client = start(dir.path());
    let path = dir.path().join("sentiment.prompt");
    let text = std::fs::read_to_string(&path).unwrap();
    let uri = client.open(&path, &text, 1);
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});

    let hover = client.request("textDocument/hover", at(1, 2));
    let value = hover["contents"]["value"].as_str().unwrap_or("");
    assert_eq!(hover["contents"]["kind"], "markdown");
    assert!(value.contains("model"), "hover on `model`: {hover}");

    // At the start of an empty line inside the frontmatter: keys, including promptls.*.
    let line = text
        .lines()
        .position(|l| l.starts_with("promptls.metric"))
        .unwrap() as u32;
    client.change(
        &uri,
        2,
        json!([{"range": range(line, 0, line, 0), "text": "\n"}]),
    );
    let completion = client.request("textDocument/completion", at(line, 0));
    let labels: Vec<&str> = completion
        .as_array()
        .or(completion["items"].as_array())
        .unwrap()
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"promptls.optimizer") || labels.contains(&"promptls.split"),
        "{labels:?}"
    );

    // `{{> persona ...}}` goes to _persona.prompt (one line lower after the edit above).
    let persona_line = 1 + text
        .lines()
        .position(|l| l.contains("{{> persona"))
        .unwrap() as u32;
    let definition = client.request("textDocument/definition", at(persona_line, 5));
    assert_eq!(
        definition["uri"],
        file_uri(&dir.path().join("_persona.prompt")),
        "{definition}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn outline_folding_tokens_and_links() {
    let dir = workspace();
    let mut client = start(dir.path());
    let path = dir.path().join("sentiment.prompt");
    let text = std::fs::read_to_string(&path).unwrap();
    let uri = client.open(&path, &text, 1);
    let doc = json!({"textDocument": {"uri": uri}});

    let symbols = client.request("textDocument/documentSymbol", doc.clone());
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["frontmatter", "system", "user"], "{symbols}");

    let folds = client.request("textDocument/foldingRange", doc.clone());
    let demos_start = text
        .lines()
        .position(|l| l.contains("{{!-- promptls:demos"))
        .unwrap();
    let lines: Vec<(u64, u64)> = folds
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["startLine"].as_u64().unwrap(),
                f["endLine"].as_u64().unwrap(),
            )
        })
        .collect();
    let closing_fence = text.lines().skip(1).position(|l| l == "---").unwrap() + 1;
    assert!(lines.contains(&(0, closing_fence as u64)), "{folds}");
    assert!(
        lines.iter().any(|(s, _)| *s == demos_start as u64),
        "{folds}"
    );

    let tokens = client.request("textDocument/semanticTokens/full", doc.clone());
    let data = tokens["data"].as_array().unwrap();
    assert!(data.len() > 30 && data.len().is_multiple_of(5), "{tokens}");
    // The first token is the opening `---` at 0:0, three units long.
    assert_eq!(&data[..3], &[json!(0), json!(0), json!(3)]);

    let links = client.request("textDocument/documentLink", doc);
    let targets: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["target"].as_str())
        .collect();
    assert!(
        targets.contains(&file_uri(&dir.path().join("data/sentiment.csv")).as_str()),
        "{links}"
    );
    assert!(
        targets.contains(&file_uri(&dir.path().join("_persona.prompt")).as_str()),
        "{links}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn code_action_declares_the_variable() {
    let dir = workspace();
    let mut client = start(dir.path());
    let source = "---\ninput:\n  schema:\n    text: string\n---\n{{text}} and {{tone}}\n";
    let uri = client.open(&dir.path().join("fix.prompt"), source, 1);
    let diagnostics = client.diagnostics_for_version(&uri, 1);
    let undeclared = find(&diagnostics, "undeclared-variable").clone();
    let actions = client.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": undeclared["range"],
            "context": {"diagnostics": [undeclared]},
        }),
    );
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap_or("").contains("tone"))
        .unwrap_or_else(|| panic!("no action declaring `tone`: {actions}"))
        .clone();
    assert_eq!(action["kind"], "quickfix");
    let edits = action["edit"]["changes"][&uri]
        .as_array()
        .expect("edits to this file");
    let fixed = apply_edits(source, edits);
    client.change(&uri, 2, json!([{"text": fixed}]));
    let after = client.diagnostics_for_version(&uri, 2);
    assert!(
        !codes(&after).contains(&"undeclared-variable".to_string()),
        "after applying {edits:?}: {after:?}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn changes_to_partials_and_datasets_recheck_dependents() {
    let dir = workspace();
    let mut client = start(dir.path());
    let prompt = dir.path().join("sentiment.prompt");
    let uri = client.open(&prompt, &std::fs::read_to_string(&prompt).unwrap(), 1);
    assert!(client.diagnostics_for_version(&uri, 1).is_empty());

    // Editing the (open) partial re-checks the prompt with the unsaved text: the input
    // `extra` is used only in the partial.
    std::fs::write(dir.path().join("_helper.prompt"), "Also {{extra}}.\n").unwrap();
    let user_path = dir.path().join("user.prompt");
    let user_text =
        "---\ninput:\n  schema:\n    text: string\n    extra: string\n---\n{{text}} {{> helper}}\n";
    let user = client.open(&user_path, user_text, 1);
    assert!(client.diagnostics_for_version(&user, 1).is_empty());
    let partial = dir.path().join("_helper.prompt");
    let partial_uri = client.open(&partial, "Also {{extra}}.\n", 1);
    client.change(&partial_uri, 2, json!([{"text": "Nothing here.\n"}]));
    let again = client.diagnostics(&user, |p| {
        p["version"] == 1 && p["diagnostics"] != json!([])
    });
    let list = again["diagnostics"].as_array().unwrap();
    assert_eq!(codes(list), vec!["unused-variable"], "{list:?}");
    // Closing the partial without saving: the prompt sees the file on disk again.
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": partial_uri}}),
    );
    let clean = client.diagnostics(&user, |p| p["diagnostics"] == json!([]));
    assert_eq!(clean["version"], 1);

    // The concise variant is not open; breaking the dataset on disk re-checks it too.
    let dataset = dir.path().join("data/sentiment.csv");
    std::fs::write(&dataset, "review,label\nok,positive\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": file_uri(&dataset), "type": 2}]}),
    );
    let concise = file_uri(&dir.path().join("sentiment.concise.prompt"));
    let published = client.diagnostics(&concise, |p| p["diagnostics"] != json!([]));
    assert!(published.get("version").is_none_or(Value::is_null));
    let list = published["diagnostics"].as_array().unwrap();
    assert!(
        codes(list).iter().any(|c| c.starts_with("dataset-missing")),
        "{list:?}"
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn creating_a_missing_partial_rechecks_the_prompt() {
    let dir = workspace();
    let mut client = start(dir.path());
    let uri = client.open(
        &dir.path().join("uses.prompt"),
        "Hello {{> signature}}\n",
        1,
    );
    let first = client.diagnostics_for_version(&uri, 1);
    find(&first, "missing-partial");
    std::fs::write(dir.path().join("_signature.prompt"), "-- the team\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": file_uri(&dir.path().join("_signature.prompt")), "type": 1}]}),
    );
    let again = client.diagnostics(&uri, |p| p["diagnostics"] == json!([]));
    assert_eq!(again["version"], 1);
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn bad_dataset_rows_are_shown_in_the_dataset_file() {
    let dir = workspace();
    let dataset = dir.path().join("data/sentiment.csv");
    let good = std::fs::read_to_string(&dataset).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "a row,with,too many fields");
    std::fs::write(&dataset, lines.join("\n") + "\n").unwrap();
    let mut client = start(dir.path());
    let prompt = dir.path().join("sentiment.prompt");
    let uri = client.open(&prompt, &std::fs::read_to_string(&prompt).unwrap(), 1);
    let on_prompt = client.diagnostics_for_version(&uri, 1);
    assert!(
        codes(&on_prompt).contains(&"dataset-invalid".to_string()),
        "{on_prompt:?}"
    );
    let data_uri = file_uri(&dataset);
    let rows = client.diagnostics(&data_uri, |p| p["diagnostics"] != json!([]));
    let row = &rows["diagnostics"][0];
    assert_eq!(row["code"], "dataset-row");
    assert_eq!(row["range"]["start"]["line"], 2, "{rows}");
    assert!(
        row["message"].as_str().unwrap().contains("3 fields"),
        "{rows}"
    );
    // Fixed on disk: the dataset's diagnostics are cleared.
    std::fs::write(&dataset, &good).unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": data_uri, "type": 2}]}),
    );
    client.diagnostics(&data_uri, |p| p["diagnostics"] == json!([]));
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn settings_disable_codes_and_override_severity() {
    let dir = workspace();
    let mut client = Client::start(&binary(), false);
    let options = json!({
        "checks": {"severity": {"unknown-key": "hint"}},
        "models": {"aliases": {"fast": "groq/llama-3.1-8b-instant"}},
    });
    client.initialize(dir.path(), capabilities(), options);
    let uri = client.open(&dir.path().join("broken.prompt"), BROKEN, 1);
    let first = client.diagnostics_for_version(&uri, 1);
    assert_eq!(find(&first, "unknown-key")["severity"], 4);
    // An alias is not a misspelt model name, and its hover describes the model.
    let aliased = client.open(
        &dir.path().join("alias.prompt"),
        "---\nmodel: fast\n---\nHi\n",
        1,
    );
    assert!(client.diagnostics_for_version(&aliased, 1).is_empty());
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": aliased}, "position": {"line": 1, "character": 8}}),
    );
    let text = hover["contents"]["value"].as_str().unwrap_or("");
    assert!(
        text.contains("alias") && text.contains("131,072"),
        "{hover}"
    );
    // An empty settings notification keeps the settings given at initialize.
    client.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    client.change(&uri, 2, json!([{"range": range(8, 0, 8, 0), "text": "\n"}]));
    let kept = client.diagnostics_for_version(&uri, 2);
    assert_eq!(find(&kept, "unknown-key")["severity"], 4);
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"promptls": {"checks": {"disabled": ["undeclared-variable"]}}}}),
    );
    let next = client.diagnostics(&uri, |p| {
        p["version"] == 2
            && !codes(p["diagnostics"].as_array().unwrap())
                .contains(&"undeclared-variable".to_string())
    });
    // The severity override was replaced by the new settings.
    assert_eq!(
        find(next["diagnostics"].as_array().unwrap(), "unknown-key")["severity"],
        2
    );
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn render_command_returns_the_rendered_prompt() {
    let dir = workspace();
    let mut client = start(dir.path());
    let path = dir.path().join("sentiment.prompt");
    let uri = client.open(&path, &std::fs::read_to_string(&path).unwrap(), 1);
    let rendered = client.request(
        "workspace/executeCommand",
        json!({"command": "promptls.render", "arguments": [{"uri": uri, "row": 1}]}),
    );
    let text = rendered["messages"].to_string();
    assert!(
        text.contains("I loved it. Best purchase this year."),
        "{rendered}"
    );
    let id = client.request_async(
        "workspace/executeCommand",
        json!({"command": "promptls.nope", "arguments": []}),
    );
    assert_eq!(client.response(id)["error"]["code"], -32602);
    assert!(client.shutdown_and_exit().success());
}

#[test]
fn shutdown_then_exit_is_code_zero_and_closed_stdin_ends_the_process() {
    let dir = workspace();
    let mut client = start(dir.path());
    assert_eq!(client.shutdown_and_exit().code(), Some(0));

    let mut client = start(dir.path());
    client.close_stdin();
    let status = client.wait_exit();
    assert_eq!(
        status.code(),
        Some(1),
        "no shutdown before the end of input"
    );

    let mut client = start(dir.path());
    client.notify("exit", Value::Null);
    assert_eq!(client.wait_exit().code(), Some(1), "exit without shutdown");
}

#[test]
fn bad_input_gets_protocol_errors_and_the_server_keeps_serving() {
    let dir = workspace();
    let mut client = Client::start(&binary(), false);
    // Before initialize: ServerNotInitialized.
    let id = client.request_async("textDocument/hover", json!({}));
    assert_eq!(client.response(id)["error"]["code"], -32002);
    client.initialize(
        dir.path(),
        capabilities(),
        json!({"checks": {"disabled": 3}}),
    );
    // Malformed JSON: a parse error, then business as usual.
    client.send_raw(b"Content-Length: 9\r\n\r\n{\"jsonrpc");
    let parse_error = client.wait_for("a parse error", |m| m["error"]["code"] == -32700);
    assert!(parse_error["id"].is_null());
    let id = client.request_async("promptls/noSuchMethod", json!({}));
    assert_eq!(client.response(id)["error"]["code"], -32601);
    // Edits to a document that is not open, and positions far outside one.
    client.change(
        "file:///nowhere.prompt",
        2,
        json!([{"range": range(0, 0, 0, 0), "text": "x"}]),
    );
    let uri = client.open(&dir.path().join("a.prompt"), "Hi {{name}}\n", 1);
    client.diagnostics_for_version(&uri, 1);
    client.change(
        &uri,
        2,
        json!([{"range": range(99, 5, 120, 0), "text": "{{#if"}]),
    );
    let clamped = client.diagnostics_for_version(&uri, 2);
    assert!(
        codes(&clamped).contains(&"unterminated-mustache".to_string()),
        "{clamped:?}"
    );
    // Hover with a bad params shape.
    let id = client.request_async("textDocument/hover", json!({"textDocument": 5}));
    assert_eq!(client.response(id)["error"]["code"], -32602);
    // A 10 MB document.
    let big: String = "{{text}} lorem ipsum dolor sit amet\n".repeat(300_000);
    assert!(big.len() > 10_000_000);
    let big_uri = client.open(&dir.path().join("big.prompt"), &big, 1);
    client.diagnostics_for_version(&big_uri, 1);
    // 1000 edits in a burst: the last version's diagnostics arrive, older ones may not.
    for version in 3..1003 {
        client.change(
            &uri,
            version,
            json!([{"range": range(0, 0, 0, 0), "text": "x"}]),
        );
    }
    client.diagnostics_for_version(&uri, 1002);
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
    );
    let _ = hover; // any answer (null or a hover) is fine; an answer is the point
    assert!(client.shutdown_and_exit().success());
}

/// The server's peak resident memory (Linux), in MiB.
fn peak_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

#[test]
fn hostile_frames_are_refused_and_the_server_keeps_serving() {
    let dir = workspace();
    let mut client = start(dir.path());
    let cases: &[(&[u8], i64)] = &[
        // The length that used to overflow, then the next message at once.
        (
            b"Content-Length: 18446744073709551615\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":\"u64\"}",
            -32600,
        ),
        (b"Content-Length: 18446744073709551616\r\n\r\n{}", -32700),
        (b"Content-Length: 99999999999999999999999\r\n\r\n{}", -32700),
        (b"Content-Length: -5\r\n\r\n{}", -32700),
        (b"Content-Length: twelve\r\n\r\n{}", -32700),
        (b"Content-Type: application/json\r\n\r\n{}", -32700),
        (b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", -32700),
        (b"Content-Length: 2\n\n{}", -32700),
        (b"Content-Length: 2\r\r{}", -32700),
    ];
    for (bad, code) in cases {
        client.send_raw(bad);
        let what = String::from_utf8_lossy(bad).into_owned();
        let id = client.request_async("promptls/noSuchMethod", json!({}));
        assert_eq!(
            client.response(id)["error"]["code"],
            -32601,
            "after {what:?} the next request is answered"
        );
        let error = client.wait_for(&format!("the error for {what:?}"), |m| {
            m["error"]["code"] == *code
        });
        assert!(error.get("result").is_none(), "{error}");
    }
    // An honest frame over the 64 MiB limit: refused under its id, dropped as it streams
    // by (not held), and the server goes on.
    let pid = client.pid();
    let length = 200 * 1024 * 1024;
    let head = br#"{"jsonrpc":"2.0","id":777,"method":"textDocument/hover","params":{"x":""#;
    client.send_raw(format!("Content-Length: {length}\r\n\r\n").as_bytes());
    client.send_raw(head);
    let filler = vec![b'a'; 1 << 20];
    let mut sent = head.len();
    while sent + filler.len() < length - 3 {
        client.send_raw(&filler);
        sent += filler.len();
    }
    client.send_raw(&vec![b'a'; length - 3 - sent]);
    client.send_raw(b"\"}}");
    assert_error(&client.response(777), -32600, "over the 64 MiB limit");
    let uri = client.open(&dir.path().join("after.prompt"), "Hi {{name}}\n", 1);
    client.diagnostics_for_version(&uri, 1);
    let hover = client.request_async(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}),
    );
    assert!(client.response(hover).get("result").is_some());
    if let Some(peak) = peak_mib(pid) {
        assert!(peak < 150, "the server held {peak} MiB for a 200 MiB frame");
    }
    assert!(client.shutdown_and_exit().success());
}

/// Thirty partials that each include the next twice, and a partial that includes itself:
/// the diagnostics come quickly, name the chain, and the server goes on answering.
#[test]
fn exponential_partials_are_diagnosed_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..30 {
        std::fs::write(
            dir.path().join(format!("_p{i}.prompt")),
            format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("_p30.prompt"), "leaf").unwrap();
    std::fs::write(dir.path().join("_a.prompt"), "again {{> a}}").unwrap();
    let started = std::time::Instant::now();
    let mut client = start(dir.path());
    let text = "---\nmodel: openai/gpt-4o\n---\nhello {{> p0}} {{> a}}\n";
    let uri = client.open(&dir.path().join("bomb.prompt"), text, 1);
    let diagnostics = client.diagnostics_for_version(&uri, 1);
    let codes = codes(&diagnostics);
    assert!(
        codes.contains(&"partial-expansion".to_string()),
        "{diagnostics:?}"
    );
    assert!(
        codes.contains(&"partial-recursion".to_string()),
        "{diagnostics:?}"
    );
    let message = find(&diagnostics, "partial-expansion")["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("p0 > p1 > p2"), "{message}");
    let hover = client.request_async(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 11}}),
    );
    let hover = client.response(hover);
    assert!(
        hover["result"]["contents"].to_string().contains("p1"),
        "{hover}"
    );
    // `promptls.render` stops at the limit too, with an error, not a hang.
    let render = client.request_async(
        "workspace/executeCommand",
        json!({"command": "promptls.render", "arguments": [{"uri": uri}]}),
    );
    let render = client.response(render);
    assert!(
        render.to_string().contains("partial expansions"),
        "{render}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(client.shutdown_and_exit().success());
}
