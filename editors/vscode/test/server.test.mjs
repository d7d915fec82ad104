// Drives the real `promptls lsp` through Microsoft's own client-side protocol library
// (vscode-languageserver-protocol over stdio), as the VS Code extension does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  InitializeRequest,
  InitializedNotification,
  DidOpenTextDocumentNotification,
  DidChangeTextDocumentNotification,
  PublishDiagnosticsNotification,
  HoverRequest,
  CompletionRequest,
  CodeActionRequest,
  ShutdownRequest,
  ExitNotification,
} from 'vscode-languageserver-protocol/node.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const binary = process.env.PROMPTLS_BIN ?? join(repo, 'target', 'debug', 'promptls');
const TIMEOUT_MS = 15000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test('promptls lsp through vscode-languageserver-protocol', async () => {
  assert.ok(existsSync(binary), `no promptls binary at ${binary} (run cargo build first)`);
  const workspace = mkdtempSync(join(tmpdir(), 'promptls-vscode-'));
  cpSync(join(repo, 'examples', 'sentiment'), workspace, { recursive: true });
  const server = spawn(binary, ['lsp'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((done) => server.on('exit', (code) => done(code)));
  const connection = createProtocolConnection(
    new StreamMessageReader(server.stdout),
    new StreamMessageWriter(server.stdin),
  );
  // Every publishDiagnostics, and waiters for the one they want.
  const published = [];
  const waiters = [];
  connection.onNotification(PublishDiagnosticsNotification.type, (params) => {
    published.push(params);
    for (const w of [...waiters]) {
      if (w.want(params)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.done(params);
      }
    }
  });
  connection.onRequest('client/registerCapability', () => null);
  const diagnostics = (want, what) =>
    withTimeout(
      new Promise((done) => {
        const seen = published.find(want);
        if (seen) done(seen);
        else waiters.push({ want, done });
      }),
      what,
    );
  connection.listen();

  try {
    const init = await withTimeout(
      connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: pathToFileURL(workspace).href,
        workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'sentiment' }],
        capabilities: {
          textDocument: {
            hover: { contentFormat: ['markdown'] },
            completion: { completionItem: { snippetSupport: true } },
            publishDiagnostics: { versionSupport: true },
          },
        },
        initializationOptions: { checks: { disabled: [] } },
      }),
      'initialize',
    );
    assert.equal(init.serverInfo.name, 'promptls');
    assert.equal(init.capabilities.positionEncoding, 'utf-16');
    await connection.sendNotification(InitializedNotification.type, {});

    // A deliberate mistake: the variable misspelt on the last line.
    const path = join(workspace, 'sentiment.prompt');
    const text = readFileSync(path, 'utf8').replace(/^\{\{text\}\}$/m, '{{txet}}');
    const lines = text.split('\n');
    const mistakeLine = lines.findIndex((l) => l === '{{txet}}');
    const uri = pathToFileURL(path).href;
    await connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'prompt', version: 1, text },
    });
    const first = await diagnostics((p) => p.uri === uri && p.version === 1, 'diagnostics of version 1');
    const undeclared = first.diagnostics.find((d) => d.code === 'undeclared-variable');
    assert.ok(undeclared, `undeclared-variable in ${JSON.stringify(first.diagnostics)}`);
    assert.equal(undeclared.range.start.line, mistakeLine);
    assert.equal(undeclared.source, 'promptls');

    // Hover on the `model` key (line 1).
    const hover = await withTimeout(
      connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 1, character: 2 } }),
      'hover',
    );
    assert.equal(hover.contents.kind, 'markdown');
    assert.match(hover.contents.value, /provider\/model/);

    // Completion inside `{{` offers the declared variable.
    const completion = await withTimeout(
      connection.sendRequest(CompletionRequest.type, {
        textDocument: { uri },
        position: { line: mistakeLine, character: 3 },
      }),
      'completion',
    );
    const items = Array.isArray(completion) ? completion : completion.items;
    assert.ok(items.some((i) => i.label === 'text'), JSON.stringify(items.map((i) => i.label)));

    // The quick fix renames `txet` to `text`.
    const actions = await withTimeout(
      connection.sendRequest(CodeActionRequest.type, {
        textDocument: { uri },
        range: undeclared.range,
        context: { diagnostics: [undeclared] },
      }),
      'code actions',
    );
    const rename = actions.find((a) => a.title.includes('`text`'));
    assert.ok(rename, JSON.stringify(actions));
    const [edit] = rename.edit.changes[uri];
    assert.equal(edit.newText, 'text');

    // Apply it as an incremental change: version 2 is clean.
    await connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: edit.range, text: edit.newText }],
    });
    const second = await diagnostics((p) => p.uri === uri && p.version === 2, 'diagnostics of version 2');
    assert.deepEqual(second.diagnostics, []);

    await withTimeout(connection.sendRequest(ShutdownRequest.type), 'shutdown');
    await connection.sendNotification(ExitNotification.type);
    assert.equal(await withTimeout(exited, 'the server to exit'), 0);
  } finally {
    connection.dispose();
    server.kill();
    rmSync(workspace, { recursive: true, force: true });
  }
});
