"""``Client`` and ``AsyncClient``: settings, connection pool and rate limiter, shared by every
call made through them. The work happens in the Rust core (``helpcrunch._native``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from . import _aio
from ._bulk import AsyncRun, BulkReport, BulkResult, OnError, SyncRun, acollect, collect
from ._exceptions import ConfigurationError
from ._native import NativeClient
from ._progress import ProgressArg
from ._types import Customer, CustomerId, Tags

__all__ = ["DEFAULT_BASE_URL", "AsyncClient", "Client"]

DEFAULT_BASE_URL = "https://api.helpcrunch.com/v1"
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

_C = TypeVar("_C", bound="_BaseClient")


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    return float(value)


def _native_client(
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    max_retries: int,
    rate_limit: float | None,
    allow_insecure_http: bool,
    max_response_bytes: int,
) -> NativeClient:
    if api_key is None:
        api_key = os.environ.get("HELPCRUNCH_API_KEY", "")
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if base_url is None:
        base_url = os.environ.get("HELPCRUNCH_BASE_URL") or DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    timeout = _number("timeout", timeout)
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise TypeError(f"max_retries must be an int, not {type(max_retries).__name__}")
    if max_retries < 0:
        raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries}")
    if rate_limit is not None:
        rate_limit = _number("rate_limit", rate_limit)
    if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
        raise TypeError("max_response_bytes must be an int")
    if max_response_bytes <= 0:
        raise ConfigurationError("max_response_bytes must be positive")
    return NativeClient(
        api_key,
        base_url,
        timeout,
        max_retries,
        rate_limit,
        bool(allow_insecure_http),
        max_response_bytes,
    )


def _options(arguments: dict[str, Any]) -> dict[str, Any]:
    """The bulk options among a method's arguments (its ``locals()``)."""
    names = ("concurrency", "progress", "checkpoint", "id_column", "tags_column")
    return {name: arguments[name] for name in names}


class _BaseClient:
    _native: NativeClient

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        rate_limit: float | None = 120,
        *,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        """Settings fall back to ``HELPCRUNCH_API_KEY`` and ``HELPCRUNCH_BASE_URL``, read now.

        - ``timeout``: seconds for each attempt, from connecting to the last byte.
        - ``max_retries``: further attempts after a connection error, a timeout, 408, 409,
          429 or 5xx (0 turns retries off).
        - ``rate_limit``: requests a minute for this client, all its threads and tasks
          together, spaced evenly (HelpCrunch allows 120); ``None`` turns the limiter off.
        - ``allow_insecure_http``: allow plain ``http://`` to a host other than this machine.
        """
        self._native = _native_client(
            api_key,
            base_url,
            timeout,
            max_retries,
            rate_limit,
            allow_insecure_http,
            max_response_bytes,
        )

    @classmethod
    def _from_native(cls: type[_C], native: NativeClient) -> _C:
        client = cls.__new__(cls)
        client._native = native
        return client

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        # Pickled with its settings and key, rebuilt fresh in the receiving process (spawn,
        # Dask, Spark): connections and limiter state do not travel.
        return (type(self)._from_native, (self._native,))

    @property
    def base_url(self) -> str:
        return str(self._native.settings()["base_url"])

    @property
    def timeout(self) -> float:
        return float(self._native.settings()["timeout"])

    @property
    def max_retries(self) -> int:
        return int(self._native.settings()["max_retries"])

    @property
    def rate_limit(self) -> float | None:
        limit = self._native.settings()["rate_limit"]
        return None if limit is None else float(limit)

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        s = self._native.settings()
        rate = s["rate_limit"]
        rate_text = "None" if rate is None else f"{rate:g}"
        return (
            f"{type(self).__name__}(base_url={s['base_url']!r}, "
            f"api_key={self._native.masked_api_key}, timeout={s['timeout']:g}, "
            f"max_retries={s['max_retries']}, rate_limit={rate_text})"
        )


