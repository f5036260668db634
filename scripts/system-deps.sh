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
# A C compiler and the Python headers: make install compiles the hot-path loops with mypyc
# (scripts/build-accel.py). The tests require them; the demo runs without them (interpreted,
# slower), so for it they are installed when we are root and only mentioned otherwise.
compiler=(gcc libc6-dev)
python_include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)
[ -n "$python_include" ] && [ -f "$python_include/Python.h" ] || compiler+=(python3-dev)
# libhs's headers (Debian: libhyperscan-dev; Vectorscan's package provides them too): the
# masking scanner's C hit collector (src/proctor/masking/_hsnative.c), optional like the above.
have_pkg libhyperscan-dev || have_pkg libvectorscan-dev || compiler+=(libhyperscan-dev)
if [ "$what" = test ] || [ "$(id -u)" = 0 ]; then
  want "${compiler[@]}"
else
  for p in "${compiler[@]}"; do
    if [ "$p" = libhyperscan-dev ]; then
      echo "note: $p is missing: masking scans without its C hit collector (slower)" >&2
    else
      have_pkg "$p" || echo "note: $p is missing: the hot-path loops will run interpreted (slower)" >&2
    fi
  done
fi
if [ "$what" = test ]; then
  want pgbouncer postgresql-client chromium
  # The test OpenID Provider runs on node (the machine image ships node 20 and npm).
  command -v npm >/dev/null 2>&1 || want nodejs npm
  # The test SAML IdP: SimpleSAMLphp served by PHP's built-in web server (tests/saml/idp.py).
  want simplesamlphp php-cli php-xml php-mbstring php-curl php-sqlite3
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing system packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The Debian postgresql package starts a default cluster; Proctor never uses it.
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ "$what" = test ]; then
  # Third-party suites the compatibility tests run through the gateway, cached outside the
  # work tree: PostgreSQL's regression suite (from the Debian source package of the installed
  # server) and asyncpg's own tests (from its sdist, hash-checked against requirements.lock).
  here=$(dirname "$0")
  "$here/fetch-pg-regress.sh" >/dev/null
  "$here/fetch-asyncpg-tests.sh" >/dev/null
  # The OpenID Provider the identity tests sign in against (pinned by its package-lock.json).
  "$here/oidc-provider-deps.sh"
fi
