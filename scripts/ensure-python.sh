#!/usr/bin/env bash
# Make sure the interpreter can create virtual environments (Debian ships venv separately).
set -euo pipefail
py=${1:-python3}
if ! command -v "$py" >/dev/null; then
  echo "error: $py not found; Proctor needs Python 3.11 or newer" >&2; exit 1
fi
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "error: Proctor needs Python 3.11 or newer ($py is $("$py" -V 2>&1))" >&2; exit 1; }
if ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" || \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  else
    echo "error: the venv module is missing; install python3-venv (as root: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
