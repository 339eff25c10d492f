"""Delivering one update to a bot's webhook the way Telegram does, and reading a method out of its answer.

Telegram POSTs the update as JSON with ``X-Telegram-Bot-Api-Secret-Token`` when a secret was set; a 2xx answer
confirms it, anything else keeps it pending (``getWebhookInfo`` shows the error). A bot may answer the POST with a
method to call (aiogram does so as ``multipart/form-data`` with a ``method`` part, others as JSON); Telegram
executes it, and so does the emulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from emulators.telegram.params import UploadedFile
from emulators.telegram.updates import Update, UpdateQueue, WebhookConfig

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of an update to the webhook: the HTTP status (``None`` when it never answered) and any error."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    at: float
    reply: dict[str, Any] | None = None  # the method the webhook answered with, as parameters with "method"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookPusher:
    """Delivers pending updates to the webhook in order, as Telegram does, on demand or continuously.

    ``execute(method, params)`` runs a method a webhook answered with; ``clock`` stamps deliveries and
    ``unix_now`` dates the errors ``getWebhookInfo`` reports.
    """

    def __init__(
        self,
        updates: UpdateQueue,
        *,
        execute: Callable[[str, dict[str, Any]], Awaitable[object]],
        clock: Callable[[], float],
        unix_now: Callable[[], int],
        read_timeout: float,
    ) -> None:
        self.updates = updates
        self.deliveries: list[WebhookDelivery] = []
        self.read_timeout = read_timeout
        self._execute = execute
        self._clock = clock
        self._unix_now = unix_now
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def push(self) -> list[WebhookDelivery]:
        """POST pending updates one by one, stopping at the first failure; the deliveries made."""
        async with self._lock:
            webhook, done = self.updates.webhook, []
            while webhook is not None and self.updates.pending and self._session is not None:
                update = self.updates.pending[0]
                delivery = await post_update(
                    self._session, webhook, update, read_timeout=self.read_timeout, at=self._clock()
                )
                done.append(delivery)
                self.deliveries.append(delivery)
                if not delivery.ok:
                    webhook.last_error_date, webhook.last_error_message = self._unix_now(), delivery.error
                    break
                self.updates.confirm(int(update["update_id"]) + 1)
                if delivery.reply is not None:
                    params = dict(delivery.reply)
                    await self._execute(str(params.pop("method")), params)
            return done

    async def run(self, retry_interval: float = 1.0) -> None:
        """Deliver whenever there is something to deliver, until cancelled."""
        while True:
            changed = asyncio.ensure_future(self.updates.changed())  # armed first: no change slips by unseen
            try:
                deliveries = await self.push()
                if deliveries and not deliveries[-1].ok:
                    await asyncio.sleep(retry_interval)  # Telegram retries a failing webhook later, not at once
                    continue
                await changed
            finally:
                changed.cancel()


async def post_update(
    session: aiohttp.ClientSession, webhook: WebhookConfig, update: Update, *, read_timeout: float, at: float
) -> WebhookDelivery:
    """POST ``update`` to ``webhook`` and describe what happened."""
    headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
    update_id = int(update["update_id"])
    try:
        async with session.post(
            webhook.url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=read_timeout)
        ) as response:
            if not 200 <= response.status < 300:
                error = f"Wrong response from the webhook: {response.status} {response.reason or ''}".rstrip()
                return WebhookDelivery(update_id, webhook.url, response.status, error, at)
            reply = await _reply_method(response)
            return WebhookDelivery(update_id, webhook.url, response.status, None, at, reply)
    except TimeoutError:
        return WebhookDelivery(update_id, webhook.url, None, "Read timeout expired", at)
    except aiohttp.ClientError as failure:
        return WebhookDelivery(update_id, webhook.url, None, f"Connection failed: {failure}", at)


async def _reply_method(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """The method in a webhook's answer, as request parameters with ``method``; ``None`` for a plain ack."""
    if response.content_type == "application/json":
        try:
            body = json.loads(await response.text())
        except ValueError:
            return None
        return body if isinstance(body, dict) and isinstance(body.get("method"), str) else None
    if response.content_type != "multipart/form-data":
        return None
    params: dict[str, Any] = {}
    reader = aiohttp.MultipartReader.from_response(response)
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read(decode=True))
        if part.filename:
            content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
            params[part.name] = UploadedFile(part.filename, content_type, data)
        else:
            params[part.name] = data.decode()
    return params if isinstance(params.get("method"), str) else None
