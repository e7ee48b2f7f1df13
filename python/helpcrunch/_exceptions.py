"""The exceptions ``helpcrunch`` raises.

::

    HelpCrunchError
    ├── ConfigurationError            no API key, a bad base_url, plain http to a remote host
    ├── ClientClosedError             the client was closed
    ├── RequestCancelledError         a bulk item stopped before it finished
    ├── BulkError                     a bulk run with on_error="raise" met a failure (.report)
    ├── MissingExtraError             a DataFrame asked for without pandas/polars (also an ImportError)
    ├── WebhookSignatureError         a webhook request's signature is missing, malformed or wrong
    ├── WebhookPayloadError           a signed webhook body is not JSON or not an event
    └── APIError
        ├── APIStatusError            any non-2xx answer
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404
        │   ├── ConflictError              409
        │   ├── UnprocessableEntityError   422
        │   ├── RateLimitError             429
        │   └── InternalServerError        >= 500
        ├── APIConnectionError        refused, reset, DNS, TLS, cut off
        │   └── APITimeoutError
        └── APIResponseValidationError  a 2xx whose body is not a JSON object

Bad arguments (a customer id that is not a number, an empty tag list) raise the built-in
``TypeError`` or ``ValueError`` before anything is sent. Those the core refuses say which
argument in attributes, as :class:`ConfigurationError` does: ``parameter`` (``"page_size"``),
``index`` (``where[2]``: 2) and ``detail`` (the complaint without the name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BulkError",
    "BulkInterrupted",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ErrorDetail",
    "HelpCrunchError",
    "InternalServerError",
    "MassChangeError",
    "MassRemovalError",
    "MissingExtraError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestCancelledError",
    "UnprocessableEntityError",
    "WebhookPayloadError",
    "WebhookSignatureError",
]


class ErrorDetail(TypedDict):
    """One ``{"code", "message"}`` pair of a HelpCrunch error body."""

    code: str
    message: str


class HelpCrunchError(Exception):
    """Base class of every error this package raises (bad arguments aside)."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild with the same attributes after pickling (multiprocessing, Dask).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[HelpCrunchError], message: str, state: dict[str, Any]) -> HelpCrunchError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


def _rebuild_exception(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
) -> BaseException:
    err = cls.__new__(cls)
    BaseException.__init__(err, *args)
    err.__dict__.update(state)
    return err


class _Refusal:
    """The argument an error is about, as the core names it: so that a caller (the CLI) can
    name it its own way without reading the message. The ``TypeError``/``ValueError`` of a bad
    argument carry the same three attributes."""

    #: The argument as the API names it (``"page_size"``, ``"where"``); None when the error is
    #: not about one argument.
    parameter: str | None
    #: Which item of a list argument (``where[2]``: 2), or None.
    index: int | None
    #: What is wrong with it, without its name or advice in Python terms (``"must be an
    #: integer from 1 to 100, got 0"``); None without ``parameter``.
    detail: str | None

    def _about(self, parameter: str | None, index: int | None, detail: str | None) -> None:
        self.parameter = parameter
        self.index = index
        self.detail = detail


def _refused(cls: type[Exception]) -> Callable[..., Exception]:
    """The built-in ``cls`` (``TypeError``, ``ValueError``: exactly those, as documented) for a
    bad argument, with ``parameter``, ``index`` and ``detail`` set as :class:`_Refusal` has
    them."""

    def make(
        message: str,
        *,
        parameter: str | None = None,
        index: int | None = None,
        detail: str | None = None,
    ) -> Exception:
        err = cls(message)
        _Refusal._about(err, parameter, index, detail)  # type: ignore[arg-type]
        return err

    return make


class ConfigurationError(_Refusal, HelpCrunchError, ValueError):
    """The client cannot be built as asked: no API key, a bad ``base_url``, and the like
    (``parameter`` names the setting, when one is to blame)."""

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        index: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self._about(parameter, index, detail)


class ClientClosedError(HelpCrunchError):
    """The client was closed before or during the call."""


class RequestCancelledError(HelpCrunchError):
    """A bulk run was stopped (Ctrl-C, a cancelled task, ``on_error="raise"``) before this item
    finished. Whether HelpCrunch applied it is unknown; running the item again is safe."""


class BulkError(HelpCrunchError):
    """A bulk run with ``on_error="raise"`` stopped at a failed item. ``report`` holds every
    item taken from the input so far (finished, failed or cancelled); ``__cause__`` is the
    item's error."""

    report: Any

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class MassRemovalError(HelpCrunchError):
    """``apply_plan``/``sync_tag`` refused, before any write, a plan that removes the tag from
    more than half of its current holders, or from anyone when no audience row is usable (an
    empty or truncated audience). The message says how many of how many (also ``removing``
    and ``holders``); pass ``allow_mass_removal=True`` if that is what you mean. For several
    tags the guard is per tag, and the message names each tag refused (also ``tags``)."""

    def __init__(
        self, message: str, *, removing: int = 0, holders: int = 0, tags: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.removing = removing
        self.holders = holders
        #: For a plan of several tags (``plan_tags``): the tags refused (``removing`` and
        #: ``holders`` are the first's); empty for a plan of one tag.
        self.tags: list[str] = list(tags or [])


class MassChangeError(HelpCrunchError):
    """``apply_plan``/``sync_customers`` refused, before any write, a customer plan that changes
    more than half of the customers it read, or empties a field on more than 100 customers.
    The message says how many (also ``updating``, ``read``, ``clearing``); pass
    ``allow_mass_change=True`` if that is what you mean."""

    def __init__(
        self, message: str, *, updating: int = 0, read: int = 0, clearing: int = 0
    ) -> None:
        super().__init__(message)
        self.updating = updating
        self.read = read
        self.clearing = clearing


class MissingExtraError(HelpCrunchError, ImportError):
    """A DataFrame was asked for (``to_pandas()``, ``to_polars()``) but its library is not
    installed. The message names the extra that installs it (``extra``: ``"pandas"`` or
    ``"polars"``); an ``ImportError`` too, so ``except ImportError`` catches it."""

    def __init__(self, message: str, *, extra: str = "") -> None:
        super().__init__(message)
        self.extra = extra
        self.name = extra  # ImportError's own attribute: the module that could not be imported

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_missing_extra, (self.message, self.__dict__))


