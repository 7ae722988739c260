#!/usr/bin/env bash
# PostgreSQL 15 from Debian's packages, for the EMR tests (the tests start their own
# throwaway server on 127.0.0.1; nothing is configured system-wide). Idempotent.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
# The package may start a cluster of its own; the tests do not need it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
