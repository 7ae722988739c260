#!/usr/bin/env bash
# delta-rs (the deltalake Python package) reads rcmlake's tables in the interop tests, as an
# independent Delta implementation. Idempotent: fast when already installed.
set -euo pipefail
if python3 -c 'import deltalake, pyarrow' 2>/dev/null; then
  exit 0
fi
python3 -m pip install --quiet 'deltalake==1.6.6' 'pyarrow>=17'
