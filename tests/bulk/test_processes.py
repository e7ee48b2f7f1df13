"""Bulk runs beyond one process: a pickled client in a multiprocessing pool (fork and spawn), and
the Dask example on a local cluster of worker processes, all against a sandbox in this process
that the workers reach over loopback."""

from __future__ import annotations

import multiprocessing
import os
import sys
import types
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.bulk import (
    EXAMPLES,
    requests_per_customer,
    tag_names,
    tagged_customers,
    untag_chunk,
)

ROWS = 200
UNKNOWN = [900_001, 900_002, 900_003]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(customers=tagged_customers(ROWS)) as sb:
        yield sb


@pytest.mark.parametrize(
    "method",
    [
        pytest.param(
            "fork",
            marks=pytest.mark.skipif(
                "fork" not in multiprocessing.get_all_start_methods(), reason="no fork here"
            ),
        ),
        "spawn",
    ],
)
def test_a_pool_of_workers_untags_its_chunks_with_a_pickled_client(
    sandbox: Sandbox, method: str
) -> None:
    rows = [(i, "Lead") for i in range(1, ROWS + 1)] + [(cid, "Lead") for cid in UNKNOWN]
    chunks = [rows[start : start + 25] for start in range(0, len(rows), 25)]
    with sandbox.client() as client, multiprocessing.get_context(method).Pool(2) as pool:
        # The client goes to the workers pickled with every chunk.
        outcomes = pool.starmap(untag_chunk, [(client, chunk) for chunk in chunks])

    results = [row for chunk in outcomes for row in chunk]
    assert [cid for cid, *_ in results] == [cid for cid, _ in rows]
    assert all(ok for cid, ok, _, _ in results if cid not in UNKNOWN)
    assert [error for cid, _, error, _ in results if cid in UNKNOWN] == ["NotFoundError"] * 3
    assert os.getpid() not in {pid for *_, pid in results}, "the work ran in the workers"
    assert requests_per_customer(sandbox) == Counter({cid: 1 for cid, _ in rows})
    assert all(tag_names(sandbox, i) == ["keep"] for i in range(1, ROWS + 1))


@pytest.fixture(scope="module")
def dask_untag() -> Iterator[types.ModuleType]:
    pytest.importorskip("distributed")
    pytest.importorskip("pandas")
    sys.path.insert(0, str(EXAMPLES))
    try:
        import dask_untag

        yield dask_untag
    finally:
        sys.path.remove(str(EXAMPLES))


def test_the_dask_example_untags_every_row_on_worker_processes(
    sandbox: Sandbox, dask_untag: types.ModuleType, tmp_path: Path
) -> None:
    import pandas as pd
    from distributed import Client as DaskClient
    from distributed import LocalCluster

    ids = [*range(1, ROWS + 1), *UNKNOWN]
    # Labels that are not positions, to check each result row maps back to its input row.
    frame = pd.DataFrame(
        {"customer_id": ids, "tags": [["Lead"]] * len(ids)},
        index=range(1000, 1000 + len(ids)),
    )
    # The workers share one budget through a file, as the example does. The rate is high:
    # the pace itself is tested in tests/ratelimit/.
    budget = tmp_path / "budget"
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        DaskClient(cluster) as dask_client,
        sandbox.client(rate_limit=60_000, rate_limit_backend=budget.as_uri()) as client,
    ):
        results = dask_untag.untag_with_dask(dask_client, frame, client, partitions=6)
        worker_pids = set(dask_client.run(os.getpid).values())

    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    assert results["index"].tolist() == frame.index.tolist()
    assert results["customer_id"].tolist() == ids
    assert results["ok"].tolist() == [cid not in UNKNOWN for cid in ids]
    assert results.loc[results["customer_id"].isin(UNKNOWN), "status_code"].tolist() == [404] * 3
    # Each row was sent exactly once, and the sandbox ends as the results say.
    assert requests_per_customer(sandbox) == Counter(ids)
    assert all(tag_names(sandbox, i) == ["keep"] for i in range(1, ROWS + 1))
    # The workers paced themselves through the shared budget (this process sent nothing).
    header, account = budget.read_text().splitlines()
    assert header.startswith("helpcrunch-rate-limit v2") and len(account.split()[0]) == 64
