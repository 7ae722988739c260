#!/usr/bin/env bash
# The project's one test command: installs what the tests need (idempotently), then runs
# vet, the whole Go test suite and the short fuzz smoke runs.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh ./delta/... # only some packages (deps are still checked)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  echo "test.sh: Go is required (https://go.dev/dl/); none found on PATH" >&2
  exit 1
fi

# Servers and tools that integration tests start: each script is idempotent and fast when
# its tool is already installed.
for dep in scripts/deps/*.sh; do
  [ -e "$dep" ] || continue
  echo "== deps: $dep"
  bash "$dep"
done

# In CI a missing server is a failure, not a skip.
if [ "${CI:-}" = "true" ]; then
  export RCMLAKE_REQUIRE_SERVERS=1
fi

pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

echo "== go vet"
go vet "${pkgs[@]}"

echo "== go test"
go test -count=1 -timeout 25m "${pkgs[@]}"

if [ $# -eq 0 ] && [ -x scripts/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  bash scripts/fuzz-smoke.sh
fi
