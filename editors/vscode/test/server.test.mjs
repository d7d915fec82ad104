// Drives the real `promptls lsp` through Microsoft's own client-side protocol library
// (vscode-languageserver-protocol over stdio), the way the VS Code extension talks to it:
// the same initializationOptions shape, didChangeConfiguration as `{settings: {promptls}}`
// and didChangeWatchedFiles as the file watcher sends them.
//
// The binary: $PROMPTLS_BIN, else target/debug/promptls of this repository (cargo build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
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
  DidChangeConfigurationNotification,
  DidChangeWatchedFilesNotification,
  FileChangeType,
  PublishDiagnosticsNotification,
  HoverRequest,
  CompletionRequest,
  CodeActionRequest,
  CodeLensRequest,
  ExecuteCommandRequest,
  ShutdownRequest,
  ExitNotification,
  DiagnosticSeverity,
} from 'vscode-languageserver-protocol/node.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const binary = process.env.PROMPTLS_BIN
  ? resolve(process.env.PROMPTLS_BIN)
  : join(repo, 'target', 'debug', 'promptls');
const TIMEOUT_MS = 10000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`)),
      TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const codes = (p) => JSON.stringify(p.diagnostics.map((d) => `${d.code}@${d.range.start.line}`));

test('promptls lsp through vscode-languageserver-protocol', async (t) => {
  assert.ok(existsSync(binary), `no promptls binary at ${binary} (run \`cargo build\` first, or set PROMPTLS_BIN)`);

  // A workspace with the sentiment example, its partial kept aside to be created later.
  const workspace = mkdtempSync(join(tmpdir(), 'promptls-vscode-'));
  cpSync(join(repo, 'examples', 'sentiment'), workspace, { recursive: true });
  const partial = join(workspace, '_persona.prompt');
  const partialAside = join(workspace, 'persona.txt');
  renameSync(partial, partialAside);

  const server = spawn(binary, ['lsp'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((done) => server.on('exit', (code) => done(code)));
  const spawnError = new Promise((_, reject) => server.on('error', reject));
  const connection = createProtocolConnection(
    new StreamMessageReader(server.stdout),
    new StreamMessageWriter(server.stdin),
  );

  // Every publishDiagnostics in order; a wait looks at those from `since` on.
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
  connection.onRequest('workspace/configuration', (params) => params.items.map(() => null));
  const mark = () => published.length;
  const diagnostics = (since, want, what) =>
    withTimeout(
      Promise.race([
        spawnError,
        new Promise((done) => {
          const seen = published.slice(since).find(want);
          if (seen) done(seen);
          else waiters.push({ want, done });
        }),
      ]),
      `${what} (published so far: ${JSON.stringify(published.map((p) => [p.uri.split('/').pop(), p.version, codes(p)]))})`,
    );
  const request = (type, params, what) => withTimeout(Promise.race([spawnError, connection.sendRequest(type, params)]), what);
  connection.listen();

  const rootUri = pathToFileURL(workspace).href;
  // The sentiment prompt with a misspelt variable on its last line.
  const mainPath = join(workspace, 'sentiment.prompt');
  const mainUri = pathToFileURL(mainPath).href;
  const mainText = readFileSync(mainPath, 'utf8').replace(/^\{\{text\}\}$/m, '{{txet}}');
  const mainLines = mainText.split('\n');
  const mistakeLine = mainLines.findIndex((l) => l === '{{txet}}');
  const partialLine = mainLines.findIndex((l) => l.startsWith('{{> persona'));
  const modelLine = mainLines.findIndex((l) => l.startsWith('model:'));
  // A new prompt with a misspelt key and a blank line to complete on.
  const draftUri = pathToFileURL(join(workspace, 'draft.prompt')).href;
  const draftText = '---\nmodle: groq/llama-3.1-8b-instant\n\n---\nHello\n';
  let undeclared;

  try {
    await t.test('initialize', async () => {
      const init = await request(
        InitializeRequest.type,
        {
          processId: process.pid,
          rootUri,
          workspaceFolders: [{ uri: rootUri, name: 'sentiment' }],
          capabilities: {
            general: { positionEncodings: ['utf-16'] },
            workspace: { configuration: true, didChangeWatchedFiles: { dynamicRegistration: false } },
            textDocument: {
              hover: { contentFormat: ['markdown', 'plaintext'] },
              completion: { completionItem: { snippetSupport: true } },
              publishDiagnostics: { versionSupport: true },
            },
          },
          // What the extension sends: the `promptls` settings but `server.*` and `trace.*`.
          initializationOptions: {
            logLevel: 'warn',
            checks: { disabled: [], severity: { 'unknown-key': 'hint' } },
            models: { aliases: {} },
            evaluate: { onSave: false, rowBudget: 20 },
            providers: {},
          },
        },
        'the initialize response',
      );
      assert.equal(init.serverInfo?.name, 'promptls');
      assert.equal(init.capabilities.positionEncoding ?? 'utf-16', 'utf-16');
      assert.ok(init.capabilities.hoverProvider, 'hoverProvider');
      assert.ok(init.capabilities.completionProvider, 'completionProvider');
      assert.ok(init.capabilities.textDocumentSync, 'textDocumentSync');
      assert.ok(init.capabilities.codeLensProvider, 'codeLensProvider');
      const commands = init.capabilities.executeCommandProvider?.commands ?? [];
      for (const command of ['promptls.evaluate', 'promptls.cancelEvaluation', 'promptls.showEvaluation']) {
        assert.ok(commands.includes(command), `executeCommandProvider runs ${command}: ${JSON.stringify(commands)}`);
      }
      await connection.sendNotification(InitializedNotification.type, {});
    });

    await t.test('didOpen: an undeclared variable and a missing partial', async () => {
      const since = mark();
      await connection.sendNotification(DidOpenTextDocumentNotification.type, {
        textDocument: { uri: mainUri, languageId: 'prompt', version: 1, text: mainText },
      });
      const first = await diagnostics(since, (p) => p.uri === mainUri && p.version === 1, 'diagnostics of sentiment.prompt version 1');
      undeclared = first.diagnostics.find((d) => d.code === 'undeclared-variable');
      assert.ok(undeclared, `undeclared-variable in ${codes(first)}`);
      assert.equal(undeclared.range.start.line, mistakeLine);
      assert.equal(undeclared.source, 'promptls');
      const missing = first.diagnostics.find((d) => d.code === 'missing-partial');
      assert.ok(missing, `missing-partial in ${codes(first)}`);
      assert.equal(missing.range.start.line, partialLine);
    });

    await t.test('didOpen: an unknown key, with the severity from initializationOptions', async () => {
      const since = mark();
      await connection.sendNotification(DidOpenTextDocumentNotification.type, {
        textDocument: { uri: draftUri, languageId: 'prompt', version: 1, text: draftText },
      });
      const draft = await diagnostics(since, (p) => p.uri === draftUri && p.version === 1, 'diagnostics of draft.prompt version 1');
      const unknown = draft.diagnostics.find((d) => d.code === 'unknown-key');
      assert.ok(unknown, `unknown-key in ${codes(draft)}`);
      assert.equal(unknown.range.start.line, 1);
      assert.equal(unknown.severity, DiagnosticSeverity.Hint, 'checks.severity from initializationOptions');
    });

    await t.test('didChangeWatchedFiles: the partial is created', async () => {
      const since = mark();
      renameSync(partialAside, partial);
      await connection.sendNotification(DidChangeWatchedFilesNotification.type, {
        changes: [{ uri: pathToFileURL(partial).href, type: FileChangeType.Created }],
      });
      const after = await diagnostics(
        since,
        (p) => p.uri === mainUri && !p.diagnostics.some((d) => d.code === 'missing-partial'),
        'sentiment.prompt diagnostics without missing-partial after the partial was created',
      );
      assert.ok(after.diagnostics.some((d) => d.code === 'undeclared-variable'), codes(after));
    });

    await t.test('hover on the `model` key', async () => {
      const hover = await request(
        HoverRequest.type,
        { textDocument: { uri: mainUri }, position: { line: modelLine, character: 2 } },
        'hover',
      );
      assert.ok(hover, 'hover returned null');
      assert.equal(hover.contents.kind, 'markdown');
      assert.ok(hover.contents.value.trim().length > 0, 'empty hover');
      assert.match(hover.contents.value, /provider\/model/);
    });

    await t.test('completion inside the frontmatter offers promptls.* keys', async () => {
      const completion = await request(
        CompletionRequest.type,
        { textDocument: { uri: draftUri }, position: { line: 2, character: 0 } },
        'completion in the frontmatter',
      );
      assert.ok(completion, 'completion returned null');
      const labels = (Array.isArray(completion) ? completion : completion.items).map((i) => i.label);
      assert.ok(labels.includes('promptls.metric'), JSON.stringify(labels));
      assert.ok(labels.includes('model'), JSON.stringify(labels));
    });

    await t.test('completion inside {{ offers the declared variable', async () => {
      const completion = await request(
        CompletionRequest.type,
        { textDocument: { uri: mainUri }, position: { line: mistakeLine, character: 2 } },
        'completion in the template',
      );
      assert.ok(completion, 'completion returned null');
      const labels = (Array.isArray(completion) ? completion : completion.items).map((i) => i.label);
      assert.ok(labels.includes('text'), JSON.stringify(labels));
    });

    await t.test('quick fix and didChange: version 2 is without the mistake', async () => {
      assert.ok(undeclared, 'no undeclared-variable diagnostic from didOpen');
      const actions = await request(
        CodeActionRequest.type,
        { textDocument: { uri: mainUri }, range: undeclared.range, context: { diagnostics: [undeclared] } },
        'code actions',
      );
      const rename = (actions ?? []).find((a) => a.edit?.changes?.[mainUri]?.some((e) => e.newText === 'text'));
      assert.ok(rename, `a quick fix to \`text\` in ${JSON.stringify(actions)}`);
      const [edit] = rename.edit.changes[mainUri];
      const since = mark();
      await connection.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri: mainUri, version: 2 },
        contentChanges: [{ range: edit.range, text: edit.newText }],
      });
      const second = await diagnostics(since, (p) => p.uri === mainUri && p.version === 2, 'diagnostics of sentiment.prompt version 2');
      assert.ok(!second.diagnostics.some((d) => d.code === 'undeclared-variable'), codes(second));
      assert.deepEqual(second.diagnostics, []);
    });

    await t.test('didChangeConfiguration: checks.disabled applies', async () => {
      // With the evaluation settings and a provider's key variable: settings of a wrong
      // type would be refused as a whole (the previous ones stay), and unknown-key remain.
      const since = mark();
      await connection.sendNotification(DidChangeConfigurationNotification.type, {
        settings: {
          promptls: {
            logLevel: 'warn',
            checks: { disabled: ['unknown-key'], severity: {} },
            evaluate: { onSave: false, rowBudget: 5 },
            providers: { groq: { apiKeyEnv: 'PROMPTLS_TEST_GROQ_KEY', rpm: 30 } },
          },
        },
      });
      const draft = await diagnostics(
        since,
        (p) => p.uri === draftUri && !p.diagnostics.some((d) => d.code === 'unknown-key'),
        'draft.prompt diagnostics without unknown-key after didChangeConfiguration',
      );
      assert.deepEqual(draft.diagnostics, []);
    });

    await t.test('codeLens: ▶ Evaluate on the first line of a prompt with a dataset', async () => {
      const lenses = await request(CodeLensRequest.type, { textDocument: { uri: mainUri } }, 'code lenses of sentiment.prompt');
      assert.ok(Array.isArray(lenses), `code lenses: ${JSON.stringify(lenses)}`);
      const evaluate = lenses.find((l) => l.command?.title === '▶ Evaluate');
      assert.ok(evaluate, `a lens titled ▶ Evaluate in ${JSON.stringify(lenses.map((l) => l.command?.title))}`);
      assert.equal(evaluate.command.command, 'promptls.evaluate');
      assert.deepEqual(evaluate.command.arguments, [{ uri: mainUri }]);
      assert.equal(evaluate.range.start.line, 0);
      // A prompt without `promptls.dataset` has nothing to evaluate.
      const draft = await request(CodeLensRequest.type, { textDocument: { uri: draftUri } }, 'code lenses of draft.prompt');
      assert.ok(!(draft ?? []).some((l) => l.command?.command === 'promptls.evaluate'), JSON.stringify(draft));
    });

    await t.test('executeCommand promptls.showEvaluation: null before any run', async () => {
      const report = await request(
        ExecuteCommandRequest.type,
        { command: 'promptls.showEvaluation', arguments: [{ uri: mainUri }] },
        'promptls.showEvaluation',
      );
      assert.equal(report, null);
    });

    await t.test('shutdown and exit', async () => {
      await request(ShutdownRequest.type, undefined, 'the shutdown response');
      await connection.sendNotification(ExitNotification.type);
      assert.equal(await withTimeout(exited, 'the server to exit'), 0);
    });
  } finally {
    connection.dispose();
    server.kill();
    rmSync(workspace, { recursive: true, force: true });
  }
});
