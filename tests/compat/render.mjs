// Renders prompts with the reference implementation (npm `dotprompt`).
// stdin: one JSON request per line: {"file": PATH, "data": {...}}
// stdout: one JSON line per request: {"ok": RENDERED} or {"error": MESSAGE}
// Partials `{{> name}}` resolve to `_name.prompt` beside the prompt, as Genkit does.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Dotprompt } from 'dotprompt';

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const { file, data } = JSON.parse(line);
  const dir = path.dirname(file);
  const dp = new Dotprompt({
    partialResolver: (name) => {
      const p = path.join(dir, `_${name}.prompt`);
      return fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : null;
    },
  });
  try {
    const rendered = await dp.render(fs.readFileSync(file, 'utf8'), data ?? {});
    process.stdout.write(JSON.stringify({ ok: rendered }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e?.message ?? e) }) + '\n');
  }
}
