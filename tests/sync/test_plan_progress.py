"""Planning shows how far it has got: a callback gets (requests sent, about how many in all)
as they move, ending with done == expected; progress=True draws lines on stderr (off a
terminal) with the rate and the ETA; an exception the callback raises stops the plan and
reaches the caller, sync or async."""

from __future__ import annotations

import asyncio

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, run_python
from tests.support.sync import TAG, account

#: 300 keys in batches of 20 (max_filters) in an account of 3,000: 15 lookups (a scan would
#: take 30 pages), a count and the holders.
AUDIENCE = [f"c{i}@example.com" for i in range(1, 301)]


def test_a_callback_sees_requests_done_of_about_how_many() -> None:
    seen: list[tuple[int, int]] = []
    with (
        Sandbox(customers=account(3000, range(1, 11)), max_filters=20) as sb,
        # Paced, so the plan waits and ticks between its requests.
        sb.client(rate_limit=3000) as client,
    ):
        plan = client.plan_tag(TAG, AUDIENCE, mode="add", progress=lambda d, e: seen.append((d, e)))
    assert seen, "no progress while planning"
    done = [d for d, _ in seen]
    assert done == sorted(done), "requests done never go back"
    assert all(d <= e for d, e in seen)
    # It ends with every request the plan spent.
    assert seen[-1] == (plan.lookups, plan.lookups)
    # The estimate was known early, not only at the end.
    assert any(e >= 10 and d < e for d, e in seen), seen


def test_an_exception_in_the_callback_stops_the_plan_and_is_raised() -> None:
    class Stop(Exception):
        pass

    def stop(done: int, expected: int) -> None:
        if done >= 2:
            raise Stop(f"{done} of {expected}")

    with (
        Sandbox(customers=account(3000, set()), max_filters=20) as sb,
        sb.client(rate_limit=3000) as client,
    ):
        with pytest.raises(Stop):
            client.plan_tag(TAG, AUDIENCE, mode="add", progress=stop)
        sent = sb.request_count
        assert sent < 10, "the plan went on after its callback raised"

        async def main() -> None:
            async with sb.async_client(rate_limit=3000) as aclient:
                await aclient.plan_tag(TAG, AUDIENCE, mode="add", progress=stop)

        with pytest.raises(Stop):
            asyncio.run(main())
        assert sb.request_count - sent < 10


def test_the_async_client_reports_progress_too() -> None:
    seen: list[tuple[int, int]] = []

    async def main() -> helpcrunch.TagPlan:
        async with sb.async_client(rate_limit=3000) as client:
            return await client.plan_tag(
                TAG, AUDIENCE, mode="add", progress=lambda d, e: seen.append((d, e))
            )

    with Sandbox(customers=account(3000, set()), max_filters=20) as sb:
        plan = asyncio.run(main())
    assert seen and seen[-1] == (plan.lookups, plan.lookups)


SHOWN = """
import helpcrunch
client = helpcrunch.Client(rate_limit=300)
plan = client.plan_tag("churn-risk", [f"c{i}@example.com" for i in range(1, 301)], mode="add",
                       progress=True)
print(plan.lookups)
"""


def test_progress_true_shows_lines_on_stderr_with_the_eta() -> None:
    with Sandbox(customers=account(3000, set()), max_filters=20) as sb:
        result = run_python(SHOWN, env=child_env(sb), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("planning: "), result.stderr
    assert "ETA" in lines[0] and "/s" in lines[0], lines[0]
    lookups = int(result.stdout.strip())
    assert lines[-1].startswith(f"planning: {lookups}/{lookups} lookups (100 %) in "), lines[-1]


def test_a_bad_progress_argument_is_refused_before_anything_is_sent() -> None:
    with Sandbox() as sb, sb.client() as client:
        with pytest.raises(TypeError, match="progress"):
            client.plan_tag(TAG, ["a@example.com"], progress="yes")  # type: ignore[arg-type]
        assert sb.request_count == 0
