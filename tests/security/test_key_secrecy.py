"""The API key goes nowhere but the Authorization header: not into a client's repr, an exception
of any failure (str, repr, attributes, traceback, pickle), a log record or the log output on
stderr, the request line, a configuration error, or what the CLI prints; not even when a server
echoes it back.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import helpcrunch
from tests.support.hostile import CASES, WAYS, call_one_way
from tests.support.processes import child_env, run_python
from tests.support.scripted_server import (
    Close,
    Hang,
    Reply,
    ReplyFor,
    Request,
    ScriptedServer,
    free_port,
)

KEY = "hc-LEAKCHECK-7d41a2f9e0b3c8d6"


# --- the exceptions, log records and requests of every kind of failure, gathered once ---------


class Gathered:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.records: list[logging.LogRecord] = []
        self.requests: list[Request] = []


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


INVALID_TOKEN = Reply(401, {"errors": [{"code": "invalid_token", "message": "Invalid token"}]})
NOT_FOUND = Reply(404, {"errors": [{"code": "not_found", "message": "Customer not found"}]})
#: The API's own refusals, each raised at once: 4xx are not retried, a wait past the cap is not
#: waited.
REFUSALS = [
    INVALID_TOKEN,
    NOT_FOUND,
    Reply(429, {}, {"Retry-After": "600"}),
]


#: The tests of one gathering (7 s of hostile cases) run on one worker: it is gathered once, not
#: once for each worker that runs one of them (scripts/test runs tests side by side).
ONE_GATHERING = pytest.mark.xdist_group("key-secrecy-gathered")


@pytest.fixture(scope="module")
def gathered() -> Iterator[Gathered]:
    """Every hostile case, sync, async and in bulk; the API's refusals; a call that succeeds on
    its retry (logged at INFO); a refused connection and a refused customer id. The helpcrunch
    logger at DEBUG the whole time."""
    out = Gathered()
    logger = logging.getLogger("helpcrunch")
    handler = _Keep(out.records)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for case in CASES.values():
            for way in WAYS:
                with ScriptedServer() as server:
                    server.set_default(case.action)
                    error = call_one_way(way, server, max_retries=0, timeout=0.5, api_key=KEY)
                    out.requests += server.requests
                assert isinstance(error, helpcrunch.HelpCrunchError), error
                out.errors.append(error)
        with ScriptedServer() as server:
            server.enqueue(*REFUSALS, Reply(503, {}, {"retry-after-ms": "10"}))
            client = helpcrunch.Client(
                api_key=KEY, base_url=server.base_url, max_retries=1, rate_limit=None
            )
            for _ in REFUSALS:
                with pytest.raises(helpcrunch.APIStatusError) as refused:
                    client.remove_tags(1, ["Lead"])
                out.errors.append(refused.value)
            client.get_customer(1)  # a 503, then a 200 on the retry
            out.requests += server.requests
        dead = helpcrunch.Client(
            api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0
        )
        with pytest.raises(helpcrunch.APIConnectionError) as unreachable:
            dead.get_customer(1)
        out.errors.append(unreachable.value)
        with pytest.raises(ValueError) as bad_id:
            dead.get_customer("x/1")
        out.errors.append(bad_id.value)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    yield out


@ONE_GATHERING
def test_every_failure_was_gathered(gathered: Gathered) -> None:
    assert len(gathered.errors) == len(CASES) * len(WAYS) + len(REFUSALS) + 2
    assert gathered.requests, "no request reached the servers"
    assert any(r.levelno == logging.INFO for r in gathered.records), "no retry was logged"


@ONE_GATHERING
def test_the_key_was_sent_in_the_authorization_header(gathered: Gathered) -> None:
    """What makes the greps below meaningful: the key was there to leak."""
    for request in gathered.requests:
        assert request.headers.get("authorization") == f"Bearer {KEY}"


@ONE_GATHERING
def test_the_key_is_in_no_request_line(gathered: Gathered) -> None:
    for request in gathered.requests:
        assert KEY not in request.request_line
        assert KEY not in request.path


@ONE_GATHERING
def test_the_key_is_in_no_exception_str_or_repr(gathered: Gathered) -> None:
    for error in gathered.errors:
        assert KEY not in str(error), type(error)
        assert KEY not in repr(error), type(error)
        assert KEY not in repr(vars(error)), type(error)


@ONE_GATHERING
def test_the_key_is_in_no_formatted_traceback(gathered: Gathered) -> None:
    for error in gathered.errors:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        assert KEY not in text, type(error)


@ONE_GATHERING
def test_the_key_is_in_no_pickled_exception(gathered: Gathered) -> None:
    for error in gathered.errors:
        data = pickle.dumps(error)
        assert KEY.encode() not in data, type(error)
        assert KEY not in repr(pickle.loads(data))


@ONE_GATHERING
def test_the_key_is_in_no_log_record(gathered: Gathered) -> None:
    assert gathered.records, "nothing was logged at DEBUG"
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    for record in gathered.records:
        assert KEY not in formatter.format(record)
        assert KEY not in repr(vars(record))


LOGGING_SCRIPT = """
import sys, helpcrunch
c = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], timeout=0.5, max_retries=1,
                      rate_limit=None)
