"""The API key goes nowhere but the Authorization header: not into a client's repr, any exception
raised across the hostile-server cases (str, repr, traceback, pickle), log output at DEBUG, the
URL the server receives, or what the CLI prints on errors. Plain http only to this machine; the
customer id can never change the request path; certificates are always checked.

No test sends traffic anywhere but 127.0.0.1: the refused remote hosts fail in the constructor.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pickle
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.reliability import test_hostile_servers as hostile
from tests.support.scripted_server import Close, Hang, Reply, ReplyFor, Request, ScriptedServer

KEY = "hc-LEAKCHECK-7d41a2f9e0b3c8d6"
PACKAGE_ROOT = str(Path(helpcrunch.__file__).resolve().parent.parent)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env["PYTHONPATH"] = PACKAGE_ROOT
    env.update(extra)
    return env


# --- the exceptions and log records of every hostile case, gathered once -----------------------


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


@pytest.fixture(scope="module")
def gathered() -> Iterator[Gathered]:
    """Every hostile case, sync, async and in bulk, and a refused connection; the helpcrunch
    logger at DEBUG the whole time. (Retries are logged in the stderr test below.)"""
    out = Gathered()
    logger = logging.getLogger("helpcrunch")
    handler = _Keep(out.records)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        for case in hostile.CASES.values():
            for way in hostile.WAYS:
                with ScriptedServer() as server:
                    server.set_default(case.action)
                    error = hostile.call_one_way(
                        way, server, max_retries=0, timeout=0.5, api_key=KEY
                    )
                    out.requests += server.requests
                assert isinstance(error, helpcrunch.HelpCrunchError), error
                out.errors.append(error)
        port = hostile_free_port()
        dead = helpcrunch.Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}", max_retries=0)
        try:
            dead.get_customer(1)
        except helpcrunch.APIConnectionError as e:
            out.errors.append(e)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    yield out


def hostile_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_every_hostile_case_was_gathered(gathered: Gathered) -> None:
    assert len(gathered.errors) == len(hostile.CASES) * len(hostile.WAYS) + 1
    assert gathered.requests, "no request reached the servers"


def test_the_key_was_sent_in_the_authorization_header(gathered: Gathered) -> None:
    """What makes the greps below meaningful: the key was there to leak."""
    for request in gathered.requests:
        assert request.headers.get("authorization") == f"Bearer {KEY}"


def test_the_key_is_in_no_request_line(gathered: Gathered) -> None:
    for request in gathered.requests:
        assert KEY not in request.request_line
        assert KEY not in request.path


def test_the_key_is_in_no_exception_str_or_repr(gathered: Gathered) -> None:
    for error in gathered.errors:
        assert KEY not in str(error), type(error)
        assert KEY not in repr(error), type(error)
        assert KEY not in repr(vars(error)), type(error)


def test_the_key_is_in_no_formatted_traceback(gathered: Gathered) -> None:
    for error in gathered.errors:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        assert KEY not in text, type(error)


def test_the_key_is_in_no_pickled_exception(gathered: Gathered) -> None:
    for error in gathered.errors:
        data = pickle.dumps(error)
        assert KEY.encode() not in data, type(error)
        assert KEY not in repr(pickle.loads(data))


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
        Reply(401, {"errors": [{"code": "invalid_token", "message": "Invalid token"}]}),
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
        out = subprocess.run(
            [sys.executable, "-c", LOGGING_SCRIPT, KEY, server.base_url, "7"],
            capture_output=True,
            text=True,
            env=child_env(HELPCRUNCH_LOG=level),
            timeout=60,
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


@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_the_key_is_in_no_repr_or_str_of_a_client_open_or_closed(cls: type[Any]) -> None:
    client = cls(api_key=KEY, base_url="http://127.0.0.1:9", rate_limit=None)
    texts = [repr(client), str(client), f"{client!r:>200}", repr(client._native)]
    client.close()
    texts += [repr(client), str(client)]
    for text in texts:
        assert KEY not in text
        assert KEY[-12:] not in text  # not even most of it


# --- the CLI ---------------------------------------------------------------------------------


CLI_CASES = {
    "401": (Reply(401, {"errors": [{"code": "invalid_token", "message": "Invalid token"}]}), 3),
    "404": (Reply(404, {"errors": [{"code": "not_found", "message": "Customer not found"}]}), 4),
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


@pytest.mark.parametrize("argv", [["--api-key", KEY], [f"--api-key={KEY}"]])
def test_the_cli_refuses_a_key_argument_without_echoing_it(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "helpcrunch", "get", "1", "--base-url", "http://127.0.0.1:9", *argv],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert out.returncode == 2
    assert KEY not in out.stdout + out.stderr


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


# --- transport -------------------------------------------------------------------------------


REMOTE_PLAIN_HTTP = [
    "http://10.0.0.1",
    "http://10.0.0.1:80/v1",
    "http://example.com",
    "http://example.com:443/v1",
    "http://192.168.1.1/v1",
    "http://[2001:db8::1]/v1",
    "http://127.0.0.1.example.com/v1",
    "http://localhost.localdomain.example/v1",
    "HTTP://EXAMPLE.COM/v1",
]


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_plain_http_to_a_remote_host_is_refused_by_the_constructor(
    cls: type[Any], base_url: str
) -> None:
    # Raised while building the client: no call was made, so nothing can have been sent.
    with pytest.raises(helpcrunch.ConfigurationError, match="allow_insecure_http"):
        cls(api_key=KEY, base_url=base_url)


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_refused_for_module_functions_before_any_request(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", base_url)
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.remove_tags(1, "Lead")
    assert KEY not in str(info.value)
    with pytest.raises(helpcrunch.ConfigurationError):
        asyncio.run(helpcrunch.get_customer_async(1))


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_accepted_only_with_the_opt_in(base_url: str) -> None:
    client = helpcrunch.Client(api_key=KEY, base_url=base_url, allow_insecure_http=True)
    assert client.base_url.lower().startswith("http://")
    client.close()  # never used: no traffic leaves this machine


def test_certificate_checks_have_no_off_switch() -> None:
    names = set(inspect.signature(helpcrunch.Client.__init__).parameters)
    assert not names & {"verify", "verify_ssl", "ssl", "insecure", "cert_reqs", "ca_certs"}
    with pytest.raises(TypeError):
        helpcrunch.Client(api_key=KEY, base_url="https://127.0.0.1:9", verify=False)  # type: ignore[call-arg]
    # allow_insecure_http is about http://, not about certificates: it is no way around them.
    helpcrunch.Client(api_key=KEY, base_url="https://127.0.0.1:9", allow_insecure_http=True)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("opt_in", [False, True])
def test_a_self_signed_certificate_is_refused_and_the_key_never_sent(
    self_signed: tuple[str, str], opt_in: bool
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        listener.settimeout(10)
        for _ in range(3):  # the first attempt and two retries
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.settimeout(2)
                        received.append(tls.recv(65536))
                except (ssl.SSLError, OSError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = helpcrunch.Client(
            api_key=KEY,
            base_url=f"https://127.0.0.1:{port}/v1",
            timeout=5,
            rate_limit=None,
            allow_insecure_http=opt_in,
        )
        with pytest.raises(helpcrunch.APIConnectionError) as info:
            client.get_customer(1)
    finally:
        listener.close()
        thread.join(10)
    assert "certificate" in str(info.value).lower() or "tls" in str(info.value).lower()
    assert KEY not in str(info.value)
    assert not any(KEY.encode() in data for data in received)


# --- the path ---------------------------------------------------------------------------------


PATH_TRICKS = [
    "1/../2",
    "../1",
    "1/..",
    "1?x=1",
    "1#frag",
    "1#",
    "%2e%2e",
    "1%2F2",
    "1%00",
    "1\r\nHost: evil.example",
    "1\n",
    "1 ",
    "1\t",
    "1;x",
    "1,2",
    "\uff11\uff12",  # fullwidth digits
    "\u0663",  # an Arabic-Indic digit
    "1.0",
    "1e3",
    "0x1f",
    "+1",
    "-1",
    "",
    "/",
    "1/tags",
    "@evil.example",
    "1@evil.example",
]


@pytest.mark.parametrize("customer_id", PATH_TRICKS, ids=[repr(t) for t in PATH_TRICKS])
@pytest.mark.parametrize("call", ["remove_tags", "add_tags", "get_customer"])
def test_a_customer_id_that_would_change_the_path_is_refused(customer_id: str, call: str) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(api_key=KEY, base_url=server.base_url + "/v1", rate_limit=None)
        args = (customer_id,) if call == "get_customer" else (customer_id, "Lead")
        with pytest.raises(ValueError):
            getattr(client, call)(*args)
        assert server.requests == []


@pytest.mark.parametrize(
    ("customer_id", "digits"),
    [(1, "1"), ("1", "1"), ("0001568834", "1568834"), (2**64 - 1, str(2**64 - 1)), (True + 1, "2")],
)
def test_a_valid_customer_id_gives_exactly_its_digits_in_the_path(
    customer_id: Any, digits: str
) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(api_key=KEY, base_url=server.base_url + "/v1", rate_limit=None)
        client.remove_tags(customer_id, ["Lead", "../x", "?a=b#c"])
        client.get_customer(customer_id)
        client.remove_tags_many([(customer_id, "Lead")])
    assert [r.request_line for r in server.requests] == [
        f"DELETE /v1/customers/{digits}/tags HTTP/1.1",
        f"GET /v1/customers/{digits} HTTP/1.1",
        f"DELETE /v1/customers/{digits}/tags HTTP/1.1",
    ]


@pytest.mark.parametrize("tag", ["Lead\r\nX-Evil: 1", "Lead\nHost: evil.example", "Lead\x00"])
def test_a_tag_cannot_inject_a_header(tag: str) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(api_key=KEY, base_url=server.base_url, rate_limit=None)
        with pytest.raises(ValueError, match="control"):
            client.add_tags(1, tag)
        assert server.requests == []
