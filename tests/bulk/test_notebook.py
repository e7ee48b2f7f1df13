"""examples/pipelines.ipynb, executed by nbclient on a real ipykernel running this interpreter:
the blocking call, top-level ``await`` and a bulk run with a progress bar, checked by what the
cells print."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.bulk import EXAMPLES
from tests.support.notebooks import (
    WIDGET_MIME,
    data_of,
    errors_of,
    execute,
    text_of,
)

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel.kernelspec")
pytest.importorskip("pandas")

# One worker runs the whole module (scripts/test: --dist loadgroup), so the notebook runs once,
# not once on each worker that gets one of its tests.
pytestmark = pytest.mark.xdist_group("pipelines-notebook")

NOTEBOOK = EXAMPLES / "pipelines.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    return execute(NOTEBOOK, tmp_path_factory)


def test_every_cell_runs_without_an_error(executed: list[Any]) -> None:
    errors = errors_of(executed)
    assert not errors, errors


def test_the_blocking_call_prints_the_customer_without_the_tag(executed: list[Any]) -> None:
    assert text_of(executed[1]).strip() == "John Doe now has ['vip']"


def test_top_level_await_prints_the_customer_without_the_tag(executed: list[Any]) -> None:
    assert text_of(executed[2]).strip() == "Cindy Mindy now has []"


def test_the_bulk_run_reports_its_counts(executed: list[Any]) -> None:
    assert text_of(executed[3]).strip() == "BulkReport(4 items: 3 succeeded, 1 failed)"


def test_the_bulk_run_shows_a_progress_widget(executed: list[Any]) -> None:
    pytest.importorskip("ipywidgets")
    assert data_of(executed[3], WIDGET_MIME), "tqdm drew a Jupyter widget"
    # A widget only: no plain progress lines, no warning from tqdm about notebook mode.
    assert text_of(executed[3], "stderr") == ""


def test_the_report_displays_as_a_table_of_every_row(executed: list[Any]) -> None:
    [html] = data_of(executed[4], "text/html")
    for text in ("542339", "542340", "542342", "999999", "NotFoundError"):
        assert text in html
    assert text_of(executed[5]).strip().startswith("row 3 (customer 999999): HTTP 404")
