"""The command line, run as a user runs it: a subprocess, its output and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch import __version__ as helpcrunch_version
from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.support.cli import HELPCRUNCH, helpcrunch, serve_sandbox
from tests.support.processes import child_env

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
    result = run("tag", str(DEMO_CUSTOMER_ID), "Trial:#c57de0", "Beta:#abc", env=env_for(sb))
    assert result.returncode == 0, result.stderr
    tags = {t["name"]: t["color"] for t in sb.customer(DEMO_CUSTOMER_ID)["tags"]}
    assert tags["Trial"] == "#c57de0"
    assert tags["Beta"] == "#abc"


def test_a_colon_in_a_tag_name_is_written_with_a_backslash(sb: Sandbox) -> None:
    result = run("tag", str(DEMO_CUSTOMER_ID), "Ratio 1\\:2", "odd\\:name:#123456", env=env_for(sb))
    assert result.returncode == 0, result.stderr
    tags = {t["name"]: t["color"] for t in sb.customer(DEMO_CUSTOMER_ID)["tags"]}
    assert tags["Ratio 1:2"] == "#c377e0"  # HelpCrunch's colour for a new tag
    assert tags["odd:name"] == "#123456"


@pytest.mark.parametrize(
    "tag", ["Trial:redd", "Trial:#12345", "Trial:", "Trial:#abc:#abc", "Ratio:2"]
)
def test_a_colour_that_is_not_a_css_colour_is_a_usage_error(sb: Sandbox, tag: str) -> None:
    result = run("tag", str(DEMO_CUSTOMER_ID), tag, env=env_for(sb))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("helpcrunch tag: error: TAG ")
    escaped = tag.replace(":", "\\:")
    assert f"write '{escaped}'" in line
    assert sb.request_count == 0


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
    [line] = result.stderr.splitlines()
    assert line.startswith(f"helpcrunch {args[0]}: error: ")


def test_no_key_is_a_usage_error_with_cli_advice() -> None:
    result = run("get", "1")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "set HELPCRUNCH_API_KEY or use --api-key-file FILE" in line
    assert "api_key=" not in line  # a Python argument, which the CLI does not have


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"])
def test_an_empty_key_file_says_it_is_empty(tmp_path: Path, content: str) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(content)
    result = run("get", "1", "--api-key-file", str(key_file))
    assert result.returncode == 2
    assert (
        result.stderr
        == f"helpcrunch get: error: --api-key-file {str(key_file)!r} is empty; it must hold the API key\n"
    )


def test_version() -> None:
    result = helpcrunch("--version")
    assert result.returncode == 0
    assert result.stdout == f"helpcrunch {helpcrunch_version}\n"


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


def test_the_sandbox_prints_only_export_lines_that_a_shell_can_eval() -> None:
    # The README's route: the export lines set the environment, and the sandbox serves on in
    # the background until killed.
    script = f"""
        set -e
        eval "$({HELPCRUNCH} sandbox --key 'my key' &)"
        trap 'kill "$HELPCRUNCH_SANDBOX_PID"' EXIT  # even if a step fails
        {HELPCRUNCH} untag {DEMO_CUSTOMER_ID} Lead
        echo "key=$HELPCRUNCH_API_KEY"
    """
    result = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env=child_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    customer_json, key_line = result.stdout.rsplit("\n", 2)[:2]
    assert [t["name"] for t in json.loads(customer_json)["tags"]] == ["vip"]
    assert key_line == "key=my key"
    assert "HelpCrunch sandbox serving at http://127.0.0.1:" in result.stderr


def test_the_sandbox_stops_on_ctrl_c_with_exit_0() -> None:
    served = serve_sandbox("--rate-limit", "100")
    try:
        url = served.exports["HELPCRUNCH_BASE_URL"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert set(served.exports) == {
            "HELPCRUNCH_BASE_URL",
            "HELPCRUNCH_API_KEY",
            "HELPCRUNCH_SANDBOX_PID",
        }
        assert int(served.exports["HELPCRUNCH_SANDBOX_PID"]) == served.process.pid
        result = helpcrunch("untag", str(DEMO_CUSTOMER_ID), "Lead", env=served.env)
        assert result.returncode == 0, result.stderr
        err = served.stop()
    finally:
        served.process.kill()
        served.process.wait()
    assert served.process.returncode == 0, err
    assert "interrupted" not in err.lower() and "Traceback" not in err
    assert err.splitlines()[-1] == "HelpCrunch sandbox stopped."
