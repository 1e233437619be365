"""Shared fixtures: a fake PyPI on 127.0.0.1 (see tests/fakepypi)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # `import fakepypi` works whatever pytest's import mode
    sys.path.insert(0, _TESTS)

from fakepypi import FakePyPI, Universe, make_small_universe  # noqa: E402


def _check_clean(server: FakePyPI) -> None:
    assert not server.errors, "fake PyPI internal errors:\n" + "\n".join(server.errors)


@pytest.fixture
def fake_pypi() -> Iterator[FakePyPI]:
    """A running FakePyPI serving `make_small_universe()`; stopped after the test."""
    with FakePyPI(make_small_universe()) as server:
        yield server
    _check_clean(server)


@pytest.fixture
def make_fake_pypi() -> Iterator[Callable[..., FakePyPI]]:
    """Factory `make_fake_pypi(universe=None, **FakePyPI_kwargs)` -> a started FakePyPI.

    Every server it starts is stopped after the test.
    """
    started: list[FakePyPI] = []

    def factory(universe: Universe | None = None, **kwargs: Any) -> FakePyPI:
        server = FakePyPI(universe, **kwargs).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
    for server in started:
        _check_clean(server)
