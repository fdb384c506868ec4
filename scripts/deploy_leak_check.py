#!/usr/bin/env python3
"""Runs scripts/deploy.sh end to end without AWS and checks where the Clerk secret key goes.

Stand-ins first on PATH (sam, cargo, rustup, npm, npx, aws, python3, and the clerk-token binary
that the stand-in cargo "builds") record the argv and environment of every call; AWS is moto on a
loopback port (scripts/local_secrets.py); the stand-in `sam deploy` creates a stack with the outputs
deploy-site.sh reads. Under strace (when it works), every exec of every child is recorded too.

Passes when the marker secret key (sk_live_LEAKCHECK...):
  - is in no argv of any child, and in the environment of no child but the readiness check
    (`clerk-token readiness` reads it from there, and gets nothing else);
  - reached Secrets Manager (moto holds it) through standard input (put_secret.py's argv and
    environment do not hold it);
  - is not a template parameter: sam deploy gets ExistingSecretArn=<that secret> and ClerkSecretKey="".
Two runs: settings from a .env.deploy file (with a multi-line PEM), and from the environment with
an existing secret's ARN (no secret written then).
Usage: deploy_leak_check.py [DEPLOY_SH]   (needs the venv: scripts/setup.sh e2e)
"""
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_PY = os.path.join(ROOT, ".venv", "bin", "python")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from ports import free_port  # noqa: E402

# The script under test (an argument: to show that an older deploy.sh fails this check).
DEPLOY = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "scripts", "deploy.sh")
MARK = "sk_live_LEAKCHECK" + secrets.token_hex(12)
PK = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"  # clerk.example.com$
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAleak\n-----END PUBLIC KEY-----"
failures = []

RECORD = r"""#!/usr/bin/env bash
# Stand-in: records argv (NUL-separated) and the environment it was started with (builtins only:
# it starts no process of its own).
n="$LEAK_LOG/${EPOCHREALTIME/./}-$$"
printf '%s\0' "$NAME" "$@" >"$n.argv"
while IFS= read -r -d '' kv; do printf '%s\0' "$kv"; done </proc/$$/environ >"$n.env"
"""

STUBS = {
    "sam": r"""
if [ "${1:-}" = deploy ]; then "$LEAK_PY" "$LEAK_DIR/fake_stack.py" "$@" || exit 1; fi
exit 0
""",
    "cargo": r"""
# `cargo build ... --bin clerk-token`: "build" the readiness check (a recording stand-in);
# `cargo run ... -- readiness` (as deploy.sh once did): run it.
mkdir -p "$CARGO_TARGET_DIR/release"
cp "$LEAK_DIR/clerk-token" "$CARGO_TARGET_DIR/release/clerk-token"
if [ "${1:-}" = run ]; then while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done; shift; exec "$CARGO_TARGET_DIR/release/clerk-token" "$@"; fi
exit 0
""",
    "rustup": "exit 0\n",
    "npm": "exit 0\n",
    "npx": "exit 0\n",
    "aws": "echo 'aws: not expected in a deploy' >&2; exit 1\n",
    "python3": 'exec "$LEAK_PY" "$@"\n',
}

CLERK_TOKEN = r"""
[ "${1:-}" = readiness ] || exit 2
echo '{"ready":true,"frontendApi":"clerk.example.com","instance":"production","extraOrigins":"https://app.example.com"}'
"""

FAKE_STACK = r'''
"""The stand-in `sam deploy`: the parameters parsed as SAM parses them (each one the template's),
then a stack in moto with the outputs deploy-site.sh reads."""
import json, sys, boto3
from samcli.cli.types import CfnParameterOverridesType
from samcli.yamlhelper import yaml_parse
args = sys.argv[1:]
start = args.index("--parameter-overrides") + 1
end = next((i for i in range(start, len(args)) if args[i].startswith("--")), len(args))
params = CfnParameterOverridesType().convert(tuple(args[start:end]), None, None)
with open("template.yaml") as f:
    declared = yaml_parse(f.read())["Parameters"]
unknown = sorted(set(params) - set(declared))
if unknown:
    sys.exit(f"sam deploy (stand-in): parameters not in template.yaml: {unknown}")
name = args[args.index("--stack-name") + 1]
cf = boto3.client("cloudfront")
dist = cf.create_distribution(DistributionConfig={
    "CallerReference": name, "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.example.com",
                "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "https-only",
                             "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                             "TrustedSigners": {"Enabled": False, "Quantity": 0}},
})["Distribution"]["Id"]
template = {"Resources": {"Site": {"Type": "AWS::S3::Bucket"}}, "Outputs": {
    "ApiUrl": {"Value": "https://api.example.com"}, "SiteBucketName": {"Value": {"Ref": "Site"}},
    "DistributionId": {"Value": dist}, "SiteUrl": {"Value": "https://site.example.com"}}}
boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
'''


