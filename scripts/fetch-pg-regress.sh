#!/usr/bin/env bash
# Fetch PostgreSQL's regression suite (SQL, expected output, data, schedules) for the exact
# version of the installed server, and build its regress.so; tests/compat runs it directly and
# through the gateway.
#
#   scripts/fetch-pg-regress.sh          prints the cache directory on its last line
#
# Idempotent: a complete cache for the installed version is left alone. Nothing goes into the
# work tree; the cache is $PROCTOR_CACHE_DIR/pg-regress/<debian version>, by default
# ~/.cache/proctor/pg-regress/<debian version>.
#
# Needs, as Debian packages: postgresql-15 (the server under test, already installed),
# postgresql-server-dev-15 at exactly the installed server's version (headers for regress.so),
# gcc, make, libc6-dev, bzip2. Missing ones are installed when run as root. The source package
# comes from deb.debian.org through apt with a private sources list and private package lists,
# so the machine's apt configuration is not touched.
set -euo pipefail

major=${PROCTOR_PG_MAJOR:-15}
server_pkg=postgresql-$major
version=$(dpkg-query -W -f='${Version}' "$server_pkg" 2>/dev/null || true)
if [ -z "$version" ]; then
  echo "error: $server_pkg is not installed (apt-get install postgresql)" >&2
  exit 1
fi
upstream=${version%%-*}      # 15.18-0+deb12u1 -> 15.18
cache_root=${PROCTOR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/proctor}
dest=$cache_root/pg-regress/$version
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi

have_pkg() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | grep -q "install ok installed${2:+ $2}"; }
need=()
have_pkg "postgresql-server-dev-$major" "$version" || need+=("postgresql-server-dev-$major=$version")
for p in gcc make libc6-dev bzip2 xz-utils; do have_pkg "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing system packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  echo "installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The pinned version may be older than the newest one, so the lists must be current.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/proctor-pg-regress.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# A private apt setup that only knows Debian's source indexes; signatures are checked by apt
# as for any other download (the .dsc and tarballs are verified against the signed Release).
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
suites=${PROCTOR_DEBIAN_SUITES:-"$codename $codename-updates"}
mirror=${PROCTOR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${PROCTOR_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
{
  for s in $suites; do echo "deb-src $mirror $s main"; done
  echo "deb-src $security $codename-security main"
} >"$work/sources.list"
mkdir -p "$work/lists/partial" "$work/parts" "$work/src"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
)
echo "fetching source package $server_pkg=$version" >&2
apt-get "${apt_opts[@]}" -qq update >&2
if ! (cd "$work/src" && apt-get "${apt_opts[@]}" -qq source --download-only "$server_pkg=$version" >&2); then
  echo "error: the source of $server_pkg $version is not in the archive any more; upgrade the" \
    "server first (apt-get install --only-upgrade $server_pkg postgresql-client-$major)" >&2
  exit 1
fi

orig=$(ls "$work"/src/*.orig.tar.*)
debian_tar=$(ls "$work"/src/*.debian.tar.*)
# Only the upstream tree's src/test/regress is used. Debian's patches must leave it alone for
# that to be the tested suite; refuse to go on if a future upstream or Debian release changes that.
if tar -xOf "$debian_tar" --wildcards 'debian/patches/*' 2>/dev/null | grep -E '^\+\+\+ .*src/test/regress/' >&2; then
  echo "error: Debian patches touch src/test/regress; extract with dpkg-source instead" >&2
  exit 1
fi
tar -xf "$orig" -C "$work" "postgresql-$upstream/src/test/regress"
regress=$work/postgresql-$upstream/src/test/regress

# regress.so: the C functions the suite's test_setup.sql creates, built against the headers
# of the installed server (same version, so the same ABI).
mkdir "$work/build"
cp "$regress/regress.c" "$work/build/"
cat >"$work/build/Makefile" <<EOF
MODULES = regress
PG_CONFIG = /usr/lib/postgresql/$major/bin/pg_config
PGXS := \$(shell \$(PG_CONFIG) --pgxs)
include \$(PGXS)
EOF
# with_llvm=no: no JIT bitcode, so clang is not needed for this build.
make -s -C "$work/build" with_llvm=no >&2

staging=$cache_root/pg-regress/.staging-$version-$$
rm -rf "$staging"
mkdir -p "$staging/lib"
cp -r "$regress/sql" "$regress/expected" "$regress/data" "$regress/parallel_schedule" \
  "$regress/resultmap" "$staging/"
[ -d "$regress/input" ] && cp -r "$regress/input" "$staging/"
[ -d "$regress/output" ] && cp -r "$regress/output" "$staging/"
cp "$work/build/regress.so" "$staging/lib/"
echo "$version" >"$staging/VERSION"
touch "$staging/.complete"
rm -rf "$dest"
mv "$staging" "$dest"
echo "$dest"
