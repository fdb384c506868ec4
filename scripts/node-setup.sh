#!/usr/bin/env bash
# `npm ci` in the given folder when its node_modules is missing or older than its lock file.
set -euo pipefail
dir=${1:?usage: node-setup.sh DIR}
if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in $dir"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
fi
