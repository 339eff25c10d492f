"""The client's signed order page over real HTTP: the manager's link opens one order's page and JSON without a token,
in Russian and English, with no code and nothing of the office on it; a forged, altered, expired, missing or other
order's signature is a 403 that tells nothing of the order; the settings refuse a short secret."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from app.bootstrap import Services, build
from app.http.client_page import SignatureHidingAccessLogger
from app.settings import ConfigurationError, load_settings
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import AUTH, NOW, TOKEN
from tests.people_words import raw_codes, topology_codes
from tests.serving import json_of, served
from workflows.topology import Topology

SECRET = "client-link-secret-for-tests-0123456789"
PLAN = {"goods_rub": "600000", "transport": "tir", "clearance": "full", "weight_kg": "4000", "volume_m3": "12",
        "boxes": 20}  # fmt: skip
CUSTOMER = {"name": "Ирина Клиентова", "phone": "+79990000077", "email": "irina@example.ru"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]+")


async def _services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology, **env: str) -> Services:
    settings = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'client.db'}", "API_TOKEN": TOKEN,
                "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), **env}  # fmt: skip
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology) -> AsyncIterator[Services]:
    built = await _services(tmp_path, monkeypatch, topology, CLIENT_LINK_SECRET=SECRET,
                            CLIENT_LINK_BASE_URL="https://shop.example.ru", CLIENT_LINK_TTL_S="86400")  # fmt: skip
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


async def _order(client: TestClient[Any, Any], number: str, *, paid: str | None = None) -> int:
    body = {"channel": "site", "external_id": number, "lines": [{"sku": "КР-7/2", "qty": 1}], "customer": CUSTOMER,
            "total": "1994400.00", "currency": "RUB"}  # fmt: skip
    order_id = int((await json_of(await client.post("/api/orders", json=body, headers=AUTH), 201))["order_id"])
    await json_of(await client.post(f"/api/orders/{order_id}/money/plan", json=PLAN, headers=AUTH), 200)
    if paid is not None:
        event = {"event_id": f"ev-{number}", "payment_id": f"pay-{number}", "order_id": order_id,
                 "idempotency_key": f"idem-{number}", "phase": "cleared", "amount": paid, "currency": "RUB"}  # fmt: skip
        await json_of(await client.post("/api/payments/events", json=event, headers=AUTH), 202)
    return order_id


async def _link(client: TestClient[Any, Any], order_id: int) -> dict[str, Any]:
    body: dict[str, Any] = await json_of(await client.get(f"/api/orders/{order_id}/client-link", headers=AUTH), 200)
    return body


def _api(path: str) -> str:
    return path.replace("/client/orders/", "/api/client/orders/", 1)


async def test_the_managers_link_opens_the_orders_json_without_a_token(client: TestClient[Any, Any]) -> None:
    order_id = await _order(client, "CN-77", paid="600000.00")
    link = await _link(client, order_id)
    assert link["url"] == "https://shop.example.ru" + link["path"]
    assert link["expires_at"] == "2026-11-22T12:00:00+00:00"  # CLIENT_LINK_TTL_S from the service's clock

    response = await client.get(_api(link["path"]))  # no Authorization header
    body = await json_of(response, 200)
    assert response.headers["Cache-Control"] == "no-store, private"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert (body["order_id"], body["number"], body["stage"]) == (order_id, "CN-77", "partly_paid")
    assert body["stage_text"] == "Оплачен частично"
    assert [(p["amount"], p["state"], p["state_text"]) for p in body["payments"]] == [
        ("600000.00", "cleared", "оплачен")
    ]
    earmarks = {e["purpose"]: e for e in body["money"]["earmarks"]}
    assert (earmarks["goods"]["title"], earmarks["goods"]["reserved"], earmarks["goods"]["spent"]) == (
        "Товар", "600000.00", "0.00",
    )  # fmt: skip
    assert earmarks["logistics"]["reserved"] == "0.00" and earmarks["logistics"]["planned"] == "1150000.00"
    assert body["money"]["received"] == "600000.00" and body["money"]["left_to_pay"] == "1394400.00"
    said = json.dumps(body, ensure_ascii=False)
    for internal in ("Ирина", "79990000077", "irina@", "pay-CN-77", "idem-CN-77", "site", "manager"):
        assert internal not in said, internal  # nothing of the office: no contacts, payment ids, channel keys


async def test_a_link_opens_only_its_own_order(client: TestClient[Any, Any]) -> None:
    mine = await _order(client, "CN-1")
    other = await _order(client, "CN-2")
    link = await _link(client, mine)
    query = urlsplit(link["path"]).query
    response = await client.get(f"/api/client/orders/{other}?{query}")  # the other order's signature
    body = await json_of(response, 403)
    assert body["error"] == "link_signature_invalid"
    assert "CN-" not in await response.text()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda q: {**q, "sig": "0" * 64}, "link_signature_invalid"),  # forged
        (lambda q: {**q, "sig": q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")}, "link_signature_invalid"),
        (lambda q: {**q, "exp": str(int(q["exp"]) + 86_400)}, "link_signature_invalid"),  # a longer life, made up
        (lambda q: {**q, "sig": "я" * 64}, "link_signature_invalid"),  # not even hex
        (lambda q: {**q, "exp": "１２３"}, "link_signature_invalid"),  # digits, but not ASCII ones
        (lambda q: {"exp": q["exp"]}, "link_signature_missing"),
        (lambda q: {"sig": q["sig"]}, "link_signature_missing"),
        (lambda q: {}, "link_signature_missing"),
    ],
)
async def test_a_forged_altered_or_missing_signature_is_a_403_that_tells_nothing(
    client: TestClient[Any, Any], change: Any, error: str
) -> None:
    order_id = await _order(client, "CN-9", paid="1000.00")
    link = await _link(client, order_id)
    query = {k: v[0] for k, v in parse_qs(urlsplit(link["path"]).query).items()}
    asked = change(query)
    for path in (f"/api/client/orders/{order_id}", f"/client/orders/{order_id}"):
        response = await client.get(path, params=asked)
        assert response.status == 403, await response.text()
        text = await response.text()
        assert "CN-9" not in text and "1000" not in text and "1 000" not in text
    body = await json_of(await client.get(f"/api/client/orders/{order_id}", params=asked), 403)
    assert set(body) == {"error", "message", "details"} and body["error"] == error


async def test_an_expired_link_is_a_403_saying_so(client: TestClient[Any, Any], services: Services) -> None:
    order_id = await _order(client, "CN-10")
    link = await _link(client, order_id)
    assert (await client.get(_api(link["path"]))).status == 200
    clock = services.shop.clock
    assert isinstance(clock, FakeClock)
    clock.advance(hours=24)  # the link's life is CLIENT_LINK_TTL_S (a day here): at its end it stops
    body = await json_of(await client.get(_api(link["path"])), 403)
    assert body["error"] == "link_expired"
    page = await client.get(link["path"])
    assert page.status == 403 and "Срок действия ссылки истёк" in await page.text()
    assert "CN-10" not in await page.text()


async def test_an_order_id_that_is_no_number_is_refused_like_a_forged_link(client: TestClient[Any, Any]) -> None:
    for path in ("/api/client/orders/abc?exp=1&sig=00", "/api/client/orders/99999999999999999999?exp=1&sig=00"):
        assert (await json_of(await client.get(path), 403))["error"] == "link_signature_invalid"


async def test_the_managers_link_route_needs_the_token(client: TestClient[Any, Any]) -> None:
    order_id = await _order(client, "CN-11")
    assert (await client.get(f"/api/orders/{order_id}/client-link")).status == 401
    assert (await client.get("/api/orders/9999/client-link", headers=AUTH)).status == 404


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_the_page_reads_in_both_languages_with_no_code_on_it(
    client: TestClient[Any, Any], topology: Topology, lang: str
) -> None:
    order_id = await _order(client, "CN-12", paid="600000.00")
    link = await _link(client, order_id)
    response = await client.get(link["path"] + f"&lang={lang}")
    assert response.status == 200
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = await response.text()
    assert f'<html lang="{lang}">' in page
    shown = _text(page)
    assert raw_codes(shown, topology_codes(topology)) == [], shown
    if lang == "en":
        assert CYRILLIC.findall(shown) == ["Русский"], shown  # the switch to Russian is in Russian
        assert "Your order CN-12" in shown and "Partly paid" in shown and "Delivery from China" in shown
    else:
        assert "Ваш заказ CN-12" in shown and "Оплачен частично" in shown and "600\xa0000,00\xa0₽" in shown
    assert "Ирина" not in page and "79990000077" not in page


def _text(page: str) -> str:
    """What a person reads on the page: its text between the tags and its title."""
    body = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", body))  # the no-break spaces kept


async def test_the_page_is_off_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.delenv("CLIENT_LINK_SECRET", raising=False)
    services = await _services(tmp_path, monkeypatch, topology)
    try:
        async with served(services) as client:
            order_id = await _order(client, "CN-13")
            body = await json_of(await client.get(f"/api/orders/{order_id}/client-link", headers=AUTH), 409)
            assert body["error"] == "client_page_off" and "CLIENT_LINK_SECRET" in body["message"]
            assert (await client.get(f"/api/client/orders/{order_id}?exp=1&sig=00")).status == 401  # not mounted
    finally:
        await services.close()


def test_a_short_secret_stops_the_start_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_LINK_SECRET", "short-secret-123")
    with pytest.raises(ConfigurationError) as raised:
        load_settings(env_file=None)
    message = str(raised.value)
    assert "CLIENT_LINK_SECRET" in message and "at least 32" in message
    assert "short-secret-123" not in message


def test_the_access_log_leaves_the_links_signature_out(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("storeops.access")
    access = SignatureHidingAccessLogger(logger, SignatureHidingAccessLogger.LOG_FORMAT)
    request = make_mocked_request("GET", f"/client/orders/7?exp=1766318400&sig={'ab' * 32}&lang=en")
    with caplog.at_level(logging.INFO, logger="storeops.access"):
        access.log(request, web.Response(status=200), 0.01)
        access.log(make_mocked_request("GET", "/api/orders/7"), web.Response(status=200), 0.01)
    signed, plain = caplog.messages
    assert "GET /client/orders/7?exp=1766318400&sig=***&lang=en HTTP/1.1" in signed and "abab" not in signed
    assert "GET /api/orders/7 HTTP/1.1" in plain
