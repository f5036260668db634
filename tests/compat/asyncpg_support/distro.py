"""Stand-in for the `distro` package, which asyncpg's tests import only to skip on Alpine.

asyncpg's suite needs `distro.id()`; the project's lock file does not carry the package, and
this one answer is all the suite asks of it.
"""

from __future__ import annotations

from pathlib import Path


def id() -> str:  # same name as distro.id
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "ID":
                return value.strip().strip('"')
    except OSError:
        pass
    return ""
