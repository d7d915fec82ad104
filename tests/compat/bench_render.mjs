// Times the reference renderer: compile one template once, render it for every row.
// usage: node bench_render.mjs TEMPLATE.prompt ROWS.jsonl
// prints one JSON line: {"rows": N, "ms": elapsed, "checksum": total message text length}
import fs from 'node:fs';
import { Dotprompt } from 'dotprompt';

const [templatePath, rowsPath] = process.argv.slice(2);
const source = fs.readFileSync(templatePath, 'utf8');
const rows = fs.readFileSync(rowsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const dp = new Dotprompt();
const render = await dp.compile(source);
// Warm up the JIT on a few rows so both sides are timed in their steady state.
for (const input of rows.slice(0, 1000)) await render({ input });
const start = process.hrtime.bigint();
let checksum = 0;
for (const input of rows) {
  const out = await render({ input });
  for (const m of out.messages) for (const p of m.content) checksum += (p.text ?? '').length;
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
process.stdout.write(JSON.stringify({ rows: rows.length, ms, checksum }) + '\n');
