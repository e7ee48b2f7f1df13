"""A local HTTP server for the tests, in a daemon thread of the test process.

It records every request (method, path, headers, body, parsed JSON, arrival time) and answers
from a scripted queue of actions, falling back to a default answer (200 and a customer JSON
whose ``id`` is the one in the path). Actions:

- ``Reply(status, body, headers, close)``: an answer; a dict or list body is sent as JSON;
  ``close`` shuts the connection after it (with a Content-Length header larger than the body,
  a cut-off answer).
- ``Close()``: read the request, then close the connection without answering.
- ``Sleep(seconds, then=Reply(...))``: wait, then answer. While waiting it watches the socket,
  so a client that gives up (a timeout, a cancelled task, Ctrl-C) is counted in
  ``disconnects``; a closing server ends the wait at once.
- ``Hang()``: wait until the client goes away or the server closes; never answer.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key-0123456789abcdef"


def customer(customer_id: int = 1568834, **extra: Any) -> dict[str, Any]:
    """A customer shaped as HelpCrunch documents it."""
    doc: dict[str, Any] = {
        "id": customer_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "userId": None,
        "company": "Analytical Engines",
        "phone": None,
        "firstSeen": "1700000000",
        "lastSeen": 1700000500,
        "location": {"regionCode": None, "countryCode": "GB", "city": "London"},
        "device": None,
        "unsubscribed": False,
        "blocked": False,
        "tags": [{"name": "vip", "color": "#ff0000"}],
        "customData": {"plan": "pro"},
    }
    doc.update(extra)
    return doc


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Close the connection right after writing (with a short body and a larger
    #: Content-Length header this makes a cut-off response).
    close: bool = False


@dataclass
class Close:
    """Close the connection without answering."""


@dataclass
class Sleep:
    seconds: float
    then: Reply | None = None


@dataclass
class Hang:
    """Never answer; end when the client disconnects or the server closes."""


Action = Reply | Close | Sleep | Hang


@dataclass
class Request:
    method: str
    path: str
    headers: Message
    body: bytes
    at: float  # time.monotonic() when the request arrived
    peer: tuple[str, int] = ("", 0)  # the client's address: one per TCP connection

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_ID_IN_PATH = re.compile(r"/customers/(\d+)")


class ScriptedServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Action] = deque()
        self._default: Action | None = None
        self._arrived = threading.Condition(self._lock)
        self._closing = threading.Event()
        self.requests: list[Request] = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    # Scripting

    def enqueue(self, *actions: Action) -> None:
        with self._lock:
            self._script.extend(actions)

    def set_default(self, action: Action | None) -> None:
        """The answer once the script is used up (None: 200 and a customer)."""
        with self._lock:
            self._default = action

    def _next_action(self, request: Request) -> Action:
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
            if self._script:
                return self._script.popleft()
            if self._default is not None:
                return self._default
        match = _ID_IN_PATH.search(request.path)
        return Reply(200, customer(int(match.group(1)) if match else 1))

    # Observing

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True

    def _note_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
        self.disconnected.set()

    # Lifetime

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _client_gone(sock: socket.socket) -> bool:
    """True when the peer has closed (or reset) the connection."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client's pool expects
        # Headers and body go out in two writes; without this, the client's delayed ACK holds
        # the second one back ~40 ms on every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            at = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            peer = (str(self.client_address[0]), int(self.client_address[1]))
            request = Request(self.command, self.path, self.headers, body, at, peer)
            action = server._next_action(request)
            if isinstance(action, Close):
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if isinstance(action, Hang):
                self._wait(None)
                self.close_connection = True
                return
            if isinstance(action, Sleep):
                if not self._wait(action.seconds):
                    self.close_connection = True
                    return
                match = _ID_IN_PATH.search(request.path)
                action = action.then or Reply(200, customer(int(match.group(1)) if match else 1))
            self._reply(action)

        def _wait(self, seconds: float | None) -> bool:
            """Wait; False if the client went away or the server is closing."""
            deadline = None if seconds is None else time.monotonic() + seconds
            while deadline is None or time.monotonic() < deadline:
                if server._closing.wait(0.02):
                    return False
                if _client_gone(self.connection):
                    server._note_disconnect()
                    return False
            return True

        def _reply(self, reply: Reply) -> None:
            body = reply.body
            if body is None:
                payload = b""
            elif isinstance(body, bytes):
                payload = body
            elif isinstance(body, str):
                payload = body.encode()
            else:
                payload = json.dumps(body).encode()
            headers = {k.lower(): v for k, v in reply.headers.items()}
            try:
                self.send_response(reply.status)
                if "content-type" not in headers and not isinstance(body, (bytes, str)):
                    self.send_header("Content-Type", "application/json")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if "content-length" not in headers:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
            if reply.close:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = _handle

    return Handler


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
