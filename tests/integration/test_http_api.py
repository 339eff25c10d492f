"""The JSON API over real HTTP on 127.0.0.1: every endpoint, and every kind of bad input."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import log_privacy
from app.bootstrap import Services, build
from app.settings import load_settings
from emulators.telegram import TelegramEmulator, TelegramLimits
from storage.database import open_database
from storage.schema import metadata
from tests.conftest import ROOT, _pg_admin, table_count
from tests.fakes import FakeClock
from tests.serving import json_of, served
from workflows.topology import Topology

TOKEN = "test-token-7f3a-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# the service's clock: the messages below are dated at or before it (one dated further ahead is refused)
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology) -> AsyncIterator[Services]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'api.db'}")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("HTTP_MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


async def _stock(
    client: TestClient[Any, Any], *items: tuple[str, str, int], as_of: str = "2026-11-21T12:00:00+03:00"
) -> Any:
    payload = {"as_of": as_of, "items": [{"sku": s, "warehouse": w, "qty": q} for s, w, q in items]}
    return await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 200)


def _order(external_id: str, *lines: tuple[str, int], channel: str = "site") -> dict[str, Any]:
    return {
        "channel": channel,
        "external_id": external_id,
        "lines": [{"sku": s, "qty": q} for s, q in lines],
        "customer": {"name": "Ирина", "phone": "+79990000000", "email": "i@example.ru"},
        "total": "2590.00",
        "currency": "RUB",
    }


async def test_healthz_needs_no_token(client: TestClient[Any, Any]) -> None:
    assert await json_of(await client.get("/healthz"), 200) == {"status": "ok", "database": "ok"}


async def test_stock_then_order_then_read_back(client: TestClient[Any, Any]) -> None:
    result = await _stock(client, ("КР-7/2", "online", 1), ("КР-7/2", "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d", 2))
    assert (result["accepted"], result["ignored_stale"]) == (2, 0)

    created = await json_of(await client.post("/api/orders", json=_order("site-1", ("КР-7/2", 1)), headers=AUTH), 201)
    assert created["status"] == "reserved"
    assert created["lines"] == [{"line": 1, "sku": "КР-7/2", "qty": 1, "status": "reserved", "warehouse": "online"}]

    repeat = await json_of(await client.post("/api/orders", json=_order("site-1", ("КР-7/2", 1)), headers=AUTH), 200)
    assert repeat["order_id"] == created["order_id"]

    order = await json_of(await client.get(f"/api/orders/{created['order_id']}", headers=AUTH), 200)
    assert [event["event"] for event in order["history"]] == ["received", "reserved"]
    assert order["total"] == "2590.00"

    for path in (f"/api/stock/{quote('КР-7/2', safe='/')}", f"/api/stock/{quote('КР-7/2', safe='')}"):
        stock = await json_of(await client.get(path, headers=AUTH), 200)
        assert stock["sku"] == "КР-7/2"
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (3, 1, 2)
        assert stock["by_warehouse"]["tverskaya"]["on_hand"] == 2
        assert stock["by_channel"]["wildberries"] == 1  # online 0 free + tverskaya 2 − safety 1


async def test_stale_figures_are_counted_not_applied(client: TestClient[Any, Any]) -> None:
    await _stock(client, ("A", "online", 5), as_of="2026-11-21T12:00:00+03:00")
    result = await _stock(client, ("A", "online", 9), as_of="2026-11-21T11:59:00+03:00")
    assert (result["accepted"], result["ignored_stale"]) == (0, 1)
    assert (await json_of(await client.get("/api/stock/A", headers=AUTH), 200))["on_hand"] == 5


async def test_1c_local_time_without_offset_is_read_as_moscow(client: TestClient[Any, Any]) -> None:
    await _stock(client, ("A", "online", 5), as_of="2026-11-21T12:00:00")
    stock = await json_of(await client.get("/api/stock/A", headers=AUTH), 200)
    assert stock["by_warehouse"]["online"]["as_of"] == "2026-11-21T09:00:00+00:00"


async def test_cancel_and_deduction(client: TestClient[Any, Any]) -> None:
    await _stock(client, ("A", "online", 2))
    one = await json_of(await client.post("/api/orders", json=_order("1", ("A", 1)), headers=AUTH), 201)
    two = await json_of(await client.post("/api/orders", json=_order("2", ("A", 1)), headers=AUTH), 201)
    cancelled = await json_of(
        await client.post(f"/api/orders/{one['order_id']}/cancel", json={"reason": "test"}, headers=AUTH), 200
    )
    assert cancelled["status"] == "cancelled"
    deducted = {"order_id": two["order_id"], "deducted_at": "2026-11-21T12:30:00+03:00"}
    assert (await json_of(await client.post("/api/1c/deductions", json=deducted, headers=AUTH), 200))["absorbed"] == 0
    await _stock(client, ("A", "online", 1), as_of="2026-11-21T12:31:00+03:00")
    stock = await json_of(await client.get("/api/stock/A", headers=AUTH), 200)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (1, 0, 1)


async def test_offer_id_conflicts_are_listed(client: TestClient[Any, Any]) -> None:
    result = await _stock(client, ("КР-7/2", "online", 1), ("КР-7-2", "online", 1))
    assert result["offer_id_conflicts"] == [
        {"channel": "wildberries", "offer_id": "КР-7-2", "sku": "КР-7/2", "existing_sku": "КР-7-2"}
    ]
    listed = await json_of(await client.get("/api/offer-ids/conflicts", headers=AUTH), 200)
    assert listed["conflicts"] == result["offer_id_conflicts"]


# ------------------------------------------------------------------------ bad input

BAD_STOCK = [
    pytest.param(b'{"as_of": "2026-11-21T12:00:00+03:00", "items": [', 400, "malformed_json", id="malformed-json"),
    pytest.param(b"\xff\xfe", 400, "malformed_json", id="not-utf8"),
    pytest.param({"as_of": "yesterday", "items": []}, 422, "invalid_request", id="bad-date"),
    pytest.param({"items": []}, 422, "invalid_request", id="no-as_of"),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": -1}]},
        422,
        "invalid_request",
        id="negative-qty",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1.5}]},
        422,
        "invalid_request",
        id="fraction-qty",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": "3"}]},
        422,
        "invalid_request",
        id="string-qty",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": True}]},
        422,
        "invalid_request",
        id="bool-qty",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "", "warehouse": "online", "qty": 1}]},
        422,
        "invalid_request",
        id="empty-sku",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A\nB", "warehouse": "online", "qty": 1}]},
        422,
        "invalid_request",
        id="control-char-sku",
    ),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1, "extra": 1}]},
        422,
        "invalid_request",
        id="unknown-field",
    ),
    pytest.param([1, 2], 422, "invalid_request", id="not-an-object"),
    pytest.param(
        {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 999999999999999}]},
        422,
        "invalid_request",
        id="huge-qty",
    ),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_STOCK)
async def test_bad_stock_message_is_refused_whole(
    client: TestClient[Any, Any], services: Services, body: Any, status: int, code: str
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body)
    # a good row rides along in every valid-JSON case: it must not be applied either
    response = await client.post("/api/1c/stock", data=data, headers={**AUTH, "Content-Type": "application/json"})
    answer = await json_of(response, status)
    assert answer["error"] == code and answer["message"]
    assert isinstance(answer["details"], list)
    assert await table_count(services.database, "stock_levels") == 0


async def test_an_unknown_warehouse_rejects_the_whole_batch(client: TestClient[Any, Any], services: Services) -> None:
    payload = {
        "as_of": "2026-11-21T12:00:00Z",
        "items": [{"sku": "A", "warehouse": "online", "qty": 1}, {"sku": "B", "warehouse": "mars", "qty": 1}],
    }
    answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 422)
    assert answer["error"] == "unknown_warehouse"
    assert answer["details"] == [{"field": "items.1.warehouse", "problem": "unknown warehouse 'mars'"}]
    assert await table_count(services.database, "stock_levels") == 0


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59", "2026-11-21T12:10:01Z"])
async def test_a_figure_from_the_future_is_refused_naming_as_of(
    client: TestClient[Any, Any], services: Services, as_of: str
) -> None:
    payload = {"as_of": as_of, "items": [{"sku": "A", "warehouse": "online", "qty": 1}]}
    answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 422)
    assert answer["error"] == "figure_from_future" and "ONEC_FUTURE_TOLERANCE_S" in answer["message"]
    assert [d["field"] for d in answer["details"]] == ["as_of"]
    assert await table_count(services.database, "stock_levels") == 0
    await _stock(client, ("A", "online", 4), as_of="2026-11-21T12:10:00Z")  # within the tolerance


async def test_the_future_tolerance_is_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'tolerance.db'}")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("ONEC_FUTURE_TOLERANCE_S", "60")
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    try:
        async with served(built) as client:
            await _stock(client, ("A", "online", 1), as_of="2026-11-21T12:01:00Z")
            payload = {"as_of": "2026-11-21T12:01:01Z", "items": [{"sku": "A", "warehouse": "online", "qty": 2}]}
            answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 422)
            assert answer["error"] == "figure_from_future" and "by more than 60 s" in answer["message"]
    finally:
        await built.close()


CONFUSABLE_SKUS = ["A\u200b", "\ufeffA", "A\u200f", "A\x85", "A\u2028", "Я" * 256]


@pytest.mark.parametrize("sku", CONFUSABLE_SKUS)
async def test_a_confusable_article_is_refused_naming_its_item(
    client: TestClient[Any, Any], services: Services, sku: str
) -> None:
    items = [{"sku": "A", "warehouse": "online", "qty": 1}, {"sku": sku, "warehouse": "online", "qty": 1}]
    payload = {"as_of": "2026-11-21T12:00:00Z", "items": items}
    answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 422)
    assert answer["error"] == "invalid_request"
    assert [d["field"] for d in answer["details"]] == ["items.1.sku"]
    assert await table_count(services.database, "stock_levels") == 0


@pytest.mark.parametrize("sku", CONFUSABLE_SKUS)
async def test_an_order_for_a_confusable_article_is_refused(
    client: TestClient[Any, Any], services: Services, sku: str
) -> None:
    answer = await json_of(await client.post("/api/orders", json=_order("1", ("A", 1), (sku, 1)), headers=AUTH), 422)
    assert [d["field"] for d in answer["details"]] == ["lines.1.sku"]
    assert await table_count(services.database, "orders") == 0


async def test_a_repeated_sku_and_warehouse_is_refused_as_a_duplicate(
    client: TestClient[Any, Any], services: Services
) -> None:
    items = [{"sku": "A", "warehouse": "online", "qty": 3}, {"sku": "A", "warehouse": "online", "qty": 2}]
    payload = {"as_of": "2026-11-21T12:00:00Z", "items": items}
    answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 422)
    assert answer["error"] == "invalid_stock_line"
    assert [d["field"] for d in answer["details"]] == ["items.1.sku"]
    assert "repeats items.0" in answer["details"][0]["problem"]
    assert await table_count(services.database, "stock_levels") == 0


async def test_an_article_is_stored_in_nfc(client: TestClient[Any, Any]) -> None:
    await _stock(client, ("\u0418\u0306-1", "online", 3))  # Й as И and a combining breve
    stock = await json_of(await client.get(f"/api/stock/{quote('Й-1')}", headers=AUTH), 200)
    assert stock["on_hand"] == 3


async def test_a_failure_after_the_stock_write_answers_500_and_applies_nothing(
    client: TestClient[Any, Any], services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("the shortfall alert could not be written")

    monkeypatch.setattr(services.shop.operations, "report_stock", broken)
    payload = {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1}]}
    answer = await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 500)
    assert answer["error"] == "internal_error" and "nothing of this message was applied" in answer["message"]
    assert await table_count(services.database, "stock_levels") == 0
    assert await table_count(services.database, "stock_pushes") == 0
    assert (await services.shop.operations.status()).onec_last_update is None


async def test_an_oversized_body_is_refused(client: TestClient[Any, Any], services: Services) -> None:
    items = [{"sku": f"SKU-{n:06d}", "warehouse": "online", "qty": 1} for n in range(3000)]
    answer = await json_of(
        await client.post("/api/1c/stock", json={"as_of": "2026-11-21T12:00:00Z", "items": items}, headers=AUTH), 413
    )
    assert answer["error"] == "body_too_large"
    assert await table_count(services.database, "stock_levels") == 0


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "send Authorization"),
        ({"Authorization": "Bearer wrong"}, "not valid"),
        ({"Authorization": TOKEN}, "not valid"),
    ],
)
async def test_api_needs_the_bearer_token(
    client: TestClient[Any, Any], services: Services, headers: dict[str, str], message: str
) -> None:
    payload = {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1}]}
    for response in (
        await client.post("/api/1c/stock", json=payload, headers=headers),
        await client.get("/api/stock/A", headers=headers),
        await client.post("/api/orders", json=_order("x", ("A", 1)), headers=headers),
    ):
        answer = await json_of(response, 401)
        assert answer["error"] == "unauthorized" and message in answer["message"]
    assert await table_count(services.database, "stock_levels") == 0
    assert await table_count(services.database, "orders") == 0


BAD_ORDERS = [
    pytest.param({**_order("1", ("A", 1)), "channel": "avito"}, 422, "unknown_channel", id="unknown-channel"),
    pytest.param({**_order("1", ("A", 1)), "lines": []}, 422, "invalid_request", id="no-lines"),
    pytest.param(_order("1", ("A", 0)), 422, "invalid_request", id="zero-qty"),
    pytest.param(_order("1", ("A", -2)), 422, "invalid_request", id="negative-qty"),
    pytest.param({**_order("1", ("A", 1)), "currency": "rub"}, 422, "invalid_request", id="bad-currency"),
    pytest.param(
        {k: v for k, v in _order("1", ("A", 1)).items() if k != "external_id"},
        422,
        "invalid_request",
        id="no-external-id",
    ),
    pytest.param(
        {
            **_order("1", ("A", 1)),
            "obligations": [{"payee": "supplier", "currency": "CNY", "amount": "100", "due_at": "2026-12-01T12:00:00"}],
        },
        422,
        "invalid_request",
        id="obligation-without-offset",
    ),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_ORDERS)
async def test_bad_order_is_refused(
    client: TestClient[Any, Any], services: Services, body: Any, status: int, code: str
) -> None:
    await _stock(client, ("A", "online", 5))
    answer = await json_of(await client.post("/api/orders", json=body, headers=AUTH), status)
    assert answer["error"] == code
    assert await table_count(services.database, "orders") == 0
    assert (await json_of(await client.get("/api/stock/A", headers=AUTH), 200))["reserved"] == 0


async def test_a_repeat_with_other_lines_is_a_conflict(client: TestClient[Any, Any]) -> None:
    await _stock(client, ("A", "online", 5))
    await json_of(await client.post("/api/orders", json=_order("1", ("A", 1)), headers=AUTH), 201)
    answer = await json_of(await client.post("/api/orders", json=_order("1", ("A", 2)), headers=AUTH), 409)
    assert answer["error"] == "order_conflict"


async def test_an_order_with_obligations_keeps_them(client: TestClient[Any, Any]) -> None:
    body = {
        **_order("1", ("A", 1)),
        "obligations": [
            {"payee": "supplier", "currency": "CNY", "amount": "1200.50", "due_at": "2026-12-01T12:00:00+03:00"}
        ],
    }
    created = await json_of(await client.post("/api/orders", json=body, headers=AUTH), 201)
    assert created["status"] == "out_of_stock"
    order = await json_of(await client.get(f"/api/orders/{created['order_id']}", headers=AUTH), 200)
    assert order["obligations"] == [
        {
            "payee": "supplier",
            "currency": "CNY",
            "amount": "1200.5000",
            "due_at": "2026-12-01T09:00:00+00:00",
            "state": "pending",
            "rate_at_payment": None,
            "rate_at_due": None,
            "topup_rub": None,
        }
    ]


@pytest.mark.parametrize("order_id", ["999", "abc", "1.5", "-1"])
async def test_unknown_order_is_404(client: TestClient[Any, Any], order_id: str) -> None:
    answer = await json_of(await client.get(f"/api/orders/{order_id}", headers=AUTH), 404)
    assert answer["error"] == "order_not_found"


async def test_deduction_for_unknown_order_is_404(client: TestClient[Any, Any]) -> None:
    body = {"order_id": 404, "deducted_at": "2026-11-21T12:00:00Z"}
    assert (await json_of(await client.post("/api/1c/deductions", json=body, headers=AUTH), 404))[
        "error"
    ] == "order_not_found"


async def test_unknown_route_and_method_answer_in_json(client: TestClient[Any, Any]) -> None:
    assert (await json_of(await client.get("/api/nothing", headers=AUTH), 404))["error"] == "not_found"
    assert (await json_of(await client.delete("/api/orders", headers=AUTH), 405))["error"] == "method_not_allowed"


async def test_store_stats_endpoint(client: TestClient[Any, Any]) -> None:
    answer = await json_of(await client.get("/api/stats/stores?since=2026-11-01T00:00:00Z", headers=AUTH), 200)
    assert answer == {"since": "2026-11-01T00:00:00+00:00", "stores": []}
    bad = await json_of(await client.get("/api/stats/stores?since=yesterday", headers=AUTH), 400)
    assert bad["error"] == "invalid_request"


async def _raw(client: TestClient[Any, Any], request: bytes) -> tuple[int, bytes]:
    """Send bytes aiohttp's client would not send (headers that are not UTF-8); the status and the body."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        await writer.drain()
        head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    finally:
        writer.close()
    return int(head.split(b" ")[1]), body


