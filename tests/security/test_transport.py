"""Plain http only to this machine unless asked, certificates always checked, and redirects
never followed, so the key goes to no other server.

No test sends traffic anywhere but 127.0.0.1: the refused remote hosts fail in the constructor.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import socket
import ssl
import subprocess
import threading
from typing import Any

import pytest

import helpcrunch
from tests.support.hostile import WAYS, assert_typed, call_one_way
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer

# --- plain http ------------------------------------------------------------------------------


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
    "http://api.helpcrunch.com/v1",
    "http://10.0.0.5:8080",
    "http://localhost.example.com",
    "http://127.0.0.1.nip.io",
]


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_plain_http_to_a_remote_host_is_refused_by_the_constructor(
    cls: type[Any], base_url: str
) -> None:
    # Raised while building the client: no call was made, so nothing can have been sent.
    with pytest.raises(helpcrunch.ConfigurationError, match="allow_insecure_http"):
        cls(api_key=API_KEY, base_url=base_url)


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_refused_for_module_functions_before_any_request(
    monkeypatch: pytest.MonkeyPatch, base_url: str
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", base_url)
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.remove_tags(1, "Lead")
    assert API_KEY not in str(info.value)
    with pytest.raises(helpcrunch.ConfigurationError):
        asyncio.run(helpcrunch.get_customer_async(1))


@pytest.mark.parametrize("base_url", REMOTE_PLAIN_HTTP)
def test_plain_http_to_a_remote_host_is_accepted_only_with_the_opt_in(base_url: str) -> None:
    client = helpcrunch.Client(api_key=API_KEY, base_url=base_url, allow_insecure_http=True)
    assert client.base_url.lower().startswith("http://")
    client.close()  # never used: no traffic leaves this machine


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


# --- certificates ----------------------------------------------------------------------------


def test_certificate_checks_have_no_off_switch() -> None:
    names = set(inspect.signature(helpcrunch.Client.__init__).parameters)
    assert not names & {"verify", "verify_ssl", "ssl", "insecure", "cert_reqs", "ca_certs"}
    with pytest.raises(TypeError):
        helpcrunch.Client(api_key=API_KEY, base_url="https://127.0.0.1:9", verify=False)  # type: ignore[call-arg]
    # allow_insecure_http is about http://, not about certificates: it is no way around them.
    helpcrunch.Client(api_key=API_KEY, base_url="https://127.0.0.1:9", allow_insecure_http=True)


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
            api_key=API_KEY,
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
    assert API_KEY not in str(info.value)
    assert not any(API_KEY.encode() in data for data in received)


# --- redirects -------------------------------------------------------------------------------


def test_a_redirect_is_not_followed(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(302, "", {"Location": server.base_url + "/stolen"}))
    with pytest.raises(helpcrunch.APIStatusError) as info:
        client.remove_tags(1, ["Lead"])
    assert info.value.status_code == 302
    assert [r.path for r in server.requests] == ["/customers/1/tags"]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_port_is_not_followed_and_the_key_goes_nowhere(
    server: ScriptedServer, status: int, way: str
) -> None:
    with ScriptedServer() as elsewhere:
        target = f"{elsewhere.base_url}/customers/1/tags"
        server.enqueue(Reply(status, "", {"Location": target}, reason="Moved"))
        error = assert_typed(call_one_way(way, server, max_retries=2), helpcrunch.APIStatusError)
        assert isinstance(error, helpcrunch.APIStatusError)
        assert error.status_code == status
        assert error.headers.get("location") == target
        assert len(server.requests) == 1
    assert elsewhere.connections == 0
    assert elsewhere.requests == []


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
