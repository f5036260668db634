"""Compile Proctor's hot-path modules with mypyc (run by ``make install`` with the venv's Python).

    .venv/bin/python scripts/build-accel.py            # build unless current; warn if it cannot
    .venv/bin/python scripts/build-accel.py --require  # fail if it cannot (CI, benchmarks)
    .venv/bin/python scripts/build-accel.py --clean    # remove the compiled modules

The group is listed in ``src/proctor/hotpath.py``. The package is copied to ``build/accel``
and the group compiled there in one mypyc run (what is compiled is exactly what the stamp
describes, whatever happens to the tree meanwhile); the extensions are then put next to the
sources, where Python's import prefers them, and ``src/proctor/compiled.json`` records the
digest of each compiled source, last. ``import proctor`` uses the build only while every
digest matches (``proctor.hotpath.guard``): editing a source without rebuilding runs it
interpreted instead of running the old build. When the stamp already matches, nothing is
done. Needs a C compiler and the Python headers (Debian: gcc, python3-dev); mypyc itself
comes with mypy, already in the lock file.

The same run builds the hand-written C extensions (``proctor.hotpath.NATIVE``: glue to a C
library) whose library headers are installed, recorded in ``src/proctor/native.json``; each is
optional at run time. ``--require`` also fails when one cannot be built.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD = ROOT / "build" / "accel"


def _hotpath() -> ModuleType:
    """``proctor/hotpath.py`` on its own (stdlib only): the group and the stamp rules."""
    name = "_proctor_hotpath_for_build"
    spec = importlib.util.spec_from_file_location(name, SRC / "proctor" / "hotpath.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


HOTPATH = _hotpath()


def _installed() -> list[Path]:
    """Every compiled file this build may have put under ``src``."""
    found: list[Path] = []
    for module in HOTPATH.MODULES:
        source = SRC / module
        found += source.parent.glob(f"{source.stem}.*.so")
        found += source.parent.glob(f"{source.stem}__mypyc.*.so")  # an older one-module build
    found += SRC.glob("*__mypyc.*.so")  # the group's shared library
    return sorted(set(found))


def clean() -> None:
    HOTPATH.STAMP.unlink(missing_ok=True)  # first: a half-removed group is never "current"
    for path in _installed():
        path.unlink()


# What each C extension links, and where its headers come from.
NATIVE_NEEDS: dict[str, tuple[str | None, list[str], str]] = {
    "proctor/masking/_hsnative.c": ("hs/hs.h", ["-lhs"], "libhyperscan-dev"),
    "proctor/masking/_cardmask.c": (None, [], ""),  # Python's headers only
}


def clean_native() -> None:
    HOTPATH.NATIVE_STAMP.unlink(missing_ok=True)
    for source in HOTPATH.NATIVE:
        (SRC / source).with_suffix(HOTPATH.extension_suffix()).unlink(missing_ok=True)


def _header_dir(header: str) -> Path | None:
    for base in ("/usr/include", "/usr/local/include"):
        if (Path(base) / header).exists():
            return Path(base)
    return None


def build_native(force: bool) -> list[str]:
    """Build each C extension that is not current; what could not be built, and why."""
    if not force and all(HOTPATH.native_current(s, SRC, environ={}) for s in HOTPATH.NATIVE):
        return []
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    include = sysconfig.get_paths()["include"]
    suffix = HOTPATH.extension_suffix()
    out_dir = BUILD / "native"
    out_dir.mkdir(parents=True, exist_ok=True)
    built: list[str] = []
    problems: list[str] = []
    clean_native()
    for source in HOTPATH.NATIVE:
        header, libs, package = NATIVE_NEEDS[source]
        if shutil.which(compiler) is None or not (Path(include) / "Python.h").exists():
            problems.append(f"{source}: no C compiler or Python headers")
            continue
        if header is not None and _header_dir(header) is None:
            problems.append(f"{source}: {header} not found (Debian: apt-get install {package})")
            continue
        target = out_dir / Path(source).with_suffix(suffix).name
        proc = subprocess.run(
            [
                compiler,
                "-shared",
                "-fPIC",
                "-O2",
                "-Wall",
                "-I",
                include,
                str(SRC / source),
                "-o",
                str(target),
                *libs,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
            problems.append(f"{source}: compile failed:\n{tail}")
            continue
        shutil.copy2(target, (SRC / source).with_suffix(suffix))
        built.append(source)
    if built:
        stamp = HOTPATH.native_stamp_for(SRC, built)
        tmp = HOTPATH.NATIVE_STAMP.with_suffix(".tmp")
        tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
        tmp.replace(HOTPATH.NATIVE_STAMP)
        print(f"built C extensions: {', '.join(built)}")
    return problems


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


def build() -> None:
    if BUILD.exists():
        shutil.rmtree(BUILD)
    BUILD.mkdir(parents=True)
    shutil.copytree(
        SRC / "proctor",
        BUILD / "proctor",
        ignore=shutil.ignore_patterns("*.so", "__pycache__", HOTPATH.STAMP.name),
    )
    stamp = HOTPATH.stamp_for(BUILD)
    modules = list(HOTPATH.MODULES)
    started = time.monotonic()
    print(f"compiling {len(modules)} hot-path modules with mypyc (a minute or two)...")
    proc = subprocess.run(
        [sys.executable, "-m", "mypyc", "--strict", *modules],
        cwd=BUILD,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PROCTOR_PURE_PYTHON": "1"},
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"mypyc failed:\n{tail}")
    suffix = HOTPATH.extension_suffix()
    built = [(BUILD / m).with_suffix(suffix) for m in modules]
    shared = sorted(BUILD.glob(f"*__mypyc{suffix}"))
    missing = [str(p.relative_to(BUILD)) for p in built if not p.exists()]
    if missing or len(shared) != 1:
        raise RuntimeError(f"mypyc did not produce every extension (missing: {missing})")
    clean()
    for path in built:
        shutil.copy2(path, SRC / path.relative_to(BUILD))
    shutil.copy2(shared[0], SRC / shared[0].name)
    tmp = HOTPATH.STAMP.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
    tmp.replace(HOTPATH.STAMP)
    print(f"compiled in {time.monotonic() - started:.0f} s")
    current = HOTPATH.decide(SRC, HOTPATH.STAMP, {})
    if not current.compiled:
        print(f"warning: {current.reason} (edited during the build: run it again)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--require", action="store_true", help="fail if it cannot build")
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    parser.add_argument("--force", action="store_true", help="build even when current")
    args = parser.parse_args()
    if args.clean:
        clean()
        clean_native()
        return 0
    status = _build_group(args.force, args.require)
    problems = build_native(args.force)
    for problem in problems:
        print(f"warning: C extension not built ({problem}); Proctor does without", file=sys.stderr)
    if problems and args.require:
        status = 1
    return status


def _build_group(force: bool, require: bool) -> int:
    if not force and HOTPATH.decide(SRC, HOTPATH.STAMP, {}).compiled:
        return 0  # the build matches every source: nothing to do
    reason = _why_not()
    if reason is None:
        try:
            build()
        except (subprocess.SubprocessError, RuntimeError, OSError) as exc:
            reason = f"build failed: {exc}"
    if reason is None:
        return 0
    clean()
    print(
        f"warning: hot-path modules not compiled ({reason}); Proctor runs them interpreted",
        file=sys.stderr,
    )
    return 1 if require else 0


if __name__ == "__main__":
    sys.exit(main())
