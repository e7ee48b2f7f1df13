"""Write ``pipelines.ipynb`` next to this file (run it after editing the cells below):

    python examples/make_notebook.py

The notebook is kept without outputs; tests/bulk/test_notebook.py executes it on a real
ipykernel and checks what it prints.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell(
        """# helpcrunch in a notebook

Untag HelpCrunch customers one at a time, with `await`, and in bulk from a DataFrame with a
progress bar. Everything here runs against the **sandbox**, a fake HelpCrunch on this machine
with ten demo customers: no account, no network. To use your real account, make the clients
with `helpcrunch.Client()` instead (the key comes from `HELPCRUNCH_API_KEY`)."""
    ),
    new_code_cell(
        """import helpcrunch
from helpcrunch.sandbox import Sandbox

sandbox = Sandbox()
# The sandbox has no rate limit; HelpCrunch allows 120 requests a minute (the default).
client = helpcrunch.Client(api_key=sandbox.api_key, base_url=sandbox.base_url, rate_limit=None)
sandbox"""
    ),
    new_markdown_cell("## One customer, blocking call"),
    new_code_cell(
        """customer = client.remove_tags(542335, "Lead")
print(customer["name"], "now has", [tag["name"] for tag in customer["tags"]])"""
    ),
    new_markdown_cell(
        "## One customer, with `await`\n\n"
        "Jupyter runs an event loop already: `await` works at the top level of a cell."
    ),
    new_code_cell(
        """async with helpcrunch.AsyncClient(
    api_key=sandbox.api_key, base_url=sandbox.base_url, rate_limit=None
) as async_client:
    customer = await async_client.remove_tags(542336, ["Lead"])
print(customer["name"], "now has", [tag["name"] for tag in customer["tags"]])"""
    ),
    new_markdown_cell(
        """## Many customers, from a DataFrame

`remove_tags_many` takes a DataFrame with `customer_id` and `tags` columns (or name yours
with `id_column=` / `tags_column=`), runs the calls at the client's rate limit, shows a
progress bar, and returns a report with one result per row, in order. A failed row (here an
unknown customer) does not stop the others."""
    ),
    new_code_cell(
        """import pandas as pd

churned = pd.DataFrame(
    {
        "customer_id": [542339, 542340, 542342, 999999],
        "tags": [["Lead", "churned"], ["Lead", "lead"], ["lead"], ["Lead"]],
    }
)
report = client.remove_tags_many(churned, progress=True)
print(report)"""
    ),
    new_code_cell("""report.to_pandas()[["customer_id", "ok", "error_type", "tags"]]"""),
    new_markdown_cell("The failures, to fix and run again:"),
    new_code_cell(
        """for failure in report.failures:
    print(f"row {failure.index} (customer {failure.customer_id}): {failure.error}")"""
    ),
    new_code_cell(
        """client.close()
sandbox.close()"""
    ),
]


def build() -> nbformat.NotebookNode:
    notebook = new_notebook(cells=CELLS)
    for number, cell in enumerate(notebook.cells):
        cell.id = f"cell-{number}"  # stable ids: regenerating gives no spurious diff
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


if __name__ == "__main__":
    path = Path(__file__).with_name("pipelines.ipynb")
    nbformat.write(build(), path)
    print(f"wrote {path}")
