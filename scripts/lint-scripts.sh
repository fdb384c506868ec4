#!/usr/bin/env bash
# The scripts' own rules, checked (part of `make check`; needs bash, grep, make, python3):
#   - every shell script parses (bash -n);
#   - no inline `python3 -c` JSON parsing in shell scripts (scripts/json_field.py or jq instead);
#   - no apt-get anywhere but scripts/setup.sh (installs happen once, up front, never mid-run);
#   - every script that runs `sam` turns SAM CLI telemetry off (deploy.sh leaves the user's choice);
#   - the Python tools are pinned: exact versions in scripts/requirements-*.txt, the local run's
#     file without the test-only tools, setup.sh installing from those files only (and, when the
#     venv exists and is set up, the installed versions are the pinned ones);
#   - the Makefile's tiers: check, e2e, site, and test = all of them (what .ci/run runs).
set -euo pipefail
cd "$(dirname "$0")/.."
problems=()
problem() { problems+=("$*"); }

for f in scripts/*.sh .ci/run; do
  bash -n "$f" 2>/dev/null || problem "$f does not parse (bash -n $f)"
done

# Shell files of the project (not dependencies).
mapfile -t shells < <(git ls-files -co --exclude-standard -- '*.sh' Makefile .ci/run | grep -v node_modules)
for f in "${shells[@]}"; do
  [ -f "$f" ] && [ "$f" != scripts/lint-scripts.sh ] || continue
  if grep -nE "python3? +-c .*json|python3? +-c .*\bjson\b" "$f" >/dev/null; then
    problem "$f parses JSON with inline python -c (use scripts/json_field.py or jq): $(grep -nE 'python3? +-c .*json' "$f" | head -1 | cut -c1-100)"
  fi
  if [ "$f" != scripts/setup.sh ] && grep -vE '^\s*#' "$f" | grep -qE "(sudo +)?apt(-get)? +(update|install)"; then
    problem "$f runs apt: installs belong in scripts/setup.sh, once, before the tests"
  fi
  if [ "$f" != scripts/deploy.sh ] && grep -nE "^\s*([A-Z_]+=[^ ]* +)*sam +(build|validate|deploy|local|package|sync)" "$f" >/dev/null \
     && ! grep -qE "(export +)?SAM_CLI_TELEMETRY=0" "$f"; then
    problem "$f runs sam without SAM_CLI_TELEMETRY=0"
  fi
done

for req in scripts/requirements-dev.txt scripts/requirements-test.txt; do
  [ -f "$req" ] || { problem "$req is missing"; continue; }
  while read -r line; do
    line=${line%%#*}; line=${line// /}
    [ -z "$line" ] && continue
    case "$line" in -r*) continue ;; *==*) ;; *) problem "$req: $line is not pinned to an exact version (==)" ;; esac
  done <"$req"
done
if grep -qiE "^(cfn-lint|aws-sam-cli)" scripts/requirements-dev.txt 2>/dev/null; then
  problem "scripts/requirements-dev.txt has test-only tools (make dev installs only what the local run needs)"
fi
if grep -nE "pip[^|]* install" scripts/setup.sh | grep -v -- "-r " >/dev/null; then
  problem "scripts/setup.sh installs Python packages other than from the requirements files"
fi
if [ -x .venv/bin/python ] && [ -f .venv/.installed-test ]; then
  if ! out=$(.venv/bin/python - scripts/requirements-dev.txt scripts/requirements-test.txt <<'PY'
import re, sys
from importlib.metadata import version, PackageNotFoundError
bad = []
for path in sys.argv[1:]:
    for line in open(path):
        line = line.split("#")[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
        if not m:
            continue
        try:
            got = version(m.group(1))
        except PackageNotFoundError:
            got = "not installed"
        if got != m.group(3):
            bad.append(f"{m.group(1)} {got} (pinned {m.group(3)})")
if bad:
    print("; ".join(bad))
    sys.exit(1)
PY
  ); then
    problem ".venv does not hold the pinned versions: $out (run scripts/setup.sh test)"
  fi
fi

# The Makefile's tiers, and `make test` (CI's command) running all of them.
for t in check e2e site test; do
  make -n "$t" >/dev/null 2>&1 || problem "the Makefile has no '$t' target"
done
make -n test 2>/dev/null | grep -q "scripts/test.sh all" || problem "make test does not run scripts/test.sh all"
grep -q "make test" .ci/run || problem ".ci/run does not run make test"
for stage in "cargo fmt" "cargo clippy" "cargo test --workspace --exclude e2e" "cargo test -p e2e" dev-smoke.sh \
    check_local_secrets.py deploy_leak_check.py cfn-lint "sam validate" tests/template sam-build-check.sh \
    differential.mjs has-differential.mjs webhook-differential.mjs fuzz.sh "vitest run" "tests/browser"; do
  grep -qF -- "$stage" scripts/test.sh || problem "scripts/test.sh lost the stage: $stage"
done

if [ ${#problems[@]} -gt 0 ]; then
  printf 'lint-scripts: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "lint-scripts: scripts parse; no inline JSON parsing; apt only in setup.sh; sam without telemetry in tests; tools pinned; tiers in the Makefile"
