"""One measurement in this process, printed as one JSON line: run by bench/run.py, one fresh
process per client and repeat, so that clients never disturb each other (imports, pools, GC).

    python bench/clients.py sync helpcrunch --url http://127.0.0.1:PORT/v1 --key KEY --seconds 5

Every client does the same work: ``DELETE {url}/customers/{id}/tags`` with the body
``{"tags":[{"name":"Lead"}]}`` and ``Authorization: Bearer KEY``, the JSON answer parsed into a
dict, ids cycling over the sandbox's demo customers 542335..542344, connections reused, no
retries, no client-side rate limit. A measurement is a warm-up, then a fixed duration (or a
fixed count, for the memory runs).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

FIRST_ID = 542335
IDS = 10
TAGS = [{"name": "Lead"}]
BODY = {"tags": TAGS}
CONCURRENCY = 32
# A gather of this many calls at a time, all behind one Semaphore(32): large enough that the
# drain at the end of each chunk costs under 1 %, small enough not to build 100,000s of tasks.
CHUNK = 10_000


class BenchError(Exception):
    """A measurement that could not be made; reported as {"error": …} rather than a crash."""


def customer_id(i: int) -> int:
    return FIRST_ID + i % IDS


def cpu_seconds() -> float:
    """User + system CPU of this whole process (every thread, the Rust runtime's too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def maxrss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(customer: Any, expected: int) -> None:
    if type(customer) is not dict or customer.get("id") != expected:
        raise BenchError(f"unexpected answer for {expected}: {customer!r:.200}")


def hc_settings(args: argparse.Namespace, rate_limit: float | None = None) -> dict[str, Any]:
    return {
        "api_key": args.key,
        "base_url": args.url,
        "max_retries": 0,
        "rate_limit": rate_limit,
        "timeout": 30.0,
    }


def result(n: int, elapsed: float, cpu: float, **extra: Any) -> dict[str, Any]:
    return {
        "requests": n,
        "seconds": round(elapsed, 4),
        "rps": n / elapsed if elapsed > 0 else 0.0,
        "cpu_us_per_req": 1e6 * cpu / n if n else None,
        "peak_rss_mb": round(maxrss_mb(), 1),
        **extra,
    }


# ---------------------------------------------------------------- 1. sequential sync


def sync_call(
    name: str, args: argparse.Namespace
) -> tuple[Callable[[int], Any], Callable[[], None]]:
    """A function doing one request for a customer id and returning the parsed dict."""
    url = args.url.rstrip("/")
    if name == "helpcrunch":
        import helpcrunch

        client = helpcrunch.Client(**hc_settings(args))
        return (lambda cid: client.remove_tags(cid, TAGS)), client.close
    if name == "requests":
        import requests

        session = requests.Session()  # its HTTPAdapter does not retry (max_retries=0)
        session.headers["Authorization"] = f"Bearer {args.key}"

        def call_requests(cid: int) -> Any:
            r = session.delete(f"{url}/customers/{cid}/tags", json=BODY, timeout=30.0)
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            return r.json()

        return call_requests, session.close
    if name == "httpx":
        import httpx

        client = httpx.Client(headers={"Authorization": f"Bearer {args.key}"}, timeout=30.0)

        def call_httpx(cid: int) -> Any:
            # httpx's .delete() takes no body: .request() is how a DELETE with JSON is sent.
            r = client.request("DELETE", f"{url}/customers/{cid}/tags", json=BODY)
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            return r.json()

        return call_httpx, client.close
    raise SystemExit(f"unknown sync client {name!r}")


def run_sync(name: str, args: argparse.Namespace) -> dict[str, Any]:
    call, close = sync_call(name, args)
    check(call(FIRST_ID), FIRST_ID)
    i = 0
    end = time.perf_counter() + args.warmup
    while time.perf_counter() < end:
        call(customer_id(i))
        i += 1
    gc.collect()
    n = 0
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    end = t0 + args.seconds
    now = t0
    while now < end:
        call(customer_id(n))
        n += 1
        now = time.perf_counter()
    cpu = cpu_seconds() - cpu0
    close()
    return result(n, now - t0, cpu)


# ---------------------------------------------------------------- 2. 32 in flight


class AsyncPeer:
    """One async client: ``call(cid)`` returns the parsed dict."""

    async def __aenter__(self) -> AsyncPeer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def call(self, cid: int) -> Any:
        raise NotImplementedError


def async_peer(name: str, args: argparse.Namespace) -> AsyncPeer:
    url = args.url.rstrip("/")
    headers = {"Authorization": f"Bearer {args.key}"}
    if name == "helpcrunch":
        import helpcrunch

        class Helpcrunch(AsyncPeer):
            async def __aenter__(self) -> AsyncPeer:
                self.client = helpcrunch.AsyncClient(**hc_settings(args))
                return self

            async def __aexit__(self, *exc: object) -> None:
                await self.client.aclose()

            def call(self, cid: int) -> Any:
                return self.client.remove_tags(cid, TAGS)

        return Helpcrunch()
    if name == "aiohttp":
        import aiohttp

        class Aiohttp(AsyncPeer):
            async def __aenter__(self) -> AsyncPeer:
                self.session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=CONCURRENCY),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30.0),
                )
                return self

            async def __aexit__(self, *exc: object) -> None:
                await self.session.close()

            async def call(self, cid: int) -> Any:
                async with self.session.delete(f"{url}/customers/{cid}/tags", json=BODY) as r:
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}")
                    return await r.json()

        return Aiohttp()
    if name == "httpx":
        import httpx

        class Httpx(AsyncPeer):
            async def __aenter__(self) -> AsyncPeer:
                self.client = httpx.AsyncClient(
                    headers=headers,
                    timeout=30.0,
                    limits=httpx.Limits(
                        max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY
                    ),
                )
                return self

            async def __aexit__(self, *exc: object) -> None:
                await self.client.aclose()

            async def call(self, cid: int) -> Any:
                r = await self.client.request("DELETE", f"{url}/customers/{cid}/tags", json=BODY)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
                return r.json()

        return Httpx()
    raise SystemExit(f"unknown async client {name!r}")


