#!/usr/bin/env bash
# Deploy to AWS: the readiness check (refuses a configuration that would ship broken), sam build
# (cargo lambda + zig, no Docker), the secret key into Secrets Manager, sam deploy (guided the first
# time), then the site.
#
# Configuration comes from the environment or from .env.deploy (git-ignored; DEPLOY_ENV_FILE names
# another file). The file is read as KEY=VALUE lines (quotes allowed, # comments, no $expansion),
# never run as shell code, and nothing in it is exported to every child:
#   CLERK_PUBLISHABLE_KEY     pk_live_... (or pk_test_...)
#   CLERK_SECRET_KEY          sk_live_...: stored in Secrets Manager as $STACK_NAME/clerk-secret-key
#                             (CLERK_SECRET_NAME to name it otherwise)  -- or --
#   CLERK_SECRET_ARN          arn:aws:secretsmanager:...  (an existing secret)
#   CLERK_AUTHORIZED_PARTIES  https://app.example.com[,...], or `cloudfront` for the hosted site only
#   CLERK_JWT_KEY             optional PEM public key (networkless verification)
#   CLERK_MACHINE_ID          optional mch_...: M2M JWTs must then list it in `aud`
#   STACK_NAME (default clerk-lambda), ARCH (arm64 | x86_64, default arm64),
#   AWS_REGION, AWS_PROFILE and other AWS_* settings
#
# Where the secret key goes: the readiness check reads it from its own environment (that one
# process only: `clerk-token readiness` takes no other input); Secrets Manager gets it on standard
# input (scripts/put_secret.py). It is never on a command line (ps), never a CloudFormation
# parameter, and never in the environment of cargo, its build scripts, sam, npm or vite.
# AWS settings and credentials (AWS_*, from the environment or the file) go to the steps that call
# AWS only (with_aws: put_secret.py, sam deploy, reading the stack's outputs, the site's upload),
# never to cargo, rustup, sam build, npm or vite.
set -euo pipefail
# First of all, settings from the environment: kept as shell variables, exported to no child.
CLERK_VARS="CLERK_PUBLISHABLE_KEY CLERK_SECRET_KEY CLERK_SECRET_ARN CLERK_SECRET_NAME CLERK_AUTHORIZED_PARTIES CLERK_JWT_KEY CLERK_MACHINE_ID"
for v in $CLERK_VARS STACK_NAME ARCH; do
  if [ -n "${!v+x}" ]; then export -n "${v?}"; fi
done
# The same for every AWS_* variable (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE...):
# with_aws exports them again, for one command. (compgen is a builtin: no process sees them.)
AWS_FROM_ENV=()
for v in $(compgen -e); do
  case "$v" in AWS_*) AWS_FROM_ENV+=("$v"); export -n "${v?}" ;; esac
done
cd "$(dirname "$0")/.."
./scripts/setup.sh deploy
case ":$PATH:" in *":$PWD/.venv/bin:"*) ;; *) export PATH="$PWD/.venv/bin:$PATH" ;; esac

# .env.deploy overrides them. AWS_* settings from it are exported to the AWS steps only (with_aws).
AWS_FROM_FILE=()
ENV_FILE=${DEPLOY_ENV_FILE:-.env.deploy}
if [ -f "$ENV_FILE" ]; then
  while IFS= read -r -d '' key && IFS= read -r -d '' value; do
    case "$key" in
      AWS_*) AWS_FROM_FILE+=("$key=$value") ;;
      *) printf -v "$key" '%s' "$value" ;;
    esac
  done < <(python3 scripts/env_file.py "$ENV_FILE" 'CLERK_*' AWS_\* STACK_NAME ARCH)
  wait $! || { echo "deploy: $ENV_FILE could not be read (see above)" >&2; exit 1; }
