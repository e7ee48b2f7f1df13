"""Every example notebook (examples/*.ipynb) is saved valid and without outputs, so that a reader
sees what their own run prints. Each is also executed, by tests/bulk/test_notebook.py and
tests/sync/test_notebook.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bulk import EXAMPLES
from tests.support.notebooks import saved_code_cells

NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_examples_have_their_notebooks() -> None:
    assert {"pipelines.ipynb", "plan_apply_undo.ipynb"} <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_notebook_is_saved_without_outputs(notebook: Path) -> None:
    code = saved_code_cells(notebook)
    assert code and all(not cell.outputs for cell in code)
