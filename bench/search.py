"""Finding customers: how fast a search streams, next to a plain httpx loop doing the same
paging, and how many requests each way of using a search costs.

    python bench/search.py                      # 200,000 customers, 3 runs; counts on 10,000
    python bench/search.py --customers 50000 --runs 5 --only speed

Speed: the sandbox serves a generated account (``helpcrunch sandbox --customers N``) from a
process of its own, without a rate limit; each measurement is a fresh process that streams the
whole list (``GET /customers``) and every Lead (``POST /customers/search``) 100 a page, sorted
by firstSeen, each customer parsed into a dict: ``client.list_customers()`` and
``search_customers(tag="Lead")``, blocking and async, against an ``httpx.Client`` loop that
pages by offset and calls ``response.json()``. With ``--pin split`` (the default on 2 or more
CPUs) the server runs on the first half of the CPUs and the clients on the rest.

Requests: in-process sandboxes count every request exactly; each pattern (reading, untagging
every customer found, untagging half, customers arriving during the scan, equal firstSeen in a
fresh order on every request, a page-size cap) runs once over the same matches.

It prints Markdown tables (medians for speed); it reports and never fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

SPEED_WORKER = r"""
import asyncio, json, os, sys, time
cpus, way, base_url, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if cpus:
    os.sched_setaffinity(0, [int(c) for c in cpus.split(",")])

LEAD = [{"field": "customers.tagsData", "operator": "=", "value": [{"name": "Lead"}]}]
SORT = {"sort": "customers.firstSeen", "order": "asc"}

def helpcrunch_sync(search):
    import helpcrunch
    with helpcrunch.Client(api_key=key, base_url=base_url, rate_limit=None) as client:
        found = client.search_customers(tag="Lead") if search else client.list_customers()
        return sum(1 for customer in found if customer["id"])

def helpcrunch_async(search):
    import helpcrunch
    async def main():
        async with helpcrunch.AsyncClient(api_key=key, base_url=base_url, rate_limit=None) as ac:
            found = ac.search_customers(tag="Lead") if search else ac.list_customers()
            return sum([1 async for customer in found if customer["id"]])
    return asyncio.run(main())

def httpx_loop(search):
    import httpx
    count = offset = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        while True:
            if search:
                body = {"filter": LEAD, "limit": 100, "offset": offset, **SORT}
                response = http.post("/customers/search", json=body)
            else:
                params = {"offset": offset, "limit": 100, **SORT}
                response = http.get("/customers", params=params)
            response.raise_for_status()
            page = response.json()
            count += sum(1 for customer in page["data"] if customer["id"])
            offset += 100
            if offset >= page["total"] or not page["data"]:
                return count

run = {"helpcrunch": helpcrunch_sync, "helpcrunch-async": helpcrunch_async,
       "httpx": httpx_loop}[way.split(":")[0]]