def write(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def records(log):
    out = []
    for name in sorted(os.listdir(log)):
        if name.endswith(".argv"):
            base = os.path.join(log, name[:-5])
            with open(base + ".argv", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0")[:-1]]
            with open(base + ".env", "rb") as f:
                env = dict(
                    kv.decode("utf-8", "replace").split("=", 1)
                    for kv in f.read().split(b"\0") if b"=" in kv
                )
            out.append((argv, env))
    return out


def strace_execs(path):
    """(program, line) of every execve in an strace -v log: argv and environment are in the line."""
    execs, root, readiness = [], None, set()
    with open(path, errors="replace") as f:
        for line in f:
            pid = line.split(" ", 1)[0]
            root = root or pid
            # The deploy.sh process itself (found by env along PATH) was started by this test.
            if " execve(" in line and pid != root:
                prog = line.split(' execve("', 1)[1].split('"', 1)[0] if ' execve("' in line else "?"
                if prog.endswith("/clerk-token"):
                    readiness.add(pid)
                # The stand-in readiness check is a script: env and bash run in its process.
                execs.append(("clerk-token" if pid in readiness else prog, line))
    return execs


def run_deploy(tmp, label, env_file, extra_env, use_strace):
    log = os.path.join(tmp, "log-" + label)
    os.makedirs(log)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "AWS_"))}
    env.update(extra_env)
    env.update({
        "PATH": os.path.join(tmp, "bin") + ":" + os.path.join(ROOT, ".venv", "bin") + ":" + env["PATH"],
        "LEAK_LOG": log, "LEAK_DIR": tmp, "LEAK_PY": VENV_PY,
        "CARGO_TARGET_DIR": os.path.join(tmp, "target"),
        "DEPLOY_ENV_FILE": env_file, "STACK_NAME": "leak-" + label, "SAM_CLI_TELEMETRY": "0",
    })
    cmd = [DEPLOY]
    trace = os.path.join(tmp, f"strace-{label}.log")
    if use_strace:
        cmd = ["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-s", "100000", "-v",
               "-o", trace] + cmd
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        failures.append(f"{label}: deploy.sh exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return [], []
    if MARK in p.stdout or MARK in p.stderr:
        failures.append(f"{label}: the secret key was printed")
    return records(log), (strace_execs(trace) if use_strace else [])


def check_run(label, recs, execs, expect_put, key_given=True):
    names = [argv[0] for argv, _ in recs]
    for argv, env in recs:
        if any(MARK in a for a in argv):
            failures.append(f"{label}: the secret key is on the command line of {argv[0]}: {argv[:4]}...")
        holders = [k for k, v in env.items() if MARK in v]
        if argv[0] == "clerk-token":
            if holders != (["CLERK_SECRET_KEY"] if key_given else []):
                failures.append(f"{label}: clerk-token readiness got the key in {holders or 'nothing'}")
        elif holders:
            failures.append(f"{label}: {argv[0]} {' '.join(argv[1:3])} has the key in its environment ({holders})")
    for needed in ("cargo", "clerk-token", "sam", "npm"):
        if needed not in names:
            failures.append(f"{label}: {needed} was never called (the run did not go end to end)")
    puts = [argv for argv, _ in recs if argv[0] == "python3" and any(a.endswith("put_secret.py") for a in argv)]
    if expect_put and len(puts) != 1:
        failures.append(f"{label}: put_secret.py ran {len(puts)} times, expected once")
    if not expect_put and puts:
        failures.append(f"{label}: put_secret.py ran although CLERK_SECRET_ARN was given")
    deploys = [argv for argv, _ in recs if argv[0] == "sam" and argv[1:2] == ["deploy"]]
    if len(deploys) != 1:
        failures.append(f"{label}: sam deploy ran {len(deploys)} times")
        return None
    params = {}
    argv = deploys[0]
    for a in argv[argv.index("--parameter-overrides") + 1:]:
        if a.startswith("--"):
            break
        k, _, v = a.partition("=")
        params[k] = v
    if params.get("ClerkSecretKey") != '""':
        failures.append(f"{label}: sam deploy got ClerkSecretKey={params.get('ClerkSecretKey')!r}, expected \"\"")
    # strace: every exec of every child (not only the stand-ins).
    for prog, line in execs:
        if MARK in line and prog != "clerk-token":
            failures.append(f"{label}: strace: {prog} was started with the key in its argv or environment")
    if key_given and execs and not any(p == "clerk-token" and MARK in line for p, line in execs):
        failures.append(f"{label}: strace: clerk-token readiness did not get the key")
    return params


def main():
    if not os.path.exists(VENV_PY):
        sys.exit("deploy_leak_check: no .venv: run scripts/setup.sh e2e first")
    use_strace = shutil.which("strace") is not None and subprocess.run(
        ["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True).returncode == 0
    tmp = tempfile.mkdtemp(prefix="deploy-leak-")
    moto = None
    try:
        os.makedirs(os.path.join(tmp, "bin"))
        for name, body in STUBS.items():
            write(os.path.join(tmp, "bin", name), RECORD.replace("$NAME", name) + body)
        write(os.path.join(tmp, "clerk-token"), RECORD.replace("$NAME", "clerk-token") + CLERK_TOKEN)
        write(os.path.join(tmp, "fake_stack.py"), FAKE_STACK, 0o644)

        port = free_port()
        moto = subprocess.Popen([VENV_PY, os.path.join(ROOT, "scripts", "local_secrets.py"), "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "local",
               "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true"}
        import boto3  # noqa: E402 (the venv's)
        sm = boto3.client("secretsmanager", endpoint_url=aws["AWS_ENDPOINT_URL"], region_name="eu-west-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
        for _ in range(300):
            try:
                sm.list_secrets()
                break
            except Exception:  # noqa: BLE001 (not up yet)
                if moto.poll() is not None:
                    sys.exit("deploy_leak_check: the local AWS stand-in did not start")
                time.sleep(0.1)

        # 1. Settings in .env.deploy (a multi-line PEM, a comment, the region), the key stored by the run.
        env_file = os.path.join(tmp, "env.deploy")
        write(env_file, f"""# deploy settings
CLERK_PUBLISHABLE_KEY={PK}
export CLERK_SECRET_KEY={MARK}   # the secret
CLERK_AUTHORIZED_PARTIES=https://app.example.com
CLERK_JWT_KEY="{PEM}"
AWS_REGION=eu-west-1
""", 0o600)
        recs, execs = run_deploy(tmp, "file", env_file, aws, use_strace)
        params = check_run("file", recs, execs, expect_put=True) if recs else None
        if params is not None:
            arn = params.get("ExistingSecretArn", "")
            try:
                stored = sm.get_secret_value(SecretId=arn)["SecretString"] if arn else None
            except Exception as e:  # noqa: BLE001 (reported)
                stored = f"<{e}>"
            if stored != MARK:
                failures.append(f"file: the secret {arn!r} in Secrets Manager does not hold the key")
            if ":leak-file/clerk-secret-key" not in arn:
                failures.append(f"file: unexpected secret ARN {arn!r}")
            if params.get("ClerkJwtKey") != PEM.replace("\n", "\\n") + "\\n":
                failures.append(f"file: ClerkJwtKey parameter is {params.get('ClerkJwtKey')!r}")
            if params.get("ClerkPublishableKey") != PK:
                failures.append("file: ClerkPublishableKey parameter is wrong")

        # 2. Settings in the exported environment, an existing secret: nothing written, no key at all.
        existing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clerk-AbCdEf"
        versions_before = len(sm.list_secrets()["SecretList"])
        recs, execs = run_deploy(tmp, "environ", os.path.join(tmp, "absent"), {
            **aws, "AWS_REGION": "eu-west-1", "CLERK_PUBLISHABLE_KEY": PK, "CLERK_SECRET_ARN": existing,
            "CLERK_AUTHORIZED_PARTIES": "cloudfront"}, use_strace)
        params = check_run("environ", recs, execs, expect_put=False, key_given=False) if recs else None
        if params is not None:
            if params.get("ExistingSecretArn") != existing:
                failures.append(f"environ: ExistingSecretArn is {params.get('ExistingSecretArn')!r}")
            if params.get("ClerkJwtKey") != '""':
                failures.append(f"environ: ClerkJwtKey is {params.get('ClerkJwtKey')!r}, expected \"\"")
            if len(sm.list_secrets()["SecretList"]) != versions_before:
                failures.append("environ: a secret was written although CLERK_SECRET_ARN was given")

        # 3. The key exported in the environment too: deploy.sh takes it back from every child.
        recs, execs = run_deploy(tmp, "exported", os.path.join(tmp, "absent"), {
            **aws, "AWS_REGION": "eu-west-1", "CLERK_PUBLISHABLE_KEY": PK, "CLERK_SECRET_KEY": MARK,
            "CLERK_AUTHORIZED_PARTIES": "https://app.example.com"}, use_strace)
        if recs:
            check_run("exported", recs, execs, expect_put=True)
    finally:
        if moto:
            moto.terminate()
            moto.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        for f in failures:
            print(f"deploy_leak_check: FAIL: {f}", file=sys.stderr)
        sys.exit(1)
    print("deploy_leak_check: the secret key went to Secrets Manager on stdin and to the readiness "
          f"check's environment only; in no argv, in no other child's environment (stand-ins{', strace' if use_strace else ''})")


if __name__ == "__main__":
    main()
