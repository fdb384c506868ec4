#!/usr/bin/env python3
"""Checks that the local Secrets Manager of `make dev` cannot be read from a web browser.

  check_local_secrets.py PORT SECRET_ID     against a running one (dev-smoke: the `make dev` stack);
                                            the secret's value comes on stdin
  check_local_secrets.py --start [CMD...]   starts CMD (default: scripts/local_secrets.py) on a free
                                            port, stores a marker secret, checks, stops it

Sends exactly what a page in the developer's browser would send: a CORS preflight and a
GetSecretValue POST with `Origin: https://evil.example`, a request with a foreign Host (DNS
rebinding) and a `no-cors` one with only Sec-Fetch headers. Each must be refused with no
Access-Control-Allow-* header and without the secret in the answer. The AWS SDK (boto3, no Origin)
and the same raw POST without browser headers must still read the secret.
"""
import http.client
import json
import os
import subprocess
import sys
import time

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ports import free_port  # noqa: E402

EVIL = "https://evil.example"
failures = []


def request(port, method, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, "/", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def expect_refused(what, port, method, headers, body, secret):
    status, hdrs, text = request(port, method, headers, body)
    cors = sorted(h for h in hdrs if h.startswith("access-control-allow"))
    problems = []
    if status != 403:
        problems.append(f"status {status}, expected 403")
    if cors:
        problems.append(f"CORS headers {cors}")
    if secret in text:
        problems.append("the secret is in the answer")
    if problems:
        failures.append(f"{what}: " + "; ".join(problems))
    else:
        print(f"check_local_secrets: refused as it must: {what}")


def check(port, secret_id, secret):
    host = f"127.0.0.1:{port}"
    get = json.dumps({"SecretId": secret_id})
    api = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
    # moto checks no signature: any SigV4-shaped header naming the service and region will do (a page
    # may set it once the preflight allowed it). Without it moto routes the call to S3.
    signed = {**api, "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/"
              "secretsmanager/aws4_request, SignedHeaders=host, Signature=00"}
    expect_refused(
        "CORS preflight from https://evil.example",
        port,
        "OPTIONS",
        {
            "Host": host,
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
        None,
        secret,
    )
    expect_refused(
        "CORS preflight from https://evil.example asking for authorization",
        port,
        "OPTIONS",
        {
            "Host": host,
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
        },
        None,
        secret,
    )
    expect_refused("GetSecretValue POST with Origin: https://evil.example", port, "POST",
                   {"Host": host, "Origin": EVIL, **api}, get, secret)
    expect_refused("signed-looking GetSecretValue POST with Origin: https://evil.example", port,
                   "POST", {"Host": host, "Origin": EVIL, **signed}, get, secret)
    expect_refused("signed-looking GetSecretValue POST with Origin: null", port, "POST",
                   {"Host": host, "Origin": "null", **signed}, get, secret)
    expect_refused("GetSecretValue POST with a foreign Host (DNS rebinding)", port, "POST",
                   {"Host": f"evil.example:{port}", **signed}, get, secret)
    expect_refused("no-cors POST (Sec-Fetch-Mode, no Origin)", port, "POST",
                   {"Host": host, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Site": "cross-site",
                    **signed}, get, secret)

    # What must keep working: the same raw call as the SDK makes it, and boto3 itself.
    status, _, text = request(port, "POST", {"Host": host, **signed}, get)
    if status != 200 or secret not in text:
        failures.append(f"the same POST without browser headers got {status}, not the secret")
    for endpoint in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
        try:
            value = sm.get_secret_value(SecretId=secret_id)["SecretString"]
        except Exception as e:  # noqa: BLE001 (reported as a failure)
            failures.append(f"boto3 GetSecretValue at {endpoint} failed: {e}")
            continue
        if value != secret:
            failures.append(f"boto3 GetSecretValue at {endpoint} read another value")
        else:
            print(f"check_local_secrets: boto3 (no Origin) reads the secret at {endpoint}")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--start":
        here = os.path.dirname(os.path.abspath(__file__))
        cmd = args[1:] or [sys.executable, os.path.join(here, "local_secrets.py"), "--port"]
        port = free_port()
        proc = subprocess.Popen(cmd + [str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            sm = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id="local",
                              aws_secret_access_key="local")
            for _ in range(300):
                try:
                    sm.list_secrets()
                    break
                except Exception:  # noqa: BLE001 (not up yet)
                    if proc.poll() is not None:
                        sys.exit(f"check_local_secrets: {cmd[0]} exited with {proc.returncode}")
                    time.sleep(0.1)
            secret_id, secret = "clerk/local", "sk_live_LEAKCHECKlocalSecrets0000000000"
            sm.create_secret(Name=secret_id, SecretString=secret)
            check(port, secret_id, secret)
        finally:
            proc.terminate()
            proc.wait(10)
    elif len(args) == 2:
        check(int(args[0]), args[1], sys.stdin.read().strip())
    else:
        sys.exit(__doc__)
    if failures:
        for f in failures:
            print(f"check_local_secrets: FAIL: {f}", file=sys.stderr)
        sys.exit(1)
    print("check_local_secrets: the local Secrets Manager is closed to browsers and open to the SDK")


if __name__ == "__main__":
    main()
