"""The whole public API used as a user would, with annotations: `mypy --strict` must pass on it
(tests/client/test_typing.py checks). Never run by pytest, never sends a request."""

from __future__ import annotations

import asyncio
import pickle

import helpcrunch
from helpcrunch import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AsyncCustomerSearch,
    AuthenticationError,
    BadRequestError,
    BulkReport,
    Client,
    ClientClosedError,
    Condition,
    ConfigurationError,
    ConflictError,
    Customer,
    CustomerId,
    CustomerSearch,
    ErrorDetail,
    HelpCrunchError,
    InternalServerError,
    MassRemovalError,
    NotFoundError,
    PermissionDeniedError,
    PlanItem,
    RateLimitError,
    SearchStats,
    Tag,
    TagPlan,
    Tags,
    TagSpec,
    TagsPlan,
    UnprocessableEntityError,
)


def tag_names(customer: Customer) -> list[str]:
    tags: list[Tag] = customer.get("tags", [])
    return [t["name"] for t in tags]


def describe(customer: Customer) -> str:
    customer_id: int = customer["id"]
    email: str | None = customer.get("email")
    return f"{customer_id} {email or '-'} {tag_names(customer)}"


def module_functions(customer_id: CustomerId) -> list[Customer]:
    spec: TagSpec = {"name": "Lead", "color": "#c57de0"}
    many: Tags = ["Lead", "vip"]
    return [
        helpcrunch.remove_tags(customer_id, ["Lead"]),
        helpcrunch.remove_tags(customer_id, "Lead"),
        helpcrunch.add_tags(customer_id, [spec]),
        helpcrunch.add_tags("1568834", many),
        helpcrunch.get_customer(customer_id),
    ]


async def module_functions_async(customer_id: int) -> list[Customer]:
    return [
        await helpcrunch.remove_tags_async(customer_id, ["Lead"]),
        await helpcrunch.add_tags_async(customer_id, [{"name": "Lead"}]),
        await helpcrunch.get_customer_async(customer_id),
    ]


def sync_client() -> Customer:
    client = Client(
        api_key="key",
        base_url="https://api.helpcrunch.com/v1",
        timeout=10.0,
        max_retries=3,
        rate_limit=120,
    )
    unlimited = Client(rate_limit=None, allow_insecure_http=False)
    unlimited.close()
    shared = Client(rate_limit=120, rate_limit_backend="redis://127.0.0.1:6379/0")
    budget: tuple[str | None, float | None] = (shared.rate_limit_backend, shared.current_rate_limit)
    print(budget)
    settings: tuple[str, float, int, float | None, bool] = (
        client.base_url,
        client.timeout,
        client.max_retries,
        client.rate_limit,
        client.closed,
    )
    print(settings, repr(client))
    copy: Client = pickle.loads(pickle.dumps(client))
    with copy as c:
        c.remove_tags(1568834, (name for name in ["Lead", "vip"]))
        c.add_tags(1568834, {"name": "Lead"})
        return c.get_customer(1568834)


async def async_client() -> list[Customer]:
    async with AsyncClient(api_key="key", rate_limit=None) as c:
        results = await asyncio.gather(
            c.remove_tags(1, ["Lead"]), c.add_tags(2, ["Lead"]), c.get_customer(3)
        )
        return list(results)


def find_customers(client: Client) -> list[str]:
    where: list[Condition] = [("lastSeen", ">=", 1700000000), "countryCode = UA"]
    found: CustomerSearch = client.search_customers(tag="Lead", where=where, match="any")
    total: int = found.total
    emails = [c.get("email") or "-" for c in found]
    stats: SearchStats = found.stats
    leads: int = client.count_customers(tag=["Lead", "Trial"])
    everyone = client.list_customers(page_size=50, limit=10)
    with everyone:
        ids = [c["id"] for c in everyone]
    frame = client.search_customers(email="ann@example.com").to_pandas()
    more = helpcrunch.search_customers(user_id="u-1", limit=1)
    counted: int = helpcrunch.count_customers(tag="Lead") + helpcrunch.list_customers().total
    summary = [str(total), str(stats["requests"]), str(leads), str(ids), str(frame)]
    return [*emails, *summary, str(more.total + counted)]


