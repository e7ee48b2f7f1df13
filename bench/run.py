"""Benchmark helpcrunch side by side with the clients users would pick instead.

    python bench/run.py                      # everything, ~12 minutes
    python bench/run.py --quick              # everything, short runs, ~3 minutes
    python bench/run.py --only sync,ceiling  # some sections
    python bench/run.py --json out.json      # also every raw number

Sections: sync (sequential calls), async (32 in flight), bulk (remove_tags_many /
iter_remove_tags, and aiohttp keeping every result), ceiling (wrk, else bench/loadgen, at 1 and
32 connections), pace (against a rate-limited sandbox), memory (peak RSS growth), import (import
time).

The server is the package's own sandbox, `python -m helpcrunch sandbox --port 0`, in its own
process; every measurement runs in a fresh process (bench/clients.py). Floors from the issue are
printed next to each ratio with ✓/✗: this reports, it never fails on them. Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CLIENTS = BENCH / "clients.py"
LUA = BENCH / "delete_tags.lua"
LOADGEN = BENCH / "loadgen"
SECTIONS = ["sync", "async", "bulk", "ceiling", "pace", "memory", "import"]
PEERS = ["requests", "httpx", "aiohttp", "uvloop", "psutil"]

# The floors.
FLOOR_SYNC_HTTPX = 3.5
FLOOR_SYNC_REQUESTS = 5.0
FLOOR_SYNC_CEILING = 0.75
FLOOR_ASYNC_AIOHTTP = 2.0
FLOOR_BULK_AIOHTTP = 4.0
FLOOR_PACE = 0.97
FLOOR_STREAM_MB = 50.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    """This environment without HELPCRUNCH_* (no stray key, URL or debug logging)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}


# ---------------------------------------------------------------- where processes run

# Starts a command pinned to some CPUs (exec keeps the affinity, and every thread the command
# starts later inherits it): python -c PIN "0,1" cmd args…
PIN = (
    "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); "
    "os.execvp(sys.argv[2], sys.argv[2:])"
)


@dataclass
class Placement:
    """Which CPUs the server and the clients (and load generators) run on.

    On a VM a wake-up across cores can cost tens of microseconds, so where the scheduler
    happens to put the two ends of a one-connection ping-pong changes its rate several-fold
    from run to run; pinning makes runs repeatable.
    - ``split``: the server on the first half of the CPUs, everything else on the rest.
    - ``one``: everything on the first CPU (no cross-core wake-ups: the cost of the work alone).
    - ``none``: wherever the scheduler puts them.
    """

    mode: str
    server: list[int] | None = None
    client: list[int] | None = None

    @classmethod
    def make(cls, mode: str) -> Placement:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if mode == "none" or not cpus or (mode == "split" and len(cpus) < 2):
            return cls("none")
        if mode == "one":
            return cls("one", cpus[:1], cpus[:1])
        half = len(cpus) // 2
        return cls("split", cpus[:half], cpus[half:])

    def server_cmd(self, cmd: list[str]) -> list[str]:
        return self._pin(cmd, self.server)

    def client_cmd(self, cmd: list[str]) -> list[str]:
        return self._pin(cmd, self.client)

    @staticmethod
    def _pin(cmd: list[str], cpus: list[int] | None) -> list[str]:
        if not cpus:
            return cmd
        return [sys.executable, "-c", PIN, ",".join(map(str, cpus)), *cmd]

    def describe(self) -> str:
        if self.mode == "none":
            return "Placement: unpinned (`--pin none`): the scheduler places client and server."
        if self.mode == "one":
            return (
                f"Placement: server, clients and load generators all on CPU {self.server[0]} "
                "(`--pin one`): no cross-core wake-ups, so rates reflect the CPU work alone."
            )
        return (
            f"Placement: server on CPU {_cpus(self.server)}, clients and load generators on "
            f"CPU {_cpus(self.client)} (`--pin split`)."
        )


def _cpus(cpus: list[int] | None) -> str:
    return ",".join(map(str, cpus or []))


PLACE = Placement("none")


# ---------------------------------------------------------------- the server


