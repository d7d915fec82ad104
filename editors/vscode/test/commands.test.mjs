// What the extension shows for the results of the server's commands (src/commands.ts,
// bundled by `npm run test:unit`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandOutcome, EVALUATE, SHOW_EVALUATION } from '../out/test/commands.mjs';

test('the command ids are the server\'s', () => {
  assert.equal(EVALUATE, 'promptls.evaluate');
  assert.equal(SHOW_EVALUATION, 'promptls.showEvaluation');
});

test('showEvaluation: a report opens as a JSON document', () => {
  const report = {
    file: '/ws/sentiment.prompt',
    dataset: '/ws/data/sentiment.csv',
    metric: 'exact_match',
    score: 0.8,
    rows: 5,
    passed_rows: 4,
    per_row: [{ row: 1, line: 2, input: { text: 'x' }, output: 'positive', expected: 'positive', score: 1, passed: true }],
  };
  const outcome = commandOutcome('promptls.showEvaluation', report);
  assert.equal(outcome.kind, 'document');
  assert.equal(outcome.language, 'json');
  assert.deepEqual(JSON.parse(outcome.content), report);
  assert.match(outcome.content, /\n {2}"metric": "exact_match",\n/, 'pretty-printed');
});

test('showEvaluation: null (no run yet) is a message, a failed request nothing', () => {
  const outcome = commandOutcome('promptls.showEvaluation', null);
  assert.equal(outcome.kind, 'message');
  assert.equal(outcome.severity, 'info');
  assert.match(outcome.text, /not been evaluated yet/);
  assert.equal(commandOutcome('promptls.showEvaluation', undefined), undefined);
});

test('evaluate: a refusal shows its reason, a start nothing', () => {
  const refused = commandOutcome('promptls.evaluate', {
    started: false,
    reason: 'an evaluation of this prompt is already running',
  });
  assert.equal(refused.kind, 'message');
  assert.equal(refused.severity, 'warning');
  assert.match(refused.text, /did not start: an evaluation of this prompt is already running/);
  assert.match(commandOutcome('promptls.evaluate', { started: false }).text, /no reason given/);
  assert.equal(commandOutcome('promptls.evaluate', { started: true }), undefined);
  assert.equal(commandOutcome('promptls.evaluate', undefined), undefined);
});

test('other commands show nothing', () => {
  assert.equal(commandOutcome('promptls.cancelEvaluation', { cancelled: true }), undefined);
  assert.equal(commandOutcome('promptls.render', { messages: [] }), undefined);
});
