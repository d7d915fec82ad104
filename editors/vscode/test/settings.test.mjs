// The extension's own logic (src/settings.ts, bundled by `npm run test:unit`) and its
// manifest: the settings (the same as the server's settings struct), commands and grammar
// it declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  findExecutable,
  resolveServerPath,
  serverArgs,
  serverSettings,
  startFailureMessage,
} from '../out/test/settings.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const source = readFileSync(join(root, 'src', 'extension.ts'), 'utf8');
// The server's settings (initializationOptions / didChangeConfiguration).
const serverConfig = join(root, '..', '..', 'server', 'src', 'lsp', 'config.rs');

test('serverSettings: everything but server.* and trace.*', () => {
  // A WorkspaceConfiguration is an object with the values plus methods.
  const section = {
    server: { path: '/bin/promptls', extraArgs: [] },
    trace: { server: 'verbose' },
    logLevel: 'info',
    checks: { disabled: ['unused-variable'], severity: { 'context-window': 'error' } },
    models: { aliases: { fast: 'groq/llama-3.1-8b-instant' } },
    evaluate: { onSave: true, rowBudget: 5 },
    providers: {
      ollama: { baseUrl: 'http://localhost:11434/v1', rpm: 60 },
      groq: { apiKeyEnv: 'MY_GROQ_KEY' },
    },
    get() {},
    has() {},
  };
  assert.deepEqual(serverSettings(section), {
    logLevel: 'info',
    checks: { disabled: ['unused-variable'], severity: { 'context-window': 'error' } },
    models: { aliases: { fast: 'groq/llama-3.1-8b-instant' } },
    evaluate: { onSave: true, rowBudget: 5 },
    providers: {
      ollama: { baseUrl: 'http://localhost:11434/v1', rpm: 60 },
      groq: { apiKeyEnv: 'MY_GROQ_KEY' },
    },
    workspaceTrusted: true,
  });
  assert.deepEqual(serverSettings(undefined), { workspaceTrusted: true });
});

test('serverSettings: an untrusted workspace passes only the user\'s own providers', () => {
  const section = {
    logLevel: 'info',
    providers: { openai: { baseUrl: 'http://evil.example/v1' } },
  };
  assert.deepEqual(serverSettings(section, false, undefined), { logLevel: 'info', workspaceTrusted: false });
  assert.deepEqual(serverSettings(section, false, { ollama: { rpm: 5 } }), {
    logLevel: 'info',
    providers: { ollama: { rpm: 5 } },
    workspaceTrusted: false,
  });
  assert.equal(serverSettings(section, true).providers.openai.baseUrl, 'http://evil.example/v1');
});

test('manifest: limited support in Restricted Mode, the server binary and providers restricted', () => {
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, 'limited');
  assert.ok(untrusted.description.length > 20);
  assert.deepEqual(
    [...untrusted.restrictedConfigurations].sort(),
    ['promptls.providers', 'promptls.server.extraArgs', 'promptls.server.path'],
  );
  assert.match(source, /vscode\.workspace\.isTrusted/);
  assert.match(source, /onDidGrantWorkspaceTrust/);
});

test('resolveServerPath', () => {
  assert.equal(resolveServerPath(undefined, '/ws', '/home/me'), 'promptls');
  assert.equal(resolveServerPath('  ', '/ws', '/home/me'), 'promptls');
  assert.equal(resolveServerPath('promptls', '/ws', '/home/me'), 'promptls');
  assert.equal(resolveServerPath('/opt/promptls', '/ws', '/home/me'), '/opt/promptls');
  assert.equal(resolveServerPath('./target/debug/promptls', '/ws', '/home/me'), '/ws/target/debug/promptls');
  assert.equal(resolveServerPath('${workspaceFolder}/bin/promptls', '/ws', '/home/me'), '/ws/bin/promptls');
  assert.equal(resolveServerPath('~/.cargo/bin/promptls', '/ws', '/home/me'), '/home/me/.cargo/bin/promptls');
  assert.equal(resolveServerPath('bin/promptls', undefined, '/home/me'), 'bin/promptls');
});

test('serverArgs', () => {
  assert.deepEqual(serverArgs(undefined), ['lsp']);
  assert.deepEqual(serverArgs(['--log-level', 'debug', 3]), ['lsp', '--log-level', 'debug']);
});

test('findExecutable', () => {
  const files = new Set(['/usr/bin/promptls', '/opt/promptls']);
  const exists = (f) => files.has(f);
  assert.equal(findExecutable('promptls', '/bin::/usr/bin', exists, 'linux'), '/usr/bin/promptls');
  assert.equal(findExecutable('/opt/promptls', '', exists, 'linux'), '/opt/promptls');
  assert.equal(findExecutable('/opt/other', '/usr/bin', exists, 'linux'), undefined);
  assert.equal(findExecutable('promptls', undefined, exists, 'linux'), undefined);
});

test('startFailureMessage names the binary and the setting', () => {
  const missing = startFailureMessage('/x/promptls', new Error('spawn /x/promptls ENOENT'));
  assert.match(missing, /cannot find the promptls binary "\/x\/promptls"/);
  assert.match(missing, /promptls\.server\.path/);
  assert.match(startFailureMessage('promptls', new Error('EACCES')), /cannot start "promptls lsp": EACCES/);
});

