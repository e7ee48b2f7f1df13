"""Fixtures: a scripted local HTTP server and a client pointed at it; a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import helpcrunch
from tests.support.redis_server import redis_server  # noqa: F401 (a fixture)
from tests.support.scripted_server import API_KEY, ScriptedServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` (most of a minute of waiting on a clock or a fleet) go first. Side by
    side (scripts/test), each then runs beside the short ones, instead of starting late and
    finishing alone. The sort is stable, so every worker collects the same order."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[helpcrunch.Client]:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    yield c
    c.close()