async def find_customers_async(client: AsyncClient) -> list[int]:
    found: AsyncCustomerSearch = client.search_customers(tag="Lead")
    ids = [c["id"] async for c in found]
    total: int | None = found.total
    everyone: int = await client.list_customers().get_total()
    counted: int = await client.count_customers(where=["id > 5"])
    also: int = await helpcrunch.count_customers_async(tag="Lead")
    frame = await client.search_customers(tag="vip").to_polars()
    print(frame)
    return [*ids, total or 0, everyone, counted, also]


def sync_a_tag(client: Client) -> str:
    plan: TagPlan = client.plan_tag("churn-risk", ["ann@example.com"], match="email", mode="add")
    items: list[PlanItem] = plan.to_add + plan.to_remove + plan.unchanged + plan.rejected
    reasons = [i.reason or "" for i in items if i.action == "reject"]
    try:
        report: BulkReport = client.apply_plan(plan, log="run.jsonl")
    except MassRemovalError as e:
        return e.message
    again: BulkReport = client.sync_tag("churn-risk", [1, 2], match="id", color="#c57de0")
    undone: BulkReport = client.undo("run.jsonl")
    return f"{plan.writes} {reasons} {report.succeeded} {again.failed} {len(undone)}"


async def sync_a_tag_async(client: AsyncClient) -> int:
    plan: TagPlan = await client.plan_tag("churn-risk", ["u-1"], match="user_id")
    report: BulkReport = await client.apply_plan(plan, allow_mass_removal=True)
    undone: BulkReport = await client.undo("run.jsonl")
    return report.succeeded + len(undone) + helpcrunch.DEFAULT_LOOKUP_BATCH


def sync_several_tags(client: Client) -> int:
    plan: TagsPlan = client.plan_tags(
        {"trial": ["ann@example.com"], "vip": []}, tags=["trial", "vip"]
    )
    view: TagPlan = plan.by_tag["vip"]
    report: BulkReport = client.apply_plan(plan, allow_mass_removal={"vip"}, log="tags.jsonl")
    again: BulkReport = client.sync_tags(
        [{"email": "ann@example.com", "segment": "trial"}], tag_column="segment", color="#c57de0"
    )
    failed: dict[str, dict[str, int]] = report.by_tag()
    return len(view.to_remove) + again.failed + len(failed)


async def sync_several_tags_async(client: AsyncClient) -> int:
    plan: TagsPlan = await client.plan_tags({"trial": [1]}, match="id", mode="add")
    report: BulkReport = await client.sync_tags({"trial": [1]}, match="id", allow_mass_removal=True)
    return plan.writes + report.succeeded


def handle_errors() -> str:
    try:
        sync_client()
    except RateLimitError as e:
        wait: float | None = e.retry_after
        return f"wait {wait}"
    except (NotFoundError, BadRequestError, UnprocessableEntityError, ConflictError) as e:
        details: list[ErrorDetail] = e.errors
        codes: list[str] = e.codes
        return f"{e.status_code} {[d['message'] for d in details]} {codes}"
    except (AuthenticationError, PermissionDeniedError) as e:
        return e.message
    except InternalServerError as e:
        body: str = e.body
        headers: dict[str, str] = e.headers
        return f"{body} {headers}"
    except APIStatusError as e:
        attempts: int = e.attempts
        return f"{e.status_code} after {attempts}"
    except APITimeoutError as e:
        return f"timeout after {e.attempts}"
    except APIConnectionError as e:
        return str(e)
    except APIResponseValidationError as e:
        return f"{e.status_code} {e.body}"
    except APIError as e:
        return e.message
    except (ConfigurationError, ClientClosedError) as e:
        return str(e)
    except HelpCrunchError as e:
        return str(e)
    return "ok"


def main() -> None:
    print(describe(sync_client()))
    print([describe(c) for c in module_functions(1568834)])
    print(asyncio.run(module_functions_async(1568834)))
    print(asyncio.run(async_client()))
    print(handle_errors(), helpcrunch.__version__, helpcrunch.DEFAULT_BASE_URL)
    print(find_customers(Client()), asyncio.run(find_customers_async(AsyncClient())))
    print(sync_a_tag(Client()), asyncio.run(sync_a_tag_async(AsyncClient())))


if __name__ == "__main__":
    main()