def _post(path: str, headers: bytes, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + headers
        + b"\r\n"
        + body
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(b"[" * 30_000 + b"]" * 30_000, "nested", id="deep-nesting"),
        pytest.param(b'{"order_id": ' + b"7" * 5000 + b"}", "digits", id="5000-digits"),
    ],
)
async def test_json_that_python_cannot_read_is_a_400(client: TestClient[Any, Any], body: bytes, problem: str) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    answer = await json_of(await client.post("/api/1c/deductions", data=body, headers=headers), 400)
    assert answer["error"] == "malformed_json" and problem in answer["message"]


async def test_an_order_id_beyond_64_bits_is_refused(client: TestClient[Any, Any], services: Services) -> None:
    body = {"order_id": 2**70, "deducted_at": "2026-11-21T12:00:00Z"}
    answer = await json_of(await client.post("/api/1c/deductions", json=body, headers=AUTH), 422)
    assert answer["error"] == "invalid_request" and answer["details"][0]["field"] == "order_id"
    payment = {"event_id": "e1", "payment_id": "p1", "order_id": 2**70, "idempotency_key": "k1",
               "phase": "initiated", "amount": "10.00"}  # fmt: skip
    answer = await json_of(await client.post("/api/payments/events", json=payment, headers=AUTH), 422)
    assert answer["details"][0]["field"] == "order_id"
    assert await table_count(services.database, "payment_events") == 0


