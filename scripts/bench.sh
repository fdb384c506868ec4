#!/usr/bin/env bash
# Every performance figure of the README, each with its ratio to a baseline measured in the same
# run. Takes about 15 minutes (release builds). Output also in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
OUT=target/bench
mkdir -p "$OUT"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "Machine: $(nproc) cores, $cpu, $(uname -m); $(date -u +%F)" | tee "$OUT/machine.txt"

echo; echo "== 1. verify hot path vs the raw aws-lc-rs RS256 check (criterion)"
cargo bench -q -p shared --bench verify 2>/dev/null | tee "$OUT/verify.txt" | sed -n '/^interleaved/,$p'

echo; echo "== 2. whole handler (API Gateway v2 event -> response) vs the same floor (criterion)"
cargo bench -q -p protected --bench handler 2>/dev/null | tee "$OUT/handler.txt" | sed -n '/^interleaved/,$p'

echo; echo "== 2b. the same, in instructions (callgrind: the same count on a busy or an idle machine)"
bin=$(cargo bench -p protected --bench handler --no-run 2>&1 | grep -o 'target/[^)]*handler-[0-9a-f]*' | tail -1)
instructions() {
  HANDLER_PROFILE=$1 valgrind --tool=callgrind --toggle-collect='*profiled_loop*' \
    --callgrind-out-file="$OUT/callgrind.$1" "$bin" >/dev/null 2>&1
  callgrind_annotate "$OUT/callgrind.$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1 / 2000}'
}
floor_i=$(instructions floor_aws_lc_rs_rs256)
for b in handler_event_to_response handler_guarded_route handler_repeated_token event_to_request_only; do
  i=$(instructions "$b")
  python3 -c "print(f'{\"$b\":<38} {$i:>9,.0f} instructions/call  {$i/$floor_i:.3f}x the floor ({$floor_i:,.0f})')"
done | tee "$OUT/handler-instructions.txt"

echo; echo "== 3. throughput vs @clerk/backend verifyToken (one core each, interleaved, 5 rounds)"
./scripts/node-setup.sh tests/clerk-node
node tests/clerk-node/make-tokens.mjs "$OUT/tokens.json" 64
cargo build -q --release -p shared --example verify_throughput --example cold_verify
python3 - "$OUT" <<'PY'
import json, statistics, subprocess, sys
out = sys.argv[1]
def run(cmd):
    return json.loads(subprocess.check_output(["taskset", "-c", "1"] + cmd))["opsPerSec"]
node, floor, full, repeated = [], [], [], []
ours = "target/release/examples/verify_throughput"
for _ in range(5):
    node.append(run(["node", "tests/clerk-node/verify-throughput.mjs", f"{out}/tokens.json", "2000"]))
    floor.append(run([ours, f"{out}/tokens.json", "2000", "floor"]))
    full.append(run([ours, f"{out}/tokens.json", "2000", "full"]))
    repeated.append(run([ours, f"{out}/tokens.json", "2000", "repeated"]))
n, fl, f, r = (statistics.median(x) for x in (node, floor, full, repeated))
print(f"@clerk/backend verifyToken: {n:,.0f} verifications/s")
print(f"the floor, only the raw RS256 check of each token: {fl:,.0f}/s; ratio {fl/n:.1f}x (the ceiling for every check)")
print(f"ours, every check of every token (signature cache off): {f:,.0f}/s; ratio {f/n:.1f}x")
print(f"ours, the 64 tokens repeated (signature cache on): {r:,.0f}/s; ratio {r/n:.1f}x")
json.dump({"node_ops": node, "floor_ops": floor, "rust_full_ops": full, "rust_repeated_ops": repeated,
           "ratio_full": f / n, "ratio_repeated": r / n}, open(f"{out}/throughput.json", "w"))
PY

echo; echo "== 4. cold start"
python3 - "$OUT" <<'PY'
import json, statistics, subprocess, sys, time
out = sys.argv[1]
def run(cmd, n=15):
    times, rss = [], []
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, check=True)
        times.append((time.perf_counter() - t) * 1000)
        rss.append(int(r.stderr.strip().splitlines()[-1]))
    return statistics.median(times), max(rss)
nt, nr = run(["node", "tests/clerk-node/cold-verify.mjs", f"{out}/tokens.json"])
rt, rr = run(["target/release/examples/cold_verify", f"{out}/tokens.json"])
print(f"process that verifies one token: Node + @clerk/backend {nt:.1f} ms, {nr/1024:.1f} MiB; Rust {rt:.2f} ms, {rr/1024:.1f} MiB; time ratio {nt/rt:.0f}x")
json.dump({"node_ms": nt, "node_rss_kib": nr, "rust_ms": rt, "rust_rss_kib": rr}, open(f"{out}/cold-verify.json", "w"))
PY
cargo build -q --release -p protected -p clerk-stub
python3 scripts/bench_lambda.py target/release/protected target/release/clerk-stub --runs 10 --load 2000 | tee "$OUT/lambda.json"

echo; echo "== 5. size of the stripped release bootstraps (cargo lambda, zig)"
for arch in x86_64 arm64; do
  flag=""; [ "$arch" = arm64 ] && flag="--arm64"
  cargo lambda build -q --release $flag --bin public --bin protected --lambda-dir "target/lambda-$arch" >/dev/null 2>&1
  for fn in public protected; do
    size=$(stat -c %s "target/lambda-$arch/$fn/bootstrap")
    echo "$arch $fn: $(python3 -c "print(f'{$size/1e6:.2f} MB')")"
  done
done | tee "$OUT/sizes.txt"

echo; echo "== 6. warm-path network calls (load test through cargo lambda watch)"
# Both load tests' summaries (cargo's progress dots can precede them on the line).
cargo test -q -p e2e --test load -- --nocapture 2>&1 | grep -oE "load[ (:][^.]*requests from.*" | tee "$OUT/load.txt"
