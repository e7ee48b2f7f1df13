"""Fixtures: a scripted local HTTP server and a client pointed at it; a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import helpcrunch
from tests.support.redis_server import redis_server  # noqa: F401 (a fixture)
from tests.support.scripted_server import API_KEY, ScriptedServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[helpcrunch.Client]:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    yield c
    c.close()
