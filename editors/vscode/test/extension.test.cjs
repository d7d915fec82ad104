// Loads the bundled extension (out/extension.js, npm run compile) in plain node with a
// stand-in for the `vscode` module, and checks its wiring: activation starts the real
// server through vscode-languageclient (the server's `promptls.render` command gets
// registered only after the initialize round trip), the file watcher, the commands,
// restart, and the message for a binary that is not there.
// The binary: $PROMPTLS_BIN, else target/debug/promptls of this repository.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const Module = require('module');
const path = require('path');
const calls = { errors: [], infos: [], commands: {}, watchers: [] };
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
  Uri: { parse: (s) => ({ toString: () => s, fsPath: s.replace('file://', ''), scheme: 'file' }), file: (p) => ({ toString: () => 'file://' + p, fsPath: p, scheme: 'file' }) },
  workspace: new Proxy({
    workspaceFolders: undefined, textDocuments: [],
    getConfiguration: (section) => (section ? config : { get: (k) => (k === 'promptls' ? config : undefined) }),
    createFileSystemWatcher: (glob) => { calls.watchers.push(glob); return { onDidCreate: event, onDidChange: event, onDidDelete: event, dispose() {} }; },
  }, { get: (t, p) => (p in t ? t[p] : String(p).startsWith('on') ? event : anything('workspace.' + String(p))) }),
  window: new Proxy({
    createOutputChannel: () => output,
    showErrorMessage: async (m) => { calls.errors.push(m); },
    showInformationMessage: async (m) => { calls.infos.push(m); },
    showWarningMessage: async (m) => { calls.errors.push(m); },
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
  calls.watchers.length = 0;
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
