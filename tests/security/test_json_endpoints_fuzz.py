"""Generated hostile requests against every JSON route of the HTTP API, on SQLite and on PostgreSQL.

For each route — taken from the running app's router, so a new route cannot be left out — hypothesis sends
bodies with a wrong type at a field, a field missing or added, numbers Python or the columns cannot hold,
deep nesting, long and odd Unicode strings, invalid UTF-8, bodies that are not JSON, and valid bodies with
one field changed; GET routes get hostile path segments and query values. Whatever arrives:

1. the service never answers 5xx;
2. a 4xx from ``/api/`` is JSON in the API's error shape (``app/http/errors.py``);
3. a refused (4xx) request changes no row of any table.

The chat webhooks are mounted too (Telegram and Slack, against their emulators), and YooKassa's notices (against
its emulator): garbage must not 5xx there either, and a wrong secret or signature must be refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.bootstrap import Services, build
from app.http.openapi import mounted
from app.settings import load_settings
from emulators.slack import SlackEmulator
from emulators.telegram import TelegramEmulator, TelegramLimits
from emulators.yookassa import SECRET_KEY as YOOKASSA_KEY
from emulators.yookassa import SHOP_ID as YOOKASSA_SHOP
from emulators.yookassa import YooKassaEmulator
from storage.schema import metadata
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.security.json_garbage import (
    CONTENT_TYPES,
    ORDER,
    bodies,
    dump,
    path_segment,
    query_value,
)
from tests.serving import served
from workflows.topology import Topology

T = TypeVar("T")
TOKEN = "fuzz-token-5c1d-0123"
SLACK_SECRET = "slack-signing-secret-fuzz-0001"
TELEGRAM_TOKEN = "123456:fuzz-test"
TELEGRAM_SECRET = "telegram-webhook-secret-0001"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
NO_BODY: Any = object()

# --------------------------------------------------------------------------- valid bodies, one per route

STOCK = {"as_of": "2026-11-21T12:00:00+03:00", "items": [
    {"sku": "КР-7/2", "warehouse": "online", "qty": 1},
    {"sku": "A", "warehouse": "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d", "qty": 2}]}  # fmt: skip
ORDER_BODY = {
    "channel": "site", "external_id": "site-1", "lines": [{"sku": "A", "qty": 1}],
    "customer": {"name": "Ирина", "phone": "+79990000000", "email": "i@example.ru"},
    "total": "2590.00", "currency": "RUB",
    "obligations": [{"payee": "supplier", "currency": "CNY", "amount": "1200.50", "due_at": "2026-12-01T12:00:00+03:00"}],
    "delivery": {"tariff_code": 136, "address": {"country_code": "RU", "city": "Москва", "city_code": 44,
                 "postal_code": "125009", "line": "ул. Тверская, 1"}, "pickup_point": "MSK123", "weight_g": 500},
}  # fmt: skip
PRICES = {"items": [{"sku": "КР-7/2", "price_type": "Розничная", "price": "1990.00"},
                     {"sku": "A", "price_type": "Оптовая", "price": "10.5"}]}  # fmt: skip
DEDUCTION = {"order_id": ORDER, "deducted_at": "2026-11-21T12:30:00+03:00"}
CANCEL = {"reason": "дубль"}
PAYMENT = {"event_id": "e1", "payment_id": "p1", "order_id": ORDER, "idempotency_key": "k1", "phase": "initiated",
           "amount": "10.00", "currency": "RUB", "payer_name": "Ivan", "ip_country": "ru", "card_country": "RU",
           "gateway_extra": {"note": "kept"}}  # fmt: skip
TELEGRAM_UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": 1763716000, "text": "/help",
                   "chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": False, "first_name": "A"}}}  # fmt: skip
SLACK_EVENT = {"type": "url_verification", "challenge": "fuzz", "token": "x"}
MONEY_PLAN = {"goods_rub": "600000", "transport": "tir", "clearance": "full", "weight_kg": "4000.5", "volume_m3": "12",
              "boxes": 20}  # fmt: skip
BOXES = {"key": "reg-1", "boxes": [{"contents": [{"sku": "КР-7/2", "qty": 2}, {"sku": "A", "qty": 1}]},
                                   {"contents": [{"sku": "A", "qty": 3}]}]}  # fmt: skip
SCAN = {"barcode": "BX-00000001-0001-4", "status": "in_transit", "key": "gate-1", "at": "2026-11-21T12:00:00+03:00"}
UNDO = {"barcode": "BX-00000001-0001-4", "status": "purchased", "key": "fix-1", "reason": "wrong box", "by": "Ольга"}
MONEY_ROUTE = {**MONEY_PLAN, "key": "route-1", "delivery": "region_small_lots"}
YOOKASSA_NOTICE = {"type": "notification", "event": "payment.succeeded",
                   "object": {"id": "2f1c0000-000f-5000-8000-000000000000", "status": "succeeded"}}  # fmt: skip
PAYOUT = {"key": "tir-1", "purpose": "logistics", "payee": "TIR Trans", "currency": "EUR", "amount": "12000.5",
          "due_at": "2026-11-24T12:00:00+03:00", "rate": "98.7654"}  # fmt: skip


@dataclass(frozen=True)
class Call:
    """One request: ``{order}`` in the path stands for the seeded order's id."""

    method: str
    path: str
    body: Any = NO_BODY  # a JSON-able value (see json_garbage.dump), bytes as they are, or NO_BODY
    content_type: str | None = "application/json"
    auth: str = "bearer"  # or: slack-signed, slack-forged, telegram-secret, telegram-wrong


