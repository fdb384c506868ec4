#!/usr/bin/env bash
# A bounded coverage-guided fuzz run of the three targets (libFuzzer through libfuzzer-sys), starting
# from the seed corpora in fuzz/seeds/. Usage: scripts/fuzz.sh [seconds per target, default 20].
#
# Built with the stable toolchain and SanitizerCoverage, the instrumentation cargo fuzz uses, with
# debug assertions and overflow checks but without AddressSanitizer (the code under test is safe
# Rust): no nightly and no cargo-fuzz install needed, so it runs in `make test`. For long runs with
# AddressSanitizer: `cargo +nightly fuzz run ...` (README, "How we test").
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$PWD/target/smoke"
# With --target, these flags reach only the fuzz targets and their dependencies, not build scripts.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --target "$host" --bins -q
mkdir -p artifacts
for t in verify_token authenticate_request guards; do
  corpus="$CARGO_TARGET_DIR/corpus/$t"
  mkdir -p "$corpus"
  echo "fuzz: $t for ${secs}s"
  if ! "$CARGO_TARGET_DIR/$host/release/$t" "$corpus" "seeds/$t" -max_total_time="$secs" \
      -artifact_prefix="artifacts/$t-" -print_final_stats=1 >"$CARGO_TARGET_DIR/$t.log" 2>&1; then
    tail -n 40 "$CARGO_TARGET_DIR/$t.log"
    echo "fuzz: $t found a crash; the input is in fuzz/artifacts/" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$CARGO_TARGET_DIR/$t.log" | tail -n 3
done
