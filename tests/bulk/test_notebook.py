"""examples/pipelines.ipynb, executed by nbclient on a real ipykernel running this interpreter:
the blocking call, top-level ``await`` and a bulk run with a progress bar, checked by what the
cells print."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.support.bulk import EXAMPLES
from tests.support.processes import PACKAGE_ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
pytest.importorskip("pandas")

NOTEBOOK = EXAMPLES / "pipelines.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def text_of(cell: Any, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def data_of(cell: Any, mime: str) -> list[Any]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The notebook's code cells after a run on a kernel started with ``sys.executable``."""
    prefix = tmp_path_factory.mktemp("jupyter")
    kernelspec.install(prefix=str(prefix), kernel_name="python3")
    spec = prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    assert sys.executable in spec.read_text()
    with pytest.MonkeyPatch.context() as mp:
        # Only this kernelspec: not one installed for another Python on this machine.
        mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        mp.setenv("PYTHONPATH", PACKAGE_ROOT)
        for name in ("HELPCRUNCH_API_KEY", "HELPCRUNCH_BASE_URL"):
            mp.delenv(name, raising=False)
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=120,
            resources={"metadata": {"path": str(prefix)}},
        ).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_notebook_is_saved_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs for cell in code)


def test_every_cell_runs_without_an_error(executed: list[Any]) -> None:
    errors = [o for cell in executed for o in cell.outputs if o.output_type == "error"]
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