search = way.endswith(":search")
started = time.perf_counter()
count = run(search)
print(json.dumps({"count": count, "seconds": time.perf_counter() - started}))
"""

WAYS = [
    ("list", "helpcrunch", "`client.list_customers()`"),
    ("list", "helpcrunch-async", "`async for` over `AsyncClient.list_customers()`"),
    ("list", "httpx", "`httpx.Client` loop, `GET /customers`"),
    ("search", "helpcrunch", '`client.search_customers(tag="Lead")`'),
    ("search", "helpcrunch-async", '`async for` over `search_customers(tag="Lead")`'),
    ("search", "httpx", "`httpx.Client` loop, `POST /customers/search`"),
]


def start_sandbox(customers: int, cpus: str) -> tuple[subprocess.Popen[str], str, str]:
    cmd = [sys.executable, "-m", "helpcrunch", "sandbox", "--customers", str(customers)]
    cmd += ["--seed", "1"]
    if cpus:
        pin = f"import os, sys; os.sched_setaffinity(0, [{cpus}]); "
        cmd = [sys.executable, "-c", pin + "from helpcrunch._cli import main; sys.exit(main())"]
        cmd += ["sandbox", "--customers", str(customers), "--seed", "1"]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = key = ""
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("export HELPCRUNCH_BASE_URL="):
            url = line.split("=", 1)[1].strip()
        elif line.startswith("export HELPCRUNCH_API_KEY="):
            key = line.split("=", 1)[1].strip()
            break
    return server, url, key


def speed(customers: int, runs: int, pin: str) -> None:
    n = os.cpu_count() or 1
    split = pin == "split" and n >= 2
    server_cpus = ",".join(str(c) for c in range(n // 2)) if split else ""
    client_cpus = ",".join(str(c) for c in range(n // 2, n)) if split else ""
    server, url, key = start_sandbox(customers, server_cpus)
    try:
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(runs):
            # Interleaved, so drifting load on the machine hits every way alike.
            for kind, way, _label in WAYS:
                out = subprocess.run(
                    [sys.executable, "-c", SPEED_WORKER, client_cpus, f"{way}:{kind}", url, key],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results.setdefault((kind, way), []).append(json.loads(out.stdout))
    finally:
        server.terminate()
        server.wait()
    placement = (
        f"server on CPU {server_cpus}, clients on CPU {client_cpus}" if split else "unpinned"
    )
    print(
        f"\n### Customers streamed a second\n\n{customers:,} generated customers (seed 1), "
        f"pages of 100 sorted by firstSeen, median of {runs} runs; {platform.machine()}, "
        f"{n} CPUs ({placement}), load {os.getloadavg()[0]:.1f}\n"
    )
    print("| what | how | customers | customers/s | vs httpx |\n|---|---|---|---|---|")
    for kind in ("list", "search"):
        base = statistics.median(r["count"] / r["seconds"] for r in results[(kind, "httpx")])
        for k, way, label in WAYS:
            if k != kind:
                continue
            rate = statistics.median(r["count"] / r["seconds"] for r in results[(k, way)])
            count = results[(k, way)][0]["count"]
            print(f"| {kind} | {label} | {count:,} | {rate:,.0f} | {rate / base:.2f}x |")


# --- requests ------------------------------------------------------------------------------


def leads(n: int, run: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": f"c{i}@example.com",
            "firstSeen": str(1_600_000_000 + (i - 1) // run),
            "tags": [{"name": "Lead", "color": "#c57de0"}],
        }
        for i in range(1, n + 1)
    ]


def post(sb: Any, path: str, body: dict[str, Any]) -> None:
    import urllib.request

    request = urllib.request.Request(
        sb.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {sb.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def scan(sb: Any, act: str) -> tuple[int, int, dict[str, Any]]:
    """One scan of tag=Lead doing ``act`` to what it is given: (customers handed out, page
    requests the sandbox got, the search's stats)."""
    with sb.client() as client:
        sb.clear_requests()
        found = client.search_customers(tag="Lead")
        handed = 0
        for customer in found:
            handed += 1
            if act == "untag" or (act == "untag half" and customer["id"] % 2):
                client.remove_tags(customer["id"], "Lead")
            elif act == "arrivals" and handed % 50 == 0:
                post(sb, "/customers", {"firstSeen": "1900000000", "tags": [{"name": "Lead"}]})
                post(sb, "/customers", {"firstSeen": "1600000000", "tags": [{"name": "Lead"}]})
        pages = sum(1 for r in sb.requests if r.path == "/v1/customers/search")
        return handed, pages, found.stats


def requests(n: int, runs: int) -> None:
    from helpcrunch.sandbox import Sandbox

    rows: list[tuple[str, dict[str, Any], str]] = [
        ("reading", {"customers": leads(n)}, "read"),
        ("reading, equal firstSeen in runs of 7", {"customers": leads(n, 7)}, "read"),
        (
            "reading, runs of 7 in a fresh order every request",
            {"customers": leads(n, 7), "unstable_ties": True},
            "read",
        ),
        ("untagging every customer found", {"customers": leads(n)}, "untag"),
        (
            "untagging every customer found, runs of 7 in a fresh order",
            {"customers": leads(n, 7), "unstable_ties": True},
            "untag",
        ),
        ("untagging every other customer found", {"customers": leads(n)}, "untag half"),
        (
            "reading while 2 customers arrive every 50 (one at the end, one in the middle)",
            {"customers": leads(n)},
            "arrivals",
        ),
        (
            "reading, the server caps pages at 30",
            {"customers": leads(n), "max_page_size": 30},
            "read",
        ),
    ]
    print(
        f"\n### Requests a scan costs\n\n{n:,} customers tagged Lead, "
        '`search_customers(tag="Lead")` asking for pages of 100, no rate limit, counted by the '
        f"sandbox, {runs} runs of each (median, and the range when runs differ: without a rate "
        "limit the caller's untag calls race the page fetched ahead). *Fewest*: one request a "
        "page of what was handed out, at the page size in force.\n"
    )
    print(
        "| scan | handed out | page size | requests | fewest | over | pages asked again "
        "| customers re-read |\n|---|---|---|---|---|---|---|---|"
    )
    for label, settings, act in rows:
        results = []
        for _ in range(runs if act != "read" else 1):
            with Sandbox(log_capacity=10 * n, **settings) as sb:
                results.append(scan(sb, act))
        handed, _, stats = results[0]
        sent = sorted(r[1] for r in results)
        fewest = math.ceil(handed / stats["page_size"])
        middle = statistics.median(sent)
        spread = (
            f"{middle:,.0f}" if sent[0] == sent[-1] else f"{middle:,.0f} ({sent[0]}-{sent[-1]})"
        )
        over = f"{(middle - fewest) / fewest:+.1%}"
        asked = statistics.median(r[2]["rejected_pages"] for r in results)
        reread = statistics.median(r[2]["duplicates"] for r in results)
        print(
            f"| {label} | {handed:,} | {stats['page_size']} | {spread} | {fewest:,} | {over} | "
            f"{asked:.0f} | {reread:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000, help="account size for speed")
    parser.add_argument("--matches", type=int, default=10_000, help="matches for the counts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pin", choices=["split", "none"], default="split")
    parser.add_argument("--only", choices=["speed", "requests"])
    args = parser.parse_args()
    started = time.perf_counter()
    if args.only in (None, "speed"):
        speed(args.customers, args.runs, args.pin)
    if args.only in (None, "requests"):
        requests(args.matches, args.runs)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