class Sandbox:
    """``python -m helpcrunch sandbox --port 0`` in its own process, stopped with SIGTERM."""

    def __init__(self, rate_limit: int | None = None) -> None:
        cmd = [sys.executable, "-m", "helpcrunch", "sandbox", "--port", "0"]
        if rate_limit is not None:
            cmd += ["--rate-limit", str(rate_limit)]
        self.proc = subprocess.Popen(
            PLACE.server_cmd(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=BENCH,
        )
        self.url = self.key = ""
        lines: list[str] = []

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.append(line)
                if line.startswith("export HELPCRUNCH_BASE_URL="):
                    self.url = line.split("=", 1)[1].strip()
                elif line.startswith("export HELPCRUNCH_API_KEY="):
                    self.key = line.split("=", 1)[1].strip()
                if self.url and self.key:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(30)
        if not (self.url and self.key):
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise SystemExit(f"the sandbox did not start: {''.join(lines)}{err}")
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise SystemExit(f"the sandbox is not on 127.0.0.1: {self.url}")
        # Drain its pipes so that it can never block on a full one.
        for pipe in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=lambda p=pipe: p.read(), daemon=True).start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- running measurements


@dataclass
class Quiet:
    """Waits before each measurement until the machine is idle (other work skews the numbers:
    client, server and load generator already share the cores), and records how busy it was."""

    max_wait: float
    threshold: float = 20.0
    busy: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    waited: float = 0.0

    def wait(self) -> float | None:
        try:
            import psutil
        except ImportError:
            return None
        t0 = time.monotonic()
        busy = psutil.cpu_percent(interval=0.5)
        while busy > self.threshold and time.monotonic() - t0 < self.max_wait:
            busy = psutil.cpu_percent(interval=1.0)
        self.waited += time.monotonic() - t0
        self.busy.append(busy)
        return busy

    @contextlib.contextmanager
    def watch(self, server: Sandbox) -> Iterator[dict[str, Any]]:
        """Measures the CPU that processes other than ours (this one, its children, the server)
        used meanwhile, in % of one CPU: ``out["other_cpu_pct"]``."""
        out: dict[str, Any] = {}
        try:
            import psutil

            srv = psutil.Process(server.proc.pid)
        except (ImportError, OSError):
            yield out
            return

        def ours() -> float:
            s, c = (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
            with contextlib.suppress(psutil.Error):
                t = srv.cpu_times()
                return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + t.user + t.system
            return float("nan")

        def busy() -> float:
            t = psutil.cpu_times()
            return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq"))

        t0, busy0, ours0 = time.monotonic(), busy(), ours()
        yield out
        elapsed = time.monotonic() - t0
        other = (busy() - busy0) - (ours() - ours0)
        if elapsed > 0 and other == other:
            pct = max(0.0, 100 * other / elapsed)
            out["other_cpu_pct"] = round(pct, 1)
            self.during.append(pct)

    def summary(self) -> str:
        if not self.busy:
            return ""
        text = f"Other processes' CPU use, in % of one CPU: {self.waited:.0f} s spent waiting "
        text += f"for it to drop under {self.threshold:g} % before measurements"
        if self.during:
            over = sum(b > self.threshold for b in self.during)
            text += (
                f"; during the {len(self.during)} measurements median "
                f"{statistics.median(self.during):.0f} %, max {max(self.during):.0f} %"
                + (f" ({over} above {self.threshold:g} %)" if over else "")
            )
        return text + "."


QUIET = Quiet(max_wait=0.0)


def run_client(
    kind: str, name: str, server: Sandbox, timeout: float, *extra: str
) -> dict[str, Any]:
    """One measurement in a fresh process: its JSON line, or {"error": …}."""
    busy = QUIET.wait()
    cmd = [sys.executable, str(CLIENTS), kind, name, "--url", server.url, "--key", server.key]
    cmd += list(extra)
    try:
        with QUIET.watch(server) as watched:
            proc = subprocess.run(
                PLACE.client_cmd(cmd),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=child_env(),
                cwd=BENCH,
            )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    out: dict[str, Any] = {}
    with contextlib.suppress(ValueError, IndexError):
        out = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not out:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        out = {"error": f"exit {proc.returncode}: {tail[0][:200]}"}
    out["busy_before_pct"] = busy
    out.update(watched)
    return out


@dataclass
class Measure:
    """Repeats of one client's throughput measurement."""

    test: str
    label: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def good(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if "rps" in r]

    @property
    def rps(self) -> float | None:
        good = self.good
        return statistics.median(r["rps"] for r in good) if good else None

    def median_of(self, key: str) -> float | None:
        values = [r[key] for r in self.good if r.get(key) is not None]
        return statistics.median(values) if values else None

    @property
    def problem(self) -> str | None:
        for r in self.runs:
            if "skipped" in r:
                return str(r["skipped"])
            if "error" in r:
                return f"failed: {r['error']}"
            if r.get("failed"):
                return f"{r['failed']} of {r['failed'] + r['requests']} failed: {r['first_error']}"
        return None if self.good else "no result"

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test, "label": self.label, "rps": self.rps, "runs": self.runs}