def _posts(path: str | st.SearchStrategy[str], valid: Any, auth: str = "bearer") -> st.SearchStrategy[Call]:
    paths = st.just(path) if isinstance(path, str) else path
    return st.builds(Call, st.just("POST"), paths, bodies(valid), st.sampled_from(CONTENT_TYPES), st.just(auth))


def _gets(paths: st.SearchStrategy[str]) -> st.SearchStrategy[Call]:
    return st.builds(Call, st.just("GET"), paths)


def _query(path: str, name: str, *special: str) -> st.SearchStrategy[str]:
    pairs = st.lists(st.tuples(st.sampled_from([name, name, "x", name.upper(), ""]), query_value(*special)), max_size=2)
    return pairs.map(lambda found: path + ("?" + "&".join(f"{k}={v}" for k, v in found) if found else ""))


ORDER_IDS = path_segment("{order}", "{order}")
ROUTES: dict[tuple[str, str], tuple[str, st.SearchStrategy[Call], int]] = {
    ("POST", "/api/1c/stock"): ("stock", _posts("/api/1c/stock", STOCK), 150),
    ("POST", "/api/1c/prices"): ("prices", _posts("/api/1c/prices", PRICES), 120),
    ("POST", "/api/1c/deductions"): ("deductions", _posts("/api/1c/deductions", DEDUCTION), 120),
    ("POST", "/api/orders"): ("orders", _posts("/api/orders", ORDER_BODY), 200),
    ("POST", "/api/orders/{order_id}/cancel"): (
        "cancel", _posts(ORDER_IDS.map(lambda i: f"/api/orders/{i}/cancel"), CANCEL)
        | st.builds(Call, st.just("POST"), ORDER_IDS.map(lambda i: f"/api/orders/{i}/cancel")), 100),
    ("POST", "/api/payments/events"): ("payments", _posts("/api/payments/events", PAYMENT), 150),
    ("POST", "/api/payments/yookassa"): ("yookassa", _posts("/api/payments/yookassa", YOOKASSA_NOTICE, "none"), 100),
    ("GET", "/api/orders"): ("order-search", _gets(_query("/api/orders", "q", "SITE-3-abf6", "+79990000000", "seeded")
                                                | _query("/api/orders", "limit", "1", "100", "101")
                                                | _query("/api/orders", "cursor", "YmVmb3JlOjE")
                                                | _query("/api/orders", "status", "reserved", "cancelled")
                                                | _query("/api/orders", "since", "2026-11-21T12:00:00+03:00")), 80),
    ("GET", "/api/orders/{order_id}"): ("order", _gets(ORDER_IDS.map(lambda i: f"/api/orders/{i}")), 60),
    ("GET", "/api/stock/{sku}"): ("sku", _gets(st.lists(path_segment("A", "%D0%9A%D0%A0-7"), min_size=1, max_size=3)
                                              .map(lambda parts: "/api/stock/" + "/".join(parts))), 80),
    ("GET", "/api/offer-ids/conflicts"): ("conflicts", _gets(_query("/api/offer-ids/conflicts", "x")), 15),
    ("GET", "/api/stats/stores"): ("store-stats", _gets(_query("/api/stats/stores", "since")), 60),
    ("POST", "/api/orders/{order_id}/money/plan"): (
        "money-plan", _posts(ORDER_IDS.map(lambda i: f"/api/orders/{i}/money/plan"), MONEY_PLAN), 80),
    ("POST", "/api/orders/{order_id}/money/route"): (
        "money-route", _posts(ORDER_IDS.map(lambda i: f"/api/orders/{i}/money/route"), MONEY_ROUTE), 80),
    ("GET", "/api/orders/{order_id}/money"): ("money", _gets(ORDER_IDS.map(lambda i: f"/api/orders/{i}/money")), 30),
    ("GET", "/api/orders/{order_id}/customs"): (
        "customs", _gets(ORDER_IDS.map(lambda i: f"/api/orders/{i}/customs")), 30),
    ("POST", "/api/orders/{order_id}/payouts"): (
        "payouts", _posts(ORDER_IDS.map(lambda i: f"/api/orders/{i}/payouts"), PAYOUT), 120),
    ("POST", "/api/orders/{order_id}/payouts/{key}/paid"): (
        "payout-paid", st.builds(Call, st.just("POST"), st.tuples(ORDER_IDS, path_segment("tir-1", "tir-1")).map(
            lambda ik: f"/api/orders/{ik[0]}/payouts/{ik[1]}/paid")), 40),
    ("POST", "/api/orders/{order_id}/purchases/{payout_key}/boxes"): (
        "boxes", st.builds(Call, st.just("POST"), st.tuples(ORDER_IDS, path_segment("cn-1", "tir-1")).map(
            lambda ik: f"/api/orders/{ik[0]}/purchases/{ik[1]}/boxes"), bodies(BOXES), st.sampled_from(CONTENT_TYPES)),
        80),
    ("GET", "/api/orders/{order_id}/boxes"): ("order-boxes", _gets(ORDER_IDS.map(lambda i: f"/api/orders/{i}/boxes")), 30),
    ("POST", "/api/scans"): ("scans", _posts("/api/scans", SCAN), 80),
    ("POST", "/api/scans/undo"): ("scan-undo", _posts("/api/scans/undo", UNDO), 60),
    ("GET", "/api/money/obligations"): ("obligations", _gets(_query("/api/money/obligations", "weeks", "1", "26")), 30),
    ("GET", "/api/money/liquidity"): ("liquidity", _gets(_query("/api/money/liquidity", "weeks", "2", "27")), 30),
    ("GET", "/api/orders/{order_id}/client-link"): (
        "client-link", _gets(ORDER_IDS.map(lambda i: f"/api/orders/{i}/client-link")), 30),
    ("GET", "/api/client/orders/{order_id}"): (
        "client-order", _gets(ORDER_IDS.flatmap(lambda i: _query(f"/api/client/orders/{i}", "sig", "0" * 64))), 50),
    ("GET", "/client/orders/{order_id}"): (
        "client-page", _gets(ORDER_IDS.flatmap(lambda i: _query(f"/client/orders/{i}", "exp", "1", "99999999999"))), 50),
    ("GET", "/api/report/daily"): ("report", _gets(_query("/api/report/daily", "date", "2026-11-20")), 50),
    ("GET", "/api/report/daily.png"): ("report-png", _gets(_query("/api/report/daily.png", "date", "2026-11-20")
                                                         | _query("/api/report/daily.png", "locale", "en", "ru")), 30),
    ("GET", "/api/report/page"): ("report-page", _gets(_query("/api/report/page", "date", "2026-11-20")), 30),
    ("GET", "/api/dashboard"): ("dashboard", _gets(_query("/api/dashboard", "x")), 10),
    ("GET", "/api/openapi.json"): ("openapi", _gets(_query("/api/openapi.json", "x")), 10),
    ("GET", "/api/docs"): ("api-docs", _gets(_query("/api/docs", "x")), 10),
    ("POST", "/telegram/webhook"): ("telegram", _posts("/telegram/webhook", TELEGRAM_UPDATE, "telegram-secret")
                                    | _posts("/telegram/webhook", TELEGRAM_UPDATE, "telegram-wrong"), 60),
    ("POST", "/slack/events"): ("slack", _posts("/slack/events", SLACK_EVENT, "slack-signed")
                                | _posts("/slack/events", SLACK_EVENT, "slack-forged"), 60),
}  # fmt: skip
POSTGRES_SHARE = 5  # PostgreSQL runs a fifth of the examples: each costs more there
REFUSED_ONLY = {"telegram-wrong", "slack-forged"}  # these must be refused, whatever the body


