"""The command line, run as a user runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox

KEY = "cli-secret-key-0123456789"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "helpcrunch", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(api_key=KEY) as sandbox:
        yield sandbox


def env_for(sb: Sandbox) -> dict[str, str]:
    return {"HELPCRUNCH_API_KEY": sb.api_key, "HELPCRUNCH_BASE_URL": sb.base_url}


def test_untag_on_the_sandbox_prints_the_customer_without_the_tag() -> None:
    result = run("untag", str(DEMO_CUSTOMER_ID), "Lead", "--sandbox")
    assert result.returncode == 0, result.stderr
    customer = json.loads(result.stdout)
    assert customer["id"] == DEMO_CUSTOMER_ID
    assert [t["name"] for t in customer["tags"]] == ["vip"]


def test_the_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name("helpcrunch")
    result = subprocess.run(
        [str(exe), "get", str(DEMO_CUSTOMER_ID), "--sandbox"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "John Doe"


def test_tag_with_colours_against_a_server_from_the_environment(sb: Sandbox) -> None:
    result = run("tag", str(DEMO_CUSTOMER_ID), "Trial:#c57de0", "odd:name", env=env_for(sb))
    assert result.returncode == 0, result.stderr
    tags = {t["name"]: t["color"] for t in sb.customer(DEMO_CUSTOMER_ID)["tags"]}
    assert tags["Trial"] == "#c57de0"
    assert tags["odd:name"] == "#c377e0"


def test_get_prints_the_customer(sb: Sandbox) -> None:
    result = run("get", str(DEMO_CUSTOMER_ID), env=env_for(sb))
    assert result.returncode == 0
    assert json.loads(result.stdout) == sb.customer(DEMO_CUSTOMER_ID)


def test_api_key_file_and_stdin(sb: Sandbox, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    base = ["--base-url", sb.base_url]
    assert run("get", str(DEMO_CUSTOMER_ID), "--api-key-file", str(key_file), *base).returncode == 0
    assert (
        run("get", str(DEMO_CUSTOMER_ID), "--api-key-file", "-", *base, stdin=KEY + "\n").returncode
        == 0
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["untag"], 2),  # usage: missing arguments
        (["untag", "12abc", "Lead"], 2),  # bad input, refused before sending
        (["get", "999"], 4),  # not found
    ],
)
def test_exit_codes_for_usage_and_not_found(sb: Sandbox, args: list[str], code: int) -> None:
    result = run(*args, env=env_for(sb))
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("helpcrunch") and "error:" in last_line


def test_no_key_is_a_usage_error_naming_the_variable() -> None:
    result = run("get", "1")
    assert result.returncode == 2
    assert "HELPCRUNCH_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_key_exits_3_without_printing_the_key(sb: Sandbox) -> None:
    env = {**env_for(sb), "HELPCRUNCH_API_KEY": "wrong-secret-key-987654321"}
    result = run("get", str(DEMO_CUSTOMER_ID), env=env)
    assert result.returncode == 3
    assert "wrong-secret-key-987654321" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_rate_limited_exits_5() -> None:
    with Sandbox(api_key=KEY, rate_limit=1) as sb:
        assert run("get", str(DEMO_CUSTOMER_ID), env=env_for(sb)).returncode == 0
        sb.fail_next(429, times=10, retry_after=600)
        result = run("get", str(DEMO_CUSTOMER_ID), env=env_for(sb))
    assert result.returncode == 5, result.stderr
    assert "429" in result.stderr


def test_other_api_error_exits_6(sb: Sandbox) -> None:
    sb.fail_next(422)
    result = run("get", str(DEMO_CUSTOMER_ID), env=env_for(sb))
    assert result.returncode == 6, result.stderr


def test_connection_error_exits_7() -> None:
    with Sandbox() as sb:
        url = sb.base_url
    result = run(
        "get", "1", "--timeout", "2", env={"HELPCRUNCH_API_KEY": KEY, "HELPCRUNCH_BASE_URL": url}
    )
    assert result.returncode == 7, result.stderr
    assert "Traceback" not in result.stderr


def test_help_on_each_command_has_an_example() -> None:
    for command in ["untag", "tag", "get", "sandbox"]:
        result = run(command, "--help")
        assert result.returncode == 0
        assert "example:" in result.stdout and f"helpcrunch {command}" in result.stdout


def test_a_key_on_the_command_line_is_refused_without_echoing_it() -> None:
    for args in (["--api-key", KEY], [f"--api-key={KEY}"]):
        result = run("get", "1", *args)
        assert result.returncode == 2
        assert "HELPCRUNCH_API_KEY" in result.stderr
        assert KEY not in result.stderr + result.stdout


def test_stray_arguments_are_named_without_their_values() -> None:
    result = run("get", "1", "--api-k", KEY, f"--token={KEY}")
    assert result.returncode == 2
    assert "--api-k" in result.stderr and "--token" in result.stderr
    assert KEY not in result.stderr + result.stdout


def test_sandbox_command_serves_until_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpcrunch", "sandbox", "--rate-limit", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1)
            for line in (proc.stdout.readline(), proc.stdout.readline())
        )
        assert exports["HELPCRUNCH_BASE_URL"] == url
        result = run("untag", str(DEMO_CUSTOMER_ID), "Lead", env=exports)
        assert result.returncode == 0, result.stderr
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert time.monotonic() - start < 10
        assert proc.returncode == 130
    finally:
        proc.kill()
        proc.wait()
