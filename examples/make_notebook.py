"""Write the notebooks next to this file (run it after editing the cells below):

    python examples/make_notebook.py

- ``pipelines.ipynb``: one customer, ``await``, then a DataFrame in bulk;
- ``plan_apply_undo.ipynb``: a tag synced to a segment: plan, look, apply, undo.

They are kept without outputs; tests/bulk/test_notebook.py and tests/sync/test_notebook.py
execute them on a real ipykernel and check what they print.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PIPELINES = [
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


PLAN_APPLY_UNDO = [
    new_markdown_cell(
        """# Sync a tag to a segment: plan, look, apply, undo

A segment from your warehouse (here a small DataFrame of emails) should be exactly the
customers tagged `vip`. Plan it first: the plan reads HelpCrunch and writes nothing. Look at
it. Apply it with a log, and undo it from that log if it was not what you wanted.

Everything here runs against the **sandbox**, a fake HelpCrunch on this machine with ten demo
customers, four of them tagged `vip`. To use your real account, make the client with
`helpcrunch.Client()` (the key comes from `HELPCRUNCH_API_KEY`)."""
    ),
    new_code_cell(
        """import pandas as pd

import helpcrunch
from helpcrunch.sandbox import Sandbox

sandbox = Sandbox()
# The sandbox has no rate limit; HelpCrunch allows 120 requests a minute (the default).
client = helpcrunch.Client(api_key=sandbox.api_key, base_url=sandbox.base_url, rate_limit=None)
print("vip now:", sorted(c["id"] for c in client.search_customers(tag="vip")))"""
    ),
    new_markdown_cell("## The segment"),
    new_code_cell(
        """segment = pd.DataFrame(
    {
        "email": [
            "john.doe@example.com",  # carries vip already
            "grace@example.org",  # carries vip already
            "cindy.mindy@example.com",  # does not yet
            "not-an-email",  # a typo in the warehouse
            "nobody@example.com",  # no such customer
        ]
    }
)"""
    ),
    new_markdown_cell(
        """## Plan

`mode="mirror"` is the default: the tag is added to the segment's customers who lack it **and
removed from every holder outside the segment**. (`mode="add"` only adds; `mode="remove"`
only removes it from the segment's customers.) A plan that would untag more than half of the
holders is refused when applied, unless `allow_mass_removal=True`."""
    ),
    new_code_cell(
        """plan = client.plan_tag("vip", segment, match="email", mode="mirror", key_column="email")
plan"""
    ),
    new_markdown_cell(
        "## Look\n\nEvery row of the segment, and every holder the plan would untag:"
    ),
    new_code_cell("plan.to_pandas()"),
    new_code_cell(
        """for item in plan.to_remove:
    print("loses vip:", item.customer_id, item.customer["name"])
for item in plan.rejected:
    print("rejected:", repr(item.key), "-", item.reason)"""
    ),
    new_markdown_cell(
        "## Apply\n\n"
        "With a log: every change is recorded as it is sent and as it completes, so the run can "
        "be resumed after a crash and undone later."
    ),
    new_code_cell(
        """report = client.apply_plan(plan, log="vip-sync.jsonl")
print(f"{report.succeeded} written, {report.failed} failed")
print("vip now:", sorted(c["id"] for c in client.search_customers(tag="vip")))"""
    ),
    new_markdown_cell(
        "## Undo\n\nEvery change the log holds, reversed: each customer ends as it was before."
    ),
    new_code_cell(
        """undone = client.undo("vip-sync.jsonl")
print(f"{undone.succeeded} reversed, {undone.failed} failed")
print("vip now:", sorted(c["id"] for c in client.search_customers(tag="vip")))"""
    ),
    new_code_cell(
        """client.close()
sandbox.close()"""
    ),
]

NOTEBOOKS = {"pipelines.ipynb": PIPELINES, "plan_apply_undo.ipynb": PLAN_APPLY_UNDO}


def build(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
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
    for name, cells in NOTEBOOKS.items():
        path = Path(__file__).with_name(name)
        nbformat.write(build(cells), path)
        print(f"wrote {path}")
