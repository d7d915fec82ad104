// The promptls VS Code extension: starts `promptls lsp` over stdio for `prompt`
// documents, forwards the `promptls.*` settings, and adds two commands.
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from 'vscode-languageclient/node';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

/** The settings the server reads (everything but how to start it). */
function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('promptls');
  return {
    logLevel: config.get('logLevel'),
    checks: config.get('checks'),
    models: config.get('models'),
    providers: config.get('providers'),
  };
}

function createClient(): LanguageClient {
  const config = vscode.workspace.getConfiguration('promptls');
  const command = config.get<string>('server.path') || 'promptls';
  const args = ['lsp', ...(config.get<string[]>('server.extraArgs') ?? [])];
  const serverOptions: ServerOptions = {
    run: { command, args },
    debug: { command, args: [...args, '--log-level', 'debug'] },
  };
  output ??= vscode.window.createOutputChannel('promptls');
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'prompt' },
      { scheme: 'untitled', language: 'prompt' },
    ],
    initializationOptions: serverSettings(),
    outputChannel: output,
    synchronize: {
      configurationSection: 'promptls',
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{prompt,csv,jsonl}'),
    },
  };
  return new LanguageClient('promptls', 'promptls', serverOptions, clientOptions);
}

async function start(): Promise<void> {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    const path = vscode.workspace.getConfiguration('promptls').get<string>('server.path');
    void vscode.window.showErrorMessage(
      `promptls: cannot start the language server "${path} lsp": ${String(error)}. ` +
        'Install it (cargo install --path server) or set promptls.server.path.',
    );
    client = undefined;
  }
}

async function restart(): Promise<void> {
  if (client) {
    const old = client;
    client = undefined;
    await old.stop().catch(() => undefined);
  }
  await start();
}

/** Opens what would be sent to the model (`promptls.render`) as a JSON document. */
async function showRenderedPrompt(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!client || !editor || editor.document.languageId !== 'prompt') {
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
    vscode.commands.registerCommand('promptls.showRenderedPrompt', showRenderedPrompt),
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
  await client?.stop();
}
