#!/usr/bin/env bash
# Tests of the Helix configuration (Helix itself is not installed here):
#   1. queries/prompt/injections.scm is the grammar's, byte for byte;
#   2. queries/prompt/highlights.scm compiles with tree-house (Helix's highlighter
#      library) against the compiled grammar, uses only Helix scopes, and gives the
#      expected scope at known places (test/src/main.rs);
#   3. promptls takes languages.toml's [language-server.promptls] config the way Helix
#      sends it (test/lsp_config.py).
# Needs cargo, cc, python3 (3.11+, tomllib) and the binary (PROMPTLS_BIN, default
# target/debug/promptls). The check program builds into test/target (or CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(cd ../.. && pwd)
grammar=$repo/grammars/tree-sitter-prompt
bin=${PROMPTLS_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/promptls}
say() { echo "editors/helix: $*"; }
die() { echo "editors/helix: FAIL: $*" >&2; exit 1; }
[ -x "$bin" ] || die "no promptls binary at $bin (run cargo build --bin promptls first, or set PROMPTLS_BIN)"

if ! cmp -s queries/prompt/injections.scm "$grammar/queries/injections.scm"; then
  diff -u "$grammar/queries/injections.scm" queries/prompt/injections.scm >&2 || true
  die "queries/prompt/injections.scm differs from the grammar's; copy it again"
fi
say "ok: queries/prompt/injections.scm is identical to the grammar's"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -I "$grammar/src" "$grammar/src/parser.c" "$grammar/src/scanner.c" -o "$work/prompt.so"
cargo run --quiet --locked --manifest-path test/Cargo.toml -- \
  "$work/prompt.so" queries/prompt "$grammar/queries/highlights.scm" | tee "$work/queries.out"

cp -r "$repo/examples/sentiment" "$work/ws"
sed -i 's/^{{text}}$/{{txet}}/' "$work/ws/sentiment.prompt"
line=$(($(grep -n '^{{txet}}$' "$work/ws/sentiment.prompt" | cut -d: -f1) - 1))
python3 test/lsp_config.py "$bin" languages.toml "$work/ws/sentiment.prompt" "$line" | tee "$work/lsp.out"

checks=$(grep -c '^ok: ' "$work/queries.out" "$work/lsp.out" | awk -F: '{ n += $2 } END { print n + 1 }')
echo "editors/helix: $checks passed, 0 failed"