def interleaved(
    jobs: list[tuple[Measure, str, str, list[str]]],
    server: Sandbox,
    repeats: int,
    timeout: float,
) -> None:
    """Runs every job ``repeats`` times, round-robin (A B C A B C …) so drift hits all alike."""
    for r in range(repeats):
        for measure, kind, name, extra in jobs:
            if any("skipped" in x or "error" in x for x in measure.runs):
                continue  # not available, or already failed: the report says why
            log(f"  {measure.test}: {measure.label} (run {r + 1}/{repeats})")
            out = run_client(kind, name, server, timeout, *extra)
            measure.runs.append(out)
            if "rps" in out:
                log(f"    {out['rps']:,.0f} req/s")
            else:
                log(f"    {out.get('skipped') or out.get('error')}")


# ---------------------------------------------------------------- the ceiling


def wrk_version(wrk: str) -> str:
    proc = subprocess.run([wrk, "-v"], capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return text[0] if text else "wrk"


def run_wrk(wrk: str, server: Sandbox, connections: int, seconds: float) -> dict[str, Any]:
    def once(secs: int) -> subprocess.CompletedProcess[str]:
        cmd = [wrk, "-t1", f"-c{connections}", f"-d{secs}s", "-s", str(LUA), server.url]
        return subprocess.run(
            PLACE.client_cmd([*cmd, "--", server.key]), capture_output=True, text=True
        )

    busy = QUIET.wait()
    once(1)  # warm-up: connections, caches, the server's first requests
    with QUIET.watch(server) as watched:
        proc = once(max(1, round(seconds)))
    out = proc.stdout
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if proc.returncode != 0 or not found:
        return {"error": f"wrk failed: {(proc.stderr or out).strip()[-200:]}"}
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sock = re.search(r"Socket errors:(.*)", out)
    result: dict[str, Any] = {"rps": float(found.group(1)), "tool": "wrk", "busy_before_pct": busy}
    result.update(watched)
    if non_2xx:
        result["error"] = f"{non_2xx.group(1)} non-2xx responses"
    if sock:
        result["socket_errors"] = sock.group(1).strip()
    return result


def loadgen_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or LOADGEN / "target")
    return target / "release" / "helpcrunch-loadgen"


