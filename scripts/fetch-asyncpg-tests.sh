#!/usr/bin/env bash
# Fetch asyncpg's own test suite (tests/ of its source distribution) for the asyncpg version
# pinned in requirements.lock; tests/compat runs it directly and through the gateway.
#
#   scripts/fetch-asyncpg-tests.sh [PYTHON]    PYTHON defaults to .venv/bin/python
#
# Idempotent: prints the cache directory on its last line. The cache is
# $PROCTOR_CACHE_DIR/asyncpg-tests/<version>, by default ~/.cache/proctor/asyncpg-tests/<version>.
# The sdist is checked against the sha256 hashes in requirements.lock before it is unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-.venv/bin/python}
if [ ! -x "$python" ]; then
  echo "error: $python not found (run make install first)" >&2
  exit 1
fi

version=$(sed -n 's/^asyncpg==\([^ ]*\).*/\1/p' requirements.lock)
if [ -z "$version" ]; then
  echo "error: asyncpg is not pinned in requirements.lock" >&2
  exit 1
fi
cache_root=${PROCTOR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/proctor}
dest=$cache_root/asyncpg-tests/$version
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi

# The hashes pinned for asyncpg in the lock file (wheels and the sdist alike).
hashes=$(awk -v pkg="asyncpg==$version" '
  $1 == pkg { on = 1; next }
  on && /--hash=sha256:/ { sub(/.*--hash=sha256:/, ""); sub(/[ \\].*/, ""); print; next }
  on { exit }' requirements.lock)

work=$(mktemp -d "${TMPDIR:-/tmp}/proctor-asyncpg-tests.XXXXXX")
trap 'rm -rf "$work"' EXIT
# --no-binary asyncpg: the sdist, the only distribution that ships tests/. No build isolation:
# pip only reads the sdist's metadata, and an isolated build environment would be fetched for it.
"$python" -m pip download --quiet --no-deps --no-binary asyncpg --no-build-isolation \
  --dest "$work" "asyncpg==$version" >&2
sdist=$(ls "$work"/asyncpg-"$version".tar.gz)
sum=$(sha256sum "$sdist" | cut -d' ' -f1)
if ! grep -qx "$sum" <<<"$hashes"; then
  echo "error: $sdist has sha256 $sum, which requirements.lock does not list for asyncpg" >&2
  exit 1
fi
tar -xzf "$sdist" -C "$work" "asyncpg-$version/tests"

staging=$cache_root/asyncpg-tests/.staging-$version-$$
rm -rf "$staging"
mkdir -p "$staging"
cp -r "$work/asyncpg-$version/tests" "$staging/"
echo "$version" >"$staging/VERSION"
touch "$staging/.complete"
rm -rf "$dest"
mv "$staging" "$dest"
echo "$dest"
