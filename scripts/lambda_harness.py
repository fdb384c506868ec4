"""Runs a built `bootstrap` against `cargo lambda watch --only-lambda-apis` (the Lambda runtime
API emulation) and invokes it with an API Gateway v2 event. Used by the SAM build check and the
cold-start benchmark.

  python3 scripts/lambda_harness.py check BOOTSTRAP NAME PATH [--env K=V ...]
      starts the bootstrap, invokes `GET PATH`, prints the response, exits 0 on a 2xx/4xx JSON answer
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Watch:
    """cargo lambda watch --only-lambda-apis on a free port."""

    def __init__(self):
        self.port = free_port()
        env = dict(os.environ, PATH=f"{ROOT}/.venv/bin:{os.environ['PATH']}")
        self.log = open(ROOT / "target" / f"watch-apis-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_port(self.port)

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=5)
        except Exception:
            os.killpg(self.proc.pid, signal.SIGKILL)


def function_env(port, name, extra):
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt/{name}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": "us-east-1",
    }
    env.update(extra)
    return env


def event(path, headers=None):
    h = {"host": "local", **(headers or {})}
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "local", "domainPrefix": "local",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "harness"},
            "requestId": "harness", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 1800000000000,
        },
        "isBase64Encoded": False,
    }


def invoke(port, name, ev, timeout=60):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations",
        data=json.dumps(ev).encode(), method="POST", headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def main(argv):
    if len(argv) < 4 or argv[0] != "check":
        raise SystemExit(__doc__)
    bootstrap, name, path = argv[1], argv[2], argv[3]
    extra = dict(kv.split("=", 1) for kv in argv[5:]) if len(argv) > 4 and argv[4] == "--env" else {}
    watch = Watch()
    fn = subprocess.Popen([bootstrap], env=function_env(watch.port, name, extra), start_new_session=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        resp = invoke(watch.port, name, event(path))
        body = json.loads(resp.get("body") or "null")
        print(json.dumps({"statusCode": resp.get("statusCode"), "body": body}))
        ok = isinstance(resp.get("statusCode"), int) and resp["statusCode"] < 500 and isinstance(body, dict)
        return 0 if ok else 1
    finally:
        os.killpg(fn.pid, signal.SIGKILL)
        watch.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
