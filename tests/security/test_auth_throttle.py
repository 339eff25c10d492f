"""An address that keeps sending wrong secrets is refused for a while — the right secret too — and only it."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from app.bootstrap import Services
from app.http.throttle import FailedLogins, ThrottleLimits
from tests.conftest import table_count
from tests.fakes import FakeClock
from tests.security.auth_service import AUTH, BACKENDS, EXCHANGE_PASSWORD, EXCHANGE_USER, auth_service
from tests.serving import json_of, served
from workflows.topology import Topology

WRONG = {"Authorization": "Bearer wrong-token-guess-000000"}
STOCK = {"as_of": "2026-11-21T12:00:00+03:00", "items": [{"sku": "КР-7/2", "warehouse": "online", "qty": 3}]}
CHECKAUTH = {"type": "catalog", "mode": "checkauth"}
OTHER_PEER = "127.0.0.2"  # the whole 127/8 is loopback on Linux: a second client address


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{EXCHANGE_USER}:{password}".encode()).decode()}


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


@pytest.fixture
async def other_peer() -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections come from another loopback address."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(OTHER_PEER, 0))) as session:
        yield session


def fake_clock(services: Services) -> FakeClock:
    clock = services.shop.clock
    assert isinstance(clock, FakeClock)
    return clock


async def test_ten_wrong_tokens_block_the_address_even_for_the_right_one(
    client: TestClient[Any, Any], services: Services, other_peer: aiohttp.ClientSession
) -> None:
    for _ in range(10):
        assert (await json_of(await client.post("/api/1c/stock", json=STOCK, headers=WRONG), 401))["error"]
    blocked = await client.post("/api/1c/stock", json=STOCK, headers=AUTH)
    assert (await json_of(blocked, 429))["error"] == "too_many_attempts"
    assert blocked.headers["Retry-After"] == "60"
    assert await table_count(services.database, "stock_levels") == 0

    elsewhere = await other_peer.post(client.make_url("/api/1c/stock"), json=STOCK, headers=AUTH)
    assert (await json_of(elsewhere, 200))["accepted"] == 1

    fake_clock(services).advance(seconds=59)
    still = await client.get("/api/stock/A", headers=AUTH)
    assert (await json_of(still, 429))["error"] == "too_many_attempts" and still.headers["Retry-After"] == "1"
    fake_clock(services).advance(seconds=1)
    later = {**STOCK, "as_of": "2026-11-21T12:01:00+03:00"}
    later["items"] = [{"sku": "КР-7/2", "warehouse": "online", "qty": 5}]
    assert (await json_of(await client.post("/api/1c/stock", json=later, headers=AUTH), 200))["accepted"] == 1


async def test_nine_wrong_tokens_are_not_yet_a_block_and_old_ones_lapse(
    client: TestClient[Any, Any], services: Services
) -> None:
    for _ in range(9):
        await json_of(await client.get("/api/stock/A", headers=WRONG), 401)
    fake_clock(services).advance(seconds=60)
    await json_of(await client.get("/api/stock/A", headers=WRONG), 401)  # the tenth, but the others are a window old
    await json_of(await client.post("/api/1c/stock", json=STOCK, headers=AUTH), 200)
    assert await table_count(services.database, "stock_levels") == 1


async def test_the_block_is_logged_once_with_the_address_only(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.http.throttle"):
        for _ in range(13):
            await client.get("/api/stock/A", headers=WRONG)
    (record,) = [r for r in caplog.records if r.name == "app.http.throttle"]
    assert record.levelno == logging.WARNING and "127.0.0.1" in record.getMessage()
    assert "wrong-token-guess" not in caplog.text


async def test_ten_wrong_1c_logins_block_checkauth_even_for_the_right_one(
    client: TestClient[Any, Any], services: Services, other_peer: aiohttp.ClientSession
) -> None:
    for _ in range(10):
        wrong = await client.get("/1c_exchange.php", params=CHECKAUTH, headers=basic("wrong-password-00"))
        assert wrong.status == 401
    blocked = await client.get("/1c_exchange.php", params=CHECKAUTH, headers=basic(EXCHANGE_PASSWORD))
    answer = (await blocked.read()).decode("windows-1251").split("\n")
    assert blocked.status == 429 and blocked.headers["Retry-After"] == "60"
    assert answer[0] == "failure" and "too many" in answer[1] and len(answer) == 2

    elsewhere = await other_peer.get(client.make_url("/1c_exchange.php"), params=CHECKAUTH,
                                     headers=basic(EXCHANGE_PASSWORD))  # fmt: skip
    assert elsewhere.status == 200 and (await elsewhere.read()).startswith(b"success\n")
    assert (await json_of(await client.get("/api/stock/A", headers=AUTH), 200))["sku"] == "A"  # the API's own count

    fake_clock(services).advance(seconds=60)
    again = await client.get("/1c_exchange.php", params=CHECKAUTH, headers=basic(EXCHANGE_PASSWORD))
    assert again.status == 200 and (await again.read()).startswith(b"success\n")


def test_the_table_of_addresses_is_bounded_and_drops_the_oldest() -> None:
    clock = FakeClock()
    logins = FailedLogins(clock, "test", ThrottleLimits(failures=1, window=timedelta(seconds=60), clients=3))
    for peer in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        logins.failed(peer)
        clock.advance(seconds=1)
    assert len(logins) == 3
    assert logins.retry_after("10.0.0.1") is None  # dropped: the one seen longest ago
    assert [logins.retry_after(p) for p in ("10.0.0.2", "10.0.0.3", "10.0.0.4")] == [57, 58, 59]
