// Loads the bundled extension (out/extension.js, npm run compile) in plain node with a
// stand-in for the `vscode` module, and checks its wiring: activation starts the real
// server through vscode-languageclient (the server's `promptls.render` command gets
// registered only after the initialize round trip), the file watcher, the commands,
// restart, the message for a binary that is not there, and an evaluation against a
// model server on 127.0.0.1: **promptls: Evaluate Prompt**, the work-done progress, and
// the score lens's `promptls.showEvaluation` through the executeCommand middleware.
// The binary: $PROMPTLS_BIN, else target/debug/promptls of this repository.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const Module = require('module');
const path = require('path');
const http = require('node:http');
const os = require('node:os');
const calls = { errors: [], infos: [], commands: {}, watchers: [], documents: [], progress: [] };
function anything(name) {
  // A callable, constructible stand-in for any vscode API not modelled below.
  const fn = function () { return anything(name + '()'); };
  return new Proxy(fn, {
    get(t, p) {
      if (p === 'then') return undefined;
      if (p === Symbol.toPrimitive) return () => name;
      if (p === 'dispose') return () => {};
      if (!(p in t)) t[p] = anything(name + '.' + String(p));
      return t[p];
    },
    construct() { return anything('new ' + name); },
  });
}
class Disposable { constructor(f) { this.f = f; } dispose() { this.f?.(); } static from(...d) { return new Disposable(() => d.forEach((x) => x?.dispose?.())); } }
class EventEmitter { constructor() { this.l = []; this.event = (l) => { this.l.push(l); return new Disposable(); }; } fire(e) { this.l.forEach((l) => l(e)); } dispose() {} }
const event = () => new Disposable();
const settings = { server: { path: '', extraArgs: [] }, trace: { server: 'off' }, logLevel: 'warn', checks: { disabled: ['unused-variable'], severity: {} }, models: { aliases: {} }, providers: {} };
const config = Object.assign(JSON.parse(JSON.stringify(settings)), {
  get(key, dflt) { return key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), settings) ?? dflt; },
  has() { return true; }, inspect() { return undefined; }, update() {},
});
const output = { name: 'promptls', lines: [], append(s) { this.lines.push(s); }, appendLine(s) { this.lines.push(s); }, replace() {}, clear() {}, show() {}, hide() {}, dispose() {} };
const vscode = new Proxy({
  version: '1.82.0',
  Disposable, EventEmitter,
  ViewColumn: { Active: -1, Beside: -2, One: 1 },
  Uri: { parse: (s) => ({ toString: () => s, fsPath: s.replace('file://', ''), scheme: 'file' }), file: (p) => ({ toString: () => 'file://' + p, fsPath: p, scheme: 'file' }) },
  workspace: new Proxy({
    workspaceFolders: undefined, textDocuments: [], isTrusted: true,
    getConfiguration: (section) => (section ? config : { get: (k) => (k === 'promptls' ? config : undefined) }),
    openTextDocument: async (options) => { calls.documents.push(options); return { ...options }; },
    createFileSystemWatcher: (glob) => { calls.watchers.push(glob); return { onDidCreate: event, onDidChange: event, onDidDelete: event, dispose() {} }; },
  }, { get: (t, p) => (p in t ? t[p] : String(p).startsWith('on') ? event : anything('workspace.' + String(p))) }),
  window: new Proxy({
    createOutputChannel: () => output,
    showErrorMessage: async (m) => { calls.errors.push(m); },
    showInformationMessage: async (m) => { calls.infos.push(m); },
    showWarningMessage: async (m) => { calls.errors.push(m); },
    showTextDocument: async (doc) => doc,
    withProgress: (options, task) => {
      calls.progress.push(options.title);
      return task({ report() {} }, { isCancellationRequested: false, onCancellationRequested: event });
    },
    activeTextEditor: undefined,
    visibleTextEditors: [], tabGroups: { all: [] },
  }, { get: (t, p) => (p in t ? t[p] : String(p).startsWith('on') ? event : anything('window.' + String(p))) }),
  commands: new Proxy({
    registerCommand: (id, f) => { calls.commands[id] = f; return new Disposable(); },
    executeCommand: async () => undefined,
  }, { get: (t, p) => (p in t ? t[p] : anything('commands.' + String(p))) }),
  languages: new Proxy({}, { get: (t, p) => (String(p).startsWith('on') ? event : () => new Disposable()) }),
  env: { appName: 'smoke', language: 'en', machineId: 'x', sessionId: 'y', uiKind: 1 },
}, { get: (t, p) => (p in t ? t[p] : anything(String(p))) });
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const bundle = path.join(__dirname, '..', 'out', 'extension.js');
const binary = process.env.PROMPTLS_BIN
  ? path.resolve(process.env.PROMPTLS_BIN)
  : path.join(__dirname, '..', '..', '..', 'target', 'debug', 'promptls');

async function activate(serverPath) {
  settings.server.path = serverPath;
  calls.errors.length = 0;
  calls.infos.length = 0;
  calls.watchers.length = 0;
  calls.documents.length = 0;
  calls.progress.length = 0;
  for (const k of Object.keys(calls.commands)) delete calls.commands[k];
  delete require.cache[bundle];
  const ext = require(bundle);
  await ext.activate({ subscriptions: [] });
  return ext;
}

test('the bundled extension starts the real server', { timeout: 20000 }, async () => {
  assert.ok(fs.existsSync(bundle), `no ${bundle} (npm run compile first)`);
  assert.ok(fs.existsSync(binary), `no promptls binary at ${binary} (run \`cargo build\` first, or set PROMPTLS_BIN)`);
  const ext = await activate(binary);
  assert.deepEqual(calls.errors, []);
  assert.deepEqual(calls.watchers, ['**/*.{prompt,csv,jsonl}']);
  for (const id of ['promptls.restartServer', 'promptls.showLog', 'promptls.showRenderedPrompt']) {
    assert.ok(calls.commands[id], id);
  }
  assert.ok(calls.commands['promptls.render'], 'the server\'s executeCommandProvider command (after initialize)');
  await calls.commands['promptls.restartServer']();
  assert.deepEqual(calls.errors, []);
  await ext.deactivate();
});

