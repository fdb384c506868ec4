"""Cold start and memory of the release `protected` bootstrap, run as Lambda runs it: against
`cargo lambda watch --only-lambda-apis`, with the secret from moto and the key set from the Clerk
stand-in, all on loopback.

  python3 scripts/bench_lambda.py BOOTSTRAP STUB_BIN TOKENS_JSON_OUT [--runs N] [--load N]

Prints JSON: cold start from process spawn to the first verified 200 (median of N runs) with its
split (config, secret, key set, as the function logs them), and the peak RSS of one process that
served N warm requests.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import lambda_harness as h  # noqa: E402

ROOT = h.ROOT


def start_moto():
    port = h.free_port()
    p = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    h.wait_port(port)
    return p, port


def start_stub(stub_bin):
    p = subprocess.Popen([stub_bin], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    info = json.loads(p.stdout.readline())
    return p, info


def post(url, body):
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main(argv):
    bootstrap, stub_bin = argv[0], argv[1]
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 10
    load = int(argv[argv.index("--load") + 1]) if "--load" in argv else 2000
    moto, moto_port = start_moto()
    stub, info = start_stub(stub_bin)
    watch = h.Watch()
    procs = [moto, stub]
    try:
        import boto3
        sm = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
        sm.create_secret(Name="clerk/bench", SecretString="sk_test_stubSecretKey0000000000000000000000000")
        token = post(info["adminUrl"] + "/tokens", {"ttl_secs": 3600, "azp": "http://localhost:5173"})["token"]
        env = h.function_env(watch.port, "protected", {
            "CLERK_PUBLISHABLE_KEY": info["publishableKey"], "CLERK_AUTHORIZED_PARTIES": "http://localhost:5173",
            "CLERK_SECRET_ID": "clerk/bench", "CLERK_API_URL": info["apiUrl"],
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_EC2_METADATA_DISABLED": "true", "RUST_LOG": "info",
        })
        ev = h.event("/api/protected", {"authorization": f"Bearer {token}"})
        colds, splits = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn = subprocess.Popen([bootstrap], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            resp = h.invoke(watch.port, "protected", ev)
            colds.append((time.perf_counter() - t0) * 1000)
            assert resp["statusCode"] == 200, resp
            os.killpg(fn.pid, signal.SIGKILL)
            out = fn.stdout.read().decode(errors="replace")
            split = {}
            for line in out.splitlines():
                try:
                    f = json.loads(line[line.index("{"):]).get("fields", {})
                except ValueError:
                    continue
                if f.get("message") == "warmed":
                    split.update(secret_ms=f["secret_us"] / 1000, key_set_ms=f["key_set_us"] / 1000)
                elif f.get("message") == "init done":
                    split.update(config_ms=f["config_us"] / 1000, init_ms=f["init_ms"])
            splits.append(split)
        # Peak RSS of one process serving `load` warm requests.
        timed = subprocess.Popen(["/usr/bin/time", "-f", "%M", bootstrap], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, start_new_session=True)
        for _ in range(load):
            assert h.invoke(watch.port, "protected", ev)["statusCode"] == 200
        # Stop the bootstrap itself (the child of /usr/bin/time), so that time reports its peak RSS.
        child = subprocess.run(["pgrep", "-P", str(timed.pid)], capture_output=True, text=True).stdout.split()
        for pid in child:
            os.kill(int(pid), signal.SIGTERM)
        try:
            timed.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(timed.pid, signal.SIGKILL)
        err = timed.stderr.read().decode().strip().splitlines()
        peak_kib = int(err[-1]) if err and err[-1].isdigit() else None
        med = lambda k: statistics.median(s[k] for s in splits if k in s) if any(k in s for s in splits) else None
        print(json.dumps({
            "cold_start_ms_median": statistics.median(colds), "cold_start_ms_min": min(colds), "runs": runs,
            "split_ms_median": {"config": med("config_ms"), "secret": med("secret_ms"), "key_set": med("key_set_ms"), "init_total": med("init_ms")},
            "peak_rss_kib_after_load": peak_kib, "load_requests": load,
        }))
    finally:
        watch.stop()
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main(sys.argv[1:])