# --------------------------------------------------------------------------- the service under test


@dataclass
class Service:
    loop: asyncio.AbstractEventLoop
    client: TestClient[Any, Any]
    services: Services
    order_id: int
    backend: str

    def run(self, step: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(step)

    @property
    def app(self) -> web.Application:
        app: web.Application | None = self.client.app
        assert app is not None
        return app


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, topology: Topology
) -> Iterator[Service]:
    """The real app from the composition root with both chat webhooks mounted, on a loop this module owns."""
    url = (f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))  # fmt: skip
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    with pytest.MonkeyPatch.context() as env:
        try:
            client, services = loop.run_until_complete(stack.enter_async_context(_started(env, url, topology)))
            order_id = loop.run_until_complete(_seed(client))
            yield Service(loop, client, services, order_id, request.param)
        finally:
            loop.run_until_complete(stack.aclose())
            loop.close()


@asynccontextmanager
async def _started(
    env: pytest.MonkeyPatch, url: str, topology: Topology
) -> AsyncIterator[tuple[TestClient[Any, Any], Services]]:
    async with (
        TelegramEmulator(token=TELEGRAM_TOKEN, limits=TelegramLimits.unlimited()) as telegram,
        SlackEmulator(bot_token="xoxb-fuzz-0001") as slack,
        YooKassaEmulator() as yookassa,
    ):
        settings_env = {
            "DATABASE_URL": url, "API_TOKEN": TOKEN, "HTTP_MAX_BODY_BYTES": "65536",
            "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_BASE": telegram.base_url, "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-fuzz-0001", "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE": slack.base_url,
            "CLIENT_LINK_SECRET": "fuzz-client-link-secret-0000000001", "PAYMENT_GATEWAY_URL": yookassa.base_url,
            "PAYMENT_GATEWAY_SHOP_ID": YOOKASSA_SHOP, "PAYMENT_GATEWAY_SECRET_KEY": YOOKASSA_KEY,
        }  # fmt: skip
        for key, value in settings_env.items():
            env.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
        try:
            async with services.database.engine.begin() as connection:  # PostgreSQL's database is the session's
                for table in reversed(metadata.sorted_tables):
                    await connection.execute(table.delete())
            async with served(services) as client:
                yield client, services
        finally:
            await services.close()


