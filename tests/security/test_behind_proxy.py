"""Behind a reverse proxy the operator names, each client is counted by the address the proxy saw; a client that
writes X-Forwarded-For itself, or a proxy nobody named, changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from app.client_address import client_behind, proxy_networks
from app.settings import ConfigurationError, load_settings
from tests.security.auth_service import AUTH, auth_service
from tests.serving import json_of, served
from workflows.topology import Topology

WRONG = {"Authorization": "Bearer wrong-token-guess-000000"}
GUESSER, OFFICE = "203.0.113.5", "198.51.100.7"


def test_the_client_is_the_last_address_no_trusted_proxy_wrote() -> None:
    trusted = proxy_networks("127.0.0.1, 10.0.0.0/8")
    assert client_behind("127.0.0.1", GUESSER, trusted) == GUESSER
    assert client_behind("127.0.0.1", f"{OFFICE}, {GUESSER}", trusted) == GUESSER  # what the client wrote is left
    assert client_behind("127.0.0.1", f"{GUESSER}, 10.1.2.3", trusted) == GUESSER  # a second proxy of ours is passed
    assert client_behind("127.0.0.1", "10.1.2.3", trusted) == "127.0.0.1"  # only proxies: the peer stands
    assert client_behind("192.0.2.1", GUESSER, trusted) == "192.0.2.1"  # a peer nobody trusts writes nothing
    assert client_behind("127.0.0.1", "not-an-address", trusted) == "127.0.0.1"
    assert client_behind("127.0.0.1", "2001:db8::1", trusted) == "2001:db8::1"
    assert client_behind("127.0.0.1", GUESSER, []) == "127.0.0.1"


def test_a_proxy_that_is_no_address_stops_the_start_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_TRUSTED_PROXIES", "10.0.0.1, nginx")
    with pytest.raises(ConfigurationError, match=r"HTTP_TRUSTED_PROXIES: .*'nginx' is no IP address or network"):
        load_settings(env_file=None)


@pytest.fixture
async def behind_proxy(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> AsyncIterator[TestClient[Any, Any]]:
    trusted = request.param
    env = {"HTTP_TRUSTED_PROXIES": trusted} if trusted else {}
    async with (
        auth_service("sqlite", request, tmp_path, monkeypatch, topology, **env) as services,
        served(services) as client,
    ):
        yield client


@pytest.mark.parametrize("behind_proxy", ["127.0.0.0/8"], indirect=True)
async def test_a_guesser_behind_the_proxy_is_blocked_and_no_one_else(behind_proxy: TestClient[Any, Any]) -> None:
    client = behind_proxy
    for _ in range(10):
        await json_of(await client.get("/api/stock/A", headers={**WRONG, "X-Forwarded-For": GUESSER}), 401)
    blocked = await client.get("/api/stock/A", headers={**AUTH, "X-Forwarded-For": GUESSER})
    assert (await json_of(blocked, 429))["error"] == "too_many_attempts"
    office = await client.get("/api/stock/A", headers={**AUTH, "X-Forwarded-For": OFFICE})
    assert office.status == 200  # through: the block is the guesser's alone


@pytest.mark.parametrize("behind_proxy", [""], indirect=True)
async def test_without_a_trusted_proxy_the_header_is_a_claim_nobody_believes(
    behind_proxy: TestClient[Any, Any],
) -> None:
    client = behind_proxy
    for n in range(10):  # each guess pretends to come from elsewhere: all are counted against the real peer
        await json_of(await client.get("/api/stock/A", headers={**WRONG, "X-Forwarded-For": f"203.0.113.{n}"}), 401)
    blocked = await client.get("/api/stock/A", headers={**AUTH, "X-Forwarded-For": OFFICE})
    assert (await json_of(blocked, 429))["error"] == "too_many_attempts"