@pytest.mark.parametrize("order_id", ["²", "١٢", "𝟗"])
async def test_an_order_id_of_non_ascii_digits_is_404(client: TestClient[Any, Any], order_id: str) -> None:
    for response in (
        await client.get(f"/api/orders/{quote(order_id)}", headers=AUTH),
        await client.post(f"/api/orders/{quote(order_id)}/cancel", headers=AUTH),
    ):
        assert (await json_of(response, 404))["error"] == "order_not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/api/stats/stores?since=0001-01-01",
        "/api/stats/stores?since=0001-01-01T00:00:00%2B14:00",
        "/api/stats/stores?since=9999-12-31T23:59:59-12:00",
        "/api/report/daily?date=0001-01-01",
        "/api/report/daily.png?date=0001-01-01",
    ],
)
async def test_a_time_at_the_edge_of_the_calendar_is_a_400(client: TestClient[Any, Any], path: str) -> None:
    answer = await json_of(await client.get(path, headers=AUTH), 400)
    assert answer["error"] == "invalid_request" and "between" in answer["message"]


SIGNED_AT = b"X-Signature-Timestamp: " + str(int(NOW.timestamp())).encode() + b"\r\n"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"Authorization: Bearer \xff\xfe\r\n", "not valid"),
        (b"Authorization: Bearer " + TOKEN.encode() + b"\xc3\r\n", "not valid"),
        (SIGNED_AT + b"X-Signature: sha256=\xff\r\n", "does not match"),
    ],
)
async def test_a_header_that_is_not_utf8_is_a_401(
    client: TestClient[Any, Any], services: Services, header: bytes, message: str
) -> None:
    http = services.settings.http.model_copy(update={"payments_hmac_secret": SecretStr("hmac-secret-0001")})
    settings = services.settings.model_copy(update={"http": http})
    body = json.dumps({"event_id": "e1", "payment_id": "p1", "order_id": 1, "idempotency_key": "k1",
                       "phase": "initiated", "amount": "10.00"}).encode()  # fmt: skip
    async with served(dataclasses.replace(services, settings=settings)) as signed:
        status, raw = await _raw(signed, _post("/api/payments/events", header, body))
    answer = json.loads(raw)
    assert status == 401 and answer["error"] == "unauthorized" and message in answer["message"]
    assert await table_count(services.database, "payment_events") == 0


