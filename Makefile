# The two commands: `make dev` runs the project locally; `make test` runs every test.
.PHONY: dev test setup bench clean-run

dev:
	./scripts/dev.sh

test:
	./scripts/test.sh

setup:
	./scripts/setup.sh

bench:
	./scripts/bench.sh

clean-run:
	rm -rf .run
