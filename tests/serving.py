"""A built service served for a test: its HTTP app on a loopback port, and its Telegram bot polling the
emulator, stopped the way ``storeops run`` stops it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from app.bootstrap import Services
from app.http.server import create_app
from bot.telegram.app import start_polling, stop_polling


@asynccontextmanager
async def served(services: Services, *, telegram: bool = False) -> AsyncIterator[TestClient[Any, Any]]:
    polling = None
    if telegram:
        assert services.chats.telegram_dispatcher is not None and services.chats.telegram_bot is not None
        polling = asyncio.create_task(start_polling(services.chats.telegram_dispatcher, services.chats.telegram_bot))
    try:
        async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
            yield http
    finally:
        if polling is not None:
            assert services.chats.telegram_dispatcher is not None
            await stop_polling(services.chats.telegram_dispatcher, polling)


async def json_of(response: ClientResponse, status: int) -> Any:
    """The body, once the status is the one expected (the body is in the failure's message)."""
    body = await response.json()
    assert response.status == status, body
    return body
