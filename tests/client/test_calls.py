"""The three calls, through Client, AsyncClient and the module functions, over real HTTP:
what goes on the wire and what comes back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import helpcrunch
from tests.support.processes import run_python
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer, customer

RICH_CUSTOMER: dict[str, Any] = customer(
    1568834,
    name="Zoë Ψ 東京 🎉",
    big=123456789012345678901234567890,
    negative_big=-98765432109876543210987654321,
    floats=[0.1, 3.14159, 1e-7, 2.5e300, -0.0, 123.456],
    nested={"a": {"b": [1, {"c": None}], "d": True}, "empty": {}, "list": []},
    customData=[{"property": "plan", "value": "pro"}],
    someFieldFromTheFuture={"whatever": [None, False, "x"]},
)


def test_remove_tags_sends_delete_with_json_body_and_bearer_key(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.remove_tags(1568834, ["Lead"])
    (req,) = server.requests
    assert req.method == "DELETE"
    assert req.path == "/customers/1568834/tags"
    assert req.json == {"tags": [{"name": "Lead"}]}
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert req.headers["Content-Type"].startswith("application/json")


def test_add_tags_sends_put_with_names_and_colors(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.add_tags(1568834, [{"name": "Lead", "color": "#c57de0"}, "vip"])
    (req,) = server.requests
    assert req.method == "PUT"
    assert req.path == "/customers/1568834/tags"
    assert req.json == {"tags": [{"name": "Lead", "color": "#c57de0"}, {"name": "vip"}]}
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"


def test_get_customer_sends_get_without_body(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.get_customer(1568834)
    (req,) = server.requests
    assert req.method == "GET"
    assert req.path == "/customers/1568834"
    assert req.body == b""
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"


def test_string_customer_id_of_digits_goes_into_the_path(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.get_customer("1568834")
    assert server.requests[0].path == "/customers/1568834"


def test_base_url_with_path_and_trailing_slash_is_joined_cleanly(server: ScriptedServer) -> None:
    server.enqueue(Reply(200, customer(7)))
    with helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url + "/v1/", rate_limit=None
    ) as c:
        c.get_customer(7)
    assert server.requests[0].path == "/v1/customers/7"


@pytest.mark.parametrize("call", ["remove_tags", "add_tags", "get_customer"])
def test_returned_dict_equals_what_the_server_sent(
    server: ScriptedServer, client: helpcrunch.Client, call: str
) -> None:
    server.enqueue(Reply(200, RICH_CUSTOMER))
    args: tuple[Any, ...] = (1568834,) if call == "get_customer" else (1568834, ["Lead"])
    got = getattr(client, call)(*args)
    assert type(got) is dict
    assert got == RICH_CUSTOMER


def test_big_int_comes_back_exact_as_int(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(200, RICH_CUSTOMER))
    got = client.get_customer(1568834)
    assert type(got["big"]) is int
    assert got["big"] == 123456789012345678901234567890
    assert got["negative_big"] == -98765432109876543210987654321


def test_floats_come_back_as_the_same_floats(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    floats = [0.1, 1e-7, 2.5e300, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 0.3]
    server.enqueue(Reply(200, customer(1, floats=floats, whole=1.0)))
    got = client.get_customer(1)
    assert got["floats"] == floats
    assert all(type(f) is float for f in got["floats"])
    assert type(got["whole"]) is float


def test_nulls_unicode_and_unknown_fields_pass_through_untouched(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.enqueue(Reply(200, RICH_CUSTOMER))
    got = client.get_customer(1568834)
    assert got["phone"] is None
    assert got["device"] is None
    assert got["name"] == "Zoë Ψ 東京 🎉"
    assert got["someFieldFromTheFuture"] == {"whatever": [None, False, "x"]}
    assert got["customData"] == [{"property": "plan", "value": "pro"}]


def test_field_order_is_kept_as_sent(server: ScriptedServer, client: helpcrunch.Client) -> None:
    raw = '{"zeta": 1, "id": 5, "alpha": {"y": 1, "b": 2}}'
    server.enqueue(Reply(200, raw, {"Content-Type": "application/json"}))
    got = client.get_customer(5)
    assert list(got) == ["zeta", "id", "alpha"]
    assert list(got["alpha"]) == ["y", "b"]


def test_returned_dict_is_a_fresh_plain_object(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    first = client.get_customer(1)
    first["tags"].append("mutated")
    second = client.get_customer(1)
    assert second == customer(1)
    assert json.loads(json.dumps(second)) == second


def test_connections_are_reused_across_calls(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    for i in range(1, 11):
        client.get_customer(i)
    # Usually one connection; the pool may race a returning connection now and then.
    assert len({r.peer for r in server.requests}) <= 3


def test_client_context_manager_closes_the_client(server: ScriptedServer) -> None:
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        assert c.remove_tags(3, "Lead")["id"] == 3
    assert c.closed
    with pytest.raises(helpcrunch.ClientClosedError):
        c.get_customer(3)
    assert len(server.requests) == 1


def test_async_client_context_manager_makes_the_calls(server: ScriptedServer) -> None:
    async def main() -> list[dict[str, Any]]:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            results = [
                await c.remove_tags(1, ["Lead"]),
                await c.add_tags(2, [{"name": "Lead", "color": "#c57de0"}]),
                await c.get_customer(3),
            ]
        assert c.closed
        return [dict(r) for r in results]

    results = asyncio.run(main())
    assert [r["id"] for r in results] == [1, 2, 3]
    assert [(r.method, r.path) for r in server.requests] == [
        ("DELETE", "/customers/1/tags"),
        ("PUT", "/customers/2/tags"),
        ("GET", "/customers/3"),
    ]
    assert server.requests[1].json == {"tags": [{"name": "Lead", "color": "#c57de0"}]}
    assert all(r.headers["Authorization"] == f"Bearer {API_KEY}" for r in server.requests)


def test_async_client_returns_what_the_server_sent(server: ScriptedServer) -> None:
    server.enqueue(Reply(200, RICH_CUSTOMER))

    async def main() -> dict[str, Any]:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            return dict(await c.get_customer(1568834))

    assert asyncio.run(main()) == RICH_CUSTOMER


# Module-level functions and the environment


@pytest.fixture
def env(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", server.base_url)
    return server


def test_module_remove_tags_uses_the_environment(env: ScriptedServer) -> None:
    got = helpcrunch.remove_tags(1568834, ["Lead"])
    assert got == customer(1568834)
    (req,) = env.requests
    assert (req.method, req.path) == ("DELETE", "/customers/1568834/tags")
    assert req.json == {"tags": [{"name": "Lead"}]}
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"


def test_module_add_tags_uses_the_environment(env: ScriptedServer) -> None:
    helpcrunch.add_tags(1568834, [{"name": "Lead", "color": "#c57de0"}])
    (req,) = env.requests
    assert (req.method, req.path) == ("PUT", "/customers/1568834/tags")
    assert req.json == {"tags": [{"name": "Lead", "color": "#c57de0"}]}


def test_module_get_customer_uses_the_environment(env: ScriptedServer) -> None:
    assert helpcrunch.get_customer(42) == customer(42)
    assert [(r.method, r.path) for r in env.requests] == [("GET", "/customers/42")]


def test_module_async_functions_use_the_environment(env: ScriptedServer) -> None:
    async def main() -> list[Any]:
        return [
            await helpcrunch.remove_tags_async(1, ["Lead"]),
            await helpcrunch.add_tags_async(2, ["Lead"]),
            await helpcrunch.get_customer_async(3),
        ]

    results = asyncio.run(main())
    assert [r["id"] for r in results] == [1, 2, 3]
    assert [(r.method, r.path) for r in env.requests] == [
        ("DELETE", "/customers/1/tags"),
        ("PUT", "/customers/2/tags"),
        ("GET", "/customers/3"),
    ]


def test_module_functions_follow_a_changed_environment(
    env: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    helpcrunch.get_customer(1)
    other_key = "another-key-9876543210fedcba"
    monkeypatch.setenv("HELPCRUNCH_API_KEY", other_key)
    helpcrunch.get_customer(1)
    assert [r.headers["Authorization"] for r in env.requests] == [
        f"Bearer {API_KEY}",
        f"Bearer {other_key}",
    ]


def test_client_reads_the_environment_when_made_not_later(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", server.base_url)
    c = helpcrunch.Client(rate_limit=None)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "changed-key-after-construction")
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://127.0.0.1:9")
    c.get_customer(1)
    assert c.base_url == server.base_url
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_explicit_arguments_win_over_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "env-key-that-must-not-be-used")
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://127.0.0.1:9")
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        c.get_customer(1)
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_default_base_url_is_helpcrunch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.delenv("HELPCRUNCH_BASE_URL", raising=False)
    c = helpcrunch.Client()
    assert c.base_url == "https://api.helpcrunch.com/v1"
    assert helpcrunch.DEFAULT_BASE_URL == "https://api.helpcrunch.com/v1"


def test_client_defaults_match_the_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    c = helpcrunch.Client()
    assert (c.timeout, c.max_retries, c.rate_limit) == (30.0, 2, 120.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: helpcrunch.remove_tags(1, ["Lead"]),
        lambda: helpcrunch.add_tags(1, ["Lead"]),
        lambda: helpcrunch.get_customer(1),
        lambda: asyncio.run(helpcrunch.remove_tags_async(1, ["Lead"])),
        lambda: helpcrunch.Client(),
        lambda: helpcrunch.AsyncClient(),
    ],
    ids=["remove_tags", "add_tags", "get_customer", "remove_tags_async", "Client", "AsyncClient"],
)
def test_no_api_key_raises_configuration_error_naming_the_env_var_and_sends_nothing(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, call: Any
) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", server.base_url)
    with pytest.raises(helpcrunch.ConfigurationError, match="HELPCRUNCH_API_KEY"):
        call()
    assert server.requests == []


def test_blank_api_key_is_refused_like_a_missing_one(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "   ")
    with pytest.raises(helpcrunch.ConfigurationError, match="HELPCRUNCH_API_KEY"):
        helpcrunch.Client(base_url=server.base_url)
    assert server.requests == []


def test_importing_the_package_does_not_need_a_key() -> None:
    code = "import helpcrunch; print(helpcrunch.Client.__name__)"
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Client"
