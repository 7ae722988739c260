#!/usr/bin/env bash
# Rebuilds docs/BENCHMARKS.md and docs/benchmarks.json: builds rcmlake, starts a throwaway
# PostgreSQL on 127.0.0.1 (for the extraction figures), and runs `rcmlake bench` with the
# given flags, by default the published sizes (20k, 1M and 10M transactions; about 1.5 hours
# on 2 cores). Examples:
#   bash scripts/bench.sh                                   # the published report
#   bash scripts/bench.sh --scales 1 --repeat 1 --scaling-months ''   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps/postgres.sh
mkdir -p bin
go build -o bin/rcmlake ./cmd/rcmlake

pgdir=$(mktemp -d /tmp/rcmlake-bench-pg.XXXXXX)
chmod 755 "$pgdir"
bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1 || command -v initdb)")
as_pg() { if [ "$(id -u)" = "0" ]; then chown -R postgres "$pgdir"; runuser -u postgres -- "$@"; else "$@"; fi; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$bindir/initdb" -D "$pgdir/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$bindir/pg_ctl" -D "$pgdir/data" -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off" -l "$pgdir/log" -w start >/dev/null
trap 'as_pg "$bindir/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
dsn="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--scales 1,50,500 --memory-limit 2GB --notes docs/benchmark-notes.md)
RCMLAKE_BENCH_VIA="bash scripts/bench.sh" bin/rcmlake bench --postgres-dsn "$dsn" --out docs "${args[@]}"
