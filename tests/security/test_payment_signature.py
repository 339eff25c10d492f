"""A signed payment event carries its time: a captured one cannot be sent again later, nor dated ahead."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services
from tests.conftest import table_count
from tests.security.auth_service import BACKENDS, NOW, PAYMENTS_SECRET, auth_service
from tests.serving import json_of, served
from workflows.model import StockFigure
from workflows.orders import LineRequest, PlaceOrder
from workflows.topology import Topology

PATH = "/api/payments/events"


def signed(body: bytes, timestamp: int | str, secret: str = PAYMENTS_SECRET) -> dict[str, str]:
    """The headers a gateway sends: the HMAC of ``b"<timestamp>." + body``, as the README documents it."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"sha256={digest}", "X-Signature-Timestamp": str(timestamp),
            "Content-Type": "application/json"}  # fmt: skip


def legacy_signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(PAYMENTS_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"sha256={digest}", "Content-Type": "application/json"}


async def event_body(services: Services, event_id: str = "e1") -> bytes:
    """A payment event of a fresh order (placed directly, not through the API)."""
    await services.shop.ledger.apply_stock(NOW, [StockFigure("КР-7/2", "online", 5)])
    order = (await services.shop.orders.place(PlaceOrder("site", f"S-{event_id}", [LineRequest("КР-7/2", 1)],
                                                         total=Decimal("500.00")))).order  # fmt: skip
    return json.dumps({"event_id": event_id, "payment_id": f"p-{event_id}", "order_id": order.id,
                       "idempotency_key": f"k-{event_id}", "phase": "initiated", "amount": "500.00"}).encode()  # fmt: skip


async def refused(client: TestClient[Any, Any], services: Services, body: bytes, headers: dict[str, str]) -> str:
    """Post ``body``: it must be a 401 that applied nothing; its message."""
    before = await table_count(services.database, "payment_events")
    answer = await json_of(await client.post(PATH, data=body, headers=headers), 401)
    assert answer["error"] == "unauthorized"
    assert await table_count(services.database, "payment_events") == before
    return str(answer["message"])


@pytest.fixture(params=BACKENDS)
async def services(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[Services]:
    async with auth_service(request.param, request, tmp_path, monkeypatch, topology) as built:
        yield built


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


NOW_S = int(NOW.timestamp())


async def test_a_fresh_signature_is_taken(client: TestClient[Any, Any], services: Services) -> None:
    body = await event_body(services)
    for skew in (-300, 300):  # the edges of the tolerance, either way
        answer = await client.post(PATH, data=body, headers=signed(body, NOW_S + skew))
        assert answer.status in (200, 202), await answer.text()
    assert await table_count(services.database, "payment_events") == 1


async def test_a_replayed_old_event_is_refused_and_applies_nothing(
    client: TestClient[Any, Any], services: Services
) -> None:
    body = await event_body(services)
    message = await refused(client, services, body, signed(body, NOW_S - 301))
    assert "X-Signature-Timestamp" in message and "301 s" in message
    assert await table_count(services.database, "payments") == 0


async def test_a_timestamp_from_the_future_is_refused(client: TestClient[Any, Any], services: Services) -> None:
    body = await event_body(services)
    assert "X-Signature-Timestamp" in await refused(client, services, body, signed(body, NOW_S + 301))


@pytest.mark.parametrize("stamp", ["", "soon", "1.5", "-1", "١٧٦٣", "9" * 40])
async def test_a_timestamp_that_is_not_unix_seconds_is_refused(
    client: TestClient[Any, Any], services: Services, stamp: str
) -> None:
    body = await event_body(services)
    assert "unix seconds" in await refused(client, services, body, signed(body, stamp))


async def test_a_tampered_body_or_a_moved_timestamp_is_refused(
    client: TestClient[Any, Any], services: Services
) -> None:
    body = await event_body(services)
    headers = signed(body, NOW_S)
    tampered = body.replace(b'"500.00"', b'"5.00"')
    assert "does not match" in await refused(client, services, tampered, headers)
    moved = {**headers, "X-Signature-Timestamp": str(NOW_S + 1)}
    assert "does not match" in await refused(client, services, body, moved)


async def test_the_body_only_signature_is_refused_by_default(client: TestClient[Any, Any], services: Services) -> None:
    body = await event_body(services)
    assert "X-Signature-Timestamp" in await refused(client, services, body, legacy_signed(body))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_body_only_signature_is_taken_with_the_legacy_setting(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    topology: Topology, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    legacy = {"PAYMENTS_SIGNATURE_LEGACY": "true"}
    async with auth_service(backend, request, tmp_path, monkeypatch, topology, **legacy) as built:
        body = await event_body(built)
        with caplog.at_level(logging.WARNING, logger="app.http.server"):
            async with served(built) as client:
                assert "does not match the body" in await refused(client, built, body + b" ", legacy_signed(body))
                assert (await json_of(await client.post(PATH, data=body, headers=legacy_signed(body)), 202))["applied"]
                assert "does not match" in await refused(client, built, body, signed(body, NOW_S, "another-secret-001"))
        assert await table_count(built.database, "payment_events") == 1
    warnings = [r for r in caplog.records if "PAYMENTS_SIGNATURE_LEGACY" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert PAYMENTS_SECRET not in caplog.text
