#!/usr/bin/env bash
# The real harness CLIs for tests/e2e/test_harness_clis.py, from npm, at pinned versions, into a
# project-local prefix (never the global npm prefix):
#
#   .cache/harness-clis/bin/{claude,codex,opencode,gemini}
#
# Idempotent and quick when already installed: a stamp file records the pinned set; a changed pin
# (or a missing binary) reinstalls. Override the prefix with HARNESS_CLIS_PREFIX. Without npm it
# says so and returns 0: the harness tests then skip locally (and fail in CI, where CI=true).
#
# Versions are the ones the facts in the design notes were checked with (harnesses.md); move them
# together with the profiles in configs/harnesses/ and re-run `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
    "@anthropic-ai/claude-code@2.1.197"
    "@openai/codex@0.169.0"
    "opencode-ai@1.18.33"
    "@google/gemini-cli@0.61.0"
)
BINARIES=(claude codex opencode gemini)

PREFIX="${HARNESS_CLIS_PREFIX:-$PWD/.cache/harness-clis}"
STAMP="$PREFIX/installed.txt"
WANTED="$(printf '%s\n' "${PACKAGES[@]}")"

installed() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANTED" ] || return 1
    local bin
    for bin in "${BINARIES[@]}"; do
        [ -x "$PREFIX/bin/$bin" ] || return 1
    done
}

if installed; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "note: npm not found: the harness CLI tests (tests/e2e/test_harness_clis.py) will skip" >&2
    exit 0
fi

echo "installing harness CLIs into $PREFIX: ${PACKAGES[*]}" >&2
started=$(date +%s)
mkdir -p "$PREFIX"
# a global-style install under our own prefix: bin/ holds the entry points, lib/node_modules the
# packages. No audit or funding calls, no update notice; the packages' own install scripts run
# (they link each CLI's native binary from its platform package).
npm install --global --prefix "$PREFIX" --no-audit --no-fund --no-update-notifier \
    --loglevel=error "${PACKAGES[@]}" >&2
for bin in "${BINARIES[@]}"; do
    [ -x "$PREFIX/bin/$bin" ] || { echo "error: $PREFIX/bin/$bin missing after npm install" >&2; exit 1; }
done
printf '%s\n' "$WANTED" >"$STAMP"
echo "harness CLIs installed in $(($(date +%s) - started)) s ($(du -sh "$PREFIX" | cut -f1))" >&2
