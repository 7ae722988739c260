#!/usr/bin/env bash
# Short, bounded runs of every native Go fuzz target (CI runs this after the tests). A crash
# found here is saved under the package's testdata/fuzz and becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZ_TIME:-8s}"
# Minimizing a new interesting input defaults to 60s, which would swallow a short run whose
# corpus holds real files of tens of KB (claims CSVs, checkpoints): FuzzParseCheckpoint made
# under 20 execs a second that way, against 2,000 with minimization bounded to 10 tries.
m="${FUZZ_MINIMIZE_TIME:-10x}"
targets=(
  "./config FuzzParse"
  "./delta FuzzParseActions"
  "./delta FuzzParseCheckpoint"
  "./bronze FuzzLandingCSV"
  "./access FuzzGuard"
  "./source/npi FuzzParse"
  "./source/npi FuzzReadBulk"
  "./source/icd FuzzOrderFile"
  "./source/icd FuzzParseNLM"
  "./source/icd FuzzParseEntity"
)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for entry in "${targets[@]}"; do
  set -- $entry
  echo "-- fuzz $2 ($1, $t)"
  if go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$t" -fuzzminimizetime "$m" 2>&1 | tee "$log"; then
    continue
  fi
  # Go's fuzz coordinator can end a run with a bare "context deadline exceeded" at the
  # -fuzztime boundary (a race, go.dev/issue/75804, fixed in Go 1.27). A real failure always
  # names its input ("Failing input written to ..."); only that fails the smoke run.
  if grep -q "Failing input written" "$log" || ! grep -q "context deadline exceeded" "$log"; then
    exit 1
  fi
  echo "-- fuzz $2: Go's fuzztime deadline race (go.dev/issue/75804), no failing input; not a crash"
done
