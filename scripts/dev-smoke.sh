#!/usr/bin/env bash
# Tests the README's run command itself: `make dev` on free ports comes up, answers a demo token,
# refuses a taken port with a clear message, stops with the reason when a service cannot bind;
# its local Secrets Manager refuses what a browser page could send and still answers the SDK; with
# real keys the secret key is in no process's environment or command line; SIGTERM stops it; paths
# outside the API answer the public function's JSON 404 (not cargo lambda's page listing the
# functions); Ctrl-C typed on its terminal stops everything it started and `make dev` exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$PWD/.venv/bin/python
{ read -r API_PORT; read -r MOTO_PORT; read -r STUB_PORT; read -r STUB_ADMIN_PORT; read -r SITE_PORT; } < <(python3 scripts/ports.py 5)
export API_PORT MOTO_PORT STUB_PORT STUB_ADMIN_PORT SITE_PORT
# Logs of these runs in a folder of their own: another `make dev` in this checkout writes .run/.
DEV_RUN_DIR=$(mktemp -d)
export DEV_RUN_DIR
out=$(mktemp)
fail() { echo "dev-smoke: FAIL: $*" >&2; cat "$out" >&2; exit 1; }
# Whatever run is up when this script ends (a failure) is stopped: dev.sh by SIGTERM, `make dev` on
# its terminal by Ctrl-C.
dev="" ctrl_c=$(mktemp -u) envf=""
stop_dev() {
  if [ -n "$dev" ] && kill -0 "$dev" 2>/dev/null; then
    if [ "$dev_kind" = pty ]; then touch "$ctrl_c"; else kill -TERM "$dev"; fi
    wait "$dev" || true
  fi
  rm -f "$ctrl_c" "$envf"
}
trap stop_dev EXIT

# A taken port is refused with a message naming it.
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$API_PORT" &
holder=$!
sleep 0.5
if ./scripts/dev.sh >"$out" 2>&1; then fail "dev.sh started although port $API_PORT was taken"; fi
grep -q "port $API_PORT is taken" "$out" || fail "no clear message for the taken port"
kill $holder; wait $holder 2>/dev/null || true

# A port that another process binds after that check (here moto, given the API port too) stops
# the run with the service's own error, never a stack whose API is some other server.
if API_PORT=$MOTO_PORT timeout 300 ./scripts/dev.sh >"$out" 2>&1; then fail "dev.sh started although cargo lambda watch could not bind"; fi
grep -q "dev: watch stopped" "$out" || fail "no clear message when cargo lambda watch stops"
grep -q "Address in use" "$out" || fail "the watch log's reason is not shown"

# Real keys (clerk mode, from an env file; nothing calls Clerk here): the secret key reaches the
# local Secrets Manager, and no process's environment or command line holds it. SIGTERM: status 0.
envf=$(mktemp)
mark=sk_test_LEAKCHECK$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf 'CLERK_PUBLISHABLE_KEY=pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk\nCLERK_SECRET_KEY=%s\n' "$mark" >"$envf"
# (and a webhook signing secret, a secret as well: whsec_ and the base64 of 24 bytes)
whmark=whsec_$(head -c 24 /dev/urandom | base64 | tr -d '\n')
printf 'CLERK_WEBHOOK_SIGNING_SECRET=%s\n' "$whmark" >>"$envf"
DEV_ENV_FILE=$envf setsid ./scripts/dev.sh >"$out" 2>&1 &
dev=$! dev_kind=setsid
for _ in $(seq 1 1200); do grep -q "^Logs: " "$out" && break; kill -0 $dev 2>/dev/null || fail "dev.sh (clerk mode) exited"; sleep 0.5; done
grep -q "Local stack is up (clerk mode)" "$out" || fail "the stack did not come up in clerk mode"
# (grep reads the key from a pipe: on its own command line it would find itself.)
leaks=$(grep -lsF -f <(printf '%s\n' "$mark") /proc/[0-9]*/environ /proc/[0-9]*/cmdline || true)
[ -z "$leaks" ] || fail "the secret key is in the environment or command line of: $(for f in $leaks; do d=${f%/*}; tr '\0' ' ' <"$d/cmdline" | cut -c1-80; echo; done)"
grep -qF "$mark" "$out" && fail "the secret key was printed"
leaks=$(grep -lsF -f <(printf '%s\n' "$whmark") /proc/[0-9]*/environ /proc/[0-9]*/cmdline || true)
[ -z "$leaks" ] || fail "the webhook signing secret is in the environment or command line of: $leaks"
grep -qF "$whmark" "$out" && fail "the webhook signing secret was printed"
printf '%s' "$mark" | "$PY" scripts/check_local_secrets.py "$MOTO_PORT" clerk/local >>"$out" 2>&1 \
  || fail "clerk mode: the secret key is not in the local Secrets Manager (or it answers browsers)"
