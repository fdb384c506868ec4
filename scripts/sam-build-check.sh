#!/usr/bin/env bash
# `sam build` without Docker (cargo lambda + zig), then each built bootstrap answers a request
# through `cargo lambda watch --only-lambda-apis`. arm64 where the target is available (run under
# qemu-aarch64 on an x86_64 machine), else x86_64.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
# No usage data from the tests' sam runs.
export SAM_CLI_TELEMETRY=0

ARCH=x86_64
RUN_PREFIX=""
if [ "$(uname -m)" = aarch64 ]; then
  ARCH=arm64
elif rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null \
     && [ -d /usr/aarch64-linux-gnu/lib ]; then
  ARCH=arm64
  RUN_PREFIX="qemu-aarch64 -L /usr/aarch64-linux-gnu"
fi
echo "== sam build ($ARCH)"
sam build --beta-features --parameter-overrides "Architecture=$ARCH" >target/sam-build.log 2>&1 \
  || { tail -40 target/sam-build.log; exit 1; }
for fn in PublicFunction ProtectedFunction WebhooksFunction; do
  file ".aws-sam/build/$fn/bootstrap" | grep -q "$([ $ARCH = arm64 ] && echo aarch64 || echo x86-64)" \
    || { echo "sam-build-check: $fn is not an $ARCH binary" >&2; exit 1; }
  ls -l ".aws-sam/build/$fn/bootstrap"
done
# The deployment package's budget (README, Performance): the protected function at most 6 MB.
size=$(stat -c %s .aws-sam/build/ProtectedFunction/bootstrap)
[ "$size" -le 6000000 ] \
  || { echo "sam-build-check: the protected bootstrap is $size bytes, over the 6 MB budget" >&2; exit 1; }

wrapper() { # a bootstrap to run, through qemu when needed
  local w="target/run-$1.sh"
  printf '#!/bin/sh\nexec %s %s\n' "$RUN_PREFIX" "$PWD/.aws-sam/build/$1/bootstrap" >"$w"
  chmod +x "$w"; echo "$w"
}
# (Not `tee /dev/stderr`: opening /dev/stderr truncates a log file that stderr points at.)
out=$(python3 scripts/lambda_harness.py check "$(wrapper PublicFunction)" public /api/health)
echo "$out"; grep -q '"statusCode": 200' <<<"$out"
# The protected function with Secrets Manager and Clerk unreachable: it starts anyway and answers a
# request without a token with its 401 (init-phase warming failures are not fatal).
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(python3 scripts/lambda_harness.py check "$(wrapper ProtectedFunction)" protected /api/protected --env \
  CLERK_PUBLISHABLE_KEY=pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk \
  CLERK_AUTHORIZED_PARTIES=https://app.example.com CLERK_SECRET_ID=clerk/none \
  CLERK_API_URL=http://127.0.0.1:$closed AWS_ENDPOINT_URL=http://127.0.0.1:$closed \
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true)
echo "$out"; grep -q '"statusCode": 401' <<<"$out"
# The webhooks function with Secrets Manager and DynamoDB unreachable: it starts (the signing secret
# is read again per request, answered 503 meanwhile) and answers a GET with its 405.
out=$(python3 scripts/lambda_harness.py check "$(wrapper WebhooksFunction)" webhooks /api/webhooks/clerk --env \
  CLERK_WEBHOOK_SECRET_ID=webhooks/none USERS_TABLE=users AWS_ENDPOINT_URL=http://127.0.0.1:$closed \
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true)
echo "$out"; grep -q '"statusCode": 405' <<<"$out"
echo "sam-build-check: the three $ARCH bootstraps answered"
