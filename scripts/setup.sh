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

# For the tests only: run the arm64 build under qemu, and the arm64 Rust target.
if [ "${1:-}" = test ]; then
  need=()
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
  [ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-arm64-cross)
  command -v file >/dev/null || need+=(file)
  command -v chromium >/dev/null || need+=(chromium)
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: apt-get install ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null \
      || echo "setup: could not install ${need[*]}; the SAM build check falls back to x86_64; browser tests need chromium" >&2
  fi
  rustup target list --installed | grep -q aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || echo "setup: no aarch64 target; the SAM build check falls back to x86_64" >&2
fi
