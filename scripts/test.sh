#!/usr/bin/env bash
# Every test: formatting, lints, unit and handler tests, the Clerk stand-in, the CLI, moto, the
# end-to-end run through cargo lambda watch, `make dev` itself, the SAM template (cfn-lint, sam
# validate, security properties) and `sam build` with the built bootstraps answering.
# Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
# Each stage prints the seconds since the start, so a slow CI run shows where the time went.
stage() { echo "== [${SECONDS}s] $*"; }

stage "cargo fmt --check (free disk: $(df -h --output=avail . | tail -1 | tr -d ' '))"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets -q -- -D warnings
stage "cargo build (the binaries cargo lambda watch runs)"
cargo build --workspace -q
stage "cargo test"
cargo test --workspace
stage "make dev (smoke)"
./scripts/dev-smoke.sh
stage "template: cfn-lint, sam validate --lint, security properties"
cfn-lint template.yaml
sam validate --lint --region us-east-1
python3 -m unittest discover -s tests/template -v
stage "sam build and the built bootstraps"
./scripts/sam-build-check.sh
stage "differential test against @clerk/backend"
./scripts/node-setup.sh tests/clerk-node
node tests/clerk-node/differential.mjs target/debug/clerk-token --count 2000 --report target/differential-report.json
stage "fuzzing: a bounded run of both targets (stable, SanitizerCoverage)"
./scripts/fuzz.sh "${FUZZ_SECS:-20}"
stage "static site: unit tests, production build check, browser tests (Chromium)"
./scripts/node-setup.sh static-site
(cd static-site && npx tsc --noEmit && npx vitest run && node --test tests/build-check.test.mjs && node --test tests/browser/)
echo "== all tests passed in ${SECONDS}s; disk: target $(du -sh target 2>/dev/null | cut -f1), fuzz/target $(du -sh fuzz/target 2>/dev/null | cut -f1), free $(df -h --output=avail . | tail -1 | tr -d ' ')"