test('a missing binary gives a clear message', { timeout: 20000 }, async () => {
  const ext = await activate('/nonexistent/promptls');
  assert.equal(calls.errors.length, 1, JSON.stringify(calls.errors));
  assert.match(calls.errors[0], /cannot find the promptls binary "\/nonexistent\/promptls"/);
  assert.match(calls.errors[0], /promptls\.server\.path/);
  await ext.deactivate();
});

/** An OpenAI-compatible chat endpoint: "positive" for a review that loves or praises. */
async function modelServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      requests.push({ url: req.url, authorization: req.headers.authorization });
      const messages = JSON.parse(body || '{}').messages ?? [];
      const user = [...messages].reverse().find((m) => m.role === 'user');
      const text = JSON.stringify(user?.content ?? '').toLowerCase();
      const label = /lov|great|best/.test(text) ? 'positive' : 'negative';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'mock', object: 'chat.completion', model: 'llama-3.1-8b-instant',
        choices: [{ index: 0, message: { role: 'assistant', content: label }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 50, completion_tokens: 1, total_tokens: 51 },
      }));
    });
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${server.address().port}/v1`, requests, close: () => server.close() };
}

test('Evaluate Prompt, then the score lens\'s report through the middleware', { timeout: 60000 }, async () => {
  assert.ok(fs.existsSync(binary), `no promptls binary at ${binary} (run \`cargo build\` first, or set PROMPTLS_BIN)`);
  const model = await modelServer();
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'promptls-vscode-eval-'));
  const saved = JSON.parse(JSON.stringify(settings.providers));
  let ext;
  try {
    fs.cpSync(path.join(__dirname, '..', '..', '..', 'examples', 'sentiment'), workspace, { recursive: true });
    fs.mkdirSync(path.join(workspace, '.git')); // the workspace root (and its cache) is here
    const rows = fs.readFileSync(path.join(workspace, 'data', 'sentiment.csv'), 'utf8').trim().split('\n').length - 1;
    const file = path.join(workspace, 'sentiment.prompt');
    const uri = vscode.Uri.file(file).toString();
    // The key comes from the variable that `apiKeyEnv` names, in the server's environment.
    process.env.PROMPTLS_TEST_GROQ_KEY = 'sk-test-vscode-7f3a';
    // What `promptls.providers` holds (`config` is what getConfiguration returns).
    settings.providers = { groq: { baseUrl: model.url, apiKeyEnv: 'PROMPTLS_TEST_GROQ_KEY', rpm: 6000 } };
    config.providers = settings.providers;
    ext = await activate(binary);
    assert.deepEqual(calls.errors, []);
    for (const id of ['promptls.evaluateActive', 'promptls.evaluate', 'promptls.showEvaluation']) {
      assert.ok(calls.commands[id], id);
    }

    // Before any run the score lens's command has nothing to show: a message, no document.
    await calls.commands['promptls.showEvaluation']({ uri });
    assert.equal(calls.documents.length, 0);
    assert.equal(calls.infos.length, 1, JSON.stringify(calls.infos));
    assert.match(calls.infos[0], /not been evaluated yet/);

    // The palette command without a prompt editor says so.
    vscode.window.activeTextEditor = undefined;
    await calls.commands['promptls.evaluateActive']();
    assert.equal(calls.errors.length, 1, JSON.stringify(calls.errors));
    assert.match(calls.errors[0], /open a \.prompt file/);
    calls.errors.length = 0;

    vscode.window.activeTextEditor = { document: { languageId: 'prompt', uri: vscode.Uri.file(file) } };
    await calls.commands['promptls.evaluateActive']();
    // The run is in the background; the score lens's command shows its report when done.
    const deadline = Date.now() + 30000;
    while (calls.documents.length === 0 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 250));
      await calls.commands['promptls.showEvaluation']({ uri });
    }
    assert.equal(calls.documents.length, 1, `no report within 30 s; messages: ${JSON.stringify([...calls.errors, ...calls.infos])}`);
    assert.deepEqual(calls.errors, []);
    const [doc] = calls.documents;
    assert.equal(doc.language, 'json');
    const report = JSON.parse(doc.content);
    assert.equal(report.metric, 'exact_match');
    assert.equal(report.rows, rows, 'every row (no limit)');
    assert.equal(report.per_row.length, rows);
    assert.equal(report.passed_rows + report.failed_rows + report.error_rows, rows);
    assert.equal(report.error_rows, 0, JSON.stringify(report.per_row.filter((r) => r.error)));
    assert.ok(report.per_row.every((r) => r.output === 'positive' || r.output === 'negative'), 'outputs are the model server\'s');
    assert.equal(model.requests.length, rows, 'one call per row');
    assert.ok(model.requests.every((r) => r.url === '/v1/chat/completions'), JSON.stringify(model.requests));
    assert.ok(model.requests.every((r) => r.authorization === 'Bearer sk-test-vscode-7f3a'), 'the key from providers.groq.apiKeyEnv');
    assert.ok(calls.progress.includes('Evaluating sentiment.prompt'), `work-done progress: ${JSON.stringify(calls.progress)}`);
  } finally {
    vscode.window.activeTextEditor = undefined;
    settings.providers = saved;
    config.providers = saved;
    delete process.env.PROMPTLS_TEST_GROQ_KEY;
    await ext?.deactivate();
    model.close();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