fi
STACK_NAME=${STACK_NAME:-clerk-lambda}
ARCH=${ARCH:-arm64}
for v in $CLERK_VARS; do printf -v "$v" '%s' "${!v:-}"; done
with_aws() { # command...: run with the AWS settings of the environment, then of .env.deploy
  ( # (export is a builtin: no argv)
    for v in "${AWS_FROM_ENV[@]}"; do export "${v?}"; done
    for kv in "${AWS_FROM_FILE[@]}"; do export "${kv?}"; done
    # boto3 reads AWS_DEFAULT_REGION, the AWS CLI and SAM AWS_REGION too: give both.
    if [ -n "${AWS_REGION:-}" ] && [ -z "${AWS_DEFAULT_REGION:-}" ]; then export AWS_DEFAULT_REGION=$AWS_REGION; fi
    if [ -n "${AWS_DEFAULT_REGION:-}" ] && [ -z "${AWS_REGION:-}" ]; then export AWS_REGION=$AWS_DEFAULT_REGION; fi
    "$@"
  )
}

echo "== readiness check"
# Built first without any key in its environment; then only the check itself sees the keys.
cargo build -q --release --bin clerk-token
ready=$(CLERK_PUBLISHABLE_KEY=$CLERK_PUBLISHABLE_KEY CLERK_SECRET_KEY=$CLERK_SECRET_KEY \
  CLERK_SECRET_ARN=$CLERK_SECRET_ARN CLERK_AUTHORIZED_PARTIES=$CLERK_AUTHORIZED_PARTIES \
  CLERK_JWT_KEY=$CLERK_JWT_KEY "${CARGO_TARGET_DIR:-target}/release/clerk-token" readiness) || exit 1
frontend=$(python3 scripts/json_field.py frontendApi <<<"$ready")
extra=$(python3 scripts/json_field.py extraOrigins <<<"$ready")

echo "== sam build ($ARCH)"
[ "$ARCH" = arm64 ] && rustup target add aarch64-unknown-linux-gnu >/dev/null
sam build --beta-features --parameter-overrides "Architecture=$ARCH"

if [ -n "$CLERK_SECRET_ARN" ]; then
  secret_arn=$CLERK_SECRET_ARN
else
  secret_name=${CLERK_SECRET_NAME:-$STACK_NAME/clerk-secret-key}
  echo "== secret key into Secrets Manager ($secret_name)"
  # printf is a shell builtin: the key goes down the pipe, not through any command line.
  secret_arn=$(printf '%s' "$CLERK_SECRET_KEY" | with_aws python3 scripts/put_secret.py "$secret_name" \
    "Clerk secret key of the $STACK_NAME stack (scripts/deploy.sh)")
fi
CLERK_SECRET_KEY=""

param() { # NAME VALUE: a --parameter-overrides item (SAM wants "" for an empty value)
  params+=("$1=${2:-\"\"}")
}
params=()
param ClerkPublishableKey "$CLERK_PUBLISHABLE_KEY"
param ClerkFrontendApi "$frontend"
param ClerkAuthorizedParties "$extra"
param Architecture "$ARCH"
param ExistingSecretArn "$secret_arn"
# Explicitly empty: otherwise SAM would keep the previous value of a stack deployed with the key.
param ClerkSecretKey ""
# One line: the function accepts literal \n in the PEM.
param ClerkJwtKey "$(printf '%s' "$CLERK_JWT_KEY" | awk 'BEGIN{ORS="\\n"} {print}')"
param ClerkMachineId "${CLERK_MACHINE_ID:-}"

echo "== sam deploy ($STACK_NAME)"
if [ ! -f samconfig.toml ]; then
  with_aws sam deploy --guided --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM --parameter-overrides "${params[@]}"
else
  with_aws sam deploy --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
    --parameter-overrides "${params[@]}"
fi

# The site: deploy-site.sh hands the AWS settings to its two AWS steps only (npm and vite get none).
echo "== site"
CLERK_PUBLISHABLE_KEY=$CLERK_PUBLISHABLE_KEY with_aws ./scripts/deploy-site.sh "$STACK_NAME"
