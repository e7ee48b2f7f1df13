"""The interpreter exiting while requests finish, with the ``helpcrunch`` logger on: the core's
records are emitted by Python threads, never by a tokio thread, so an exit can never abort in
``PyGILState_Release`` or segfault. Each script runs many times: the race showed in about one
exit in eight."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, run_python

#: Runs of each script: enough that a race in one exit in eight shows (0.875**RUNS < 1 %).
RUNS = 40

# A handler that does I/O (flushes to a file, as a FileHandler does) and takes its time, so
# records are being handled while the interpreter shuts down.
LOGGING = """
import logging, os, sys, tempfile, time, helpcrunch
class SlowFile(logging.Handler):
    def __init__(self):
        super().__init__()
        self.f = open(os.devnull, "w")
    def emit(self, record):
        self.f.write(self.format(record) + "\\n")
        self.f.flush()
        time.sleep(0.001)
log = logging.getLogger("helpcrunch")
log.addHandler(SlowFile())
log.addHandler(logging.StreamHandler(sys.stdout))
log.setLevel(logging.DEBUG)
"""

SCRIPTS = {
    "async calls finishing at exit": LOGGING
    + """
import asyncio
c = helpcrunch.AsyncClient(timeout=60, rate_limit=None)
loop = asyncio.new_event_loop()
tasks = [loop.create_task(c.get_customer(542335 + i % 10)) for i in range(200)]
loop.run_until_complete(asyncio.sleep(0.05))
""",
    "a bulk run in a daemon thread at exit": LOGGING
    + """
import threading
c = helpcrunch.Client(timeout=60, rate_limit=None)
rows = [(542335 + i % 10, "Lead") for i in range(100_000)]
threading.Thread(target=c.remove_tags_many, args=(rows,), kwargs={"concurrency": 32},
                 daemon=True).start()
time.sleep(0.05)
""",
    "blocking calls in daemon threads at exit": LOGGING
    + """
import threading
c = helpcrunch.Client(timeout=60, rate_limit=None)
def calls():
    while True:
        c.get_customer(542335)
for _ in range(8):
    threading.Thread(target=calls, daemon=True).start()
time.sleep(0.05)
""",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.mark.long
@pytest.mark.parametrize("script", list(SCRIPTS), ids=list(SCRIPTS))
def test_exit_with_logging_on_never_crashes(sandbox: Sandbox, script: str) -> None:
    for run in range(RUNS):
        # Answers spread over the moments around the exit.
        sandbox.clear_faults()
        sandbox.delay_next(0.03 + 0.002 * run, times=1_000_000)
        out = run_python(SCRIPTS[script], env=child_env(sandbox), timeout=60)
        assert out.returncode == 0, f"run {run}: exit code {out.returncode}\n{out.stderr[-2000:]}"
        assert "Fatal Python error" not in out.stderr, out.stderr[-2000:]
        assert "panicked" not in out.stderr, out.stderr[-2000:]
