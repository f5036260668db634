from __future__ import annotations

import pytest

from proctor.masking import HAVE_HYPERSCAN, Masker, Profile

BACKENDS = ["re", *(["hyperscan"] if HAVE_HYPERSCAN else [])]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def masker(backend: str) -> Masker:
    return Masker(Profile(), backend=backend)


@pytest.fixture(scope="session")
def re_masker() -> Masker:
    return Masker(Profile(), backend="re")
