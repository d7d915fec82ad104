#!/usr/bin/env bash
# Builds, tests and packages the VS Code extension: type-check and bundle, the
# extension's own logic and manifest, the TextMate grammar tests, the real server
# through Microsoft's protocol client, the .vsix and what it holds.
# Needs node/npm, and the promptls binary (cargo build) for the server test:
# $PROMPTLS_BIN, else target/debug/promptls of this repository.
set -euo pipefail
cd "$(dirname "$0")"
bin=${PROMPTLS_BIN:-$(cd ../.. && pwd)/target/debug/promptls}

npm ci --no-audit --no-fund --loglevel=error
npm run compile
npm run test:unit
npm run test:grammar
if [ ! -x "$bin" ]; then
  echo "editors/vscode: no promptls binary at $bin: run \`cargo build --bin promptls\` first (or set PROMPTLS_BIN)" >&2
  exit 1
fi
PROMPTLS_BIN=$bin npm run test:server
rm -f promptls.vsix
npm run package
node test/vsix-contents.mjs promptls.vsix
