#!/usr/bin/env bash
# Installs what the local run and the tests need, idempotently: a Python venv with cargo-lambda,
# zig, moto, cfn-lint and SAM. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
REQS="cargo-lambda ziglang moto[server] boto3 cfn-lint aws-sam-cli"
STAMP="$VENV/.installed"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$REQS" ]; then
  echo "setup: installing $REQS into $VENV (about a minute)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $REQS
  echo "$REQS" > "$STAMP"
fi
for tool in cargo-lambda moto_server; do
  [ -x "$VENV/bin/$tool" ] || { echo "setup: $tool missing from $VENV/bin" >&2; exit 1; }
done
