"""Without Hyperscan installed the engine still works (the re backend), same results."""

from __future__ import annotations

import subprocess
import sys

import pytest

from proctor.masking import HAVE_HYPERSCAN, Masker

SCRIPT = """
import sys
sys.modules["hyperscan"] = None  # make "import hyperscan" fail
from proctor.masking import HAVE_HYPERSCAN, Masker
m = Masker()
assert not HAVE_HYPERSCAN and m.backend == "re", m.backend
print(m.mask_text("card 4111 1111 1111 1111, mail jane@example.com, BUILD-555-1234"))
"""


def test_engine_works_without_hyperscan() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "card [CARD], mail [EMAIL], BUILD-555-1234"


def test_asking_for_a_missing_backend_is_an_error() -> None:
    if HAVE_HYPERSCAN:
        pytest.skip("hyperscan is installed")
    with pytest.raises(RuntimeError, match="hyperscan"):
        Masker(backend="hyperscan")


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend"):
        Masker(backend="pcre")
