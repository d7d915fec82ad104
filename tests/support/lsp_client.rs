//! A minimal LSP client over a child process's stdio, for tests and benchmarks: framed
//! JSON-RPC out, a reader thread that frames messages in and fails loudly on anything
//! that is not a protocol message (stdout belongs to the protocol).

#![allow(dead_code)] // each test binary uses a different part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a message may take before the test fails: a liveness bound, not a speed
/// goal (speed is the benchmarks' business); a 10 MB document is checked by a debug build
/// in about 13 s on 2 loaded cores.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: Receiver<Incoming>,
    next_id: i64,
    /// Messages received while waiting for something else, oldest first, with the time
    /// each arrived.
    pending: Vec<(Value, Instant)>,
    /// When the message last returned by `wait_for` arrived.
    last_arrival: Instant,
    /// Results for the server's own requests by method (`window/showMessageRequest`,
    /// `workspace/applyEdit`, ...); others get `null`.
    pub replies: std::collections::HashMap<String, Value>,
    /// How long `wait_for` and `wait_exit` wait (`TIMEOUT` unless a benchmark needs more).
    pub timeout: Duration,
}

enum Incoming {
    Message(Value, Instant),
    /// stdout carried something that is not a framed JSON-RPC message.
    Garbage(String),
    Closed,
}

pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for byte in path.to_str().expect("test paths are UTF-8").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl Client {
    /// Starts `promptls lsp` (stderr is inherited unless `quiet`).
    pub fn start(binary: &Path, quiet: bool) -> Client {
        Client::start_with_env(binary, quiet, &[])
    }

    /// As `start`, with `env` set in the server's environment (an empty value removes
    /// the variable).
    pub fn start_with_env(binary: &Path, quiet: bool, env: &[(&str, &str)]) -> Client {
        let mut command = Command::new(binary);
        for (k, v) in env {
            if v.is_empty() {
                command.env_remove(k);
            } else {
                command.env(k, v);
            }
        }
        let mut child = command
            .args(["lsp", "--log-level", if quiet { "error" } else { "warn" }])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("the promptls binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, tx));
        Client {
            child,
            stdin,
            incoming: rx,
            next_id: 1,
            pending: Vec::new(),
            last_arrival: Instant::now(),
            replies: std::collections::HashMap::new(),
            timeout: TIMEOUT,
        }
    }

    pub fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).expect("JSON");
        self.send_raw(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.send_raw(&body);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("write to the server");
        stdin.flush().expect("flush");
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id without waiting.
    pub fn request_async(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The whole response (with `result` or `error`).
    pub fn response(&mut self, id: i64) -> Value {
        self.wait_for(&format!("the response to request {id}"), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        })
    }

    /// Sends a request and returns its `result`; panics on an error response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.request_async(method, params);
        let response = self.response(id);
        if let Some(error) = response.get("error") {
            panic!("{method} failed: {error}");
        }
        response["result"].clone()
    }

    /// The next message matching `want`, answering the server's own requests
    /// (registrations, configuration) as a client would.
    pub fn wait_for(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(|(m, _)| want(m)) {
            let (message, arrived) = self.pending.remove(i);
            self.last_arrival = arrived;
            return message;
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(Incoming::Message(m, arrived)) => {
                    self.answer_server_request(&m);
                    if want(&m) {
                        self.last_arrival = arrived;
                        return m;
                    }
                    self.pending.push((m, arrived));
                }
                Ok(Incoming::Garbage(text)) => {
                    panic!("the server wrote a non-protocol message to stdout: {text:?}")
                }
                Ok(Incoming::Closed) => panic!("the server closed stdout while waiting for {what}"),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out after {:?} waiting for {what}; received meanwhile: {}",
                    self.timeout,
                    serde_json::to_string(&self.pending.iter().map(|(m, _)| m).collect::<Vec<_>>())
                        .unwrap_or_default()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("reader thread ended waiting for {what}")
                }
            }
        }
    }

    fn answer_server_request(&mut self, m: &Value) {
        if let (Some(id), Some(method)) = (m.get("id"), m.get("method").and_then(Value::as_str)) {
            let result = match (method, self.replies.get(method)) {
                (_, Some(reply)) => reply.clone(),
                ("workspace/configuration", None) => json!([null]),
                _ => Value::Null,
            };
            let reply = json!({"jsonrpc": "2.0", "id": id, "result": result});
            self.send(&reply);
        }
    }

    /// The next publishDiagnostics for `uri` satisfying `want`.
    pub fn diagnostics(&mut self, uri: &str, want: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(&format!("diagnostics for {uri}"), |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && want(&m["params"])
        })["params"]
            .clone()
    }

    /// The diagnostics published for `version` of `uri`.
    pub fn diagnostics_for_version(&mut self, uri: &str, version: i64) -> Vec<Value> {
        self.diagnostics(uri, |p| p["version"] == json!(version))["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn initialize(&mut self, root: &Path, capabilities: Value, options: Value) -> Value {
        let result = self.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": file_uri(root),
                "workspaceFolders": [{"uri": file_uri(root), "name": "root"}],
                "capabilities": capabilities,
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        result
    }

    pub fn open(&mut self, path: &Path, text: &str, version: i64) -> String {
        let uri = file_uri(path);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "prompt", "version": version, "text": text}}),
        );
        uri
    }

    pub fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
        );
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to end (killing it after the timeout).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {:?}", self.timeout);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn shutdown_and_exit(&mut self) -> ExitStatus {
        let result = self.request("shutdown", Value::Null);
        assert_eq!(result, Value::Null);
        self.notify("exit", Value::Null);
        self.wait_exit()
    }

    /// When the message last returned by `wait_for` (or the helpers) arrived.
    pub fn last_arrival(&self) -> Instant {
        self.last_arrival
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(stdout: impl Read, tx: mpsc::Sender<Incoming>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => {
                    let _ = tx.send(Incoming::Closed);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Incoming::Garbage(format!("unreadable stdout: {e}")));
                    return;
                }
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                    length = value.trim().parse::<usize>().ok();
                }
                Some((name, _)) if name.eq_ignore_ascii_case("content-type") => {}
                _ => {
                    let _ = tx.send(Incoming::Garbage(line.to_string()));
                    return;
                }
            }
        }
        let Some(length) = length else {
            let _ = tx.send(Incoming::Garbage("a header without Content-Length".into()));
            return;
        };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            let _ = tx.send(Incoming::Closed);
            return;
        }
        match serde_json::from_slice(&body) {
            Ok(value) => {
                if tx.send(Incoming::Message(value, Instant::now())).is_err() {
                    return;
                }
            }
            Err(_) => {
                let _ = tx.send(Incoming::Garbage(
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                return;
            }
        }
    }
}
