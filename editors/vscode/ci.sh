#!/usr/bin/env bash
# Builds, tests and packages the VS Code extension: type-check and bundle, the TextMate
# grammar tests, the real server through Microsoft's protocol client, the .vsix.
# Needs node/npm and the promptls binary (cargo build) for the server test.
set -euo pipefail
cd "$(dirname "$0")"
bin=${PROMPTLS_BIN:-$(cd ../.. && pwd)/target/debug/promptls}
if [ ! -x "$bin" ]; then
  echo "editors/vscode: no promptls binary at $bin (run cargo build first)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npm run compile
npm run test:grammar
PROMPTLS_BIN=$bin npm run test:server
rm -f promptls.vsix
npm run package
# The package holds the bundled extension, its manifest and the grammar.
python3 - <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile("promptls.vsix").namelist())
need = ["extension/out/extension.js", "extension/package.json",
        "extension/syntaxes/prompt.tmLanguage.json", "extension/language-configuration.json"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"editors/vscode: promptls.vsix lacks {missing}")
print(f"editors/vscode: promptls.vsix holds {len(names)} files, including {', '.join(need)}")
PY
