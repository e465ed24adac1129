#!/usr/bin/env bash
# Lint, then run pytest against a private PostgreSQL server started for this run only.
#
#   scripts/test.sh [PYTEST ARGS...]
#
# Exports TEST_DATABASE_URL (the private server) and CHROMIUM_PATH (Debian's chromium).
# The server is always stopped on exit; the exit code is pytest's (5, no test ran, fails too).
set -euo pipefail
cd "$(dirname "$0")/.."

export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}

pgdir=$(mktemp -d "${TMPDIR:-/tmp}/pgtest.XXXXXX")
cleanup() {
    bash scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TEST_DATABASE_URL=$(bash scripts/pg.sh start "$pgdir")
export TEST_DATABASE_URL
echo "test.sh: PostgreSQL at $TEST_DATABASE_URL"

# Lint only the folders that exist (git keeps no empty folder).
lint_paths=()
for p in app tests bench; do [ -e "$p" ] && lint_paths+=("$p"); done
if [ ${#lint_paths[@]} -gt 0 ]; then
    .venv/bin/ruff check "${lint_paths[@]}"
fi
# Who may import whom (pyproject.toml, [tool.importlinter]): the layout's rules, enforced.
.venv/bin/lint-imports --no-cache

rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no test: failing" >&2
fi
exit "$rc"