@pytest.mark.parametrize("secret", ["é".encode(), b"\xff\xfe", "секрет-вебхука-0001".encode()])
async def test_a_telegram_secret_header_that_is_not_ascii_is_a_401(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, secret: bytes
) -> None:
    async with TelegramEmulator(token="123456:http-test", limits=TelegramLimits.unlimited()) as tg:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}", "TELEGRAM_BOT_TOKEN": "123456:http-test",
               "TELEGRAM_API_BASE": tg.base_url, "TELEGRAM_MODE": "webhook",
               "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-0001", "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml")}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=FakeClock())
        try:
            async with served(services) as client:
                header = b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
                status, _ = await _raw(client, _post("/telegram/webhook", header, b'{"update_id": 1}'))
            assert status == 401
            assert tg.calls("sendMessage") == []
        finally:
            await services.close()


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b"[1]", b"[" * 30_000 + b"]" * 30_000])
async def test_a_telegram_update_that_is_not_a_json_object_is_a_400(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, body: bytes
) -> None:
    async with TelegramEmulator(token="123456:http-test", limits=TelegramLimits.unlimited()) as tg:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}", "TELEGRAM_BOT_TOKEN": "123456:http-test",
               "TELEGRAM_API_BASE": tg.base_url, "TELEGRAM_MODE": "webhook",
               "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-0001", "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml")}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=FakeClock())
        try:
            async with served(services) as client:
                response = await client.post("/telegram/webhook", data=body, headers={
                    "X-Telegram-Bot-Api-Secret-Token": "webhook-secret-0001", "Content-Type": "application/json"})  # fmt: skip
            assert response.status == 400
            assert tg.calls("sendMessage") == []
        finally:
            await services.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[tuple[TestClient[Any, Any], Services]]:
    """A client of the service on SQLite, and on PostgreSQL, which refuses strings SQLite takes (NUL, too long)."""
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"
    monkeypatch.setenv("DATABASE_URL", sqlite if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), topology, clock=FakeClock())
    async with built.database.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    try:
        async with served(built) as test_client:
            yield test_client, built
    finally:
        await built.close()


