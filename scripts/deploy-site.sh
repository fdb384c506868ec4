#!/usr/bin/env bash
# Builds the sign-in site with the stack's outputs (API URL) and the publishable key, uploads it
# to the site bucket, and invalidates CloudFront. Usage: deploy-site.sh [STACK_NAME]
# AWS settings and credentials (AWS_*) reach the two steps that call AWS only (with_aws): npm ci,
# npm run build and vite (and every package's scripts) get none. scripts/deploy.sh runs this.
set -euo pipefail
# First of all: every AWS_* variable kept as a shell variable, exported again by with_aws only.
# (compgen and export are builtins: no process sees them.)
AWS_SCOPED=()
for v in $(compgen -e); do
  case "$v" in AWS_*) AWS_SCOPED+=("$v"); export -n "${v?}" ;; esac
done
with_aws() { # command...: run with the AWS settings
  (
    for v in "${AWS_SCOPED[@]}"; do export "${v?}"; done
    "$@"
  )
}
cd "$(dirname "$0")/.."
case ":$PATH:" in *":$PWD/.venv/bin:"*) ;; *) export PATH="$PWD/.venv/bin:$PATH" ;; esac
STACK_NAME=${1:-${STACK_NAME:-clerk-lambda}}
: "${CLERK_PUBLISHABLE_KEY:?set CLERK_PUBLISHABLE_KEY}"

outputs=$(with_aws python3 - "$STACK_NAME" <<'PY'
import boto3, json, sys
stack = boto3.client("cloudformation").describe_stacks(StackName=sys.argv[1])["Stacks"][0]
print(json.dumps({o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}))
PY
)
get() { python3 scripts/json_field.py "$1" <<<"$outputs"; }
API_URL=$(get ApiUrl); BUCKET=$(get SiteBucketName); DIST=$(get DistributionId); SITE=$(get SiteUrl)

if [ ! -f static-site/package.json ]; then
  echo "deploy-site: static-site/ has no package.json yet; nothing to upload" >&2
  exit 0
fi
./scripts/node-setup.sh static-site
echo "== building the site for $API_URL"
VITE_API_URL="$API_URL" VITE_CLERK_PUBLISHABLE_KEY="$CLERK_PUBLISHABLE_KEY" npm --prefix static-site run build

echo "== uploading to s3://$BUCKET and invalidating $DIST"
with_aws python3 - "$BUCKET" "$DIST" static-site/dist <<'PY'
import boto3, mimetypes, os, sys, time
bucket, dist, root = sys.argv[1:4]
s3 = boto3.client("s3")
for dirpath, _, files in os.walk(root):
    for f in files:
        path = os.path.join(dirpath, f)
        key = os.path.relpath(path, root)
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        cache = "no-cache" if key.endswith(".html") else "public, max-age=31536000, immutable"
        s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": ctype, "CacheControl": cache})
boto3.client("cloudfront").create_invalidation(
    DistributionId=dist,
    InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())},
)
PY
echo "Site: $SITE   API: $API_URL"
