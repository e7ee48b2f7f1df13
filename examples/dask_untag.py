"""Untag a large table on a Dask cluster: the table is cut into partitions, each partition is
untagged on a worker with that worker's copy of a helpcrunch client, and the per-row results
come back as one pandas DataFrame.

    python examples/dask_untag.py      # a local cluster of 2 worker processes, on the sandbox

How it works:

- :func:`untag_with_dask` cuts the frame into ``partitions`` slices and sends each to
  :func:`untag_partition` with ``distributed.Client.map``. The ``helpcrunch.Client`` is
  scattered to the workers once: it is pickled, and rebuilt on each worker process with its
  own connections. **The pickle holds the API key** (and the backend's URL): keep the
  cluster's network private.
- The workers share the account's limit through the client's ``rate_limit_backend``, which
  the pickle carries: ``file:///path`` when every worker is on one machine (a
  ``LocalCluster``), ``redis://host:port/db`` when they are on several. Together they stay at
  ``rate_limit`` (HelpCrunch allows 120 a minute per account), and a worker with rows left
  uses the whole of it when the others are done: nothing to divide by hand.
- Every row comes back once, with ``ok``, ``error_type``/``error``, ``status_code`` and
  ``attempts`` (see ``helpcrunch.BulkResult.as_row``); ``index`` is the row's label in the
  input frame, so failed rows can be picked out (``frame.loc[failed["index"]]``) and run again.
- With a ``dask.dataframe`` (``dd.read_parquet(...)``, needs ``dask[dataframe]``) the same
  function runs per partition: ``ddf.map_partitions(untag_partition, client, meta=META)``.

The workers import this module by name (Dask pickles functions by reference), so it must be
importable on them: installed, on ``PYTHONPATH``, or sent with
``dask_client.upload_file("dask_untag.py")``. Run as a script it is pickled by value instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

import helpcrunch

#: The columns :func:`untag_partition` returns (``helpcrunch.BulkResult.as_row``), with dtypes.
RESULT_COLUMNS = {
    "index": "int64",
    "customer_id": "object",
    "ok": "bool",
    "skipped": "bool",
    "attempts": "int64",
    "status_code": "float64",  # NaN where there was no HTTP answer
    "error_type": "object",
    "error": "object",
    "tags": "object",  # the customer's tags after the call, for rows that succeeded
}

#: An empty frame of the result's shape (the ``meta`` of ``dask.dataframe.map_partitions``).
META = pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in RESULT_COLUMNS.items()})


def untag_partition(
    partition: pd.DataFrame,
    client: helpcrunch.Client,
    id_column: str = "customer_id",
    tags_column: str = "tags",
    concurrency: int = 4,
) -> pd.DataFrame:
    """Untag one partition's rows (runs on a worker) and return one result row per input row,
    in its order, with ``index`` set to the row's label in the input frame."""
    report = client.remove_tags_many(
        partition, id_column=id_column, tags_column=tags_column, concurrency=concurrency
    )
    rows = [result.as_row() for result in report]
    for row in rows:
        row["index"] = partition.index[row["index"]]  # position in the partition -> label
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).astype(RESULT_COLUMNS)


def untag_with_dask(
    dask_client: Any,
    frame: pd.DataFrame,
    client: helpcrunch.Client,
    *,
    partitions: int = 4,
    id_column: str = "customer_id",
    tags_column: str = "tags",
    concurrency: int = 4,
) -> pd.DataFrame:
    """Untag every row of ``frame`` on the cluster behind ``dask_client`` (a
    ``distributed.Client``) and return the results, one row per input row, in input order."""
    size = max(1, -(-len(frame) // max(partitions, 1)))
    chunks = [frame.iloc[start : start + size] for start in range(0, len(frame), size)]
    # One copy of the client per worker process, not one per task.
    [shared_client] = dask_client.scatter([client], broadcast=True)
    futures = dask_client.map(
        untag_partition,
        chunks,
        client=shared_client,
        id_column=id_column,
        tags_column=tags_column,
        concurrency=concurrency,
        pure=False,  # never merge two chunks that happen to be equal
    )
    parts = dask_client.gather(futures)
    if not parts:
        return META.copy()
    results = pd.concat(parts, ignore_index=True)
    return results.sort_values("index", kind="stable").reset_index(drop=True)


def main() -> None:
    """Untag 400 customers on a local cluster of two worker processes, against a sandbox that
    refuses more than 2,400 requests a minute (HelpCrunch: 120), sharing that budget."""
    import tempfile
    from pathlib import Path

    from distributed import Client as DaskClient
    from distributed import LocalCluster

    from helpcrunch.sandbox import Sandbox

    limit = 2400
    tags = [{"name": "Lead", "color": "#c57de0"}, {"name": "vip", "color": "#ff0000"}]
    customers = [{"id": i, "tags": tags} for i in range(1, 401)]
    with (
        tempfile.TemporaryDirectory() as budget_dir,
        Sandbox(customers=customers, rate_limit=limit) as sandbox,
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        DaskClient(cluster) as dask_client,
    ):
        # Against HelpCrunch itself: helpcrunch.Client(rate_limit_backend=...), rate_limit
        # left at its default of 120; a cluster of several machines shares through Redis
        # (rate_limit_backend="redis://redis.internal:6379/0").
        client = helpcrunch.Client(
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            rate_limit=limit,
            rate_limit_backend=(Path(budget_dir) / "helpcrunch.budget").as_uri(),
        )
        frame = pd.DataFrame({"customer_id": range(1, 401), "tags": [["Lead"]] * 400})
        results = untag_with_dask(dask_client, frame, client, partitions=8)
        print(results[["index", "customer_id", "ok", "attempts"]].head())
        print(f"{int(results['ok'].sum())} of {len(results)} rows untagged")
        print(f"429s from the sandbox: {sandbox.status_count(429)}")
        print("customer 1 now has", sandbox.customer(1)["tags"])


if __name__ == "__main__":
    main()
