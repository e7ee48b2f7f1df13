"""examples/plan_apply_undo.ipynb, executed on a real ipykernel as a reader would run it: a
segment planned against the sandbox's demo account, looked at, applied with a log and undone,
checked by what the cells print."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bulk import EXAMPLES
from tests.support.notebooks import data_of, errors_of, execute, text_of

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel.kernelspec")
pytest.importorskip("pandas")

# One worker runs the whole module (scripts/test: --dist loadgroup), so the notebook runs once,
# not once on each worker that gets one of its tests.
pytestmark = pytest.mark.xdist_group("plan-apply-undo-notebook")

NOTEBOOK = EXAMPLES / "plan_apply_undo.ipynb"
#: The demo account's vip holders, before the sync and again after the undo.
VIP = "vip now: [542335, 542337, 542340, 542344]"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return execute(NOTEBOOK, tmp_path_factory)


def test_every_cell_runs_without_an_error(executed: list[Any]) -> None:
    errors = errors_of(executed)
    assert not errors, errors


def test_it_starts_from_the_demo_accounts_holders(executed: list[Any]) -> None:
    assert text_of(executed[0]).strip() == VIP


def test_the_plan_shows_as_a_table_that_says_what_it_does(executed: list[Any]) -> None:
    [html] = data_of(executed[2], "text/html")
    for text in ("vip", "mirror", "to add", "to remove", "rejected"):
        assert text in html


def test_looking_names_every_row_and_who_loses_the_tag(executed: list[Any]) -> None:
    [html] = data_of(executed[3], "text/html")
    for email in ("john.doe@example.com", "cindy.mindy@example.com", "nobody@example.com"):
        assert email in html
    lines = text_of(executed[4]).splitlines()
    assert sorted(line for line in lines if line.startswith("loses vip:")) == [
        "loses vip: 542337 Олена Коваленко",
        "loses vip: 542340 José Álvarez",
    ]
    rejected = [line for line in lines if line.startswith("rejected:")]
    assert [line.split(" - ")[0] for line in rejected] == [
        "rejected: 'not-an-email'",
        "rejected: 'nobody@example.com'",
    ]


def test_applying_makes_the_tag_match_the_segment(executed: list[Any]) -> None:
    assert text_of(executed[5]).splitlines() == [
        "3 written, 0 failed",
        "vip now: [542335, 542336, 542344]",
    ]


def test_undo_puts_every_customer_back(executed: list[Any]) -> None:
    assert text_of(executed[6]).splitlines() == ["3 reversed, 0 failed", VIP]