def _rebuild_missing_extra(message: str, state: dict[str, Any]) -> MissingExtraError:
    # ImportError keeps ``name`` in a slot, not in ``__dict__``: built again by the constructor.
    err = MissingExtraError(message, extra=state.get("extra", ""))
    err.__dict__.update(state)
    return err


class WebhookSignatureError(HelpCrunchError):
    """A webhook request's ``X-HelpCrunch-Signature`` is missing, malformed (not 40 hex
    digits) or not the HMAC-SHA1 of its body under the secret: it is not from HelpCrunch, or
    its body was changed (or decoded and encoded again) on the way. The message says which;
    it never holds the secret. Answer such a request with 400 or 401 and do nothing else."""


class WebhookPayloadError(HelpCrunchError, ValueError):
    """A correctly signed webhook body is not JSON, or not an event (no ``event`` name, or a
    customer event without its customer). The message names what is wrong, never the body's
    values."""


class BulkInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a bulk run. ``report`` holds every item taken from the input so far, with
    what finished kept and the rest marked cancelled. Being a ``KeyboardInterrupt``, it stops
    the program unless caught."""

    def __init__(self, report: Any) -> None:
        super().__init__(f"interrupted: {report!r}")
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        # Its args are the message, not the report its __init__ takes: rebuilt as it was.
        return (_rebuild_exception, (type(self), self.args, self.__dict__))


class APIError(HelpCrunchError):
    """A call to HelpCrunch failed."""

    attempts: int

    def __init__(self, message: str, *, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class APIStatusError(APIError):
    """HelpCrunch (or a proxy in front of it) answered with a non-2xx status."""

    status_code: int
    errors: list[ErrorDetail]
    body: str
    headers: dict[str, str]
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        errors: list[ErrorDetail] | None = None,
        body: str = "",
        headers: dict[str, str] | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.status_code = status_code
        self.errors = list(errors or [])
        self.body = body
        self.headers = dict(headers or {})
        self.retry_after = retry_after

    @property
    def codes(self) -> list[str]:
        """The ``code`` of each error detail, e.g. ``["invalid_request", "not_found"]``."""
        return [e["code"] for e in self.errors]


class BadRequestError(APIStatusError):
    """400: HelpCrunch refused the request as malformed; ``errors`` names the field."""


class AuthenticationError(APIStatusError):
    """401: the API key is wrong or revoked. Check ``HELPCRUNCH_API_KEY``."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this."""


class NotFoundError(APIStatusError):
    """404: no customer with that id (or a wrong ``base_url``)."""


class ConflictError(APIStatusError):
    """409: the request conflicted with another change (retried automatically)."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but refused."""


class RateLimitError(APIStatusError):
    """429: over HelpCrunch's rate limit (120 requests a minute by default).

    ``retry_after`` is how long the server asked to wait, in seconds, when it said.
    """


class InternalServerError(APIStatusError):
    """5xx: HelpCrunch or a proxy in front of it failed (retried automatically)."""


class APIConnectionError(APIError):
    """No complete answer: the connection was refused, reset or cut off, or DNS or TLS failed."""


class APITimeoutError(APIConnectionError):
    """No complete answer within ``timeout`` seconds."""


class APIResponseValidationError(APIError):
    """A 2xx answer whose body is not the JSON object expected (or is too large)."""

    status_code: int
    body: str

    def __init__(
        self, message: str, *, status_code: int, body: str = "", attempts: int = 1
    ) -> None:
        super().__init__(message, attempts=attempts)
        self.status_code = status_code
        self.body = body


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The class for an HTTP status: decided by the status alone, never by the message."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)


def _status_error(message: str, **fields: Any) -> APIStatusError:
    return status_error_class(fields["status_code"])(message, **fields)


#: The class for each kind of core error, by the names the core gives them
#: (``helpcrunch._native.ERROR_KINDS``); each is called with the message and the error's fields.
_BY_KIND: dict[str, Callable[..., Exception]] = {
    "invalid_type": _refused(TypeError),
    "invalid_value": _refused(ValueError),
    "configuration": ConfigurationError,
    "status": _status_error,
    "connection": APIConnectionError,
    "timeout": APITimeoutError,
    "response_validation": APIResponseValidationError,
    "closed": ClientClosedError,
    "cancelled": RequestCancelledError,
    "internal": HelpCrunchError,
}


def _from_native(kind: str, message: str, fields: dict[str, Any]) -> Exception:
    """Called by the Rust layer to build the exception for a core error."""
    return _BY_KIND.get(kind, HelpCrunchError)(message, **fields)
