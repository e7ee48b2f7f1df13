"""Shared by the customer sync tests (tests/customers/, tests/cli/test_sync_customers.py): an
account whose customers have known fields, both clients behind one call, and what the sandbox
holds afterwards."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import helpcrunch
from helpcrunch.sandbox import Sandbox


def customer(i: int, **fields: Any) -> dict[str, Any]:
    """Customer ``i``: email ``c{i}@example.com``, userId ``user-{i}``, company ``Co {i}``, plan
    ``basic`` and mrr ``10`` in customData; ``fields`` replace any of these."""
    base: dict[str, Any] = {
        "id": i,
        "email": f"c{i}@example.com",
        "userId": f"user-{i}",
        "company": f"Co {i}",
        "phone": None,
        "firstSeen": str(1_600_000_000 + i),
        "tags": [],
        "customData": {"plan": "basic", "mrr": 10},
    }
    base.update(fields)
    return base


def account(n: int) -> list[dict[str, Any]]:
    return [customer(i) for i in range(1, n + 1)]


def fields_of(sb: Sandbox, customer_id: int) -> dict[str, Any]:
    return dict(sb.customer(customer_id))


def writes(sb: Sandbox) -> list[Any]:
    """Requests that write (anything but a read)."""
    return [
        r
        for r in sb.requests
        if r.method in ("PATCH", "PUT", "DELETE")
        or (r.method == "POST" and r.path.rstrip("/") == "/customers")
    ]


class Both:
    """One of the two clients, each call made and its result returned the same way."""

    def __init__(self, sb: Sandbox, kind: str) -> None:
        self.kind = kind
        self.sb = sb

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "sync":
            with self.sb.client(rate_limit=None) as client:
                return getattr(client, method)(*args, **kwargs)

        async def run() -> Any:
            async with self.sb.async_client(rate_limit=None) as client:
                result = getattr(client, method)(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result

        return asyncio.run(run())


Call = Callable[..., Any]
__all__ = ["Both", "account", "customer", "fields_of", "helpcrunch", "writes"]