@pytest.mark.parametrize("sku", ["A%00B", "A%01", "%C2%85", "A" * 256])
async def test_a_sku_no_column_can_hold_is_refused_on_each_database(
    any_client: tuple[TestClient[Any, Any], Services], sku: str
) -> None:
    client, _ = any_client
    answer = await json_of(await client.get(f"/api/stock/{sku}", headers=AUTH), 400)
    assert answer["error"] == "invalid_request" and "sku" in answer["message"]


def _payment(**fields: Any) -> dict[str, Any]:
    return {"event_id": "e1", "payment_id": "p1", "order_id": 1, "idempotency_key": "k1", "phase": "initiated",
            "amount": "10.00", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/payments/events", _payment(event_id="e" * 129), "event_id"),
        ("/api/payments/events", _payment(event_id="e" * 255), "event_id"),
        ("/api/payments/events", _payment(payment_id="p" * 129), "payment_id"),
        ("/api/payments/events", _payment(idempotency_key="k" * 129), "idempotency_key"),
        ("/api/orders", {**_order("1", ("A", 1)), "channel": "c" * 65}, "channel"),
        ("/api/1c/stock", {"as_of": "2026-11-21T09:00:00Z", "items": [{"sku": "A", "warehouse": "w" * 65, "qty": 1}]},
         "items.0.warehouse"),
        ("/api/orders", {**_order("1", ("A", 1)), "delivery": {"tariff_code": 1, "pickup_point": "P" * 65}},
         "delivery.pickup_point"),
    ],
)  # fmt: skip
async def test_every_string_limit_is_its_columns_on_each_database(
    any_client: tuple[TestClient[Any, Any], Services], path: str, body: dict[str, Any], field: str
) -> None:
    client, services = any_client
    answer = await json_of(await client.post(path, json=body, headers=AUTH), 422)
    assert answer["error"] == "invalid_request" and answer["details"][0]["field"] == field
    assert await table_count(services.database, "payment_events") == 0
    assert await table_count(services.database, "orders") == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/orders", {**_order("1", ("A", 1)), "customer": {"name": "Ир\x00ина"}}, "customer.name"),
        ("/api/orders", {**_order("1", ("A", 1)), "customer": {"phone": "+7999\x85"}}, "customer.phone"),
        ("/api/orders", {**_order("1", ("A", 1)), "customer": {"email": "i@example.ru\n"}}, "customer.email"),
        ("/api/orders/1/cancel", {"reason": "дубль\x00"}, "reason"),
        ("/api/payments/events", _payment(payer_name="Ivan\x00"), "payer_name"),
        ("/api/payments/events", _payment(card_country="R\x00"), "card_country"),
        (
            "/api/orders",
            {
                **_order("1", ("A", 1)),
                "obligations": [
                    {"payee": "supplier\x00", "currency": "CNY", "amount": "1", "due_at": "2026-12-01T12:00:00Z"}
                ],
            },
            "obligations.0.payee",
        ),
    ],
)
async def test_control_characters_in_personal_fields_are_refused_on_each_database(
    any_client: tuple[TestClient[Any, Any], Services], path: str, body: dict[str, Any], field: str
) -> None:
    client, services = any_client
    answer = await json_of(await client.post(path, json=body, headers=AUTH), 422)
    assert answer["error"] == "invalid_request" and answer["details"][0]["field"] == field
    assert "control characters" in answer["details"][0]["problem"]
    assert await table_count(services.database, "orders") == 0


