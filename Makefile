# The two commands: `make dev` runs the project locally; `make test` runs every test.
# `make test` = `make check` + `make e2e` + `make site` (CI's .ci/run runs `make test`).
.PHONY: dev test check e2e site setup bench clean-run

dev:
	./scripts/dev.sh

# Every test, every install done once up front.
test:
	./scripts/test.sh all

# Formatting, lints, the scripts' rules, unit and handler tests: Rust only, a few minutes.
check:
	./scripts/test.sh check

# The pieces run as processes: the e2e crate, `make dev` itself, the local Secrets Manager, deploy.sh
# on stand-ins, the SAM template, `sam build`, the differential test, a bounded fuzz run.
e2e:
	./scripts/test.sh e2e

# The static site: type check, unit tests, build check, browser tests (Chromium).
site:
	./scripts/test.sh site

setup:
	./scripts/setup.sh test

bench:
	./scripts/bench.sh

clean-run:
	rm -rf .run