test('manifest: language, grammar, settings, commands', () => {
  assert.equal(manifest.main, './out/extension.js');
  assert.match(manifest.engines.vscode, /^\^1\.82/);
  assert.deepEqual(manifest.activationEvents, ['onLanguage:prompt']);
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, 'prompt');
  assert.deepEqual(language.extensions, ['.prompt']);
  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.scopeName, 'source.prompt');
  const grammarJson = JSON.parse(readFileSync(join(root, grammar.path), 'utf8'));
  assert.equal(grammarJson.scopeName, 'source.prompt');
  const props = manifest.contributes.configuration.properties;
  for (const key of [
    'promptls.server.path',
    'promptls.server.extraArgs',
    'promptls.trace.server',
    'promptls.logLevel',
    'promptls.checks.disabled',
    'promptls.checks.severity',
    'promptls.models.aliases',
    'promptls.evaluate.onSave',
    'promptls.evaluate.rowBudget',
    'promptls.providers',
  ]) {
    assert.ok(props[key], `setting ${key}`);
    assert.ok(props[key].description || props[key].markdownDescription, `setting ${key} has a description`);
  }
  assert.equal(props['promptls.evaluate.onSave'].type, 'boolean');
  assert.equal(props['promptls.evaluate.onSave'].default, false);
  assert.equal(props['promptls.evaluate.rowBudget'].type, 'integer');
  assert.equal(props['promptls.evaluate.rowBudget'].default, 20, 'the server\'s default row budget');
  assert.deepEqual(props['promptls.trace.server'].enum, ['off', 'messages', 'verbose']);
  assert.deepEqual(props['promptls.logLevel'].enum, ['error', 'warn', 'info', 'debug', 'trace']);
  assert.deepEqual(props['promptls.checks.severity'].additionalProperties.enum, ['error', 'warning', 'info', 'hint']);
  assert.deepEqual(
    Object.keys(props['promptls.providers'].additionalProperties.properties).sort(),
    ['apiKeyEnv', 'baseUrl', 'concurrency', 'rpm', 'tpm'],
  );
  for (const [name, item] of Object.entries(props['promptls.providers'].additionalProperties.properties)) {
    assert.ok(item.description || item.markdownDescription, `providers item ${name} has a description`);
  }
  assert.equal(props['promptls.providers'].additionalProperties.properties.apiKeyEnv.type, 'string');
  const commands = manifest.contributes.commands.map((c) => c.command);
  assert.ok(commands.includes('promptls.restartServer'));
  assert.ok(commands.includes('promptls.evaluateActive'));
  const evaluate = manifest.contributes.commands.find((c) => c.command === 'promptls.evaluateActive');
  assert.equal(`${evaluate.category}: ${evaluate.title}`, 'promptls: Evaluate Prompt');
  for (const command of commands) {
    assert.ok(source.includes(`registerCommand('${command}'`), `${command} is registered`);
  }
});

test('manifest: the settings are exactly the fields of the server\'s settings', () => {
  // Every name in a server setting (`evaluate.rowBudget` -> evaluate, row_budget; the
  // providers item's keys too) is a field of server/src/lsp/config.rs's structs, and the
  // other way round: a setting the server does not read, or one it reads that the
  // manifest lacks, fails here.
  const props = manifest.contributes.configuration.properties;
  const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const declared = new Set();
  for (const key of Object.keys(props)) {
    const parts = key.split('.').slice(1);
    if (parts[0] === 'server' || parts[0] === 'trace') continue;
    parts.forEach((p) => declared.add(snake(p)));
  }
  for (const p of Object.keys(props['promptls.providers'].additionalProperties.properties)) {
    declared.add(snake(p));
  }
  const rust = readFileSync(serverConfig, 'utf8');
  const structs = rust.slice(0, rust.indexOf('impl Config'));
  const fields = new Set([...structs.matchAll(/^\s*pub (\w+):/gm)].map((m) => m[1]));
  // Set by the extension from VS Code's workspace trust, not a setting of its own.
  fields.delete('workspace_trusted');
  assert.ok(fields.has('log_level') && fields.has('providers'), `fields read from ${serverConfig}: ${[...fields]}`);
  assert.deepEqual([...declared].sort(), [...fields].sort());
});

test('language configuration: comments, brackets, demos folding', () => {
  const config = JSON.parse(readFileSync(join(root, 'language-configuration.json'), 'utf8'));
  assert.deepEqual(config.comments.blockComment, ['{{!--', '--}}']);
  assert.ok(config.autoClosingPairs.some((p) => p.open === '{{' && p.close === '}}'));
  const start = new RegExp(config.folding.markers.start);
  const end = new RegExp(config.folding.markers.end);
  assert.ok(start.test('{{!-- promptls:demos --}}'));
  assert.ok(!start.test('{{!-- /promptls:demos --}}'));
  assert.ok(end.test('  {{!-- /promptls:demos --}}'));
});
