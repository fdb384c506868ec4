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
And when the marker AWS credentials (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) reach the steps that
call AWS (sam deploy, put_secret.py, the site's upload) but no cargo, rustup, npm, npx, sam build,
readiness check, env_file.py or json_field.py.
Three runs: settings from a .env.deploy file (with a multi-line PEM), from the environment with
an existing secret's ARN (no secret written then), and the key exported in the environment.
Then: a malformed .env.deploy (`CLERK_SECRET_KEY= sk_live_...`, ...) stops env_file.py and deploy.sh
with the line number and without printing the key; put_secret.py given a secret's ARN (rotation)
writes a new version of that secret and creates none.
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
AWS_MARK = "AWSLEAKCHECK" + secrets.token_hex(12)  # the caller's AWS secret access key
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


def run_deploy(tmp, label, env_file, extra_env, use_strace, expect_fail=False):
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
    if MARK in p.stdout or MARK in p.stderr:
        failures.append(f"{label}: the secret key was printed")
    if expect_fail:
        if p.returncode == 0:
            failures.append(f"{label}: deploy.sh succeeded, expected it to stop")
        return records(log), p.stderr
    if p.returncode != 0:
        failures.append(f"{label}: deploy.sh exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        return [], []
    return records(log), (strace_execs(trace) if use_strace else [])


# Programs that never get AWS credentials (sam build runs cargo lambda: build scripts).
NO_AWS = ("cargo", "rustup", "npm", "npx", "node", "clerk-token", "node-setup.sh", "setup.sh")


def check_aws(label, recs, execs):
    """The caller's AWS credentials: in the steps that call AWS, in no build step."""
    for argv, env in recs:
        holders = sorted(k for k, v in env.items() if AWS_MARK in v)
        # python3 - (a heredoc): the stack's outputs, the site's upload.
        calls_aws = (argv[0] == "sam" and argv[1:2] == ["deploy"]) or (
            argv[0] == "python3" and (argv[1:2] == ["-"] or any(a.endswith("put_secret.py") for a in argv)))
        if holders and not calls_aws:
            failures.append(f"{label}: {argv[0]} {' '.join(argv[1:3])} has the AWS credentials ({holders})")
        if calls_aws and "AWS_SECRET_ACCESS_KEY" not in holders:
            failures.append(f"{label}: {argv[0]} {' '.join(argv[1:3])} calls AWS without the caller's credentials")
    for prog in sorted({prog for prog, line in execs if AWS_MARK in line}):
        if os.path.basename(prog) in NO_AWS:
            failures.append(f"{label}: strace: {prog} was started with the AWS credentials")


def check_run(label, recs, execs, expect_put, key_given=True):
    check_aws(label, recs, execs)
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


MALFORMED = [  # (file, the line to report): each one with the key where it must not be printed
    (f"CLERK_SECRET_KEY= {MARK}\n", 1),
    (f"CLERK_PUBLISHABLE_KEY={PK}\nexport CLERK_SECRET_KEY= {MARK}  # typo\n", 2),
    (f"CLERK_PUBLISHABLE_KEY={PK}\n\nCLERK_SECRET_KEY = {MARK}\n", 3),
    (f"CLERK_SECRET_KEY {MARK}\n", 1),
    (f"CLERK_SECRET_KEY= {MARK}=x\n", 1),
    (f"CLERK_SECRET_KEY= {MARK[:20]}={MARK[20:]}\n", 1),
    (f"CLERK_SECRET_KEY=\n{MARK}\n", 2),
    (f"# keys\nCLERK_JWT_KEY='\nline\n'\nCLERK_SECRET_KEY={MARK} {MARK}\n", 5),
    (f"CLERK_PUBLISHABLE_KEY={PK}\nCLERK_SECRET_KEY=\"{MARK}\n", 2),
    (f"CLERK_SECRET_KEY={MARK}\\", 1),
]


def check_malformed(tmp, use_strace, aws):
    path = os.path.join(tmp, "malformed.env")
    for i, (text, line) in enumerate(MALFORMED):
        write(path, text, 0o600)
        p = subprocess.run([VENV_PY, os.path.join(ROOT, "scripts", "env_file.py"), path, "CLERK_*", "AWS_*"],
                           capture_output=True, timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode == 0:
            failures.append(f"malformed {i}: env_file.py accepted {text[:30]!r}...")
        if any(part.encode() in p.stdout + p.stderr for part in (MARK, MARK[:20], MARK[20:])):
            failures.append(f"malformed {i}: env_file.py printed (part of) the key: {err.strip()[:200]!r}")
        if f": line {line}:" not in err:
            failures.append(f"malformed {i}: env_file.py did not name line {line}: {err.strip()[:200]!r}")
    # And deploy.sh with the first one: it stops before building anything, without printing the key.
    write(path, MALFORMED[1][0], 0o600)
    recs, err = run_deploy(tmp, "malformed", path, aws, use_strace=False, expect_fail=True)
    if any(argv[0] in ("cargo", "sam", "clerk-token") for argv, _ in recs):
        failures.append("malformed: deploy.sh went on after .env.deploy could not be read")
    if ": line 2:" not in err:
        failures.append(f"malformed: deploy.sh did not say which line: {err.strip()[-300:]!r}")


def check_rotation(aws, sm):
    """put_secret.py SECRET_ARN: a new version of that secret (as docs/deploy.md tells), nothing created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "AWS_"))}
    env.update(aws)
    env["AWS_DEFAULT_REGION"] = "us-east-1"  # not the secret's: put_secret.py takes the ARN's region
    put = [VENV_PY, os.path.join(ROOT, "scripts", "put_secret.py")]
    arn = sm.create_secret(Name="leak-rotate/clerk-secret-key", SecretString="sk_live_old")["ARN"]
    count = len(sm.list_secrets()["SecretList"])
    new = MARK + "rotated"
    p = subprocess.run(put + [arn], input=new + "\n", env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or p.stdout.strip() != arn:
        failures.append(f"rotation: put_secret.py ARN exited {p.returncode}, printed {p.stdout.strip()!r} "
                        f"(expected {arn!r}): {p.stderr.strip()[-500:]}")
    if sm.get_secret_value(SecretId=arn)["SecretString"] != new:
        failures.append("rotation: the secret does not hold the new key")
    versions = len(sm.list_secret_version_ids(SecretId=arn)["Versions"])
    p = subprocess.run(put + [arn], input=new, env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or len(sm.list_secret_version_ids(SecretId=arn)["Versions"]) != versions:
        failures.append(f"rotation: the same key again exited {p.returncode} or made a new version")
    missing = arn.replace("leak-rotate/", "leak-absent/")
    p = subprocess.run(put + [missing], input=new, env=env, capture_output=True, text=True, timeout=60)
    if p.returncode == 0:
        failures.append("rotation: put_secret.py succeeded with the ARN of no secret")
    if MARK in p.stdout + p.stderr:
        failures.append("rotation: put_secret.py printed the key")
    if len(sm.list_secrets()["SecretList"]) != count:
        failures.append("rotation: put_secret.py given an ARN created a secret")


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
               "AWS_SECRET_ACCESS_KEY": AWS_MARK, "AWS_EC2_METADATA_DISABLED": "true"}
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
AWS_SESSION_TOKEN={AWS_MARK}session
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

        # 4. A malformed .env.deploy: the line number, never the key.
        check_malformed(tmp, use_strace, aws)
        # 5. put_secret.py with a secret's ARN: the rotation of docs/deploy.md.
        check_rotation(aws, sm)
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
          "check's environment only; in no argv, in no other child's environment; AWS credentials to the AWS "
          "steps only; a malformed .env.deploy reported by line, the key not printed; put_secret.py ARN "
          f"rotates (stand-ins{', strace' if use_strace else ''})")


if __name__ == "__main__":
    main()