async def _rows(services: Services) -> int:
    return sum([await table_count(services.database, table.name) for table in metadata.sorted_tables])


_ONE_ITEM = [{"sku": "A", "warehouse": "online", "qty": 1}]


@pytest.mark.parametrize(
    ("path", "body", "field", "problem"),
    [
        ("/api/1c/stock", {"as_of": "0001-01-01T00:00:00+14:00", "items": _ONE_ITEM}, "as_of", "before the year 1970"),
        ("/api/1c/stock", {"as_of": "0001-01-01T00:00:00", "items": _ONE_ITEM}, "as_of", "before the year 1970"),
        ("/api/1c/stock", {"as_of": "9999-12-31T23:59:59-14:00", "items": _ONE_ITEM}, "as_of", "UTC can hold"),
        ("/api/1c/deductions", {"order_id": 1, "deducted_at": "0001-01-01T00:00:00+14:00"}, "deducted_at",
         "before the year 1970"),
        ("/api/1c/deductions", {"order_id": 1, "deducted_at": "9999-12-31T23:59:59-14:00"}, "deducted_at",
         "UTC can hold"),
        ("/api/orders", {**_order("1", ("A", 1)), "obligations": [
            {"payee": "supplier", "currency": "CNY", "amount": "1", "due_at": "9999-12-31T23:59:59-14:00"}]},
         "obligations.0.due_at", "UTC can hold"),
    ],
)  # fmt: skip
async def test_a_time_in_a_body_that_leaves_the_calendar_in_utc_is_a_422_on_each_database(
    any_client: tuple[TestClient[Any, Any], Services], path: str, body: dict[str, Any], field: str, problem: str
) -> None:
    client, services = any_client
    answer = await json_of(await client.post(path, json=body, headers=AUTH), 422)
    assert answer["error"] == "invalid_request" and answer["details"][0]["field"] == field
    assert problem in answer["details"][0]["problem"]
    assert await _rows(services) == 0


