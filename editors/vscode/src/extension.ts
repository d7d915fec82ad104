// The promptls VS Code extension: starts `promptls lsp` over stdio for `prompt`
// documents, forwards the `promptls.*` settings, adds its commands, and shows what the
// server's commands return (the evaluation report of the score lens).
import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from 'vscode-languageclient/node';
import { commandOutcome, EVALUATE } from './commands';
import {
  findExecutable,
  resolveServerPath,
  serverArgs,
  serverSettings,
  startFailureMessage,
} from './settings';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

function outputChannel(): vscode.OutputChannel {
  output ??= vscode.window.createOutputChannel('promptls');
  return output;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Reads `promptls.server.*` afresh: called on every (re)start. */
function serverCommand(): { command: string; args: string[] } {
  const config = vscode.workspace.getConfiguration('promptls');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return {
    command: resolveServerPath(config.get<string>('server.path'), folder, os.homedir()),
    args: serverArgs(config.get('server.extraArgs')),
  };
}

function createClient(command: string, args: string[]): LanguageClient {
  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args: [...args, '--log-level', 'debug'], transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'prompt' },
      { scheme: 'untitled', language: 'prompt' },
    ],
    initializationOptions: initializationOptions(),
    outputChannel: outputChannel(),
    synchronize: {
      configurationSection: 'promptls',
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{prompt,csv,jsonl}'),
    },
    middleware: {
      // The server's commands (lenses: ▶ Evaluate, the score, ...) run through here.
      executeCommand: async (command, args, next) => {
        const result = await next(command, args);
        await showOutcome(command, result);
        return result;
      },
    },
  };
  // The id `promptls` makes the client read `promptls.trace.server` itself.
  return new LanguageClient('promptls', 'promptls', serverOptions, clientOptions);
}

/** The server's settings with VS Code's workspace trust (Restricted Mode = untrusted). */
function initializationOptions(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('promptls');
  return serverSettings(config, vscode.workspace.isTrusted === true, config.inspect('providers')?.globalValue);
}

async function showStartError(message: string): Promise<void> {
  outputChannel().appendLine(message);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'promptls.server.path');
  } else if (choice === 'Show Log') {
    outputChannel().show(true);
  }
}

async function start(): Promise<void> {
  const { command, args } = serverCommand();
  if (!findExecutable(command, process.env.PATH, isFile)) {
    void showStartError(startFailureMessage(command, new Error('ENOENT')));
    return;
  }
  const next = createClient(command, args);
  client = next;
  try {
    await next.start();
  } catch (error) {
    if (client === next) {
      client = undefined;
    }
    await next.dispose().catch(() => undefined);
    void showStartError(startFailureMessage(command, error));
  }
}

async function restart(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) {
    await old.stop().catch(() => undefined);
  }
  await start();
}

/** Shows what a server command returned: a report as a JSON document, or a message. */
async function showOutcome(command: string, result: unknown): Promise<void> {
  const outcome = commandOutcome(command, result);
  if (outcome?.kind === 'document') {
    const doc = await vscode.workspace.openTextDocument({ language: outcome.language, content: outcome.content });
    await vscode.window.showTextDocument(doc, vscode.ViewColumn.Beside);
  } else if (outcome?.kind === 'message') {
    void (outcome.severity === 'warning'
      ? vscode.window.showWarningMessage(outcome.text)
      : vscode.window.showInformationMessage(outcome.text));
  }
}

/** Evaluates the active prompt on every row of its dataset (`promptls.evaluate`). */
async function evaluateActive(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'prompt') {
    void vscode.window.showErrorMessage('promptls: open a .prompt file to evaluate it.');
    return;
  }
  if (!client) {
    void vscode.window.showErrorMessage('promptls: the language server is not running.');
    return;
  }
  try {
    const result = await client.sendRequest(ExecuteCommandRequest.type, {
      command: EVALUATE,
      arguments: [{ uri: editor.document.uri.toString() }],
    });
    await showOutcome(EVALUATE, result);
  } catch (error) {
    void vscode.window.showErrorMessage(`promptls: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Opens what would be sent to the model (`promptls.render`) as a JSON document. */
async function showRenderedPrompt(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'prompt') {
    return;
  }
  if (!client) {
    void vscode.window.showErrorMessage('promptls: the language server is not running.');
    return;
  }
  const row = await vscode.window.showInputBox({
    prompt: 'Dataset row to render (1-based; empty for no input)',
    validateInput: (v) => (v === '' || /^[1-9][0-9]*$/.test(v) ? undefined : 'a row number'),
  });
  if (row === undefined) {
    return;
  }
  const args: Record<string, unknown> = { uri: editor.document.uri.toString() };
  if (row !== '') {
    args.row = Number(row);
  }
  try {
    const result = await client.sendRequest('workspace/executeCommand', {
      command: 'promptls.render',
      arguments: [args],
    });
    const doc = await vscode.workspace.openTextDocument({
      language: 'json',
      content: JSON.stringify(result, null, 2),
    });
    await vscode.window.showTextDocument(doc, vscode.ViewColumn.Beside);
  } catch (error) {
    void vscode.window.showErrorMessage(`promptls: ${String(error)}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand('promptls.restartServer', restart),
    vscode.commands.registerCommand('promptls.showLog', () => outputChannel().show(true)),
    vscode.commands.registerCommand('promptls.showRenderedPrompt', showRenderedPrompt),
    vscode.commands.registerCommand('promptls.evaluateActive', evaluateActive),
    // Trust granted: restart, so the server hears it with the workspace's settings.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void restart()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('promptls.server')) {
        void vscode.window
          .showInformationMessage('promptls: the server settings changed.', 'Restart Server')
          .then((choice) => (choice ? restart() : undefined));
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  const old = client;
  client = undefined;
  await old?.stop();
}
