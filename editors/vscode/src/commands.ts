// What the extension does with the results of the server's commands, without VS Code
// types, so that it is tested with plain `node --test` (test/commands.test.mjs).

/** `promptls.evaluate {uri, limit?}`: starts an evaluation; `{started, reason?}`. */
export const EVALUATE = 'promptls.evaluate';
/** `promptls.showEvaluation {uri}`: the last evaluation report of the prompt, or null. */
export const SHOW_EVALUATION = 'promptls.showEvaluation';

/** What to show for a command's result. */
export type Outcome =
  | { kind: 'document'; language: 'json'; content: string }
  | { kind: 'message'; severity: 'info' | 'warning'; text: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What to show after the server ran `command` (from a lens, the palette or another
 * extension): the report of `promptls.showEvaluation` as a JSON document, a message when
 * there is no report yet or an evaluation did not start; nothing otherwise. `undefined`
 * is what vscode-languageclient returns after a failed request (it shows that error
 * itself), so it shows nothing.
 */
export function commandOutcome(command: string, result: unknown): Outcome | undefined {
  if (command === SHOW_EVALUATION) {
    if (result === null) {
      return {
        kind: 'message',
        severity: 'info',
        text: 'promptls: this prompt has not been evaluated yet in this session: run ▶ Evaluate first.',
      };
    }
    if (isObject(result)) {
      return { kind: 'document', language: 'json', content: JSON.stringify(result, null, 2) + '\n' };
    }
    return undefined;
  }
  if (command === EVALUATE && isObject(result) && result.started === false) {
    const reason = typeof result.reason === 'string' && result.reason ? result.reason : 'no reason given';
    return { kind: 'message', severity: 'warning', text: `promptls: the evaluation did not start: ${reason}.` };
  }
  return undefined;
}
