"""Running the example notebooks (examples/*.ipynb) as a reader would: nbclient on a real
ipykernel started with this interpreter, in a directory of its own, with no HelpCrunch key or
URL in the environment. Shared by tests/bulk/test_notebook.py and tests/sync/test_notebook.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import PACKAGE_ROOT

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def text_of(cell: Any, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == name)


def data_of(cell: Any, mime: str) -> list[Any]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


def errors_of(cells: list[Any]) -> list[Any]:
    return [o for cell in cells for o in cell.outputs if o.output_type == "error"]


def saved_code_cells(path: Path) -> list[Any]:
    """The notebook as saved (it must be valid), its code cells."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def execute(path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The notebook's code cells after a run on a kernel started with ``sys.executable``."""
    import nbclient
    import nbformat
    from ipykernel import kernelspec
    from jupyter_client.manager import KernelManager

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
        notebook = nbformat.read(path, as_version=4)
        # The kernel's channels on Unix sockets in its own directory, not on TCP ports: the
        # ports jupyter_client picks are free when picked but can be taken before the kernel
        # binds them, by any of the servers the tests beside it start ("Address already in
        # use", and the kernel dies).
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(prefix / "kernel"))
        nbclient.NotebookClient(
            notebook,
            km=kernel,
            kernel_name="python3",
            timeout=120,
            resources={"metadata": {"path": str(prefix)}},
        ).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]
