// The reference side of tests/handlebars_diff.rs: renders generated templates with npm
// `dotprompt`, one long-lived process for the whole run.
// stdin: one JSON request per line:
//   {"template": SOURCE, "input": {...}, "partials": {NAME: SOURCE}, "addNumbers": BOOL}
// stdout: one JSON line per request: {"ok": RENDERED} or {"error": MESSAGE}
//
// Unless the request sets "addNumbers", each value handlebars.js appends is made a string
// first: its compiled templates join adjacent output with JavaScript's `+`, so two
// numbers or booleans side by side are added (`{{n}}{{t}}` with 1 and true renders
// "2"). promptls concatenates them ("1true"), a deviation README lists; the switch lets
// the differential test compare everything else and still show that deviation.
import readline from 'node:readline';
import Handlebars from 'handlebars';
import { Dotprompt } from 'dotprompt';

let addNumbers = false;
const proto = Handlebars.JavaScriptCompiler.prototype;
const appendToBuffer = proto.appendToBuffer;
proto.appendToBuffer = function (source, location, explicit) {
  if (addNumbers) return appendToBuffer.call(this, source, location, explicit);
  const parts = Array.isArray(source) ? source : [source];
  return appendToBuffer.call(this, ['(""+', ...parts, ')'], location, explicit);
};

const rl = readline.createInterface({ input: process.stdin });
const out = [];
for await (const line of rl) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  const { template, input, partials } = request;
  addNumbers = !!request.addNumbers;
  const dp = new Dotprompt({ partials });
  let answer;
  try {
    answer = { ok: await dp.render(template, { input }) };
  } catch (e) {
    answer = { error: String(e?.message ?? e) };
  }
  out.push(JSON.stringify(answer));
  if (out.length >= 256) process.stdout.write(out.splice(0).join('\n') + '\n');
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
