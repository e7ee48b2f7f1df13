"""pytest plugin (registered through the ``pytest11`` entry point): a ``helpcrunch_sandbox``
fixture, so tests of your own pipelines run against a fake HelpCrunch.

    def test_my_job(helpcrunch_sandbox):
        client = helpcrunch_sandbox.client()
        my_job(client)
        assert helpcrunch_sandbox.customer(542335)["tags"] == [...]

The fixture also points ``HELPCRUNCH_API_KEY`` and ``HELPCRUNCH_BASE_URL`` at the sandbox for the
test's duration, so code that uses ``helpcrunch.remove_tags(...)`` or ``helpcrunch.Client()``
talks to it without changes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sandbox import Sandbox


@pytest.fixture
def helpcrunch_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh sandbox with the demo customers, and the environment pointed at it."""
    with Sandbox() as sandbox:
        monkeypatch.setenv("HELPCRUNCH_API_KEY", sandbox.api_key)
        monkeypatch.setenv("HELPCRUNCH_BASE_URL", sandbox.base_url)
        yield sandbox
