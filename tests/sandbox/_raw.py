"""A request to the sandbox with urllib, so the sandbox is checked independently of our client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol


class Served(Protocol):
    """A sandbox, or the address and key of one served by the CLI."""

    @property
    def base_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...


def call(
    sb: Served, method: str, path: str, body: Any = None, *, key: str | None = None
) -> tuple[int, Any]:
    """``(status, parsed JSON body)`` of ``method`` on ``sb.base_url + path``."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sb.base_url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {sb.api_key if key is None else key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def codes(body: Any) -> list[str]:
    """The ``code`` of each error of an error body."""
    return [e["code"] for e in body["errors"]]