# A run that makes no progress for this long has stalled (with 32 in flight, a call takes a
# few milliseconds): it is reported as such rather than waited on for ever.
STALL_SECONDS = 30.0


async def watched(awaitable: Any, progress: Callable[[], int], total: int) -> Any:
    """Await ``awaitable``; exit with "stalled" if ``progress()`` stops moving."""
    task = asyncio.ensure_future(awaitable)
    last = progress()
    while True:
        finished, _ = await asyncio.wait({task}, timeout=STALL_SECONDS)
        if finished:
            return task.result()
        now = progress()
        if now == last:
            task.cancel()
            raise BenchError(
                f"stalled: {total - now} of {total} calls unfinished, none finishing for "
                f"{STALL_SECONDS:g} s (a lost wake-up?)"
            )
        last = now


async def gather_bounded(peer: AsyncPeer, sem: asyncio.Semaphore, start: int, count: int) -> Any:
    """``count`` calls under ``asyncio.gather``, at most 32 at a time (the shared semaphore)."""
    done = 0

    async def one(i: int) -> Any:
        nonlocal done
        async with sem:
            out = await peer.call(customer_id(i))
        done += 1
        return out

    calls = asyncio.gather(*(one(i) for i in range(start, start + count)))
    return await watched(calls, lambda: done, count)


async def async_main(name: str, args: argparse.Namespace) -> dict[str, Any]:
    async with async_peer(name, args) as peer:
        check(await peer.call(FIRST_ID), FIRST_ID)
        sem = asyncio.Semaphore(CONCURRENCY)
        end = time.perf_counter() + args.warmup
        while time.perf_counter() < end:
            await gather_bounded(peer, sem, 0, 1000)
        gc.collect()
        n = 0
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        end = t0 + args.seconds
        now = t0
        while now < end:
            await gather_bounded(peer, sem, n, CHUNK)
            n += CHUNK
            now = time.perf_counter()
        cpu = cpu_seconds() - cpu0
    return result(n, now - t0, cpu)


