"""The API's description: every mounted route is in it, it holds no secret, and what the API answers in its main
flows matches the schema it documents for that route and status (JSON Schema 2020-12)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.bootstrap import Services, build
from app.http.openapi import mounted
from app.settings import load_settings
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.test_http_api import NOW, TOKEN
from tests.serving import served
from workflows.topology import Topology

AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXCHANGE_PASSWORD = "exchange-password-9f2e-0001"


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology) -> AsyncIterator[Services]:
    for key, value in {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", "API_TOKEN": TOKEN,
                       "HTTP_MAX_BODY_BYTES": "65536", "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"),
                       "ONEC_EXCHANGE_USER": "onec", "ONEC_EXCHANGE_PASSWORD": EXCHANGE_PASSWORD}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient[Any, Any]]:
    async with served(services) as test_client:
        yield test_client


async def _document(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")  # no token: the description is public
    assert response.status == 200, await response.text()
    document: dict[str, Any] = await response.json()
    return document


class Conformance:
    """Checks an answer against the schema the document gives for its route, method and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource("urn:api", DRAFT202012.create_resource(document))
        self.checked: set[tuple[str, str, int]] = set()

    async def check(self, response: ClientResponse, method: str, path: str) -> Any:
        body = await response.json()
        answers = self.document["paths"][path][method.lower()]["responses"]
        answer = answers.get(str(response.status))
        assert answer is not None, f"{method} {path} answered {response.status}, not documented: {body}"
        schema = {"$ref": "urn:api#" + _pointer(answer["content"]["application/json"]["schema"])}
        validator = Draft202012Validator(schema, registry=self.registry)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{method} {path} {response.status}: {problems}; body {body}"
        self.checked.add((method, path, response.status))
        return body


def _pointer(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    assert isinstance(ref, str) and ref.startswith("#/"), schema
    return ref[1:]


async def test_every_mounted_route_is_described(client: TestClient[Any, Any]) -> None:
    assert client.app is not None
    document = await _document(client)
    routes = mounted(client.app)
    assert ("GET", "/1c_exchange.php") in routes  # the optional exchange is mounted here, and so described
    missing = [f"{m} {p}" for m, p in routes if m.lower() not in document["paths"].get(p, {})]
    assert not missing, (
        f"routes missing from /api/openapi.json (add them to OPERATIONS in app/http/openapi.py): {missing}"
    )


async def test_the_description_is_valid_and_holds_no_secret(client: TestClient[Any, Any]) -> None:
    raw = await (await client.get("/api/openapi.json")).text()
    assert TOKEN not in raw and EXCHANGE_PASSWORD not in raw
    document = json.loads(raw)
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises, naming the fault, for a schema that is not one
    payments = document["paths"]["/api/payments/events"]["post"]
    assert {p["name"] for p in payments["parameters"]} == {"X-Signature", "X-Signature-Timestamp"}
    assert payments["security"] == [{"bearer": []}, {"paymentSignature": []}]


async def test_the_docs_page_is_self_contained(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/docs")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    assert "/api/orders/{order_id}/cancel" in page and "OrderDetailView" in page
    assert "src=" not in page and "http://" not in page and "https://" not in page  # nothing from elsewhere
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_the_main_flows_answer_as_described(client: TestClient[Any, Any]) -> None:
    api = Conformance(await _document(client))
    stock = {"as_of": "2026-11-21T12:00:00+03:00", "items": [{"sku": "КР-7/2", "warehouse": "online", "qty": 5}]}
    await api.check(await client.post("/api/1c/stock", json=stock, headers=AUTH), "POST", "/api/1c/stock")
    order = {"channel": "site", "external_id": "S-1", "lines": [{"sku": "КР-7/2", "qty": 2}], "total": "10.00"}
    placed = await api.check(await client.post("/api/orders", json=order, headers=AUTH), "POST", "/api/orders")
    again = {**order, "lines": [{"sku": "КР-7/2", "qty": 1}]}
    await api.check(await client.post("/api/orders", json=again, headers=AUTH), "POST", "/api/orders")  # 409
    one = "/api/orders/{order_id}"
    await api.check(await client.get(f"/api/orders/{placed['order_id']}", headers=AUTH), "GET", one)
    await api.check(await client.get("/api/orders/999999", headers=AUTH), "GET", one)  # 404
    await api.check(await client.get("/api/stock/%D0%9A%D0%A0-7%2F2", headers=AUTH), "GET", "/api/stock/{sku}")
    cancel = "/api/orders/{order_id}/cancel"
    await api.check(await client.post(f"/api/orders/{placed['order_id']}/cancel", json={"reason": "дубль"},
                                      headers=AUTH), "POST", cancel)  # fmt: skip
    dashboard = await api.check(await client.get("/api/dashboard", headers=AUTH), "GET", "/api/dashboard")
    assert [(step["external_id"], step["kind"]) for step in dashboard["order_events"]] == [("S-1", "cancelled")]
    await api.check(await client.get("/api/orders/1"), "GET", one)  # 401: no token
    await api.check(await client.post("/api/orders", json={"channel": "site"}, headers=AUTH), "POST", "/api/orders")
    big = {**order, "external_id": "x" * 70_000}
    await api.check(await client.post("/api/orders", json=big, headers=AUTH), "POST", "/api/orders")  # 413
    await api.check(await client.get("/healthz"), "GET", "/healthz")
    statuses = {status for _, _, status in api.checked}
    assert statuses >= {200, 201, 401, 404, 409, 413, 422}, sorted(api.checked)