def build_loadgen() -> Path | str:
    cargo = shutil.which("cargo")
    if not cargo:
        return "cargo not found"
    log("  building bench/loadgen (cargo build --release)")
    proc = subprocess.run(
        [cargo, "build", "--release", "--quiet", "--manifest-path", str(LOADGEN / "Cargo.toml")],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return f"cargo build failed: {proc.stderr.strip()[-300:]}"
    return loadgen_binary()


def run_loadgen(
    binary: Path, server: Sandbox, connections: int, seconds: float, warmup: float
) -> dict[str, Any]:
    busy = QUIET.wait()
    cmd = [str(binary), "--url", server.url, "--key", server.key]
    cmd += ["--connections", str(connections), "--seconds", str(seconds), "--warmup", str(warmup)]
    with QUIET.watch(server) as watched:
        proc = subprocess.run(
            PLACE.client_cmd(cmd), capture_output=True, text=True, timeout=seconds + warmup + 60
        )
    try:
        out = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {"error": f"loadgen failed: {proc.stderr.strip()[-200:]}"}
    out.update(tool="loadgen", busy_before_pct=busy, **watched)
    if out.get("non_2xx") or out.get("errors"):
        out["error"] = f"{out.get('non_2xx')} non-2xx, {out.get('errors')} errors"
    return out


# ---------------------------------------------------------------- import time


def import_times(module: str, runs: int) -> dict[str, Any]:
    """Median of ``-X importtime``'s cumulative figure, and of the wall-clock difference between
    ``python -c "import M"`` and ``python -c pass`` (each in a fresh interpreter)."""
    cumulative: list[float] = []
    wall: list[float] = []
    base: list[float] = []
    env = child_env()
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=BENCH,
        )
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1]}
        for line in proc.stderr.splitlines():
            # "import time: self [us] | cumulative | imported package"; the top level is the
            # one whose name is indented by a single space.
            parts = line.split("|")
            if len(parts) == 3 and parts[2] == f" {module}":
                cumulative.append(int(parts[1]) / 1000)
        for code, sink in ((f"import {module}", wall), ("pass", base)):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, cwd=BENCH, check=True)
            sink.append(time.perf_counter() - t0)
    return {
        "importtime_ms": statistics.median(cumulative) if cumulative else None,
        "wall_ms": 1000 * (statistics.median(wall) - statistics.median(base)),
        "runs": runs,
    }


# ---------------------------------------------------------------- the machine


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(wrk: str | None) -> dict[str, Any]:
    import helpcrunch

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": cpu_model(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "helpcrunch": f"{helpcrunch.__version__} ({Path(helpcrunch.__file__).parent})",
        "peers": {name: version(name) for name in PEERS},
        "wrk": wrk_version(wrk) if wrk else None,
    }
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
        info["memory_gb"] = round(int(mem) / 2**20, 1)
    return info


# ---------------------------------------------------------------- formatting


def fmt_rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def check(ok: bool) -> str:
    return "✓" if ok else "✗"


def vs_peer(hc: float | None, peer: Measure | None, floor: float | None) -> tuple[str, str]:
    """("4.1x aiohttp", "≥2x ✓") for a helpcrunch rate against a peer's."""
    if peer is None:
        return "", ""
    r = ratio(hc, peer.rps)
    if r is None:
        return f"— {peer.label} ({peer.problem or 'no result'})", "" if floor is None else "?"
    text = f"{r:.2f}x {peer.label}"
    if floor is None:
        return text, ""
    return text, f"≥{floor:g}x {check(r >= floor)}"


def vs_ceiling(hc: float | None, ceiling: Measure | None, floor: float | None) -> tuple[str, str]:
    if ceiling is None:
        return "", ""
    r = ratio(hc, ceiling.rps)
    if r is None:
        return f"— of {ceiling.label}", "" if floor is None else "?"
    text = f"{100 * r:.0f} % of {ceiling.label}"
    if floor is None:
        return text, ""
    return text, f"≥{100 * floor:.0f} % {check(r >= floor)}"


@dataclass
class Row:
    measure: Measure
    comparisons: list[tuple[str, str]] = field(default_factory=list)


