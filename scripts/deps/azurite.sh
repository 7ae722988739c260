#!/usr/bin/env bash
# Installs the Azurite storage emulator (azurite@3.35.0) into .cache/azurite in the
# repository, where internal/testenv looks for it. Idempotent: does nothing when the
# pinned version is already there. Needs node and npm.
set -euo pipefail

version=3.35.0
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/.cache/azurite"
bin="$dir/node_modules/.bin/azurite-blob"
stamp="$dir/.installed-$version"

if [[ -x "$bin" && -f "$stamp" ]]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "azurite: npm not found; installing nodejs and npm with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "azurite: npm is required to install azurite@$version" >&2
    exit 1
  fi
fi
mkdir -p "$dir"
echo "azurite: installing azurite@$version into $dir" >&2
npm install --prefix "$dir" --no-audit --no-fund --silent "azurite@$version"
"$bin" --version >/dev/null
touch "$stamp"
