"""Checkpoints: a job killed part-way resumes where it stopped, sending nothing twice that was
recorded as done."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import read_checkpoint, requests_per_customer, tag_names, tagged_customers
from tests.support.processes import child_env, start_child, wait_for

N = 60

# 20 requests a second: the whole job would take 3 s; it is killed well before.
JOB = f"""
import os, helpcrunch
client = helpcrunch.Client(rate_limit=1200)
client.remove_tags_many([(i, "Lead") for i in range(1, {N + 1})],
                        checkpoint=os.environ["CHECKPOINT"])
print("finished", flush=True)
"""


def ok_lines(path: Path) -> int:
    return sum(1 for e in read_checkpoint(path) if e["ok"]) if path.exists() else 0


def test_a_killed_job_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with Sandbox(customers=tagged_customers(N)) as sb:
        child = start_child(JOB, child_env(sb, CHECKPOINT=str(checkpoint)))
        try:
            wait_for(
                lambda: ok_lines(checkpoint) >= 15 or child.poll() is not None, what="15 lines"
            )
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            child.kill()
            out, err = child.communicate()
        assert "finished" not in out, "the job ended before it was killed"
        assert child.returncode == -signal.SIGKILL, err

        done_first = {e["customer_id"] for e in read_checkpoint(checkpoint) if e["ok"]}
        assert 15 <= len(done_first) < N
        first_run = requests_per_customer(sb)
        assert all(first_run[cid] == 1 for cid in done_first)

        sb.clear_requests()
        with sb.client() as client:
            report = client.remove_tags_many(
                [(i, "Lead") for i in range(1, N + 1)], checkpoint=checkpoint
            )
        second_run = requests_per_customer(sb)

        # Every item accounted for, and every customer untagged.
        assert len(report) == N
        assert [r.index for r in report] == list(range(N))
        assert report.succeeded == N and report.failed == 0
        assert all(tag_names(sb, i) == ["keep"] for i in range(1, N + 1))
        # What the first run recorded as done was skipped, not sent again; the rest was sent once.
        skipped = {r.customer_id for r in report if r.skipped}
        assert skipped == done_first
        assert report.skipped == len(done_first)
        assert all(r.attempts == 0 and r.customer is None for r in report if r.skipped)
        assert not set(second_run) & done_first
        assert second_run == Counter({i: 1 for i in range(1, N + 1) if i not in done_first})

    # The checkpoint now holds every item as done.
    assert {e["customer_id"] for e in read_checkpoint(checkpoint) if e["ok"]} == set(
        range(1, N + 1)
    )


def test_a_rerun_sends_failed_items_again_and_skips_done_ones(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    items = [(542335, "Lead"), (1, "Lead"), (542336, ["Lead"])]
    with Sandbox() as sb, sb.client() as client:
        first = client.remove_tags_many(items, checkpoint=checkpoint)
        assert [r.ok for r in first] == [True, False, True]
        sb.clear_requests()

        second = client.remove_tags_many(items, checkpoint=checkpoint)
        assert [r.skipped for r in second] == [True, False, True]
        assert [r.ok for r in second] == [True, False, True]
        assert isinstance(second[1].error, helpcrunch.NotFoundError)
        assert [req.path for req in sb.requests] == ["/v1/customers/1/tags"]


def test_the_checkpoint_identifies_items_by_id_and_tag_names(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with Sandbox() as sb, sb.client() as client:
        client.remove_tags_many([(542335, ["Lead", "vip"])], checkpoint=checkpoint)
        sb.clear_requests()
        # Same id as a string, same names in another order, as mappings: the same item.
        again = client.remove_tags_many(
            [("542335", [{"name": "vip"}, {"name": "Lead"}])], checkpoint=checkpoint
        )
        assert again[0].skipped
        # Other tags for the same customer: a different item, sent.
        other = client.remove_tags_many([(542335, ["Lead"])], checkpoint=checkpoint)
        assert not other[0].skipped
        assert sb.request_count == 1


def test_each_line_is_json_and_written_as_items_finish(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with Sandbox() as sb, sb.client() as client:
        seen = []
        for result in client.iter_remove_tags(
            [(542335, "Lead"), (542336, "Lead"), ("x", "Lead")], checkpoint=checkpoint
        ):
            # The line for this item is on disk by the time it is handed over.
            seen.append(result.index)
            lines = checkpoint.read_text(encoding="utf-8").splitlines()
            assert set(seen) <= {json.loads(line)["index"] for line in lines}
    assert sorted(e["index"] for e in read_checkpoint(checkpoint)) == [0, 1, 2]


def test_a_checkpoint_with_a_line_cut_short_still_records_the_next_run(tmp_path: Path) -> None:
    # A crash (or a full disk) can leave the last line unfinished; the package reads past it
    # ("that item just runs again"). The next run's first line must not be lost with it.
    checkpoint = tmp_path / "run.jsonl"
    checkpoint.write_text('{"kind": "remove", "key": "[\\"542335\\", [\\"Le', encoding="utf-8")
    items = [(542336, "Lead"), (542337, "vip")]
    with Sandbox() as sb, sb.client() as client:
        client.remove_tags_many(items, checkpoint=checkpoint)
        sb.clear_requests()
        again = client.remove_tags_many(items, checkpoint=checkpoint)
        assert [r.skipped for r in again] == [True, True]
        assert sb.request_count == 0


# Tags given as one-shot iterables (a generator, an iterator, map): read once, by the check,
# so the checkpoint's key and the request both see every tag.


def one_shot_tags() -> list[tuple[str, Any]]:
    return [
        ("generator", lambda: (t for t in ["Lead", "vip"])),
        ("iterator", lambda: iter(["Lead", "vip"])),
        ("map", lambda: map(str.strip, [" Lead", "vip "])),
        ("dict keys iterator", lambda: iter({"Lead": 1, "vip": 2})),
    ]


@pytest.mark.parametrize(("kind", "make"), one_shot_tags(), ids=[k for k, _ in one_shot_tags()])
@pytest.mark.parametrize("way", ["many", "iter", "async_many", "async_iter"])
def test_one_shot_tags_with_a_checkpoint_are_sent_whole_and_skipped_on_a_rerun(
    tmp_path: Path, way: str, kind: str, make: Any
) -> None:
    checkpoint = tmp_path / "run.jsonl"

    def run(sb: Sandbox) -> list[helpcrunch.BulkResult]:
        items = [(cid, make()) for cid in (542335, 542336)]
        if way == "many":
            with sb.client() as client:
                return list(client.remove_tags_many(items, checkpoint=checkpoint))
        if way == "iter":
            with sb.client() as client:
                return list(client.iter_remove_tags(items, checkpoint=checkpoint))

        async def main() -> list[helpcrunch.BulkResult]:
            async with sb.async_client() as client:
                if way == "async_many":
                    return list(await client.remove_tags_many(items, checkpoint=checkpoint))
                return [r async for r in client.iter_remove_tags(items, checkpoint=checkpoint)]

        return asyncio.run(main())

    with Sandbox() as sb:
        first = run(sb)
        assert all(r.ok for r in first), [r.error for r in first]
        assert tag_names(sb, 542335) == tag_names(sb, 542336)
        assert "vip" not in tag_names(sb, 542335) and "Lead" not in tag_names(sb, 542335)
        sb.clear_requests()
        again = run(sb)
        assert all(r.skipped for r in again)
        assert sb.request_count == 0


# A checkpoint cut anywhere in its last line (a kill mid-write, even inside a character)
# resumes; anything else that is not a record is refused, naming the file and the line.

ITEMS = [(542335, "Лид"), (542336, ["Лид", "vip"]), (542337, "Лид")]


def test_a_checkpoint_cut_at_any_byte_of_its_last_line_resumes(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    with Sandbox() as sb, sb.client() as client:
        client.remove_tags_many(ITEMS, checkpoint=whole, concurrency=1)
    data = whole.read_bytes()
    lines = data.splitlines(keepends=True)
    assert len(lines) == 3 and "Лид".encode() in lines[-1]
    start = len(data) - len(lines[-1])
    done_before = {json.loads(line)["customer_id"] for line in lines[:-1]}

    for cut in range(start, len(data) + 1):
        checkpoint = tmp_path / f"cut{cut}.jsonl"
        checkpoint.write_bytes(data[:cut])
        with Sandbox() as sb, sb.client() as client:
            report = client.remove_tags_many(ITEMS, checkpoint=checkpoint)
            sent = {int(r.path.split("/")[3]) for r in sb.requests}
        assert report.succeeded == 3, (cut, report.failures)
        whole_last = cut >= len(data) - 1  # the record is whole, only its newline may be cut
        assert sent == set() if whole_last else sent == {c for c, _ in ITEMS} - done_before
        # What the rerun wrote reads back: a third run skips everything.
        with Sandbox() as sb, sb.client() as client:
            third = client.remove_tags_many(ITEMS, checkpoint=checkpoint)
            assert third.skipped == 3 and sb.request_count == 0, cut


@pytest.mark.parametrize(
    "garbage",
    [b"\xff\xfe\x00 not text\n", b"not json\n", b"[1, 2]\n", b'{"ok": true\n', b"42\n"],
    ids=["bytes", "text", "array", "cut-then-newline", "number"],
)
def test_garbage_before_the_last_line_is_an_error_naming_the_file_and_line(
    tmp_path: Path, garbage: bytes
) -> None:
    whole = tmp_path / "whole.jsonl"
    with Sandbox() as sb, sb.client() as client:
        client.remove_tags_many(ITEMS, checkpoint=whole, concurrency=1)
    lines = whole.read_bytes().splitlines(keepends=True)
    checkpoint = tmp_path / "damaged.jsonl"
    checkpoint.write_bytes(lines[0] + garbage + b"".join(lines[1:]))
    with Sandbox() as sb, sb.client() as client, pytest.raises(ValueError) as caught:
        client.remove_tags_many(ITEMS, checkpoint=checkpoint)
    assert str(checkpoint) in str(caught.value) and "line 2" in str(caught.value)
    assert sb.request_count == 0


def test_blank_lines_in_a_checkpoint_are_ignored(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with Sandbox() as sb, sb.client() as client:
        client.remove_tags_many(ITEMS, checkpoint=checkpoint)
        checkpoint.write_bytes(b"\n" + checkpoint.read_bytes().replace(b"\n", b"\n\n"))
        assert client.remove_tags_many(ITEMS, checkpoint=checkpoint).skipped == 3
