"""The API key stays secret (repr, exceptions, tracebacks, logs), plain http only to this
machine unless asked, and redirects are never followed."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, Close, Reply, ScriptedServer, Sleep, free_port

PACKAGE_ROOT = str(Path(helpcrunch.__file__).resolve().parent.parent)


def test_repr_shows_settings_and_masks_the_key(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, timeout=12, max_retries=3)
    text = repr(c)
    assert API_KEY not in text
    assert server.base_url in text
    assert "timeout=12" in text and "max_retries=3" in text
    assert "api_key=" in text


def test_repr_of_a_short_key_shows_none_of_it(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key="short-k3y", base_url=server.base_url)
    assert "short" not in repr(c) and "k3y" not in repr(c)


def test_async_client_repr_masks_the_key(server: ScriptedServer) -> None:
    c = helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url)
    assert API_KEY not in repr(c)
    assert repr(c).startswith("AsyncClient(")


def test_the_key_is_not_an_attribute_in_plain_sight(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url)
    assert API_KEY not in str(vars(c))
    assert API_KEY not in repr(c._native)


def failures(server: ScriptedServer) -> list[BaseException]:
    """One exception of each kind, raised by real calls."""
    cases: list[Any] = [
        Reply(401, {"errors": [{"code": "invalid_token", "message": "Invalid token"}]}),
        Reply(404, {"errors": [{"code": "not_found", "message": "Customer not found"}]}),
        Reply(429, {}, {"Retry-After": "600"}),
        Reply(502, "<html>Bad Gateway</html>"),
        Reply(200, "not json"),
        Close(),
        Sleep(3),
    ]
    errors: list[BaseException] = []
    c = helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, timeout=0.3, max_retries=0, rate_limit=None
    )
    for case in cases:
        server.enqueue(case)
        try:
            c.remove_tags(1, ["Lead"])
        except helpcrunch.HelpCrunchError as e:
            errors.append(e)
    dead = helpcrunch.Client(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0
    )
    for bad in [lambda: dead.get_customer(1), lambda: dead.get_customer("x/1")]:
        try:
            bad()
        except Exception as e:
            errors.append(e)
    assert len(errors) == len(cases) + 2
    return errors


def test_the_key_is_in_no_exception_message_or_repr(server: ScriptedServer) -> None:
    for err in failures(server):
        assert API_KEY not in str(err), type(err)
        assert API_KEY not in repr(err), type(err)
        assert API_KEY not in repr(vars(err)), type(err)


def test_the_key_is_in_no_formatted_traceback(server: ScriptedServer) -> None:
    for err in failures(server):
        text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
        assert API_KEY not in text


def test_the_key_is_not_in_a_configuration_error() -> None:
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=API_KEY, base_url="ftp://example.com")
    assert API_KEY not in str(info.value)


def test_a_key_that_cannot_be_a_header_is_refused_without_echoing_it() -> None:
    bad_key = "secret-key-with-newline\nX-Evil: 1"
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=bad_key, base_url="https://api.example.com")
    assert "secret-key" not in str(info.value)


def test_credentials_in_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=API_KEY, base_url="https://user:hunter2@api.example.com/v1")
    assert "hunter2" not in str(info.value)


def test_the_key_never_goes_into_the_url(server: ScriptedServer, client: helpcrunch.Client) -> None:
    client.remove_tags(1, ["Lead"])
    assert API_KEY not in server.requests[0].path


def test_the_key_is_not_in_debug_logs(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    server.enqueue(Reply(503, {}, {"retry-after-ms": "10"}))
    client.remove_tags(1, ["Lead"])
    with pytest.raises(helpcrunch.NotFoundError):
        server.enqueue(Reply(404, {}))
        client.get_customer(2)
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(vars(record))
    assert API_KEY not in caplog.text


@pytest.mark.parametrize("level", ["debug", "info", "DEBUG"])
def test_helpcrunch_log_env_var_logs_to_stderr_without_the_key(
    server: ScriptedServer, level: str
) -> None:
    server.enqueue(Reply(503, {}, {"retry-after-ms": "10"}))
    code = (
        "import sys, helpcrunch\n"
        "c = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], rate_limit=None)\n"
        "c.get_customer(1)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env["PYTHONPATH"] = PACKAGE_ROOT
    env["HELPCRUNCH_LOG"] = level
    out = subprocess.run(
        [sys.executable, "-c", code, API_KEY, server.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert API_KEY not in out.stderr
    assert "GET /customers/1" in out.stderr
    assert "503" in out.stderr  # the retry, logged at INFO
    if level.lower() == "debug":
        assert "200" in out.stderr  # every request, logged at DEBUG
    else:
        assert "-> 200" not in out.stderr


def test_without_helpcrunch_log_nothing_goes_to_stderr(server: ScriptedServer) -> None:
    code = (
        "import sys, helpcrunch\n"
        "c = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], rate_limit=None)\n"
        "c.get_customer(1)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env["PYTHONPATH"] = PACKAGE_ROOT
    out = subprocess.run(
        [sys.executable, "-c", code, API_KEY, server.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


# Transport security


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.helpcrunch.com/v1",
        "http://10.0.0.5:8080",
        "http://example.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(base_url: str) -> None:
    with pytest.raises(helpcrunch.ConfigurationError, match="allow_insecure_http"):
        helpcrunch.Client(api_key=API_KEY, base_url=base_url)


def test_plain_http_to_a_remote_host_is_refused_for_async_and_module_functions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(helpcrunch.ConfigurationError):
        helpcrunch.AsyncClient(api_key=API_KEY, base_url="http://example.com")
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://example.com")
    with pytest.raises(helpcrunch.ConfigurationError):
        helpcrunch.get_customer(1)


def test_plain_http_to_a_remote_host_is_allowed_when_asked() -> None:
    c = helpcrunch.Client(
        api_key=API_KEY, base_url="http://example.com/v1", allow_insecure_http=True
    )
    assert c.base_url == "http://example.com/v1"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_to_this_machine_is_allowed(host: str) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=f"http://{host}:8080")
    assert host in c.base_url


@pytest.mark.parametrize("base_url", ["ftp://example.com", "not a url", "", "https://x/?q=1"])
def test_unusable_base_url_is_a_configuration_error(base_url: str) -> None:
    with pytest.raises(helpcrunch.ConfigurationError):
        helpcrunch.Client(api_key=API_KEY, base_url=base_url)


def test_a_redirect_is_not_followed(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(302, "", {"Location": server.base_url + "/stolen"}))
    with pytest.raises(helpcrunch.APIStatusError) as info:
        client.remove_tags(1, ["Lead"])
    assert info.value.status_code == 302
    assert [r.path for r in server.requests] == ["/customers/1/tags"]


def test_a_redirect_to_another_host_does_not_get_the_key() -> None:
    with ScriptedServer() as other:
        origin = ScriptedServer()
        try:
            origin.enqueue(Reply(307, "", {"Location": other.base_url + "/customers/1/tags"}))
            c = helpcrunch.Client(api_key=API_KEY, base_url=origin.base_url, rate_limit=None)
            with pytest.raises(helpcrunch.APIStatusError):
                c.remove_tags(1, ["Lead"])
        finally:
            origin.close()
        assert other.requests == []


def test_async_redirect_is_not_followed(server: ScriptedServer) -> None:
    server.enqueue(Reply(301, "", {"Location": server.base_url + "/elsewhere"}))

    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            with pytest.raises(helpcrunch.APIStatusError):
                await c.get_customer(1)

    asyncio.run(main())
    assert len(server.requests) == 1
