"""``rate_limit_backend`` as a user meets it, in one process: the argument and the environment
variable; what the client shows of it (a Redis password never); pickling
(the backend travels); the current rate; and what the limiter does reaching the ``helpcrunch``
logger from Python code."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
from pathlib import Path

import pytest

import helpcrunch
from tests.support.redis_server import RedisServer
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer

PASSWORD = "s3cret-redis-pw"
TOO_MANY = Reply(429, {"errors": [{"code": "too_many_requests"}]}, {"retry-after-ms": "10"})


def budget_url(tmp_path: Path) -> str:
    return (tmp_path / "budget").as_uri()


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "helpcrunch" and r.levelno == level]


def test_the_default_is_the_clients_own_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPCRUNCH_RATE_LIMIT_BACKEND", raising=False)
    client = helpcrunch.Client(api_key=API_KEY)
    assert client.rate_limit_backend is None
    assert client.current_rate_limit == client.rate_limit == 120
    assert "rate_limit_backend" not in repr(client)
    assert helpcrunch.Client(api_key=API_KEY, rate_limit=None).current_rate_limit is None


def test_a_redis_backend_is_shown_with_its_password_masked() -> None:
    url = f"redis://user:{PASSWORD}@127.0.0.1:6379/2"
    for cls in (helpcrunch.Client, helpcrunch.AsyncClient):
        client = cls(api_key=API_KEY, rate_limit_backend=url)
        assert client.rate_limit_backend == "redis://user:***@127.0.0.1:6379/2"
        assert "rate_limit_backend='redis://user:***@127.0.0.1:6379/2'" in repr(client)
        assert PASSWORD not in repr(client) + str(client._native.settings())


def test_the_environment_variable_is_read_when_the_client_is_made(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HELPCRUNCH_RATE_LIMIT_BACKEND", budget_url(tmp_path))
    client = helpcrunch.Client(api_key=API_KEY)
    assert client.rate_limit_backend == budget_url(tmp_path)
    # The argument wins over the variable.
    other = (tmp_path / "other").as_uri()
    assert helpcrunch.Client(api_key=API_KEY, rate_limit_backend=other).rate_limit_backend == other
    # Without a rate there is no budget to share: the variable does not apply.
    unlimited = helpcrunch.Client(api_key=API_KEY, rate_limit=None)
    assert unlimited.rate_limit_backend is None
    # An empty variable is no backend.
    monkeypatch.setenv("HELPCRUNCH_RATE_LIMIT_BACKEND", "")
    assert helpcrunch.Client(api_key=API_KEY).rate_limit_backend is None


def test_the_default_client_follows_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.delenv("HELPCRUNCH_RATE_LIMIT_BACKEND", raising=False)
    assert helpcrunch._default().rate_limit_backend is None
    monkeypatch.setenv("HELPCRUNCH_RATE_LIMIT_BACKEND", budget_url(tmp_path))
    assert helpcrunch._default().rate_limit_backend == budget_url(tmp_path)


@pytest.mark.parametrize("value", [6379, b"redis://127.0.0.1:6379/0", Path("/tmp/budget")])
def test_a_backend_that_is_not_text_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"rate_limit_backend must be a str"):
        helpcrunch.Client(api_key=API_KEY, rate_limit_backend=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is empty"),
        ("localhost:6379", "scheme"),
        ("http://127.0.0.1:6379", "scheme"),
        ("redis://", "no host"),
        ("redis://127.0.0.1:6379/zero", "database number"),
        ("file://otherhost/tmp/budget", "another machine"),
        ("file:///tmp/", "directory"),
    ],
)
def test_a_bad_backend_is_a_configuration_error_naming_the_setting(value: str, says: str) -> None:
    with pytest.raises(helpcrunch.ConfigurationError, match=says) as caught:
        helpcrunch.Client(api_key=API_KEY, rate_limit_backend=value)
    assert str(caught.value).startswith("rate_limit_backend")
    assert isinstance(caught.value, ValueError)


def test_a_bad_backend_never_shows_its_password() -> None:
    with pytest.raises(helpcrunch.ConfigurationError) as caught:
        helpcrunch.Client(
            api_key=API_KEY, rate_limit_backend=f"redis://:{PASSWORD}@127.0.0.1:6379/db0"
        )
    assert PASSWORD not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_shared_backend_needs_a_rate(tmp_path: Path) -> None:
    with pytest.raises(helpcrunch.ConfigurationError, match="rate_limit is None"):
        helpcrunch.Client(api_key=API_KEY, rate_limit=None, rate_limit_backend=budget_url(tmp_path))


def test_a_pickled_client_shares_the_budget_it_came_from(
    server: ScriptedServer, tmp_path: Path
) -> None:
    url = budget_url(tmp_path)
    client = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit_backend=url)
    copy = pickle.loads(pickle.dumps(client))
    assert copy.rate_limit_backend == client.rate_limit_backend == url

    # A 429 answered to the original lowers the budget's rate; the copy (standing for a
    # worker process) reads it from the budget with its next request.
    server.enqueue(TOO_MANY)
    client.get_customer(1)
    copy.get_customer(1)
    for rate in (client.current_rate_limit, copy.current_rate_limit):
        assert rate is not None and 120 * 0.7 <= rate < 120 * 0.8, rate


#: The client a forked child inherits (passing it to the child would pickle it instead).
_INHERITED: list[helpcrunch.Client] = []


def _rate_after_a_call_in_the_child() -> float | None:
    (client,) = _INHERITED
    client.get_customer(1)
    return client.current_rate_limit


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_forked_child_builds_its_limiter_on_the_same_budget(
    server: ScriptedServer, tmp_path: Path
) -> None:
    client = helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, rate_limit_backend=budget_url(tmp_path)
    )
    server.enqueue(TOO_MANY)
    client.get_customer(1)
    _INHERITED.append(client)
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            # The child's own limiter (its pool is rebuilt after the fork) reads the lowered
            # rate from the budget.
            rate = pool.apply(_rate_after_a_call_in_the_child)
    finally:
        _INHERITED.clear()
    assert rate is not None and 120 * 0.7 <= rate < 120 * 0.8, rate


def test_a_redis_password_travels_in_the_pickle_but_is_never_shown(
    redis_server: RedisServer,
) -> None:
    # The receiving process must reach the same server; the pickle holds the key already.
    url = redis_server.url.replace("redis://", f"redis://:{PASSWORD}@")
    client = helpcrunch.Client(api_key=API_KEY, rate_limit_backend=url)
    copy = pickle.loads(pickle.dumps(client))
    assert copy.rate_limit_backend == client.rate_limit_backend
    assert PASSWORD not in repr(copy) + str(copy.rate_limit_backend)
    assert PASSWORD.encode() in pickle.dumps(client)


def test_a_429_is_logged_at_info_and_lowers_the_current_rate(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch")
    client = helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, rate_limit_backend=budget_url(tmp_path)
    )
    server.enqueue(TOO_MANY)
    client.remove_tags(1, "Lead")

    # Emitted by the time the call returns, not whenever a Python thread next looks.
    (lowered,) = [m for m in records(caplog, logging.INFO) if "rate limit" in m]
    assert lowered == (
        "HelpCrunch throttled a request (429): rate limit lowered to 84.0 requests a minute "
        "(configured 120)"
    )
    rate = client.current_rate_limit
    assert rate is not None and 84 <= rate < 96


def test_an_unusable_backend_warns_once_and_every_call_succeeds(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch")
    missing = (tmp_path / "no-such-dir" / "budget").as_uri()
    client = helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, rate_limit=600, rate_limit_backend=missing
    )
    for _ in range(3):
        client.get_customer(1)
    report = client.remove_tags_many([(i, "Lead") for i in range(1, 6)], concurrency=2)

    assert report.succeeded == 5
    (warning,) = records(caplog, logging.WARNING)
    assert warning.startswith(f"rate limit backend {missing} is unavailable (cannot open")
    assert warning.endswith(
        "this process paces itself alone at 150.0 requests a minute until it answers again"
    )
    assert client.current_rate_limit == 150


def test_an_async_client_logs_through_the_same_queue(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch")
    client = helpcrunch.AsyncClient(
        api_key=API_KEY, base_url=server.base_url, rate_limit_backend=budget_url(tmp_path)
    )
    server.enqueue(TOO_MANY)
    asyncio.run(client.get_customer(1))
    assert any("lowered to 84.0" in m for m in records(caplog, logging.INFO))
