"""Type information: `mypy --strict` passes on an example using the whole public API, and
rejects wrong uses (so the types are real, not Any)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import helpcrunch
from tests.support.processes import REPOSITORY

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = Path(helpcrunch.__file__).resolve().parent

pytest.importorskip("mypy", reason="mypy is not installed")

# One worker runs the module (scripts/test: --dist loadgroup) with one mypy cache, so the
# standard library and the package are analysed once, not once per run: a run that finds the
# cache warm re-checks only what changed (the snippet), as mypy's incremental mode is meant to.
pytestmark = pytest.mark.xdist_group("mypy")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mypy-cache")


def run_mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=600,
    )


def test_package_ships_py_typed() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_mypy_strict_passes_on_an_example_using_the_whole_api(cache: Path) -> None:
    out = run_mypy(HERE / "typing_example.py", cache)
    assert out.returncode == 0, out.stdout + out.stderr


WRONG_USES = {
    "str_id_field": 'x: str = helpcrunch.get_customer(1)["id"]',
    "int_tags": "helpcrunch.remove_tags(1, 5)",
    "float_id": "helpcrunch.get_customer(1.5)",
    "timeout_str": 'helpcrunch.Client(timeout="10")',
    "unknown_kwarg": "helpcrunch.Client(retries=3)",
    "await_sync": "async def f() -> None:\n    await helpcrunch.Client().get_customer(1)",
    "sync_async": "x: helpcrunch.Customer = helpcrunch.AsyncClient().get_customer(1)",
    "retry_after_str": ("def f(e: helpcrunch.RateLimitError) -> str:\n    return e.retry_after"),
    "tag_without_name": 'helpcrunch.add_tags(1, [helpcrunch.TagSpec(color="#fff")])',
    "search_positional": 'helpcrunch.Client().search_customers("Lead")',
    "match_other": 'helpcrunch.Client().search_customers(tag="Lead", match="some")',
    "async_for_sync_search": (
        "async def f() -> None:\n    async for c in helpcrunch.Client().list_customers():\n"
        "        pass"
    ),
    "sync_for_async_search": "for c in helpcrunch.AsyncClient().list_customers():\n    pass",
    "count_not_awaited": "x: int = helpcrunch.AsyncClient().count_customers()",
}


@pytest.mark.parametrize("snippet", list(WRONG_USES), ids=list(WRONG_USES))
def test_mypy_rejects_a_wrong_use(tmp_path: Path, cache: Path, snippet: str) -> None:
    path = tmp_path / "wrong.py"
    path.write_text("import helpcrunch\n\n" + WRONG_USES[snippet] + "\n")
    out = run_mypy(path, cache)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "wrong.py:" in out.stdout and ": error:" in out.stdout, out.stdout
