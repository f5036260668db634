"""Compile Proctor's hot-path kernels with mypyc (run by ``make install`` with the venv's Python).

    .venv/bin/python scripts/build-accel.py            # build; warn and go on if it cannot
    .venv/bin/python scripts/build-accel.py --require  # fail if it cannot (CI, benchmarks)
    .venv/bin/python scripts/build-accel.py --clean    # remove the compiled modules

Each module is compiled from a copy under ``build/accel`` stamped with the SHA-256 of the
source's text (``BUILT_FROM``); the extension is then put next to the source, where Python's
import prefers it. ``proctor.codecs.pgwire.accel`` uses it only while the stamp matches the
source, so editing the source without rebuilding falls back to the interpreted code instead
of running the old build. Needs a C compiler and the Python headers (Debian: gcc,
python3-dev); mypyc itself comes with mypy, already in the lock file.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD = ROOT / "build" / "accel"
MODULES = ["proctor/codecs/pgwire/walk.py"]
_STAMP_LINE = 'BUILT_FROM = ""'


def _suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def _installed(module: str) -> list[Path]:
    source = SRC / module
    stem = source.stem
    return sorted(source.parent.glob(f"{stem}.*.so")) + sorted(
        source.parent.glob(f"{stem}__mypyc.*.so")
    )


def clean() -> None:
    for module in MODULES:
        for path in _installed(module):
            path.unlink()


def _why_not() -> str | None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return "no C compiler (Debian: apt-get install gcc)"
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.exists():
        return f"no Python headers ({include} is missing; Debian: apt-get install python3-dev)"
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc is not installed (it comes with mypy: make install)"
    return None


def build_one(module: str) -> None:
    source = SRC / module
    text = source.read_bytes()
    if text.count(_STAMP_LINE.encode()) != 1:
        raise SystemExit(f"{module}: expected exactly one line {_STAMP_LINE!r}")
    digest = hashlib.sha256(text).hexdigest()
    copy = BUILD / module
    if BUILD.exists():
        shutil.rmtree(BUILD)
    copy.parent.mkdir(parents=True)
    # Package markers so mypyc names the module as Python will import it.
    for parent in Path(module).parents:
        if parent != Path("."):
            (BUILD / parent / "__init__.py").touch()
    copy.write_bytes(text.replace(_STAMP_LINE.encode(), f'BUILT_FROM = "{digest}"'.encode()))
    subprocess.run(
        [sys.executable, "-m", "mypyc", "--strict", module],
        cwd=BUILD,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    built = sorted(copy.parent.glob(f"{source.stem}*{_suffix()}"))
    if not built:
        raise RuntimeError(f"mypyc produced no extension for {module}")
    for old in _installed(module):
        old.unlink()
    for path in built:
        shutil.copy2(path, source.parent / path.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--require", action="store_true", help="fail if it cannot build")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    parser.add_argument("--stamp", type=Path, help="touch this file once built (for make)")
    args = parser.parse_args()
    if args.clean:
        clean()
        return 0
    reason = _why_not()
    if reason is None:
        try:
            for module in MODULES:
                build_one(module)
        except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
            reason = f"build failed: {exc}"
    if reason is None:
        print(f"compiled {len(MODULES)} hot-path module(s) with mypyc")
        if args.stamp is not None:
            args.stamp.touch()
        return 0
    clean()
    print(
        f"warning: hot-path modules not compiled ({reason}); Proctor runs them interpreted",
        file=sys.stderr,
    )
    return 1 if args.require else 0


if __name__ == "__main__":
    sys.exit(main())
