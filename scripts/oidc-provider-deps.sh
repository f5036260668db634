#!/usr/bin/env bash
# Install the test OpenID Provider (panva's oidc-provider, pinned by tests/oidc/package-lock.json)
# into tests/oidc/node_modules. Idempotent: does nothing when the lock file is unchanged.
# Needs node >= 20 and npm (Debian: apt-get install nodejs npm).
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/tests/oidc"
stamp="$dir/node_modules/.proctor-lock.sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is missing (apt-get install nodejs npm)" >&2
  exit 1
fi
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
