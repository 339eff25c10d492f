"""Slow and surplus clients against the real server (``RunningService``, raw sockets on 127.0.0.1): a request head
sent a byte at a time, or not at all, is cut off after HTTP_HEADER_TIMEOUT_S; a body that never completes gets 408
after HTTP_BODY_TIMEOUT_S and changes nothing; past HTTP_MAX_CONNECTIONS a connection is refused with 503 before
anything of it is read; well-behaved clients, keep-alive ones too, are served throughout.

The timeouts here are real socket timeouts of a fraction of a second (the settings are made that small)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.bootstrap import Services, build
from app.http.connections import ThrottledLog
from app.service import RunningService
from app.settings import ConfigurationError, load_settings
from storage.schema import metadata
from tests.conftest import ROOT, table_count
from tests.fakes import FakeClock
from workflows.topology import Topology

TOKEN = "slow-clients-token-0123"
HEAD_TIMEOUT = 0.3
PATIENCE = 3.0  # the most a test waits for something that should happen within a timeout above
ORDER = {
    "channel": "site", "external_id": "S-1", "lines": [{"sku": "КР-7/2", "qty": 1}],
    "customer": {"name": "Ирина", "phone": "+79990000000", "email": "i@example.ru"},
    "total": "2590.00", "currency": "RUB",
}  # fmt: skip
ORDER_BODY = json.dumps(ORDER).encode()

Serve = Callable[..., AbstractAsyncContextManager[tuple[RunningService, Services]]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, topology: Topology) -> Serve:
    """``async with serve(HTTP_...=...) as (running, services)``: the service on a free port with these settings."""

    @asynccontextmanager
    async def serving(database_url: str | None = None, **env: str) -> AsyncIterator[tuple[RunningService, Services]]:
        for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN", "ONEC_EXCHANGE_USER"):
            monkeypatch.delenv(key, raising=False)
        settings = {"DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}",
                    "API_TOKEN": TOKEN, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0",
                    "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"), **env}  # fmt: skip
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        services = await build(load_settings(env_file=None), topology, clock=FakeClock())
        async with services.database.engine.begin() as connection:  # a PostgreSQL database is shared by the session
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())
        try:
            async with RunningService(services) as running:
                yield running, services
        finally:
            await services.close()

    return serving


async def connect(running: RunningService) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(running.url)
    assert address.hostname is not None and address.port is not None
    return await asyncio.open_connection(address.hostname, address.port)


def request_bytes(method: str, path: str, body: bytes = b"", /, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: storeops.test", *(f"{k.replace('_', '-')}: {v}" for k, v in
             headers.items())]  # fmt: skip
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers (lower-case names), body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PATIENCE)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), PATIENCE)
    return int(status_line.split()[1]), headers, body


async def closed_by_server(reader: asyncio.StreamReader, within: float = PATIENCE) -> bool:
    """Whether the server closes the connection (reading and dropping whatever comes) within ``within`` s."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:  # closed with our bytes unread: a reset
        return True
    return True


async def healthz(running: RunningService) -> int:
    reader, writer = await connect(running)
    try:
        writer.write(request_bytes("GET", "/healthz", Connection="close"))
        status, _, _ = await read_response(reader)
        return status
    finally:
        writer.close()


async def trickle(writer: asyncio.StreamWriter, data: bytes, pause: float = 0.05) -> None:
    """Send ``data`` a byte at a time, until it is all sent or the server closed the connection."""
    with suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(pause)


async def test_a_request_head_sent_a_byte_at_a_time_or_never_is_cut_off(serve: Serve) -> None:
    endless_head = b"GET /healthz HTTP/1.1\r\nHost: storeops.test\r\nX-Padding: " + b"a" * 10_000
    async with serve(HTTP_HEADER_TIMEOUT_S=str(HEAD_TIMEOUT)) as (running, _):
        loop = asyncio.get_running_loop()
        slow_reader, slow_writer = await connect(running)
        silent_reader, silent_writer = await connect(running)
        started = loop.time()
        sending = asyncio.create_task(trickle(slow_writer, endless_head))
        assert await healthz(running) == 200  # served while the slow ones are held
        try:
            assert await closed_by_server(slow_reader)
            assert await closed_by_server(silent_reader)
            assert loop.time() - started >= HEAD_TIMEOUT * 0.9
            assert loop.time() - started < PATIENCE
        finally:
            sending.cancel()
            slow_writer.close()
            silent_writer.close()
        assert await healthz(running) == 200


async def test_keep_alive_requests_are_served_and_an_idle_connection_is_closed_after_the_head_timeout(
    serve: Serve,
) -> None:
    async with serve(HTTP_HEADER_TIMEOUT_S=str(HEAD_TIMEOUT)) as (running, _):
        reader, writer = await connect(running)
        try:
            for _ in range(3):  # one after another, each well within the timeout
                writer.write(request_bytes("GET", "/healthz"))
                status, headers, body = await read_response(reader)
                assert (status, json.loads(body)["status"]) == (200, "ok")
                assert headers.get("connection", "keep-alive").lower() != "close"
                await asyncio.sleep(HEAD_TIMEOUT / 3)
            writer.write(request_bytes("GET", "/healthz") * 2)  # pipelined
            assert [(await read_response(reader))[0] for _ in range(2)] == [200, 200]
            assert await closed_by_server(reader)  # then idle: its next head is due within the timeout
        finally:
            writer.close()


