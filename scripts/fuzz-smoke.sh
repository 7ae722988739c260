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
for entry in "${targets[@]}"; do
  set -- $entry
  echo "-- fuzz $2 ($1, $t)"
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$t" -fuzzminimizetime "$m"
done
