"""The payment gateway's call is answered while the Central Bank's feed hangs, on the real HTTP API, the real
httpx CBR client against the CBR emulator told to hold every request, SQLite and PostgreSQL: the clearing is
recorded at once, and once the rates arrive the scheduled FX run records them and the managers get their
question when the rate has moved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services, build
from app.settings import load_settings
from emulators.cbr import CbrEmulator
from storage.schema import metadata
from tests.fakes import FakeClock
from tests.serving import json_of, served
from workflows.fx import KIND
from workflows.model import ObligationState, StockFigure
from workflows.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
API = "cbr-hang-test-token-0001"
AUTH = {"Authorization": f"Bearer {API}"}
PATIENCE_S = 5.0  # the test's own limit on the webhook; the feed is set to hold far longer


class Shop:
    def __init__(self, services: Services, http: TestClient[Any, Any], cbr: CbrEmulator, clock: FakeClock) -> None:
        self.services, self.http, self.cbr, self.clock = services, http, cbr, clock

    async def order_in_cny(self) -> int:
        due = (self.clock.now() + timedelta(days=7)).isoformat()
        body = {
            "channel": "site", "external_id": "SO-9001", "lines": [{"sku": "КР-7/2", "qty": 1}],
            "customer": {"name": "Ирина", "phone": "+79990000001", "email": "i@example.ru"},
            "total": "90000.00", "currency": "RUB",
            "obligations": [{"payee": "Supplier Guangzhou", "currency": "CNY", "amount": "10000", "due_at": due}],
        }  # fmt: skip
        return int((await json_of(await self.http.post("/api/orders", json=body, headers=AUTH), 201))["order_id"])

    async def obligation(self, order_id: int) -> dict[str, Any]:
        order = await json_of(await self.http.get(f"/api/orders/{order_id}", headers=AUTH), 200)
        (obligation,) = order["obligations"]
        return dict(obligation)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def shop(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[Shop]:
    clock = FakeClock()
    async with CbrEmulator(today=clock.now().date()) as cbr:
        sqlite = f"sqlite+aiosqlite:///{tmp_path / 'hang.db'}"
        env = {
            "DATABASE_URL": sqlite if request.param == "sqlite" else request.getfixturevalue("pg_url"),
            "API_TOKEN": API, "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"),
            "CBR_DAILY_URL": cbr.daily_url, "CBR_TIMEOUT_S": "60",
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=clock)
        async with services.database.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("КР-7/2", "online", 3)])
        try:
            async with served(services) as http:
                yield Shop(services, http, cbr, clock)
        finally:
            cbr.recover()
            await services.close()


async def test_the_payment_webhook_answers_while_the_feed_hangs(shop: Shop) -> None:
    shop.cbr.set_rate("CNY", Decimal("12.0000"))
    order_id = await shop.order_in_cny()
    shop.cbr.hang()
    scheduled = asyncio.create_task(shop.services.shop.fx.check_due())  # the scheduled FX run, held by the bank
    async with asyncio.timeout(PATIENCE_S):
        while not shop.cbr.received:
            await asyncio.sleep(0.01)

    body = {
        "event_id": "evt-cleared", "payment_id": "pay-1", "order_id": order_id, "idempotency_key": "idem-1",
        "phase": "cleared", "amount": "90000.00", "currency": "RUB",
    }  # fmt: skip
    async with asyncio.timeout(PATIENCE_S):
        answer = await json_of(await shop.http.post("/api/payments/events", json=body, headers=AUTH), 202)
    assert not scheduled.done()  # answered while the bank still holds the feed's request
    assert [request.answer for request in shop.cbr.received] == ["hang"]  # the webhook did not ask the bank
    assert answer["applied"] == "advanced"
    assert (await shop.obligation(order_id))["rate_at_payment"] is None

    shop.cbr.recover()  # the sheet arrives
    async with asyncio.timeout(PATIENCE_S):
        assert await scheduled == 0
    assert Decimal((await shop.obligation(order_id))["rate_at_payment"]) == Decimal("12.0000")

    shop.clock.advance(days=8)
    shop.cbr.set_rate("CNY", Decimal("12.5000"))  # +4.2 %
    assert await shop.services.shop.fx.check_due() == 1
    assert (await shop.obligation(order_id))["state"] == ObligationState.HELD.value
    async with shop.services.shop.uow(read_only=True) as work:
        (task,) = await work.tasks.open_about(f"order:{order_id}:obligation:")
        asked = await work.notices.undelivered(10, ["office_task"])
    assert (task.kind, task.assignee) == (KIND, "role:managers")
    assert [payload for _, _, payload in asked] == [{"task_id": task.id}]
