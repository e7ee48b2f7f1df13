"""The CLI's ``--rate-limit-backend`` (and ``HELPCRUNCH_RATE_LIMIT_BACKEND``): the client it makes
shares the budget named, and a bad one is a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.support.processes import child_env
from tests.support.scripted_server import API_KEY

CLI = [sys.executable, "-m", "helpcrunch"]


def test_the_cli_option_passes_the_backend_to_the_client(tmp_path: Path) -> None:
    budget = tmp_path / "budget"
    with Sandbox(api_key=API_KEY) as sb:
        env = child_env(sb)
        result = subprocess.run(
            [*CLI, "get", str(DEMO_CUSTOMER_ID), "--rate-limit-backend", budget.as_uri()],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    # The budget's file now holds this account's line (its hash, never the key).
    lines = budget.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("helpcrunch-rate-limit v2")
    assert API_KEY not in budget.read_text()


def test_the_cli_refuses_a_bad_backend_as_a_usage_error() -> None:
    env = child_env(HELPCRUNCH_API_KEY=API_KEY)
    result = subprocess.run(
        [*CLI, "get", "1", "--rate-limit-backend", "localhost:6379"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    # Named as the user typed it, not by the Python parameter.
    assert "--rate-limit-backend" in result.stderr and "scheme" in result.stderr
    assert "rate_limit_backend" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_reads_the_environment_variable(tmp_path: Path) -> None:
    budget = tmp_path / "budget"
    with Sandbox(api_key=API_KEY) as sb:
        env = child_env(sb, HELPCRUNCH_RATE_LIMIT_BACKEND=budget.as_uri())
        result = subprocess.run(
            [*CLI, "get", str(DEMO_CUSTOMER_ID)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert budget.exists()
    assert os.path.getsize(budget) > 0
