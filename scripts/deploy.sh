#!/usr/bin/env bash
# Deploy to AWS: the readiness check (refuses a configuration that would ship broken), sam build
# (cargo lambda + zig, no Docker), sam deploy (guided the first time), then the site.
#
# Configuration comes from the environment or from .env.deploy (git-ignored):
#   CLERK_PUBLISHABLE_KEY     pk_live_... (or pk_test_...)
#   CLERK_SECRET_KEY          sk_live_... (the stack creates the secret)  -- or --
#   CLERK_SECRET_ARN          arn:aws:secretsmanager:...  (an existing secret)
#   CLERK_AUTHORIZED_PARTIES  https://app.example.com[,...], or `cloudfront` for the hosted site only
#   CLERK_JWT_KEY             optional PEM public key (networkless verification)
#   STACK_NAME (default clerk-lambda), ARCH (arm64 | x86_64, default arm64), AWS_REGION
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if [ -f .env.deploy ]; then set -a; . ./.env.deploy; set +a; fi
STACK_NAME=${STACK_NAME:-clerk-lambda}
ARCH=${ARCH:-arm64}

echo "== readiness check"
ready=$(cargo run -q --release --bin clerk-token -- readiness) || exit 1
frontend=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["frontendApi"])' <<<"$ready")
extra=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["extraOrigins"])' <<<"$ready")

echo "== sam build ($ARCH)"
[ "$ARCH" = arm64 ] && rustup target add aarch64-unknown-linux-gnu >/dev/null
sam build --beta-features --parameter-overrides "Architecture=$ARCH"

params=("ClerkPublishableKey=$CLERK_PUBLISHABLE_KEY" "ClerkFrontendApi=$frontend"
        "ClerkAuthorizedParties=$extra" "Architecture=$ARCH")
if [ -n "${CLERK_SECRET_ARN:-}" ]; then
  params+=("ExistingSecretArn=$CLERK_SECRET_ARN")
else
  params+=("ClerkSecretKey=$CLERK_SECRET_KEY")
fi
if [ -n "${CLERK_JWT_KEY:-}" ]; then
  # One line: the function accepts literal \n in the PEM.
  params+=("ClerkJwtKey=$(printf '%s' "$CLERK_JWT_KEY" | awk 'BEGIN{ORS="\\n"} {print}')")
fi

echo "== sam deploy ($STACK_NAME)"
if [ ! -f samconfig.toml ]; then
  sam deploy --guided --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM --parameter-overrides "${params[@]}"
else
  sam deploy --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
    --parameter-overrides "${params[@]}"
fi

./scripts/deploy-site.sh "$STACK_NAME"