def throughput_table(rows: list[Row]) -> list[str]:
    out = [
        "| Test | Client | req/s | range | CPU µs/req | peak RSS | helpcrunch vs peers | floor |",
        "|---|---|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        m = row.measure
        rates = [r["rps"] for r in m.good]
        spread = f"{min(rates):,.0f} to {max(rates):,.0f}" if len(rates) > 1 else ""
        cpu = m.median_of("cpu_us_per_req")
        rss = m.median_of("peak_rss_mb")
        comps = [c for c in row.comparisons if c[0]]
        text = "<br>".join(c[0] for c in comps)
        floors = "<br>".join(c[1] for c in comps if c[1])
        rps = fmt_rps(m.rps) if m.rps is not None else (m.problem or "—")
        if m.rps is not None and m.problem:
            rps += f" ({m.problem})"
        out.append(
            f"| {m.test} | {m.label} | {rps} | {spread} | "
            f"{'' if cpu is None else f'{cpu:.0f}'} | {'' if rss is None else f'{rss:.0f} MB'} | "
            f"{text} | {floors} |"
        )
    return out


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"sections: {', '.join(SECTIONS)}",
    )
    p.add_argument("--quick", action="store_true", help="short runs, one repeat (~3 minutes)")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only these sections (comma-separated or repeated)",
    )
    p.add_argument("--json", metavar="FILE", help="also write every raw result to FILE")
    p.add_argument("--seconds", type=float, help="per measurement (default 5; quick 1.5)")
    p.add_argument("--repeats", type=int, help="repeats, median reported (default 3; quick 1)")
    p.add_argument(
        "--pace-limit", type=int, default=600, help="pace: the limit a minute (default 600)"
    )
    p.add_argument("--pace-seconds", type=float, help="pace: duration (default 30; quick 10)")
    p.add_argument("--pace-threads", type=int, default=4, help="pace: threads (default 4)")
    p.add_argument(
        "--ceiling",
        choices=["auto", "wrk", "loadgen", "both"],
        default="auto",
        help="the load generator: wrk when installed, else bench/loadgen (default auto)",
    )
    p.add_argument("--no-uvloop", action="store_true", help="skip the uvloop variants")
    p.add_argument(
        "--pin",
        choices=["split", "one", "none"],
        default="split",
        help="CPU placement: split = server on half the CPUs, clients on the rest (default); "
        "one = all on one CPU; none = unpinned",
    )
    p.add_argument(
        "--idle-wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other CPU use to drop under "
        "20 %% (default 30; 0: do not wait)",
    )
    args = p.parse_args()
    only = {s.strip() for arg in args.only or [] for s in arg.split(",") if s.strip()}
    unknown = only - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {SECTIONS}")
    args.sections = [s for s in SECTIONS if not only or s in only]
    quick = args.quick
    args.seconds = args.seconds or (1.5 if quick else 5.0)
    args.warmup = 0.3 if quick else 1.0
    args.repeats = args.repeats or (1 if quick else 3)
    args.pace_seconds = args.pace_seconds or (10.0 if quick else 30.0)
    args.stream_count = 100_000 if quick else 1_000_000
    args.collect_count = 10_000 if quick else 100_000
    args.import_runs = 5 if quick else 9
    return args


@contextlib.contextmanager
def section(name: str) -> Iterator[None]:
    log(f"== {name}")
    t0 = time.perf_counter()
    yield
    log(f"   ({time.perf_counter() - t0:.0f} s)")