for _ in range(int(sys.argv[3])):
    try:
        c.remove_tags(1, "Lead")
    except helpcrunch.HelpCrunchError as e:
        print(type(e).__name__, flush=True)
"""


@pytest.mark.parametrize("level", ["debug", "info"])
def test_the_key_is_not_in_helpcrunch_log_output_on_stderr(level: str) -> None:
    behaviours = [
        INVALID_TOKEN,
        Reply(502, "<html>Bad gateway</html>"),
        Reply(502, "<html>Bad gateway</html>"),
        Reply(200, "not json"),
        Close(),
        Close(),
        Hang(),
        Hang(),
        Reply(429, {}, {"Retry-After": "abc"}),
        Reply(200, {"id": 1, "tags": []}),
    ]
    with ScriptedServer() as server:
        server.enqueue(*behaviours)
        out = run_python(
            LOGGING_SCRIPT, KEY, server.base_url, "7", env=child_env(HELPCRUNCH_LOG=level)
        )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "AuthenticationError",
        "InternalServerError",
        "APIResponseValidationError",
        "APIConnectionError",
        "APITimeoutError",
    ]
    assert "DELETE /customers/1/tags" in out.stderr  # something was logged
    assert KEY not in out.stderr


# --- a server that echoes the request back --------------------------------------------------------


def _authorization(request: Request) -> str:
    return str(request.headers.get("authorization", ""))


ECHOES = {
    "in an error body": ReplyFor(lambda r: Reply(400, "You sent:\n" + r.raw.decode("latin-1"))),
    "in a header": ReplyFor(lambda r: Reply(503, "", {"X-Echo": _authorization(r)})),
    "in a 2xx body": ReplyFor(lambda r: Reply(200, "not JSON; you sent " + _authorization(r))),
}


@pytest.mark.parametrize("echo", list(ECHOES), ids=list(ECHOES))
def test_a_server_echoing_the_key_back_does_not_put_it_in_the_exception(echo: str) -> None:
    with ScriptedServer() as server:
        server.enqueue(ECHOES[echo])
        client = helpcrunch.Client(
            api_key=KEY, base_url=server.base_url, max_retries=0, rate_limit=None
        )
        with pytest.raises(helpcrunch.APIError) as info:
            client.get_customer(1)
    error = info.value
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert KEY not in text
    assert KEY not in repr(vars(error))
    assert KEY.encode() not in pickle.dumps(error)


# --- clients ---------------------------------------------------------------------------------


def test_repr_shows_settings_and_masks_the_key(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=KEY, base_url=server.base_url, timeout=12, max_retries=3)
    text = repr(c)
    assert KEY not in text
    assert server.base_url in text
    assert "timeout=12" in text and "max_retries=3" in text
    assert "api_key=" in text


def test_repr_of_a_short_key_shows_none_of_it(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key="short-k3y", base_url=server.base_url)
    assert "short" not in repr(c) and "k3y" not in repr(c)


@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_the_key_is_in_no_repr_str_or_attribute_of_a_client_open_or_closed(cls: type[Any]) -> None:
    client = cls(api_key=KEY, base_url="http://127.0.0.1:9", rate_limit=None)
    assert repr(client).startswith(f"{cls.__name__}(")
    texts = [repr(client), str(client), f"{client!r:>200}", repr(client._native), str(vars(client))]
    client.close()
    texts += [repr(client), str(client)]
    for text in texts:
        assert KEY not in text
        assert KEY[-12:] not in text  # not even most of it


# --- settings refused ------------------------------------------------------------------------


def test_the_key_is_not_in_a_configuration_error() -> None:
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=KEY, base_url="ftp://example.com")
    assert KEY not in str(info.value)


def test_a_key_that_cannot_be_a_header_is_refused_without_echoing_it() -> None:
    bad_key = "secret-key-with-newline\nX-Evil: 1"
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=bad_key, base_url="https://api.example.com")
    assert "secret-key" not in str(info.value)


def test_credentials_in_base_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client(api_key=KEY, base_url="https://user:hunter2@api.example.com/v1")
    assert "hunter2" not in str(info.value)


# --- the CLI ---------------------------------------------------------------------------------


CLI_CASES = {
    "401": (INVALID_TOKEN, 3),
    "404": (NOT_FOUND, 4),
    "HTML 502": (Reply(502, "<html>Bad gateway</html>"), 6),
    "200 not JSON": (Reply(200, "not JSON"), 6),
    "closed": (Close(), 7),
    "never answers": (Hang(), 7),
}


@pytest.mark.parametrize(("behaviour", "code"), list(CLI_CASES.values()), ids=list(CLI_CASES))
def test_the_cli_prints_no_key_on_errors(behaviour: Any, code: int) -> None:
    with ScriptedServer() as server:
        server.set_default(behaviour)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "helpcrunch",
                "untag",
                "1",
                "Lead",
                "--base-url",
                server.base_url,
                "--api-key-file",
                "-",
                "--timeout",
                "0.5",
            ],
            input=KEY + "\n",
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=60,
        )
        assert server.requests and server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert out.returncode == code, out.stderr
    assert out.stderr.strip(), "the CLI said nothing about the error"
    assert KEY not in out.stdout
    assert KEY not in out.stderr


def test_the_cli_with_the_key_in_the_environment_prints_no_key_on_errors() -> None:
    with ScriptedServer() as server:
        server.set_default(Reply(403, {"errors": [{"code": "forbidden", "message": KEY[:6]}]}))
        out = subprocess.run(
            [sys.executable, "-m", "helpcrunch", "get", "1", "--base-url", server.base_url],
            capture_output=True,
            text=True,
            env=child_env(HELPCRUNCH_API_KEY=KEY, HELPCRUNCH_LOG="debug"),
            timeout=60,
        )
    assert out.returncode == 3
    assert KEY not in out.stdout + out.stderr


# A server echoing the key where the 64 KiB excerpt of the body is cut: no part of it survives,
# in any field, whatever byte the cut falls on.

CUT = 64 * 1024


def _leaked_pieces(text: str) -> list[str]:
    """Pieces of the key in ``text``: the whole key, or a start of it of 4+ characters that ends
    the text (what a cut leaves)."""
    found = [KEY] if KEY in text else []
    found += [KEY[:n] for n in range(4, len(KEY)) if text.endswith(KEY[:n])]
    return found


@pytest.mark.parametrize("before_cut", range(1, len(KEY) + 1))
@pytest.mark.parametrize("status", [500, 200], ids=["status-error", "unusable-200"])
def test_a_key_straddling_the_excerpt_cut_is_blanked_whole(
    server: ScriptedServer, before_cut: int, status: int
) -> None:
    # The key's first `before_cut` characters fall before the cut, the rest after it; the
    # filler is multi-byte, so the cut also lands inside characters.
    filler = "é" * ((CUT - before_cut) // 2) + "x" * ((CUT - before_cut) % 2)
    body = filler + KEY + " tail " + KEY[: len(KEY) // 2]
    assert len(filler.encode()) + before_cut == CUT
    message = f"echo: Bearer {KEY}"
    payload = (
        '{"errors": [{"code": "x", "message": "' + message + '"}], "echo": "' + body + '"}'
        if status == 500
        else body
    )
    server.set_default(Reply(status, payload.encode(), {"X-Echo": KEY, f"X-{KEY}": "1"}))
    with helpcrunch.Client(
        api_key=KEY, base_url=server.base_url, max_retries=0, rate_limit=None
    ) as client:
        with pytest.raises(helpcrunch.APIError) as caught:
            client.get_customer(1)
    error = caught.value
    texts = [str(error), repr(error), error.body]  # type: ignore[attr-defined]
    texts += [e["message"] for e in getattr(error, "errors", [])]
    texts += [f"{k}: {v}" for k, v in getattr(error, "headers", {}).items()]
    for text in texts:
        assert _leaked_pieces(text) == [], text[-200:]
    blank = "[redacted]"
    body = error.body  # type: ignore[attr-defined]
    assert blank in body or any(body.endswith(blank[:n]) for n in range(1, len(blank)))
