#!/usr/bin/env bash
# Installs moto's S3-compatible server (moto_server) for the lake/s3 tests.
# Idempotent: does nothing when moto_server is already on PATH and starts.
set -euo pipefail

if command -v moto_server >/dev/null 2>&1 && moto_server --help >/dev/null 2>&1; then
  exit 0
fi
py=python3
command -v "$py" >/dev/null 2>&1 || py=python
if ! command -v "$py" >/dev/null 2>&1; then
  echo "moto: python3 is required to install moto[server]" >&2
  exit 1
fi
echo "moto: installing moto[server] with pip" >&2
"$py" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6' ||
  "$py" -m pip install --quiet --disable-pip-version-check --break-system-packages 'moto[server]>=5,<6'
# pyenv installs console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
command -v moto_server >/dev/null 2>&1 || {
  echo "moto: moto_server is still not on PATH after pip install" >&2
  exit 1
}
