"""Starts `promptls lsp` the way Helix does with editors/helix/languages.toml: the
`[language-server.promptls]` command and args, its `config` as initializationOptions and
again in workspace/didChangeConfiguration after `initialized`, languageId "prompt".
Checks the server takes the config (no settings warning) and reports a deliberate
mistake; then the same with a severity override, to see the config's shape reach it.

    python3 lsp_config.py <promptls> <languages.toml> <file.prompt> <expected 0-based line>
"""
import json
import pathlib
import subprocess
import sys
import tomllib

binary, toml_path, prompt, line = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), int(sys.argv[4])
conf = tomllib.loads(pathlib.Path(toml_path).read_text())
server = conf["language-server"]["promptls"]
language = next(l for l in conf["language"] if l["name"] == "prompt")
assert language["language-servers"] == ["promptls"], language
assert "prompt" in language["file-types"], language
checks = 0


def ok(message):
    global checks
    checks += 1
    print(f"ok: {message}", flush=True)


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def session(config, expect_severity):
    cmd = [binary if server["command"] == "promptls" else server["command"], *server.get("args", [])]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def send(message):
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()

    def receive():
        length = None
        while True:
            header = proc.stdout.readline()
            if not header:
                fail("the server closed its output")
            if header in (b"\r\n", b"\n"):
                break
            if header.lower().startswith(b"content-length:"):
                length = int(header.split(b":")[1])
        return json.loads(proc.stdout.read(length))

    root = prompt.parent.as_uri()
    send({"id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": root, "workspaceFolders": [{"uri": root, "name": "ws"}],
        "capabilities": {}, "initializationOptions": config}})
    warnings = []
    while True:
        m = receive()
        if m.get("id") == 1:
            break
    send({"method": "initialized", "params": {}})
    send({"method": "workspace/didChangeConfiguration", "params": {"settings": config}})
    uri = prompt.resolve().as_uri()
    send({"method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "prompt", "version": 1, "text": prompt.read_text()}}})
    found = None
    for _ in range(200):
        m = receive()
        if m.get("method") == "window/showMessage" and "settings" in m["params"]["message"]:
            warnings.append(m["params"]["message"])
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri:
            found = next((d for d in m["params"]["diagnostics"] if d.get("code") == "undeclared-variable"), None)
            if found and (expect_severity is None or found.get("severity") == expect_severity):
                break
        if "id" in m and "method" in m:  # a request from the server: answer it
            send({"id": m["id"], "result": None})
    send({"id": 2, "method": "shutdown"})
    send({"method": "exit"})
    proc.wait(timeout=10)
    if warnings:
        fail(f"the server rejected the config: {warnings}")
    if not found:
        fail("no undeclared-variable diagnostic")
    if found["range"]["start"]["line"] != line:
        fail(f"undeclared-variable on line {found['range']['start']['line']}, expected {line}")
    if expect_severity is not None and found.get("severity") != expect_severity:
        fail(f"severity {found.get('severity')}, expected {expect_severity}")
    return found


d = session(server.get("config"), None)
ok(f"promptls takes languages.toml's config (no settings warning); undeclared-variable on line {line}")
config = json.loads(json.dumps(server.get("config") or {}))
config.setdefault("checks", {}).setdefault("severity", {})["undeclared-variable"] = "hint"
session(config, 4)
ok("a checks.severity override in that config reaches the server (undeclared-variable is a hint)")
print(f"helix languages.toml: {checks} checks passed")
