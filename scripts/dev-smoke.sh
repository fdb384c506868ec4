#!/usr/bin/env bash
# Tests the README's run command itself: `make dev` on free ports comes up, answers a demo token,
# refuses a taken port with a clear message, stops with the reason when a service cannot bind,
# and stops everything it started on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
{ read -r API_PORT; read -r MOTO_PORT; read -r STUB_PORT; read -r STUB_ADMIN_PORT; read -r SITE_PORT; } < <(python3 scripts/ports.py 5)
export API_PORT MOTO_PORT STUB_PORT STUB_ADMIN_PORT SITE_PORT
out=$(mktemp)
fail() { echo "dev-smoke: FAIL: $*" >&2; cat "$out" >&2; exit 1; }

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

setsid ./scripts/dev.sh >"$out" 2>&1 &
dev=$!
# "Logs:" is the last line dev.sh prints, after the demo token (minted once the stack is up).
for _ in $(seq 1 600); do grep -q "^Logs: " "$out" && break; kill -0 $dev 2>/dev/null || fail "dev.sh exited"; sleep 0.5; done
grep -q "Local stack is up" "$out" || fail "the stack did not come up"
token=$(grep -o "Bearer [^']*" "$out" | head -1 | cut -d' ' -f2 || true)
[ -n "$token" ] || fail "no demo token printed"
body=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$API_PORT/api/protected") || fail "protected call failed"
echo "$body" | grep -q '"userId":"user_demoAlice"' || fail "unexpected body: $body"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/api/protected")
[ "$status" = 401 ] || fail "no token gave $status"
kill -TERM $dev; wait $dev 2>/dev/null || true
grep -q "dev: stopped" "$out" || fail "no clean stop"
sleep 1
for p in $API_PORT $MOTO_PORT $STUB_PORT $STUB_ADMIN_PORT; do
  if (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p still open after stop"; fi
done
echo "dev-smoke: make dev came up, answered 200/401, refused a taken port, stopped with the reason when a service could not bind, and stopped cleanly"
rm -f "$out"
