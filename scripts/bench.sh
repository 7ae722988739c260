#!/usr/bin/env bash
# Benchmarks: builds rcmlake and runs `rcmlake bench`, which writes docs/BENCHMARKS.md and
# docs/benchmarks.json. Long (30+ minutes with the 10M-transaction world); pass flags to pick
# a subset, e.g. scripts/bench.sh --sizes 1,50 --repeat 1. Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${RCMLAKE_BENCH_BIN:-$(mktemp -d)/rcmlake}"
go build -o "$bin" ./cmd/rcmlake
exec "$bin" bench --out docs "$@"