class Client(_BaseClient):
    """A HelpCrunch client for blocking code. Safe to share between threads.

    >>> with helpcrunch.Client() as client:
    ...     customer = client.remove_tags(1568834, ["Lead"])
    """

    def remove_tags(self, customer_id: CustomerId, tags: Tags) -> Customer:
        """Untag a customer (``DELETE /customers/{id}/tags``) and return it as it now is.

        ``tags`` is one tag name or a list of names (or of ``{"name": …}`` mappings). Removing a
        tag the customer does not have is not an error.
        """
        return self._native.remove_tags(customer_id, tags)  # type: ignore[return-value]

    def add_tags(self, customer_id: CustomerId, tags: Tags) -> Customer:
        """Tag a customer (``PUT /customers/{id}/tags``), creating unknown tags; returns it.

        Tags may carry a colour: ``[{"name": "Lead", "color": "#c57de0"}]``.
        """
        return self._native.add_tags(customer_id, tags)  # type: ignore[return-value]

    def get_customer(self, customer_id: CustomerId) -> Customer:
        """Fetch a customer (``GET /customers/{id}``)."""
        return self._native.get_customer(customer_id)  # type: ignore[return-value]

    # Bulk: see the README's "Pipelines" section. ``items`` is an iterable of
    # ``(customer_id, tags)`` pairs or of mappings with ``customer_id`` and ``tags`` (names set by
    # ``id_column``/``tags_column``), or a pandas or polars DataFrame with those columns.

    def remove_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> BulkReport:
        """Untag many customers, ``concurrency`` at a time at the client's rate limit, and return
        a report of every item in input order.

        - ``on_error="collect"`` keeps going and records failures; ``"raise"`` stops at the first
          and raises :class:`~helpcrunch.BulkError` with the report attached.
        - ``progress=True`` shows a tqdm bar; a callable gets ``(done, total, result)``.
        - ``checkpoint="run.jsonl"`` appends each finished item; a rerun skips those done.
        - Ctrl-C raises :class:`~helpcrunch.BulkInterrupted` with the report so far.
        """
        run = SyncRun(self._native, "remove", items, **_options(locals()))
        return collect(run, on_error)

    def add_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> BulkReport:
        """Tag many customers; see :meth:`remove_tags_many`."""
        run = SyncRun(self._native, "add", items, **_options(locals()))
        return collect(run, on_error)

    def iter_remove_tags(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> Iterator[BulkResult]:
        """Untag many customers, yielding each result as it completes (completion order).
        The input is read lazily; stopping early cancels what is in flight."""
        return SyncRun(self._native, "remove", items, **_options(locals())).results()

    def iter_add_tags(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> Iterator[BulkResult]:
        """Tag many customers, yielding each result as it completes."""
        return SyncRun(self._native, "add", items, **_options(locals())).results()

    def close(self) -> None:
        """Stop taking calls and release the connection pool. Calls in flight finish."""
        self._native.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """A HelpCrunch client for asyncio. Works on any running loop (Jupyter's, uvloop's), and
    one client may serve several loops in turn.

    >>> async with helpcrunch.AsyncClient() as client:
    ...     customer = await client.remove_tags(1568834, ["Lead"])
    """

    async def remove_tags(self, customer_id: CustomerId, tags: Tags) -> Customer:
        """Untag a customer; see :meth:`Client.remove_tags`."""
        return await _aio.call(self._native.remove_tags_async, customer_id, tags)  # type: ignore[no-any-return]

    async def add_tags(self, customer_id: CustomerId, tags: Tags) -> Customer:
        """Tag a customer; see :meth:`Client.add_tags`."""
        return await _aio.call(self._native.add_tags_async, customer_id, tags)  # type: ignore[no-any-return]

    async def get_customer(self, customer_id: CustomerId) -> Customer:
        """Fetch a customer; see :meth:`Client.get_customer`."""
        return await _aio.call(self._native.get_customer_async, customer_id)  # type: ignore[no-any-return]

    async def remove_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> BulkReport:
        """Untag many customers; see :meth:`Client.remove_tags_many`. ``items`` may also be an
        async iterable. Cancelling the task cancels the run."""
        run = AsyncRun(self._native, "remove", items, **_options(locals()))
        return await acollect(run, on_error)

    async def add_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> BulkReport:
        """Tag many customers; see :meth:`Client.remove_tags_many`."""
        run = AsyncRun(self._native, "add", items, **_options(locals()))
        return await acollect(run, on_error)

    def iter_remove_tags(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> AsyncIterator[BulkResult]:
        """``async for result in client.iter_remove_tags(items)``: each result as it completes."""
        return AsyncRun(self._native, "remove", items, **_options(locals())).results()

    def iter_add_tags(
        self,
        items: Any,
        *,
        concurrency: int = 8,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> AsyncIterator[BulkResult]:
        """``async for result in client.iter_add_tags(items)``: each result as it completes."""
        return AsyncRun(self._native, "add", items, **_options(locals())).results()

    def close(self) -> None:
        self._native.close()

    async def aclose(self) -> None:
        """Stop taking calls and release the connection pool. Calls in flight finish."""
        self._native.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
