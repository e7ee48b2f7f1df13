"""pandas and polars are extras (``pip install 'helpcrunch[pandas]'``, ``[polars]``): without
one, a frame method raises :class:`helpcrunch.MissingExtraError` (an ``ImportError``) naming the
extra to install; everything else works. And ``dir(helpcrunch)`` is the public API only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, run_python

ROOT = Path(__file__).resolve().parents[2]

# The library made unimportable, as on a machine without it.
WITHOUT = """
import sys
sys.modules[{library!r}] = None
import helpcrunch
client = helpcrunch.Client(rate_limit=None)
search = client.search_customers(tag="Lead")
report = client.remove_tags_many([(542335, "Lead")])
plan = client.plan_tag("churn-risk", ["nobody@example.com"], mode="add")
assert report.succeeded == 1
for frame in (search.{method}, report.{method}, plan.{method}):
    try:
        frame()
    except helpcrunch.MissingExtraError as e:
        assert isinstance(e, ImportError) and e.extra == {library!r}
        print(e)
    else:
        raise SystemExit("no error")
"""


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_frame_without_its_library_says_which_extra_to_install(library: str) -> None:
    method = f"to_{library}"
    with Sandbox() as sb:
        result = run_python(
            WITHOUT.format(library=library, method=method), env=child_env(sb), timeout=60
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines
        == [
            f"{method}() needs {library}, which is not installed: pip install 'helpcrunch[{library}]'"
        ]
        * 3
    )


def test_the_extras_are_declared_and_the_test_extra_keeps_them() -> None:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["pandas"]] == ["pandas"]
    assert [d.split(">")[0] for d in extras["polars"]] == ["polars"]
    assert "helpcrunch[pandas,polars]" in extras["test"]
    assert not any(d.startswith(("pandas", "polars")) for d in project["dependencies"])


def test_dir_shows_the_public_api_only() -> None:
    names = dir(helpcrunch)
    assert names == sorted(helpcrunch.__all__)
    for private in ("os", "threading", "atexit", "Iterable", "annotations", "ENV_SETTINGS"):
        assert private not in names
    for name in names:
        assert not name.startswith("_") or name == "__version__"
        assert hasattr(helpcrunch, name), name