@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00x"])
async def test_a_payment_event_whose_extra_field_holds_a_lone_surrogate_is_a_422_on_each_database(
    any_client: tuple[TestClient[Any, Any], Services], escape: str
) -> None:
    client, services = any_client
    body = json.dumps(_payment(gateway={"note": "NOTE"})).replace("NOTE", escape)
    response = await client.post(
        "/api/payments/events", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    answer = await json_of(response, 422)
    assert answer["error"] == "invalid_request" and "lone surrogate" in answer["details"][0]["problem"]
    assert await table_count(services.database, "payment_events") == 0


@pytest.mark.postgres
@pytest.mark.parametrize("any_client", ["postgres"], indirect=True)
async def test_a_refused_order_logs_no_personal_data_on_postgres(
    any_client: tuple[TestClient[Any, Any], Services], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = any_client
    await json_of(await client.post("/api/1c/stock", json={"as_of": "2026-11-21T09:00:00Z", "items": [
        {"sku": "A", "warehouse": "online", "qty": 5}]}, headers=AUTH), 200)  # fmt: skip
    body = {**_order("1", ("A", 1)), "customer": {"name": "Ир\x00ина", "phone": "+79995551234", "email": "pd@mail.ru"}}
    with caplog.at_level("DEBUG"):
        response = await client.post("/api/orders", json=body, headers=AUTH)
    assert response.status == 422
    assert "79995551234" not in caplog.text and "pd@mail.ru" not in caplog.text


@pytest.mark.postgres
async def test_a_database_error_does_not_carry_the_statement_parameters(pg_url: str) -> None:
    database = open_database(pg_url)
    try:
        async with database.engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text("SELECT CAST(:phone AS text)"), {"phone": "+79995551234\x00"})
        assert "79995551234" not in str(raised.value)
    finally:
        await database.dispose()


def _closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgres"])
async def down_client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[TestClient[Any, Any]]:
    """The service with a database it cannot reach: SQLite's file is a directory, PostgreSQL's port is closed."""
    (tmp_path / "api.db").mkdir()
    urls = {"sqlite": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
            "postgres": f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/storeops"}  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", urls[request.param])
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(), run_migrations=False)
    try:
        async with served(built) as test_client:
            yield test_client
    finally:
        await built.close()


