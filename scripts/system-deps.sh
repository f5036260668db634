#!/usr/bin/env bash
# Install the system services the demo or the test suite needs, only when they are missing.
#   scripts/system-deps.sh demo   PostgreSQL server binaries (the demo's throwaway database)
#   scripts/system-deps.sh test   everything the test suite starts on loopback
set -euo pipefail
what=${1:-test}
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { for p in "$@"; do have_pkg "$p" || need+=("$p"); done; }

want postgresql postgresql-contrib
if [ "$what" = test ]; then
  want pgbouncer postgresql-client
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "error: missing system packages: ${need[*]} (install them with apt-get as root)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The Debian postgresql package starts a default cluster; Proctor never uses it.
apt-get install -y -qq --no-install-recommends "${need[@]}"
