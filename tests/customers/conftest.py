from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.customers import Both, account


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=account(20)) as sandbox:
        yield sandbox


@pytest.fixture
def call(sb: Sandbox, kind: str) -> Both:
    return Both(sb, kind)