async def test_a_body_that_never_completes_gets_408_and_changes_nothing(serve: Serve, backend: str) -> None:
    async with serve(backend, HTTP_BODY_TIMEOUT_S="0.3") as (running, services):
        reader, writer = await connect(running)
        try:
            whole = request_bytes("POST", "/api/orders", ORDER_BODY, Authorization=f"Bearer {TOKEN}",
                                  Content_Type="application/json")  # fmt: skip
            writer.write(whole[: -len(ORDER_BODY) // 2])  # the head and half the body, then nothing
            status, headers, body = await read_response(reader)
            assert status == 408 and headers["connection"].lower() == "close"
            answer = json.loads(body)
            assert answer["error"] == "request_timeout" and "HTTP_BODY_TIMEOUT_S" in answer["message"]
            assert await closed_by_server(reader)
        finally:
            writer.close()
        assert await table_count(services.database, "orders") == 0

        reader, writer = await connect(running)  # the same order sent whole is taken
        try:
            writer.write(whole)
            assert (await read_response(reader))[0] == 201
        finally:
            writer.close()
        assert await table_count(services.database, "orders") == 1


async def test_a_1c_upload_that_never_completes_gets_408(serve: Serve) -> None:
    """The exchange streams uploads of up to ONEC_EXCHANGE_FILE_LIMIT_BYTES itself: the deadline holds there too."""
    login = {"Authorization": "Basic " + base64.b64encode(b"1c:exchange-secret-0123").decode()}
    exchange = {"ONEC_EXCHANGE_USER": "1c", "ONEC_EXCHANGE_PASSWORD": "exchange-secret-0123"}
    async with serve(HTTP_BODY_TIMEOUT_S="0.3", **exchange) as (running, _):
        reader, writer = await connect(running)
        try:
            writer.write(request_bytes("GET", "/1c_exchange.php?type=catalog&mode=checkauth", **login))
            _, _, answer = await read_response(reader)
            success, name, value = answer.decode("cp1251").splitlines()
            assert success == "success"
            cookie = f"{name}={value}"
            writer.write(request_bytes("GET", "/1c_exchange.php?type=catalog&mode=init", Cookie=cookie))
            assert (await read_response(reader))[0] == 200
            upload = request_bytes("POST", "/1c_exchange.php?type=catalog&mode=file&filename=offers0_1.xml",
                                   b"<" * 2_000_000, Cookie=cookie)  # fmt: skip
            writer.write(upload[:200_000])
            status, _, body = await read_response(reader)
            assert status == 408 and json.loads(body)["error"] == "request_timeout"
        finally:
            writer.close()


async def test_connections_over_the_cap_are_refused_until_the_holders_leave(
    serve: Serve, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.http.connections")
    async with serve(backend, HTTP_MAX_CONNECTIONS="5", HTTP_HEADER_TIMEOUT_S="30") as (running, services):
        holders = [await connect(running) for _ in range(5)]
        for reader, writer in holders:  # each served once and kept open: all five are certainly counted
            writer.write(request_bytes("GET", "/healthz"))
            assert (await read_response(reader))[0] == 200

        for _ in range(10):
            reader, writer = await connect(running)
            status, headers, body = await read_response(reader)
            writer.close()
            assert (status, headers["connection"].lower(), json.loads(body)["error"]) == (
                503, "close", "too_many_connections"
            )  # fmt: skip
            assert int(headers["retry-after"]) > 0
        reader, writer = await connect(running)  # one that sends a whole order at once: it is never read
        writer.write(request_bytes("POST", "/api/orders", ORDER_BODY, Authorization=f"Bearer {TOKEN}"))
        assert await closed_by_server(reader)
        writer.close()
        refusals = [r.getMessage() for r in caplog.records if "HTTP_MAX_CONNECTIONS" in r.getMessage()]
        assert refusals == ["http: refused 1 connection(s), 5 being served already (HTTP_MAX_CONNECTIONS)"]

        for _, writer in holders:
            writer.close()
        assert await _served_again(running)
        assert await table_count(services.database, "orders") == 0


async def _served_again(running: RunningService) -> bool:
    """Whether a request is answered 200 soon (the server notices the holders' leaving a moment after they do)."""
    async with asyncio.timeout(PATIENCE):
        while True:
            with suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
                if await healthz(running) == 200:
                    return True
            await asyncio.sleep(0.05)


def test_a_flood_of_one_event_logs_one_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(logging.WARNING, "refused %d", every_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="app.http.connections"):
        for _ in range(1000):
            throttled.note()
        now[0] = 59.9
        throttled.note()
        now[0] = 60.0
        throttled.note()
    assert [r.getMessage() for r in caplog.records] == ["refused 1", "refused 1001"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("HTTP_HEADER_TIMEOUT_S", "0"), ("HTTP_BODY_TIMEOUT_S", "-1"), ("HTTP_MAX_CONNECTIONS", "0"),
     ("HTTP_MAX_CONNECTIONS", "many")],
)  # fmt: skip
def test_the_limits_refuse_values_that_would_switch_them_off(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError, match=key):
        load_settings(env_file=None)
