"""Proctor: an identity-aware layer-7 access gateway."""

from proctor import hotpath

__version__ = "0.1.0"

# Before any module of the compiled group can be imported: a stale or unwanted build is
# bypassed (see proctor/hotpath.py).
HOT_PATH = hotpath.guard()
