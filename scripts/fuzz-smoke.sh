#!/usr/bin/env bash
# Short, bounded runs of every native Go fuzz target (CI runs this after the tests). A crash
# found here is saved under the package's testdata/fuzz and becomes a regression test.
# The corpora seed from ../shared (seed-data CSVs, API samples, Spark-written Delta logs).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZ_TIME:-8s}"
targets=(
  "./config FuzzParse"
  "./delta FuzzParseActions"
  "./delta FuzzParseCheckpoint"
  "./access FuzzGuard"
  "./source/npi FuzzParse"
  "./source/npi FuzzReadBulk"
  "./source/icd FuzzOrderFile"
  "./source/icd FuzzParseNLM"
  "./source/icd FuzzParseEntity"
  "./bronze FuzzLandingCSV"
)
for entry in "${targets[@]}"; do
  set -- $entry
  echo "-- fuzz $2 ($1, $t)"
  # Minimising a new input is bounded by executions, not time: with the default (60 s of
  # minimisation per input) a worker could spend the whole budget minimising one input.
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$t" -fuzzminimizetime 100x
done