async def _seed(client: TestClient[Any, Any]) -> int:
    """Stock for the valid bodies to work on, and one order for those that name an order."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stock = {"as_of": "2026-11-21T12:00:00+03:00", "items": [{"sku": "A", "warehouse": "online", "qty": 50}]}
    assert (await client.post("/api/1c/stock", json=stock, headers=headers)).status == 200
    order = {**ORDER_BODY, "external_id": "seeded"}
    response = await client.post("/api/orders", json=order, headers=headers)
    assert response.status == 201, await response.text()
    return int((await response.json())["order_id"])


# --------------------------------------------------------------------------- sending and checking


async def _row_counts(services: Services) -> dict[str, int]:
    """The rows of every table, counted in one statement: a refused request must leave each count as it was."""
    counts = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in metadata.sorted_tables)
    )
    async with services.database.engine.connect() as connection:
        return dict((await connection.execute(counts)).one()._mapping)


def _headers(call: Call, body: bytes | None) -> dict[str, str]:
    headers = {} if call.content_type is None else {"Content-Type": call.content_type}
    if call.auth == "bearer":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif call.auth.startswith("telegram"):
        headers["X-Telegram-Bot-Api-Secret-Token"] = TELEGRAM_SECRET if call.auth == "telegram-secret" else "w" * 28
    elif call.auth.startswith("slack"):
        stamp = str(int(time.time()))  # the signature's window is Slack's real time, not the service's clock
        secret = SLACK_SECRET if call.auth == "slack-signed" else "not-the-signing-secret"
        signed = b"v0:" + stamp.encode() + b":" + (body or b"")
        headers["X-Slack-Request-Timestamp"] = stamp
        headers["X-Slack-Signature"] = "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return headers


async def _send(service: Service, call: Call) -> tuple[int, str, bytes]:
    body = (
        None
        if call.body is NO_BODY
        else call.body
        if isinstance(call.body, bytes)
        else dump(call.body, service.order_id)
    )
    path = call.path.replace("{order}", str(service.order_id))
    response = await service.client.request(call.method, path, data=body, headers=_headers(call, body),
                                            skip_auto_headers=["Content-Type"])  # fmt: skip
    return response.status, response.content_type, await response.read()


def _error_shape(content_type: str, raw: bytes) -> str | None:
    """What is wrong with a 4xx's body, or None when it is the API's error shape."""
    if content_type != "application/json":
        return f"Content-Type is {content_type!r}, not JSON"
    try:
        answer = json.loads(raw)
    except ValueError as error:
        return f"the body is not JSON: {error}"
    if not isinstance(answer, dict) or set(answer) != {"error", "message", "details"}:
        return "not {error, message, details}"
    if not (isinstance(answer["error"], str) and answer["error"] and isinstance(answer["message"], str)):
        return "error and message must be non-empty text"
    return None if isinstance(answer["details"], list) else "details must be a list"


async def _check(service: Service, call: Call) -> None:
    before = await _row_counts(service.services)
    status, content_type, raw = await _send(service, call)
    said = f"{call.method} {call.path} ({call.auth}) answered {status}: {raw[:400]!r}"
    assert status < 500, said
    if call.auth in REFUSED_ONLY:
        assert 400 <= status < 500, f"a wrong secret or signature must be refused; {said}"
    if status < 400:
        return
    if call.path.startswith("/api/"):
        problem = _error_shape(content_type, raw)
        assert problem is None, f"{problem}; {said}"
    after = await _row_counts(service.services)
    changed = sorted(f"{name}: {before[name]} -> {after[name]}" for name in before if before[name] != after[name])
    assert not changed, f"refused, yet tables {changed} changed; {said}"


# --------------------------------------------------------------------------- the properties


def _mounted(app: web.Application) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method not in ("HEAD", "*") and route.resource is not None
    }


def test_every_api_route_and_mounted_webhook_is_fuzzed(service: Service) -> None:
    mounted = _mounted(service.app)
    wanted = {key for key in mounted if key[1].startswith("/api/") or key in ROUTES}
    uncovered = sorted(wanted - ROUTES.keys())
    assert not uncovered, (
        "no generated bodies are sent to these routes: " + ", ".join(f"{m} {p}" for m, p in uncovered)
        + " — add each to ROUTES in tests/security/test_json_endpoints_fuzz.py with a valid body or its parameters"
    )  # fmt: skip
    stale = sorted(ROUTES.keys() - mounted)
    assert not stale, f"ROUTES names routes the app does not mount: {stale} (renamed? then rename them here)"


@pytest.mark.parametrize("route", list(ROUTES), ids=[name for name, _, _ in ROUTES.values()])
def test_a_route_fed_hostile_input_never_fails_and_a_refusal_writes_nothing(
    service: Service, route: tuple[str, str]
) -> None:
    _, calls, examples = ROUTES[route]
    budget = examples if service.backend == "sqlite" else max(5, examples // POSTGRES_SHARE)

    @settings(
        max_examples=budget, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(call=calls)
    def property_holds(call: Call) -> None:
        service.run(_check(service, call))

    property_holds()


def test_every_mounted_route_is_in_the_api_description(service: Service) -> None:
    """With both chat webhooks mounted: each route the router serves is in ``/api/openapi.json``."""
    response = service.run(service.client.get("/api/openapi.json"))
    described = service.run(response.json())
    missing = [f"{m} {p}" for m, p in mounted(service.app) if m.lower() not in described["paths"].get(p, {})]
    assert not missing, f"routes missing from the API's description (OPERATIONS in app/http/openapi.py): {missing}"
