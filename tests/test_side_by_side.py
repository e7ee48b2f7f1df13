"""The test command (scripts/test) runs tests side by side with ``--dist loadgroup``: the tests of
an expensive module setup (a notebook run, a mypy cache, a gathering of hostile cases) are marked
``xdist_group`` and must run on one worker, or each worker repeats that setup."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("side-by-side")
def test_a_marked_test_carries_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run side by side with --dist loadgroup")
    assert request.node.nodeid.endswith("@side-by-side"), (
        f"pytest-xdist does not group tests with pytest {pytest.__version__} "
        "(pytest-dev/pytest-xdist#1386): install the versions pyproject.toml's test extra names"
    )
