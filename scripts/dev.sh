#!/usr/bin/env bash
# The local run: moto's Secrets Manager (with the secret stored), the Clerk stand-in (or real
# Clerk keys from .env), both functions under `cargo lambda watch`, and the sign-in site when it
# exists. Prints the URLs and a ready-to-paste curl; Ctrl-C stops everything it started and exits 0.
#
# The Secrets Manager is moto behind scripts/local_secrets.py: it refuses anything a web browser
# could send (an Origin or Sec-Fetch-* header, a foreign Host), so no page open in the browser can
# read the secret key stored in it. The secret key reaches it on standard input, never on a command
# line, and no child process inherits CLERK_SECRET_KEY.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# From a terminal (`make dev`), run as a foreground job of our own: Ctrl-C then reaches this run
# only, not make, which would otherwise die of SIGINT itself (`make: *** ... Error 130`, status 130)
# however cleanly the run stopped.
foreground() { # this process is in the terminal's foreground process group (/proc: no ps needed)
  local stat f
  stat=$(cat /proc/$$/stat) && stat=${stat##*) } && read -r -a f <<<"$stat" && [ "${f[2]}" = "${f[5]}" ]
}
if [ -z "${DEV_FOREGROUND_JOB:-}" ] && [ -t 0 ] && foreground; then
  set -m
  DEV_FOREGROUND_JOB=1 "$0" "$@" && exit 0 || exit $?
fi

PIDS=() NAMES=()
cleanup() { # [signal]: stop every service started (a signal: say so even if none was)
  trap '' INT TERM # a second Ctrl-C does not cut the cleanup short
  trap - EXIT
  [ ${#PIDS[@]} -gt 0 ] || [ -n "${1:-}" ] || return 0
  for pid in "${PIDS[@]}"; do kill -INT -- "-$pid" 2>/dev/null || true; done
  [ ${#PIDS[@]} -eq 0 ] || sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  echo; echo "dev: stopped"
}
# Ctrl-C (also during the build) or SIGTERM is the way to stop: a clean stop, status 0. Any other
# exit keeps its status.
trap 'cleanup signal; exit 0' INT TERM
trap cleanup EXIT
start() { # name, command...: in its own process group, output to .run/<name>.log
  local name=$1; shift
  setsid "$@" >"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
}

./scripts/setup.sh dev
export PATH="$ROOT/.venv/bin:$PATH"

API_PORT=${API_PORT:-9000}
MOTO_PORT=${MOTO_PORT:-5055}
STUB_PORT=${STUB_PORT:-8090}
STUB_ADMIN_PORT=${STUB_ADMIN_PORT:-8091}
SITE_PORT=${SITE_PORT:-5173}
SITE_ORIGIN="http://localhost:$SITE_PORT"
RUN=${DEV_RUN_DIR:-.run} # the services' logs (DEV_RUN_DIR: another folder, e.g. for a test run beside yours)
mkdir -p "$RUN"

port_taken() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { # index in PIDS: that service still runs, else stop with the end of its log
  kill -0 "${PIDS[$1]}" 2>/dev/null && return 0
  echo "dev: ${NAMES[$1]} stopped; the end of $RUN/${NAMES[$1]}.log:" >&2
  # Long lines (tracing's debug dumps) shortened in the middle: the reason is often at the end.
  tail -n 20 "$RUN/${NAMES[$1]}.log" \
    | awk '{ if (length($0) > 300) print substr($0, 1, 100) " ... " substr($0, length($0) - 199); else print }' >&2 || true
  exit 1
}
wait_port() { # port: the service started last listens on it
  local port=$1 last=$((${#PIDS[@]} - 1)) i
  for i in $(seq 1 600); do
    alive "$last"
    port_taken "$port" && return 0
    sleep 0.1
  done
  echo "dev: ${NAMES[$last]} did not start on port $port; see $RUN/${NAMES[$last]}.log" >&2; exit 1
}

# Real Clerk keys, when a .env gives them (DEV_ENV_FILE names another file). The secret key stays
# a shell variable: exported to no child (not moto, not cargo, not the site's dev server).
DEV_ENV_FILE=${DEV_ENV_FILE:-.env}
if [ -f "$DEV_ENV_FILE" ]; then set -a; . "$(realpath "$DEV_ENV_FILE")"; set +a; fi
[ -z "${CLERK_SECRET_KEY:-}" ] || export -n CLERK_SECRET_KEY
[ -z "${CLERK_WEBHOOK_SIGNING_SECRET:-}" ] || export -n CLERK_WEBHOOK_SIGNING_SECRET
if [ -n "${CLERK_PUBLISHABLE_KEY:-}" ] && [ -n "${CLERK_SECRET_KEY:-}" ]; then MODE=clerk; else MODE=demo; fi

ports="API_PORT=$API_PORT MOTO_PORT=$MOTO_PORT"
[ "$MODE" = demo ] && ports="$ports STUB_PORT=$STUB_PORT STUB_ADMIN_PORT=$STUB_ADMIN_PORT"
[ -f static-site/package.json ] && ports="$ports SITE_PORT=$SITE_PORT"
for kv in $ports; do
  if port_taken "${kv#*=}"; then
    echo "dev: port ${kv#*=} is taken (${kv%%=*}). Stop what uses it, or run e.g. ${kv%%=*}=$(( ${kv#*=} + 100 )) make dev" >&2
    exit 1
  fi
done

echo "dev: building (first time: about 10 minutes on 2 cores, less with more; later runs: seconds)"
cargo build -p public -p protected -p clerk-stub -p webhooks

start moto "$ROOT/.venv/bin/python" "$ROOT/scripts/local_secrets.py" --port "$MOTO_PORT"
wait_port "$MOTO_PORT"

if [ "$MODE" = demo ]; then
  CLERK_SECRET_KEY=sk_test_demoStandInKey0000000000000000000000
  start clerk-stub "${CARGO_TARGET_DIR:-$ROOT/target}/debug/clerk-stub" --port "$STUB_PORT" --admin-port "$STUB_ADMIN_PORT" \
    --secret-key "$CLERK_SECRET_KEY" --authorized-party "$SITE_ORIGIN"
  wait_port "$STUB_ADMIN_PORT"
  CLERK_PUBLISHABLE_KEY=$(curl -fsS "http://127.0.0.1:$STUB_ADMIN_PORT/config" | python3 scripts/json_field.py publishableKey)
  export CLERK_API_URL="http://127.0.0.1:$STUB_PORT"
fi

export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
export CLERK_SECRET_ID=${CLERK_SECRET_ID:-clerk/local}
export CLERK_PUBLISHABLE_KEY
export CLERK_AUTHORIZED_PARTIES=${CLERK_AUTHORIZED_PARTIES:-$SITE_ORIGIN,http://127.0.0.1:$SITE_PORT}
export RUST_LOG=${RUST_LOG:-info}

# Store the secret key in the local Secrets Manager: on standard input (printf is a shell
# builtin), never on a command line or in an environment, never printed.
printf '%s' "$CLERK_SECRET_KEY" | python3 scripts/put_secret.py "$CLERK_SECRET_ID" >/dev/null
unset CLERK_SECRET_KEY

# Clerk's webhooks (docs/webhooks.md): the webhooks function's signing secret (from .env's
# CLERK_WEBHOOK_SIGNING_SECRET, else the stand-in's demo one), on standard input like the key
# above, and its users table, both in moto.
export CLERK_WEBHOOK_SECRET_ID=${CLERK_WEBHOOK_SECRET_ID:-clerk/webhook-local} USERS_TABLE=${USERS_TABLE:-users-local}
WEBHOOK_SECRET=${CLERK_WEBHOOK_SIGNING_SECRET:-whsec_ZGVtb1N0YW5kSW5XZWJob29rU2VjcmV0MDAwMA==}
printf '{"CLERK_WEBHOOK_SIGNING_SECRET":"%s"}' "$WEBHOOK_SECRET" \
  | python3 scripts/put_secret.py "$CLERK_WEBHOOK_SECRET_ID" "Clerk webhook signing secret" >/dev/null
unset WEBHOOK_SECRET CLERK_WEBHOOK_SIGNING_SECRET
table=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MOTO_PORT/" \
  -H 'X-Amz-Target: DynamoDB_20120810.CreateTable' -H 'Content-Type: application/x-amz-json-1.0' \
  -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
  -d "{\"TableName\":\"$USERS_TABLE\",\"BillingMode\":\"PAY_PER_REQUEST\",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}")
[ "$table" = 200 ] || { echo "dev: could not create the users table $USERS_TABLE in moto (HTTP $table)" >&2; exit 1; }

start watch cargo lambda watch -A 127.0.0.1 -P "$API_PORT" --ignore-changes
wait_port "$API_PORT"
# Our API answers (not some other server on the port): the public function's health check.
healthy=""
for i in $(seq 1 600); do
  alive $((${#PIDS[@]} - 1))
  if curl -fsS "http://127.0.0.1:$API_PORT/api/health" 2>/dev/null | grep -q '"status"'; then healthy=1; break; fi
  sleep 0.2
done
[ -n "$healthy" ] || { echo "dev: http://127.0.0.1:$API_PORT/api/health did not answer; see $RUN/watch.log" >&2; exit 1; }

SITE=""
if [ -f static-site/package.json ]; then
  ./scripts/node-setup.sh static-site
  VITE_API_PROXY="http://127.0.0.1:$API_PORT" VITE_DEMO_ADMIN="http://127.0.0.1:$STUB_ADMIN_PORT" \
    VITE_CLERK_PUBLISHABLE_KEY="$CLERK_PUBLISHABLE_KEY" VITE_DEMO_MODE=$([ "$MODE" = demo ] && echo 1 || echo 0) \
    start site npm --prefix static-site run dev -- --host 127.0.0.1 --port "$SITE_PORT" --strictPort
  wait_port "$SITE_PORT"
  SITE="  Sign-in site:   $SITE_ORIGIN"
fi

for i in "${!PIDS[@]}"; do alive "$i"; done

echo
echo "Local stack is up ($MODE mode)."
echo "  API:            http://127.0.0.1:$API_PORT/api/{health,public,protected,me}"
[ -n "$SITE" ] && echo "$SITE"
echo "  Secrets Manager (moto, AWS SDK only): http://127.0.0.1:$MOTO_PORT   secret id: $CLERK_SECRET_ID"
if [ "$MODE" = demo ]; then
  echo "  Clerk stand-in: http://127.0.0.1:$STUB_PORT (admin http://127.0.0.1:$STUB_ADMIN_PORT)"
  TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$STUB_ADMIN_PORT/tokens" -H 'content-type: application/json' \
    -d "{\"sub\":\"user_demoAlice\",\"ttl_secs\":3600,\"azp\":\"$SITE_ORIGIN\"}" \
    | python3 scripts/json_field.py token)
  echo
  echo "Try it (a demo token for user_demoAlice, valid one hour):"
  echo "  curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$API_PORT/api/protected"
  echo "  curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$API_PORT/api/me"
  echo "More tokens: curl -s -X POST http://127.0.0.1:$STUB_ADMIN_PORT/tokens -d '{\"sub\":\"user_demoBob\"}' -H 'content-type: application/json'"
  # Machine tokens (docs/machine-auth.md): one of each kind, answered with who called.
  echo
  echo "Machine tokens at /api/machine (an API key, an M2M token, an OAuth access token; docs/machine-auth.md):"
  for kind in api_keys m2m_tokens oauth_tokens; do
    MTOKEN=$(curl -fsS -X POST "http://127.0.0.1:$STUB_ADMIN_PORT/machine/$kind" -H 'content-type: application/json' -d '{}' \
      | python3 scripts/json_field.py token)
    echo "  curl -s -H 'Authorization: Bearer $MTOKEN' http://127.0.0.1:$API_PORT/api/machine"
  done
fi
echo "Webhooks: http://127.0.0.1:$API_PORT/api/webhooks/clerk (users table $USERS_TABLE in moto). Send signed ones as Clerk would:"
echo "  ${CARGO_TARGET_DIR:-target}/debug/clerk-stub webhook single --url http://127.0.0.1:$API_PORT/api/webhooks/clerk"
echo "  (or duplicate, out-of-order, bad-signature, expired, deleted; --user user_demoBob; docs/webhooks.md)"
echo "Logs: $RUN/*.log   Stop: Ctrl-C"
wait