kill -TERM $dev
status=0; wait $dev || status=$?
grep -q "dev: stopped" "$out" || fail "no clean stop on SIGTERM"
[ "$status" = 0 ] || fail "dev.sh exited $status after SIGTERM"

# `make dev` itself, on a terminal (a pseudo-terminal), stopped by typing Ctrl-C on it.
: >"$out"
python3 scripts/pty_run.py --out "$out" --ctrl-c-when "$ctrl_c" --timeout 30 -- make dev &
dev=$! dev_kind=pty
# "Logs:" is the last line dev.sh prints, after the demo token (minted once the stack is up).
for _ in $(seq 1 1200); do grep -q "^Logs: " "$out" && break; kill -0 $dev 2>/dev/null || fail "make dev exited"; sleep 0.5; done
grep -q "Local stack is up" "$out" || fail "the stack did not come up"
token=$(grep -o "Bearer [^']*" "$out" | head -1 | cut -d' ' -f2 || true)
[ -n "$token" ] || fail "no demo token printed"
body=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$API_PORT/api/protected") || fail "protected call failed"
echo "$body" | grep -q '"userId":"user_demoAlice"' || fail "unexpected body: $body"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/api/protected")
[ "$status" = 401 ] || fail "no token gave $status"

# Webhooks: the stand-in's signed deliveries reach the webhooks function and its table in moto;
# a duplicate is applied once, a forged signature is refused.
hook() { "${CARGO_TARGET_DIR:-target}/debug/clerk-stub" webhook "$1" --url "http://127.0.0.1:$API_PORT/api/webhooks/clerk" --user user_demoSmoke; }
sent=$(hook duplicate) || fail "clerk-stub webhook duplicate failed: $sent"
grep -q '1/2: .* -> 200 .*"outcome":"written"' <<<"$sent" && grep -q '2/2: .* -> 200 .*"outcome":"duplicate"' <<<"$sent" \
  || fail "a duplicate webhook was not applied once: $sent"
sent=$(hook bad-signature) || fail "clerk-stub webhook bad-signature failed: $sent"
grep -q -- '-> 400 .*webhook-signature-invalid' <<<"$sent" || fail "a forged webhook was not refused: $sent"
grep -q "clerk-stub webhook single" "$out" || fail "make dev does not say how to send webhooks"

# Paths outside /api: the public function's JSON 404, not cargo lambda's page listing the functions.
for path in /nope / /lambda-url /x/y/z; do
  resp=$(curl -s -w '\n%{http_code} %{content_type}' "http://127.0.0.1:$API_PORT$path")
  meta=$(tail -n1 <<<"$resp"); body=$(sed '$d' <<<"$resp")
  [ "${meta%% *}" = 404 ] || fail "GET $path answered ${meta%% *}, expected 404: $body"
  case "$meta" in *application/json*) ;; *) fail "GET $path is not JSON ($meta): $body" ;; esac
  [ "$(python3 scripts/json_field.py reason <<<"$body")" = route-not-found ] || fail "GET $path: no reason route-not-found: $body"
  if grep -qiE 'public|protected|clerk-stub' <<<"$body"; then fail "GET $path lists function names: $body"; fi
done

# The local Secrets Manager: closed to what a page in the browser could send, open to the SDK.
printf '%s' sk_test_demoStandInKey0000000000000000000000 \
  | "$PY" scripts/check_local_secrets.py "$MOTO_PORT" clerk/local >>"$out" 2>&1 \
  || fail "the local Secrets Manager answers browsers (or not the SDK)"

# Ctrl-C on the terminal: everything stops, and make exits 0 without "Error 130".
touch "$ctrl_c"
status=0; wait $dev || status=$?
grep -q "dev: stopped" "$out" || fail "no clean stop"
[ "$status" = 0 ] || fail "make dev exited $status after Ctrl-C"
if grep -q "Error 130\|Interrupt" "$out"; then fail "make reported the Ctrl-C as an error"; fi
sleep 1
for p in $API_PORT $MOTO_PORT $STUB_PORT $STUB_ADMIN_PORT $([ -f static-site/package.json ] && echo "$SITE_PORT"); do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p still open after stop"; fi
done
echo "dev-smoke: make dev came up, answered 200/401 and JSON 404s outside /api, kept its Secrets Manager from browsers, refused a taken port, stopped with the reason when a service could not bind, and stopped on Ctrl-C with status 0"
rm -rf "$out" "$DEV_RUN_DIR"