def main() -> int:
    args = parse_args()
    import helpcrunch

    QUIET.max_wait = args.idle_wait
    global PLACE
    PLACE = Placement.make(args.pin)
    started = time.time()
    load_before = os.getloadavg()
    bulk = hasattr(helpcrunch.Client, "remove_tags_many")
    try:
        import uvloop  # noqa: F401

        uvloop_ok = not args.no_uvloop
    except ImportError:
        uvloop_ok = False
    wrk = shutil.which("wrk") if args.ceiling in ("auto", "wrk", "both") else None
    if args.ceiling == "wrk" and not wrk:
        raise SystemExit("--ceiling wrk: wrk is not installed (apt-get install wrk)")
    use_loadgen = args.ceiling in ("loadgen", "both") or (args.ceiling == "auto" and not wrk)

    timeout = args.seconds + args.warmup + 120
    common = ["--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    m: dict[str, Measure] = {}
    rows: list[Row] = []
    pace: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    imports: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    def measure(key: str, test: str, label: str) -> Measure:
        m[key] = Measure(test, label)
        return m[key]

    with Sandbox() as server:
        log(f"sandbox at {server.url}")
        if "sync" in args.sections:
            with section("sync sequential"):
                interleaved(
                    [
                        (
                            measure("sync-hc", "sync", "helpcrunch.Client"),
                            "sync",
                            "helpcrunch",
                            common,
                        ),
                        (
                            measure("sync-requests", "sync", "requests.Session"),
                            "sync",
                            "requests",
                            common,
                        ),
                        (measure("sync-httpx", "sync", "httpx.Client"), "sync", "httpx", common),
                    ],
                    server,
                    args.repeats,
                    timeout,
                )
        loops = ["asyncio"] + (["uvloop"] if uvloop_ok else [])
        if "async" in args.sections:
            for loop in loops:
                with section(f"32 in flight ({loop})"):
                    test = "32 in flight" + ("" if loop == "asyncio" else " (uvloop)")
                    extra = [*common, "--loop", loop]
                    interleaved(
                        [
                            (
                                measure(f"async-hc-{loop}", test, "helpcrunch.AsyncClient"),
                                "async",
                                "helpcrunch",
                                extra,
                            ),
                            (
                                measure(f"async-aiohttp-{loop}", test, "aiohttp"),
                                "async",
                                "aiohttp",
                                extra,
                            ),
                            (
                                measure(f"async-httpx-{loop}", test, "httpx.AsyncClient"),
                                "async",
                                "httpx",
                                extra,
                            ),
                        ],
                        server,
                        args.repeats,
                        timeout,
                    )
        if "bulk" in args.sections:
            with section("bulk"):
                if not bulk:
                    notes.append("bulk: `remove_tags_many` / `iter_remove_tags` not available")
                    for key, label in (
                        ("bulk-many", "Client.remove_tags_many"),
                        ("bulk-iter", "AsyncClient.iter_remove_tags"),
                    ):
                        measure(key, "bulk, concurrency 32", label).runs.append(
                            {"skipped": "not available"}
                        )
                else:
                    jobs = [
                        (
                            measure("bulk-many", "bulk, concurrency 32", "Client.remove_tags_many"),
                            "bulk",
                            "many",
                            common,
                        ),
                        (
                            measure(
                                "bulk-iter", "bulk, concurrency 32", "AsyncClient.iter_remove_tags"
                            ),
                            "bulk",
                            "iter",
                            common,
                        ),
                    ]
                    jobs.append(
                        (
                            measure(
                                "bulk-aiohttp-all",
                                "bulk, concurrency 32",
                                "aiohttp, keeping every result",
                            ),
                            "bulk",
                            "aiohttp-all",
                            [*common, "--loop", "asyncio"],
                        )
                    )
                    if "async-aiohttp-asyncio" not in m:  # the peer, if section 2 did not run
                        extra = [*common, "--loop", "asyncio"]
                        jobs.append(
                            (
                                measure("async-aiohttp-asyncio", "32 in flight", "aiohttp"),
                                "async",
                                "aiohttp",
                                extra,
                            )
                        )
                    interleaved(jobs, server, args.repeats, timeout)
        if "ceiling" in args.sections:
            with section("ceiling"):
                tools: list[tuple[str, Any]] = []
                if wrk:
                    tools.append(("wrk", wrk))
                if use_loadgen:
                    built = build_loadgen()
                    if isinstance(built, str):
                        notes.append(f"bench/loadgen: {built}")
                    else:
                        tools.append(("loadgen", built))
                for tool, exe in tools:
                    for conns in (1, 32):
                        key = (
                            f"ceiling-{conns}" if tool == tools[0][0] else f"ceiling-{conns}-{tool}"
                        )
                        label = f"{tool}, {conns} connection{'s' if conns > 1 else ''}"
                        ms = measure(key, "ceiling", label)
                        for r in range(args.repeats):
                            log(f"  ceiling: {label} (run {r + 1}/{args.repeats})")
                            if tool == "wrk":
                                out = run_wrk(exe, server, conns, args.seconds)
                            else:
                                out = run_loadgen(exe, server, conns, args.seconds, args.warmup)
                            ms.runs.append(out)
                            log(f"    {fmt_rps(out.get('rps'))} req/s {out.get('error', '')}")
        if "memory" in args.sections:
            with section("memory"):
                jobs_mem = [
                    (
                        "stream",
                        args.stream_count,
                        "stream lazy items through `iter_remove_tags`, results dropped",
                    ),
                    (
                        "collect-many",
                        args.collect_count,
                        "collect with `remove_tags_many` (report keeps every dict)",
                    ),
                    (
                        "collect-helpcrunch",
                        args.collect_count,
                        "collect with `AsyncClient` + `gather` (32 in flight)",
                    ),
                    (
                        "collect-aiohttp",
                        args.collect_count,
                        "collect with aiohttp + `gather` (32 in flight)",
                    ),
                ]
                for name, count, what in jobs_mem:
                    log(f"  memory: {name} ({count:,} items)")
                    out = run_client("memory", name, server, 3600, "--count", str(count))
                    out.update(what=what, count=count)
                    log(f"    {out.get('growth_mb', out.get('skipped') or out.get('error'))} MB")
                    memory.append(out)
    if "pace" in args.sections:
        with section(f"pace ({args.pace_limit}/min, {args.pace_seconds:g} s)"):
            modes = [
                ("seq", "Client.remove_tags, sequential"),
                ("threads", f"Client.remove_tags, {args.pace_threads} threads"),
                ("bulk", "Client.remove_tags_many, concurrency 32"),
            ]
            for name, label in modes:
                if name == "bulk" and not bulk:
                    pace.append({"label": label, "skipped": "not available"})
                    continue
                # A fresh server each time: its 60 s window must not hold the previous run.
                with Sandbox(rate_limit=args.pace_limit) as limited:
                    log(f"  pace: {label}")
                    out = run_client(
                        "pace",
                        name,
                        limited,
                        args.pace_seconds + 120,
                        "--rate",
                        str(args.pace_limit),
                        "--seconds",
                        str(args.pace_seconds),
                        "--threads",
                        str(args.pace_threads),
                    )
                out["label"] = label
                log(f"    {out.get('rate_per_min', 0):.1f}/min, 429s: {out.get('429')}")
                pace.append(out)
    if "import" in args.sections:
        with section("import time"):
            for module in ["helpcrunch", "requests", "httpx", "aiohttp"]:
                log(f"  import {module}")
                imports[module] = import_times(module, args.import_runs)

    # ------------------------------------------------------------ the report
    get = m.get
    hc_sync = get("sync-hc")
    if hc_sync:
        rows.append(
            Row(
                hc_sync,
                [
                    vs_peer(hc_sync.rps, get("sync-requests"), FLOOR_SYNC_REQUESTS),
                    vs_peer(hc_sync.rps, get("sync-httpx"), FLOOR_SYNC_HTTPX),
                    vs_ceiling(hc_sync.rps, get("ceiling-1"), FLOOR_SYNC_CEILING),
                ],
            )
        )
        rows += [Row(x) for x in (get("sync-requests"), get("sync-httpx")) if x]
    for loop in loops:
        hc = get(f"async-hc-{loop}")
        if not hc:
            continue
        rows.append(
            Row(
                hc,
                [
                    vs_peer(hc.rps, get(f"async-aiohttp-{loop}"), FLOOR_ASYNC_AIOHTTP),
                    vs_peer(hc.rps, get(f"async-httpx-{loop}"), None),
                    vs_ceiling(hc.rps, get("ceiling-32"), None),
                ],
            )
        )
        rows += [Row(x) for x in (get(f"async-aiohttp-{loop}"), get(f"async-httpx-{loop}")) if x]
    for key in ("bulk-many", "bulk-iter"):
        b = get(key)
        if b:
            rows.append(
                Row(
                    b,
                    [
                        vs_peer(b.rps, get("async-aiohttp-asyncio"), FLOOR_BULK_AIOHTTP),
                        vs_peer(b.rps, get("bulk-aiohttp-all"), None),
                        vs_ceiling(b.rps, get("ceiling-32"), None),
                    ],
                )
            )
    if get("bulk-aiohttp-all"):
        rows.append(Row(m["bulk-aiohttp-all"]))
    if "bulk-many" in m and "async-hc-asyncio" not in m and "async-aiohttp-asyncio" in m:
        rows.append(Row(m["async-aiohttp-asyncio"]))  # the bulk runs' peer, run for them
    rows += [Row(v) for k, v in m.items() if k.startswith("ceiling")]

    info = machine(wrk)
    load_after = os.getloadavg()
    scope = "quick" if args.quick else "full"
    if args.sections != SECTIONS:
        scope += ": " + ", ".join(args.sections)
    lines = [f"## helpcrunch benchmark ({scope} run)", ""]
    lines += [
        f"Machine: {info['cpu']}, {info['cores']} cores"
        + (f" ({info['cores_usable']} usable)" if info["cores_usable"] != info["cores"] else "")
        + f", {info.get('memory_gb', '?')} GB; {info['os']}; {info['python']}",
        "Versions: helpcrunch "
        + info["helpcrunch"].split(" ")[0]
        + ", "
        + ", ".join(f"{k} {v}" for k, v in info["peers"].items() if v)
        + (f"; {info['wrk']}" if info["wrk"] else "; wrk not installed"),
        f"Load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after. " + QUIET.summary(),
        PLACE.describe(),
        "",
        f"Each rate is the median of {args.repeats} run(s) of {args.seconds:g} s after a "
        f"{args.warmup:g} s warm-up, each in a fresh process, against `helpcrunch sandbox` in "
        "its own process. CPU µs/req and peak RSS are the client process's.",
        "",
    ]
    if rows:
        lines += [*throughput_table(rows), ""]
    if pace:
        lines += [
            f"Pace: a sandbox allowing {args.pace_limit} requests in any 60 s, the client at "
            f"`rate_limit={args.pace_limit}`, retries off, {args.pace_seconds:g} s each.",
            "",
            "| Pace run | achieved / min | share of limit | 429s | other errors | floor |",
            "|---|--:|--:|--:|--:|---|",
        ]
        for p in pace:
            if "share" not in p:
                lines.append(f"| {p['label']} | {p.get('skipped') or p.get('error')} | | | | |")
                continue
            ok = FLOOR_PACE <= p["share"] <= 1.0 and p["429"] == 0
            lines.append(
                f"| {p['label']} | {p['rate_per_min']:.1f} | {100 * p['share']:.1f} % | "
                f"{p['429']} | {p['other_errors']} | ≥{100 * FLOOR_PACE:.0f} %, ≤100 %, "
                f"no 429 {check(ok)} |"
            )
        if args.pace_seconds < 60:
            lines.append("")
            lines.append(
                f"(The server's window is 60 s: a {args.pace_seconds:g} s run catches bursts and "
                "a rate above the limit (share over 100 %), not a slow drift past it.)"
            )
        lines.append("")
    if memory:
        lines += [
            "| Memory | items | peak RSS growth | req/s | floor |",
            "|---|--:|--:|--:|---|",
        ]
        for x in memory:
            if "growth_mb" not in x:
                lines.append(
                    f"| {x['what']} | {x['count']:,} | {x.get('skipped') or x.get('error')} | | |"
                )
                continue
            floor = ""
            if x["name"] == "stream":
                floor = f"<{FLOOR_STREAM_MB:g} MB {check(x['growth_mb'] < FLOOR_STREAM_MB)}"
                if x["count"] < 1_000_000:
                    floor += " (floor is for 1,000,000)"
            lines.append(
                f"| {x['what']} | {x['count']:,} | {x['growth_mb']:.1f} MB | "
                f"{x['rps']:,.0f} | {floor} |"
            )
        lines.append("")
    if imports:
        lines += [
            "| Import | `-X importtime` cumulative | wall, over `python -c pass` |",
            "|---|--:|--:|",
        ]
        for module, x in imports.items():
            if "error" in x:
                lines.append(f"| `import {module}` | {x['error']} | |")
                continue
            it = x["importtime_ms"]
            lines.append(
                f"| `import {module}` | {'—' if it is None else f'{it:.1f} ms'} | "
                f"{x['wall_ms']:.1f} ms |"
            )
        lines.append("")
    for note in notes:
        lines.append(f"Note: {note}")
    report = "\n".join(lines).rstrip() + "\n"
    print(report)
    log(f"(took {time.time() - started:.0f} s)")

    if args.json:
        data = {
            "config": {
                k: getattr(args, k)
                for k in (
                    "quick",
                    "sections",
                    "seconds",
                    "warmup",
                    "repeats",
                    "pace_limit",
                    "pace_seconds",
                    "pace_threads",
                    "stream_count",
                    "collect_count",
                )
            },
            "machine": info,
            "placement": {"mode": PLACE.mode, "server": PLACE.server, "client": PLACE.client},
            "load_average": {"before": load_before, "after": load_after},
            "other_cpu_before_each_pct": QUIET.busy,
            "other_cpu_during_each_pct": QUIET.during,
            "idle_wait_seconds": QUIET.waited,
            "throughput": {k: v.to_json() for k, v in m.items()},
            "pace": pace,
            "memory": memory,
            "imports": imports,
            "notes": notes,
            "markdown": report,
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        log(f"raw results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