def run_loop(main: Any, loop: str) -> Any:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def run_async(name: str, args: argparse.Namespace) -> dict[str, Any]:
    out = run_loop(async_main(name, args), args.loop)
    out["loop"] = args.loop
    return out


# ---------------------------------------------------------------- 3. bulk


def bulk_available() -> bool:
    import helpcrunch

    return hasattr(helpcrunch.Client, "remove_tags_many")


def items(start: int, count: int) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """Lazy ``(customer_id, tags)`` pairs."""
    return ((customer_id(i), TAGS) for i in range(start, start + count))


def count_results(results: Any) -> tuple[int, int, Any]:
    """(succeeded, failed, first error) over bulk results."""
    ok = failed = 0
    first_error = None
    for r in results:
        if r.ok:
            ok += 1
        else:
            failed += 1
            if first_error is None:
                first_error = r.error
    return ok, failed, first_error


def run_bulk_many(args: argparse.Namespace) -> dict[str, Any]:
    """``Client.remove_tags_many(items, concurrency=32)`` over a list sized to ~``seconds``."""
    import helpcrunch

    client = helpcrunch.Client(**hc_settings(args))
    warm = 2000
    t0 = time.perf_counter()
    report = client.remove_tags_many(list(items(0, warm)), concurrency=CONCURRENCY)
    warm_rate = warm / (time.perf_counter() - t0)
    ok, failed, err = count_results(report)
    if failed:
        raise BenchError(f"bulk warm-up: {failed} failed, first: {err!r}")
    end = time.perf_counter() + max(0.0, args.warmup - warm / warm_rate)
    while time.perf_counter() < end:
        client.remove_tags_many(list(items(0, warm)), concurrency=CONCURRENCY)
    n = max(1000, int(warm_rate * args.seconds))
    batch = list(items(0, n))
    del report
    gc.collect()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    report = client.remove_tags_many(batch, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    ok, failed, err = count_results(report)
    client.close()
    return result(ok, elapsed, cpu, failed=failed, first_error=repr(err) if err else None)


async def warm_up_and_size(run: Callable[[int], Awaitable[Any]], args: argparse.Namespace) -> int:
    """Warm up an async bulk run with ``run(count)`` for ``args.warmup`` seconds (at least one
    run of 2,000 items), and return how many items a measurement of ``args.seconds`` needs."""
    warm = 2000
    t0 = time.perf_counter()
    await run(warm)
    warm_rate = warm / (time.perf_counter() - t0)
    end = time.perf_counter() + max(0.0, args.warmup - warm / warm_rate)
    while time.perf_counter() < end:
        await run(warm)
    return max(1000, int(warm_rate * args.seconds))


async def iter_async_main(args: argparse.Namespace) -> dict[str, Any]:
    """``async for r in AsyncClient.iter_remove_tags(items, concurrency=32)``."""
    import helpcrunch

    async with helpcrunch.AsyncClient(**hc_settings(args)) as client:

        async def run(count: int) -> None:
            async for _ in client.iter_remove_tags(items(0, count), concurrency=CONCURRENCY):
                pass

        n = await warm_up_and_size(run, args)
        gc.collect()
        ok = failed = 0
        first_error = None
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        async for r in client.iter_remove_tags(items(0, n), concurrency=CONCURRENCY):
            if r.ok:
                ok += 1
            else:
                failed += 1
                first_error = first_error or r.error
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
    return result(
        ok, elapsed, cpu, failed=failed, first_error=repr(first_error) if first_error else None
    )


async def aiohttp_all_main(args: argparse.Namespace) -> dict[str, Any]:
    """aiohttp doing what ``remove_tags_many`` does: one ``gather`` over every item, 32 at a
    time, keeping every parsed customer until the end (the like-for-like peer of a run that
    returns a report of all results)."""
    async with async_peer("aiohttp", args) as peer:
        sem = asyncio.Semaphore(CONCURRENCY)
        n = await warm_up_and_size(lambda count: gather_bounded(peer, sem, 0, count), args)
        gc.collect()
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        customers = await gather_bounded(peer, sem, 0, n)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
    for i in (0, n - 1):
        check(customers[i], customer_id(i))
    return result(len(customers), elapsed, cpu)


def run_bulk(name: str, args: argparse.Namespace) -> dict[str, Any]:
    if name == "aiohttp-all":
        return run_loop(aiohttp_all_main(args), args.loop)
    if not bulk_available():
        return {"skipped": "not available"}
    if name == "many":
        return run_bulk_many(args)
    if name == "iter":
        out = run_loop(iter_async_main(args), args.loop)
        out["loop"] = args.loop
        return out
    raise SystemExit(f"unknown bulk mode {name!r}")


# ---------------------------------------------------------------- 5. pace


def paced_rate(done: list[float]) -> float:
    """Steady rate from completion times: (n - 1) intervals over first-to-last."""
    done.sort()
    if len(done) < 2 or done[-1] <= done[0]:
        return 0.0
    return (len(done) - 1) / (done[-1] - done[0])


def run_pace(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """A client limited to ``--rate`` a minute against a server enforcing the same limit."""
    import helpcrunch

    limit = args.rate
    client = helpcrunch.Client(**hc_settings(args, rate_limit=limit))
    done: list[float] = []
    counts = {"ok": 0, "429": 0, "other_errors": 0}
    first_error: list[str] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    end = t0 + args.seconds

    def worker(offset: int) -> None:
        i = offset
        while time.perf_counter() < end:
            try:
                client.remove_tags(customer_id(i), TAGS)
                key = "ok"
            except helpcrunch.RateLimitError:
                key = "429"
            except helpcrunch.APIError as e:
                key = "other_errors"
                first_error.append(repr(e))
            t = time.perf_counter()
            with lock:
                counts[key] += 1
                if key == "ok":
                    done.append(t)
            i += 1

    if name == "seq":
        worker(0)
    elif name == "threads":
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif name == "bulk":
        if not bulk_available():
            return {"skipped": "not available"}
        n = max(2, int(limit / 60 * args.seconds))
        for r in client.remove_tags_many(list(items(0, n)), concurrency=CONCURRENCY):
            if r.ok:
                counts["ok"] += 1
            elif isinstance(r.error, helpcrunch.RateLimitError):
                counts["429"] += 1
            else:
                counts["other_errors"] += 1
                first_error.append(repr(r.error))
        # The bulk form gives no completion times: (n - 1) intervals over the whole run.
        elapsed = time.perf_counter() - t0
        rate = (counts["ok"] - 1) / elapsed if counts["ok"] > 1 else 0.0
        client.close()
        return {
            "limit_per_min": limit,
            "rate_per_min": rate * 60,
            "share": rate * 60 / limit,
            "seconds": round(elapsed, 2),
            "threads": 1,
            **counts,
            "first_error": first_error[0] if first_error else None,
        }
    else:
        raise SystemExit(f"unknown pace mode {name!r}")
    client.close()
    rate = paced_rate(done)
    return {
        "limit_per_min": limit,
        "rate_per_min": rate * 60,
        "share": rate * 60 / limit,
        "seconds": round(time.perf_counter() - t0, 2),
        "threads": args.threads if name == "threads" else 1,
        **counts,
        "first_error": first_error[0] if first_error else None,
    }


# ---------------------------------------------------------------- 6. memory


class PeakRss:
    """Samples this process's RSS every few ms (the kernel's ru_maxrss may predate the run)."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.baseline = self._proc.memory_info().rss
        self.peak = self.baseline
        self._maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if maxrss > self._maxrss0:  # a new high-water mark the sampler may have missed
            self.peak = max(self.peak, maxrss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


def warm_up_process(args: argparse.Namespace) -> None:
    """Import and exercise everything once, so that the baseline includes it."""
    import helpcrunch

    with helpcrunch.Client(**hc_settings(args)) as c:
        for i in range(200):
            c.remove_tags(customer_id(i), TAGS)
    gc.collect()


def run_memory(name: str, args: argparse.Namespace) -> dict[str, Any]:
    import helpcrunch

    n = args.count
    if name == "stream":
        # 1,000,000 lazy items through iter_remove_tags, each result dropped as it comes.
        if not hasattr(helpcrunch.Client, "iter_remove_tags") and not hasattr(
            helpcrunch.AsyncClient, "iter_remove_tags"
        ):
            return {"skipped": "not available"}
        warm_up_process(args)
        ok = failed = 0
        with PeakRss() as rss:
            t0 = time.perf_counter()
            if hasattr(helpcrunch.Client, "iter_remove_tags"):
                form = "Client.iter_remove_tags"
                with helpcrunch.Client(**hc_settings(args)) as c:
                    for r in c.iter_remove_tags(items(0, n), concurrency=CONCURRENCY):
                        if r.ok:
                            ok += 1
                        else:
                            failed += 1
            else:
                form = "AsyncClient.iter_remove_tags"

                async def stream() -> tuple[int, int]:
                    good = bad = 0
                    async with helpcrunch.AsyncClient(**hc_settings(args)) as c:
                        async for r in c.iter_remove_tags(items(0, n), concurrency=CONCURRENCY):
                            if r.ok:
                                good += 1
                            else:
                                bad += 1
                    return good, bad

                ok, failed = asyncio.run(stream())
            elapsed = time.perf_counter() - t0
        return {
            "form": form,
            "items": n,
            "ok": ok,
            "failed": failed,
            "growth_mb": round(rss.growth_mb, 1),
            "rps": n / elapsed,
        }
    if name == "collect-many":
        # remove_tags_many over 100,000 items: the report keeps every customer dict.
        if not bulk_available():
            return {"skipped": "not available"}
        warm_up_process(args)
        with PeakRss() as rss:
            t0 = time.perf_counter()
            with helpcrunch.Client(**hc_settings(args)) as c:
                report = c.remove_tags_many(items(0, n), concurrency=CONCURRENCY)
            elapsed = time.perf_counter() - t0
            kept = len(report)
        return {
            "form": "Client.remove_tags_many",
            "items": n,
            "kept": kept,
            "growth_mb": round(rss.growth_mb, 1),
            "rps": n / elapsed,
        }
    if name in ("collect-helpcrunch", "collect-aiohttp"):
        # The same 100,000 dicts collected by asyncio.gather + Semaphore(32) in one go.
        peer_name = name.split("-", 1)[1]
        warm_up_process(args)
        if peer_name != "helpcrunch":
            __import__(peer_name)

        async def collect() -> list[Any]:
            async with async_peer(peer_name, args) as peer:
                return list(await gather_bounded(peer, asyncio.Semaphore(CONCURRENCY), 0, n))

        with PeakRss() as rss:
            t0 = time.perf_counter()
            kept = asyncio.run(collect())
            elapsed = time.perf_counter() - t0
        return {
            "form": f"{peer_name} gather",
            "items": n,
            "kept": len(kept),
            "growth_mb": round(rss.growth_mb, 1),
            "rps": n / elapsed,
        }
    raise SystemExit(f"unknown memory mode {name!r}")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["sync", "async", "bulk", "pace", "memory"])
    parser.add_argument("name", help="client or mode, e.g. helpcrunch, requests, aiohttp")
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--rate", type=float, default=600, help="pace: limit a minute")
    parser.add_argument("--threads", type=int, default=4, help="pace: threads")
    parser.add_argument("--count", type=int, default=100_000, help="memory: items")
    args = parser.parse_args()
    host = args.url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise SystemExit(f"refusing to benchmark against {host}: loopback only")
    runners: dict[str, Callable[[str, argparse.Namespace], dict[str, Any]]] = {
        "sync": run_sync,
        "async": run_async,
        "bulk": run_bulk,
        "pace": run_pace,
        "memory": run_memory,
    }
    try:
        out = runners[args.kind](args.name, args)
    except BenchError as e:
        out = {"error": str(e)}
    out.update(kind=args.kind, name=args.name, pid=os.getpid())
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    # Exit at once: a stalled run leaves calls behind that interpreter shutdown need not wait on.
    os._exit(0)


if __name__ == "__main__":
    main()
