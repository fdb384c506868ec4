#!/usr/bin/env bash
# Installs what a tier needs, idempotently (safe to run again: it only does what is missing).
# Usage: scripts/setup.sh [dev|e2e|site|test|deploy]
#   dev   the local run: a .venv with the pinned tools of scripts/requirements-dev.txt
#         (cargo-lambda, zig, moto, boto3). No apt, no browser, no SAM.
#   e2e   the end-to-end tiers: .venv with scripts/requirements-test.txt (adds cfn-lint, SAM), and
#         from apt qemu-user, libc6-arm64-cross and file (the arm64 SAM build check), strace (the
#         deploy leak check), the arm64 Rust target.
#   site  the static site's browser tests: chromium from apt.
#   test  all of the above (what `make test` runs once, up front: no install happens later).
#   deploy  the venv of the e2e tier (SAM, boto3), nothing from apt (scripts/deploy.sh).
# The venv is reinstalled when a requirements file changes (a stamp keyed on their content).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=${1:-dev}
case "$tier" in dev | e2e | site | test | deploy) ;; *) echo "usage: setup.sh [dev|e2e|site|test|deploy]" >&2; exit 2 ;; esac

VENV=.venv
venv() { # dev | test: the requirements file scripts/requirements-$1.txt, installed once per content
  local req="scripts/requirements-$1.txt" stamp="$VENV/.installed-$1" sum
  sum=$(cat scripts/requirements-dev.txt "$req" | sha256sum | cut -d' ' -f1)
  # The test requirements include the dev ones: a current test stamp covers dev too.
  if [ "$1" = dev ] && [ -f "$VENV/.installed-test" ] \
     && [ "$(cat "$VENV/.installed-test")" = "$(cat scripts/requirements-dev.txt scripts/requirements-test.txt | sha256sum | cut -d' ' -f1)" ]; then
    return 0
  fi
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    python3 -m venv "$VENV"
  fi
  echo "setup: installing $req into $VENV (about 2 minutes the first time)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$sum" >"$stamp"
}

apt_install() { # packages: installed from Debian when missing, once, up front
  [ $# -gt 0 ] || return 0
  echo "setup: apt-get install $*"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@" >/dev/null \
    || echo "setup: could not install $*; the SAM build check falls back to x86_64; browser tests need chromium" >&2
}

case "$tier" in dev) venv dev ;; e2e | test | deploy) venv test ;; esac
if [ "$tier" != site ]; then
  for tool in cargo-lambda moto_server; do
    [ -x "$VENV/bin/$tool" ] || { echo "setup: $tool missing from $VENV/bin" >&2; exit 1; }
  done
fi

need=()
if [ "$tier" = e2e ] || [ "$tier" = test ]; then
  # The arm64 build run under qemu, and `file` to check the built architecture.
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
  [ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-arm64-cross)
  command -v file >/dev/null || need+=(file)
  # deploy_leak_check.py follows every exec of deploy.sh's children with it (optional there).
  command -v strace >/dev/null || need+=(strace)
fi
if [ "$tier" = site ] || [ "$tier" = test ]; then
  command -v chromium >/dev/null || need+=(chromium)
fi
apt_install "${need[@]}"
if [ "$tier" = e2e ] || [ "$tier" = test ]; then
  rustup target list --installed | grep -q aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 \
    || echo "setup: no aarch64 target; the SAM build check falls back to x86_64" >&2
fi
