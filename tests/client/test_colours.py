"""Tag colours: HelpCrunch takes "any CSS color". Every CSS colour form is sent exactly as
given (the server sees those very characters), through the API, the CLI's NAME:COLOR and
sync-tag's --color; only what is not a CSS colour is refused, before anything is sent, with a
ValueError that names the tag and says why."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.support.cli import helpcrunch as run_cli
from tests.support.scripted_server import ScriptedServer

#: CSS colours in each of their forms, with the cases a hand-written check tends to miss.
VALID = [
    "#fff",
    "#FFF",
    "#c57de0",
    "#ffff",
    "#c57de080",
    "red",
    "Red",
    "RebeccaPurple",
    "lightgoldenrodyellow",
    "grey",
    "transparent",
    "rgb(255,0,0)",
    "rgb(255, 0, 0)",
    "RGB(100%, 0%, 0%)",
    "rgb(255, 0, 0, 0.5)",
    "rgba(255, 0, 0, .5)",
    "rgba(255,0,0,50%)",
    "rgb(255 0 0)",
    "rgb(255 0 0 / 50%)",
    "rgb(100% 0 50%/0.25)",
    "rgb(none 0 0)",
    "rgb(300, -5, 0)",
    "rgb(1e2 0 0)",
    "hsl(120, 50%, 50%)",
    "hsl(120deg, 50%, 50%, 0.3)",
    "hsla(0.5turn, 100%, 25%, 1)",
    "hsl(120 50% 50%)",
    "hsl(2rad 50 50 / 25%)",
    "hwb(120 10% 20%)",
    "lab(50% 40 59.5)",
    "oklch(70% 0.1 200deg)",
    "color(display-p3 1 0.5 0)",
]

#: Not CSS colours, with the word the reason must contain.
INVALID = [
    ("", "empty"),
    ("#", "3, 4, 6 or 8"),
    ("#ff", "3, 4, 6 or 8"),
    ("#fffff", "3, 4, 6 or 8"),
    ("#ggg", "hex digit"),
    ("c57de0", "name"),
    ("redd", "name"),
    ("bleu", "name"),
    (" red", "white space"),
    ("#c57de0 ", "white space"),
    ("currentcolor", "of its own"),
    ("Canvas", "of its own"),
    ("rgb(255, 0)", "3 values"),
    ("rgb(255 0)", "3 values"),
    ("rgb(255, 0 0)", "commas"),
    ("rgb(100%, 0, 0)", "not a mix"),
    ("rgb(none, 0, 0)", "none"),
    ("rgb(255 0 0 / )", "alpha"),
    ("rgb(10px 0 0)", "not a number"),
    ("rgb (255,0,0)", "function"),
    ("rgb(255,0,0", "not closed"),
    ("hsl(120, 50, 50)", "percentages"),
    ("hwb(120, 10%, 20%)", "commas"),
    ("color(p3 1 0 0)", "colour space"),
    ("color-mix(in srgb, red, blue)", "browser"),
    ("rgb(calc(1 + 2) 0 0)", "browser"),
    ("cmyk(0, 0, 0, 0)", "not a CSS color function"),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.mark.parametrize("colour", VALID)
def test_a_css_colour_is_sent_exactly_as_given(
    server: ScriptedServer, client: helpcrunch.Client, colour: str
) -> None:
    client.add_tags(1, [{"name": "Trial", "color": colour}])
    (request,) = server.requests
    assert request.json == {"tags": [{"name": "Trial", "color": colour}]}
    assert json.dumps(colour) in request.body.decode()


@pytest.mark.parametrize("colour", VALID)
def test_the_sandbox_keeps_a_css_colour_as_given(sandbox: Sandbox, colour: str) -> None:
    with sandbox.client() as c:
        name = f"colour {VALID.index(colour)}"
        customer = c.add_tags(DEMO_CUSTOMER_ID, [{"name": name, "color": colour}])
    assert {"name": name, "color": colour} in customer["tags"]


@pytest.mark.parametrize(("colour", "why"), INVALID, ids=[c for c, _ in INVALID])
def test_what_is_not_a_css_colour_is_refused_before_sending_saying_why(
    server: ScriptedServer, client: helpcrunch.Client, colour: str, why: str
) -> None:
    tags = [{"name": "Lead"}, {"name": "Trial", "color": colour}]
    with pytest.raises(ValueError) as raised:
        client.add_tags(1, tags)
    error = raised.value
    assert not isinstance(error, helpcrunch.HelpCrunchError)
    assert (error.parameter, error.index) == ("tags", 1)  # type: ignore[attr-defined]
    assert f"has color {colour!r}" in str(error)
    assert why in str(error), str(error)
    assert "any CSS color" in str(error)
    assert server.requests == []


def test_untagging_ignores_the_colour_whatever_it_is(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.remove_tags(1, [{"name": "Trial", "color": "not a colour"}])
    assert server.requests[0].json == {"tags": [{"name": "Trial"}]}


def test_the_cli_takes_every_css_colour_after_the_colon(sandbox: Sandbox) -> None:
    tags = [f"cli {i}:{colour}" for i, colour in enumerate(VALID)]
    result = run_cli("tag", str(DEMO_CUSTOMER_ID), *tags, sandbox=sandbox)
    assert result.returncode == 0, result.stderr
    carried = sandbox.customer(DEMO_CUSTOMER_ID)["tags"]
    for i, colour in enumerate(VALID):
        assert {"name": f"cli {i}", "color": colour} in carried


def test_the_cli_refuses_every_one_that_is_not_a_colour_before_sending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # One row per colour, in a CSV's tags cells (where ',' parts tags, so it is escaped, and
    # the spaces around a tag are the cell's, not the colour's).
    invalid = [colour for colour, _ in INVALID if colour == colour.strip()]
    csv_path = tmp_path / "rows.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["customer_id", "tags"])
        for colour in invalid:
            writer.writerow([DEMO_CUSTOMER_ID, "Trial:" + colour.replace(",", "\\,")])
    before = sandbox.request_count
    result = run_cli("tag", "--from-csv", str(csv_path), "--dry-run", sandbox=sandbox)
    assert result.returncode == 8, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert len(errors) == min(20, len(invalid))
    assert all("is not a CSS colour: " in line for line in errors), errors
    assert f"0 to tag, {len(invalid)} invalid" in result.stderr
    assert sandbox.request_count == before


@pytest.mark.parametrize(("colour", "why"), [("redd", "name"), ("2", "name"), ("#12345", "hex")])
def test_the_cli_refuses_what_is_not_a_colour_saying_why_and_how_to_escape(
    sandbox: Sandbox, colour: str, why: str
) -> None:
    before = sandbox.request_count
    result = run_cli("tag", str(DEMO_CUSTOMER_ID), f"Trial:{colour}", sandbox=sandbox)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"helpcrunch tag: error: TAG 'Trial:{colour}': {colour!r} is not a ")
    assert why in line
    assert f"write 'Trial\\:{colour}'" in line
    assert sandbox.request_count == before


def test_sync_tag_color_takes_a_css_colour_and_refuses_the_rest(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        email = sandbox.customer(DEMO_CUSTOMER_ID)["email"]
        audience = tmp_path / "audience.csv"
        audience.write_text(f"email\n{email}\n")
        sync = ("sync-tag", "Colourful", "--from-csv", str(audience), "--mode", "add")
        refused = run_cli(*sync, "--color", "redd", sandbox=sandbox)
        assert refused.returncode == 2
        assert "--color: 'redd' is not a CSS colour: it is not a CSS color name" in refused.stderr
        assert sandbox.request_count == 0
        colour = "hsl(120 50% 50% / 0.5)"
        applied = run_cli(*sync, "--color", colour, "--rate-limit", "0", sandbox=sandbox)
        assert applied.returncode == 0, applied.stderr
        tags = sandbox.customer(DEMO_CUSTOMER_ID)["tags"]
        assert {"name": "Colourful", "color": colour} in tags