async def test_an_unreachable_database_is_a_503_with_retry_after(down_client: TestClient[Any, Any]) -> None:
    stock = {"as_of": "2026-11-21T09:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1}]}
    for response in (
        await down_client.get("/api/stock/A", headers=AUTH),
        await down_client.get("/api/orders/1", headers=AUTH),
        await down_client.post("/api/orders", json=_order("1", ("A", 1)), headers=AUTH),
        await down_client.post("/api/1c/stock", json=stock, headers=AUTH),
    ):
        answer = await json_of(response, 503)
        assert answer["error"] == "database_unavailable" and "database" in answer["message"]
        assert set(answer) == {"error", "message", "details"}
        assert int(response.headers["Retry-After"]) > 0
    health = await down_client.get("/healthz")
    assert health.status == 503 and (await health.json())["database"] == "unavailable"
    assert int(health.headers["Retry-After"]) > 0


@pytest.mark.postgres
@pytest.mark.parametrize("any_client", ["postgres"], indirect=True)
async def test_a_connection_lost_to_a_server_restart_is_a_503(
    any_client: tuple[TestClient[Any, Any], Services], pg_url: str
) -> None:
    client, _ = any_client
    await json_of(await client.get("/api/stock/A", headers=AUTH), 200)  # a pooled connection, then cut
    await asyncio.to_thread(
        _pg_admin,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{make_url(pg_url).database}' AND pid <> pg_backend_pid()",
    )
    response = await client.get("/api/stock/A", headers=AUTH)
    answer = await json_of(response, 503)
    assert answer["error"] == "database_unavailable" and int(response.headers["Retry-After"]) > 0
    await json_of(await client.get("/api/stock/A", headers=AUTH), 200)  # the pool reconnects


async def test_a_database_error_is_logged_without_the_values_it_quotes(
    client: TestClient[Any, Any], services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncpg's message for a value it cannot encode quotes the value; with the service's log privacy on (as
    ``storeops run`` installs it), the 500's traceback names the error kind and where it happened, not the message."""
    monkeypatch.setattr(log_privacy, "_installed", False)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    log_privacy.install()

    class InvalidInput(Exception):
        pass

    customer = "Иван Петров +79995551234"  # a name here, so the traceback's source lines do not show it

    async def refused(*args: object) -> None:
        quoted = InvalidInput(f"invalid input for query argument $3: {customer!r}")
        raise DBAPIError("INSERT INTO orders ...", None, quoted)

    monkeypatch.setattr(services.shop.operations, "report_stock", refused)
    payload = {"as_of": "2026-11-21T12:00:00Z", "items": [{"sku": "A", "warehouse": "online", "qty": 1}]}
    with caplog.at_level("DEBUG"):
        await json_of(await client.post("/api/1c/stock", json=payload, headers=AUTH), 500)
    assert "DBAPIError: (message not logged" in caplog.text and "in post_stock" in caplog.text
    assert "79995551234" not in caplog.text and "Петров" not in caplog.text
