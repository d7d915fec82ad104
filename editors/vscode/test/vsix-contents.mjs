// Lists a .vsix (a zip) from its central directory and checks that the files the
// extension needs are inside. Usage: node test/vsix-contents.mjs promptls.vsix
import { readFileSync } from 'node:fs';

const [file = 'promptls.vsix'] = process.argv.slice(2);
const zip = readFileSync(file);
// The end-of-central-directory record: within the last 64 KiB + 22 bytes.
let eocd = -1;
for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
  if (zip.readUInt32LE(i) === 0x06054b50) {
    eocd = i;
    break;
  }
}
if (eocd < 0) {
  console.error(`editors/vscode: ${file} is not a zip file`);
  process.exit(1);
}
const count = zip.readUInt16LE(eocd + 10);
let at = zip.readUInt32LE(eocd + 16);
const names = [];
for (let n = 0; n < count; n++) {
  if (zip.readUInt32LE(at) !== 0x02014b50) {
    console.error(`editors/vscode: ${file}: broken central directory`);
    process.exit(1);
  }
  const nameLength = zip.readUInt16LE(at + 28);
  const extraLength = zip.readUInt16LE(at + 30);
  const commentLength = zip.readUInt16LE(at + 32);
  names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
  at += 46 + nameLength + extraLength + commentLength;
}
const need = [
  'extension/package.json',
  'extension/out/extension.js',
  'extension/syntaxes/prompt.tmLanguage.json',
  'extension/language-configuration.json',
  'extension/readme.md',
];
const missing = need.filter((n) => !names.includes(n));
const unwanted = names.filter((n) => /(^|\/)node_modules\/|\.ts$|\/test\//.test(n));
if (missing.length || unwanted.length) {
  console.error(`editors/vscode: ${file} lacks ${JSON.stringify(missing)}, has unwanted ${JSON.stringify(unwanted)}`);
  process.exit(1);
}
console.log(`editors/vscode: ${file} holds ${names.length} files: ${names.join(', ')}`);
