#!/usr/bin/env bash
# Every test: formatting, lints, unit and handler tests, the Clerk stand-in, the CLI, moto and the
# end-to-end run through cargo lambda watch. Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings
echo "== cargo build (the binaries cargo lambda watch runs)"
cargo build --workspace -q
echo "== cargo test"
cargo test --workspace
echo "== make dev (smoke)"
./scripts/dev-smoke.sh
