#!/usr/bin/env bash
# The tests, in tiers. Usage: scripts/test.sh [check|e2e|site|all] (default all; `make test`).
#   check  formatting, lints, the scripts' own rules, unit and handler tests (no servers but
#          in-process ones; needs only Rust): `make check`, a few minutes.
#   e2e    everything that runs the pieces as processes: the e2e crate (the Clerk stand-in, the CLI,
#          moto, cargo lambda watch), `make dev` itself, the local Secrets Manager against browser
#          requests, deploy.sh against stand-ins, the SAM template (cfn-lint, sam validate, security
#          properties), `sam build` with the built bootstraps answering, the differential test
#          against @clerk/backend, a bounded fuzz run: `make e2e`.
#   site   the static site: type check, unit tests, production build check, browser tests
#          (Chromium): `make site`.
#   all    the three, with every install done once, up front: `make test` (CI runs this).
# Installs what the tier needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
tier=${1:-all}
case "$tier" in check | e2e | site | all) ;; *) echo "usage: scripts/test.sh [check|e2e|site|all]" >&2; exit 2 ;; esac

case "$tier" in
  all) ./scripts/setup.sh test ;;
  e2e | site) ./scripts/setup.sh "$tier" ;;
esac
export PATH="$PWD/.venv/bin:$PATH"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
# No usage data from the tests' sam runs.
export SAM_CLI_TELEMETRY=0
# Each stage prints the seconds since the start, so a slow CI run shows where the time went.
stage() { echo "== [${SECONDS}s] $*"; }

check() {
  stage "cargo fmt --check (free disk: $(df -h --output=avail . | tail -1 | tr -d ' '))"
  cargo fmt --all -- --check
  stage "the scripts' own rules (bash -n, no inline JSON parsing, installs only in setup, pins, telemetry)"
  ./scripts/lint-scripts.sh
  stage "cargo clippy"
  cargo clippy --workspace --all-targets -q -- -D warnings
  stage "cargo test: unit, handler and in-process tests (all but the e2e crate)"
  cargo test --workspace --exclude e2e
}

e2e() {
  # One build for every binary and example the stages below run (one feature resolution: a
  # `cargo build -p X` alone would build X's dependencies again with its own features).
  stage "cargo build (the binaries cargo lambda watch runs, the differential tests' examples)"
  cargo build --workspace --bins --examples -q
  stage "cargo test -p e2e: the Clerk stand-in, the CLI, moto, cargo lambda watch"
  cargo test -p e2e
  stage "make dev (smoke): comes up, JSON 404s, Secrets Manager closed to browsers, Ctrl-C exits 0"
  ./scripts/dev-smoke.sh
  stage "local Secrets Manager against browser-shaped requests (standalone)"
  python3 scripts/check_local_secrets.py --start
  stage "deploy.sh end to end on stand-ins: where the secret key goes"
  python3 scripts/deploy_leak_check.py
  stage "template: cfn-lint, sam validate --lint, security properties"
  cfn-lint template.yaml
  sam validate --lint --region us-east-1
  python3 -m unittest discover -s tests/template -v
  stage "sam build and the built bootstraps"
  ./scripts/sam-build-check.sh
  stage "differential test against @clerk/backend"
  ./scripts/node-setup.sh tests/clerk-node
  node tests/clerk-node/differential.mjs target/debug/clerk-token --count 2000 --report target/differential-report.json
  stage "authorization differential: Session::has against @clerk/shared's has() on 6,000 sessions x conditions"
  node tests/clerk-node/has-differential.mjs target/debug/examples/has_cases --count 6000
  stage "webhook differential: our signature check against @clerk/backend's verifyWebhook on 3,000 deliveries"
  node tests/clerk-node/webhook-differential.mjs target/debug/examples/webhook_cases --count 3000
  stage "machine-token differential: shared::machine against @clerk/backend's authenticateRequest({acceptsToken}) on 1,200 cases"
  node tests/clerk-node/machine-differential.mjs target/debug/examples/machine_cases target/debug/clerk-stub --count 1200
  stage "fuzzing: a bounded run of the three targets (stable, SanitizerCoverage)"
  ./scripts/fuzz.sh "${FUZZ_SECS:-20}"
}

site() {
  stage "static site: unit tests, production build check, browser tests (Chromium)"
  ./scripts/node-setup.sh static-site
  (cd static-site && npx tsc --noEmit && npx vitest run && node --test tests/build-check.test.mjs && node --test tests/browser/)
}

case "$tier" in
  check) check ;;
  e2e) e2e ;;
  site) site ;;
  all) check; e2e; site ;;
esac
echo "== $tier: all tests passed in ${SECONDS}s; disk: target $(du -sh target 2>/dev/null | cut -f1), fuzz/target $(du -sh fuzz/target 2>/dev/null | cut -f1), free $(df -h --output=avail . | tail -1 | tr -d ' ')"
