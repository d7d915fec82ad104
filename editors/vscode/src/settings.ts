// What the extension derives from the `promptls` configuration, without VS Code types,
// so that it is tested with plain `node --test` (test/settings.test.mjs).
import * as path from 'path';

/** Keys of the `promptls` section that are the client's own, not the server's. */
const CLIENT_ONLY = ['server', 'trace'];

/**
 * The settings the server reads (initializationOptions): the whole `promptls` section
 * but `server.*` and `trace.*`, as plain JSON, and `workspaceTrusted`, VS Code's
 * workspace trust. In an untrusted workspace the providers are the user's own
 * (`userProviders`, the global value): a workspace's settings never choose where keys go.
 */
export function serverSettings(
  section: unknown,
  trusted = true,
  userProviders?: unknown,
): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(section ?? {})) as Record<string, unknown>;
  for (const key of CLIENT_ONLY) {
    delete plain[key];
  }
  if (!trusted) {
    const own = JSON.parse(JSON.stringify(userProviders ?? {})) as Record<string, unknown>;
    if (Object.keys(own).length > 0) {
      plain.providers = own;
    } else {
      delete plain.providers;
    }
  }
  plain.workspaceTrusted = trusted;
  return plain;
}

/**
 * The command to start: `promptls.server.path` with `~` and `${workspaceFolder}`
 * expanded; a relative path with a slash is taken from the first workspace folder; a
 * bare name (the default `promptls`) is looked up on PATH.
 */
export function resolveServerPath(
  configured: string | undefined,
  workspaceFolder: string | undefined,
  home: string | undefined,
): string {
  let command = (configured ?? '').trim() || 'promptls';
  if (workspaceFolder) {
    command = command.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  if (home && (command === '~' || command.startsWith('~/'))) {
    command = path.join(home, command.slice(1));
  }
  const hasSlash = command.includes('/') || (process.platform === 'win32' && command.includes('\\'));
  if (hasSlash && !path.isAbsolute(command) && workspaceFolder) {
    command = path.resolve(workspaceFolder, command);
  }
  return command;
}

/** The arguments: `lsp`, then `promptls.server.extraArgs` (strings only). */
export function serverArgs(extraArgs: unknown): string[] {
  const extra = Array.isArray(extraArgs) ? extraArgs.filter((a): a is string => typeof a === 'string') : [];
  return ['lsp', ...extra];
}

/** A message for a server that could not be started. */
export function startFailureMessage(command: string, error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const notFound = /ENOENT|not found|no such file/i.test(text);
  const what = notFound
    ? `cannot find the promptls binary "${command}"`
    : `cannot start "${command} lsp": ${text}`;
  return (
    `promptls: ${what}. Install it (cargo install --path server in a clone of promptls) ` +
    'or set "promptls.server.path" to the binary, then run "promptls: Restart Server".'
  );
}

/**
 * Where `command` would be found: itself if it is a path to a file, else the first match
 * on `pathEnv` (with the Windows extensions); undefined if there is none.
 */
export function findExecutable(
  command: string,
  pathEnv: string | undefined,
  exists: (file: string) => boolean,
  platform: string = process.platform,
): string | undefined {
  const exts = platform === 'win32' ? ['', '.exe', '.cmd', '.bat'] : [''];
  const hasSlash = command.includes('/') || (platform === 'win32' && command.includes('\\'));
  if (hasSlash || path.isAbsolute(command)) {
    return exts.map((e) => command + e).find(exists);
  }
  const sep = platform === 'win32' ? ';' : ':';
  for (const dir of (pathEnv ?? '').split(sep)) {
    if (!dir) continue;
    const found = exts.map((e) => path.join(dir, command + e)).find(exists);
    if (found) return found;
  }
  return undefined;
}
