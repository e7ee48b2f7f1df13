"""The sandbox at a real account's scale: how long a generated account takes to start, what it
holds in memory, and what one page of a list or search costs over it.

    python bench/sandbox_scale.py                    # 200,000 customers, 3 runs each
    python bench/sandbox_scale.py --customers 50000 --runs 5

Each run is a fresh process holding the sandbox in-process (as ``Sandbox(customers=N)`` in a
test does) and paging it over one keep-alive connection with ``http.client``, reading each
body without parsing it, so the figures are the server's cost plus one local round trip. It
prints a Markdown table of medians; it reports and never fails. Every search but the paged
one asks something new, so none is answered from the matches the sandbox keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

WORKER = r"""
import http.client, json, resource, sys, time, urllib.parse
from helpcrunch.sandbox import Sandbox

count, seed = int(sys.argv[1]), int(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
sb = Sandbox(customers=count, seed=seed)
start_s = time.perf_counter() - started
rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
url = urllib.parse.urlparse(sb.base_url)
conn = http.client.HTTPConnection(url.hostname, url.port)
headers = {"Authorization": f"Bearer {sb.api_key}", "Content-Type": "application/json"}

def send(method, path, body=None):
    conn.request(method, url.path + path, None if body is None else json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    assert response.status == 200, data
    return data

def tag(name):
    return {"field": "customers.tagsData", "operator": "=", "value": [{"name": name}]}

def email(value):
    return {"field": "customers.email", "operator": "=", "value": value}

def per_page(pages, request):
    started = time.perf_counter()
    for i in range(pages):
        request(i)
    return (time.perf_counter() - started) / pages * 1000

by_first_seen = "sort=customers.firstSeen&limit=100"
lead = {"filter": [tag("Lead")], "sort": "customers.firstSeen", "limit": 100}
def lookup(i):
    return {"filter": [email(f"nobody{i}.{j}@example.com") for j in range(100)], "comparison": "OR"}


pages = min(300, count // 100)
results = {
    "start_s": start_s,
    "rss_mb": rss_mb,
    "list sorted by firstSeen, one page": per_page(
        pages, lambda i: send("GET", f"/customers?offset={i * 100}&{by_first_seen}")),
    "search tag=Lead sorted by firstSeen, next page": per_page(
        pages, lambda i: send("POST", "/customers/search", {**lead, "offset": i * 100})),
    "the same, each page after tagging a customer (the tag call included)": per_page(
        pages // 3, lambda i: (
            send("PUT", f"/customers/{i + 1}/tags", {"tags": [{"name": "bench"}]}),
            send("POST", "/customers/search", {**lead, "offset": i * 100}))),
    "search one email (=)": per_page(
        pages, lambda i: send("POST", "/customers/search", {"filter": [email(f"x{i}@example.com")]})),
    "search 100 emails (= joined by OR)": per_page(
        pages // 3, lambda i: send("POST", "/customers/search", lookup(i))),
}
print(json.dumps(results))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", WORKER, str(args.customers), str(args.seed)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout))
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    load = os.getloadavg()[0]
    print(
        f"{args.customers:,} generated customers (seed {args.seed}), median of {args.runs} "
        f"runs; {platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}\n"
    )
    print("| measure | median |\n|---|---|")
    print(f"| start `Sandbox(customers={args.customers})` | {median.pop('start_s'):.2f} s |")
    print(f"| memory it holds (RSS growth) | {median.pop('rss_mb'):.0f} MB |")
    for key, ms in median.items():
        print(f"| {key} | {ms:.2f} ms |")


if __name__ == "__main__":
    main()
