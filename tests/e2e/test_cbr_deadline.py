"""The CBR client's overall deadline, on the real ``httpx.AsyncClient`` against a server on 127.0.0.1 that sends
its headers at once and then the body one byte at a time, each byte well within the client's per-read timeout:
only a deadline on the whole fetch ends it. And ``CBR_TIMEOUT_S`` reaches the client, within its bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import suppress

import httpx
import pytest

from app.settings import ConfigurationError, load_settings
from emulators.cbr import CbrEmulator
from integrations.cbr import CbrFeed, CbrRates, RatesUnavailable
from workflows.fx import FeedDown

BYTE_EVERY_S = 0.2
PER_READ_TIMEOUT_S = 1.0  # longer than the gap between bytes: never fires on its own
DEADLINE_S = 0.5
PATIENCE_S = 3.0  # the test's own limit: without the deadline the fetch would go on for many seconds


class TricklingServer:
    """Answers ``200 OK`` with a sheet-sized ``Content-Length`` and then sends one byte every ``BYTE_EVERY_S``."""

    def __init__(self) -> None:
        self.bytes_sent = 0
        self._body = b'<?xml version="1.0" encoding="windows-1251"?>' + b" " * 10_000

    async def __aenter__(self) -> TricklingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/scripts/XML_daily.asp"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        with suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {len(self._body)}\r\n\r\n"
            writer.write(head.encode())
            await writer.drain()
            for byte in self._body:
                await asyncio.sleep(BYTE_EVERY_S)
                writer.write(bytes([byte]))
                await writer.drain()
                self.bytes_sent += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def trickle() -> AsyncIterator[TricklingServer]:
    async with TricklingServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=PER_READ_TIMEOUT_S) as http:
        yield http


async def test_a_trickling_feed_ends_at_the_deadline_as_unavailable(
    trickle: TricklingServer, client: httpx.AsyncClient
) -> None:
    rates = CbrRates(client, trickle.url, deadline_s=DEADLINE_S)
    started = time.monotonic()
    async with asyncio.timeout(PATIENCE_S):
        with pytest.raises(RatesUnavailable) as error:
            await rates.fetch()
    took = time.monotonic() - started
    assert DEADLINE_S * 0.8 <= took < DEADLINE_S + 0.5
    assert error.value.reason == "the Central Bank did not send the rate sheet within 0.5 s"
    assert trickle.bytes_sent >= 1  # it was answering, byte by byte, all along


async def test_the_fx_watch_sees_a_trickling_feed_as_down(trickle: TricklingServer, client: httpx.AsyncClient) -> None:
    feed = CbrFeed(CbrRates(client, trickle.url, deadline_s=DEADLINE_S))
    async with asyncio.timeout(PATIENCE_S):
        with pytest.raises(FeedDown, match=r"within 0\.5 s"):
            await feed.latest()


async def test_a_prompt_sheet_is_read_whole_within_the_deadline(client: httpx.AsyncClient) -> None:
    """The deadline bounds a slow answer, not a normal one."""
    async with CbrEmulator() as cbr:
        sheet = await CbrRates(client, cbr.daily_url, deadline_s=DEADLINE_S).fetch()
    assert sheet.rate("USD") > 0


def test_cbr_timeout_is_read_from_the_environment_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CBR_TIMEOUT_S", raising=False)
    assert load_settings(env_file=None).channels.cbr_timeout_s == 10
    monkeypatch.setenv("CBR_TIMEOUT_S", "2.5")
    assert load_settings(env_file=None).channels.cbr_timeout_s == 2.5
    for bad in ("0", "-1", "121", "soon"):
        monkeypatch.setenv("CBR_TIMEOUT_S", bad)
        with pytest.raises(ConfigurationError, match="CBR_TIMEOUT_S"):
            load_settings(env_file=None)
