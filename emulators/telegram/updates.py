"""Updates waiting for the bot, and the two ways a bot takes them: ``getUpdates`` (long polling) or a webhook.

Semantics follow the Bot API:

* update ids increase by one; ``getUpdates(offset=N)`` confirms (drops) every update with ``update_id < N``, and
  unconfirmed updates are delivered again; a negative offset keeps only the last ``-N``;
* with nothing to deliver, ``getUpdates`` holds the request up to ``timeout`` seconds, capped by ``poll_cap`` so
  tests stay fast; a second ``getUpdates`` while one is held ends the first with 409 ("terminated by other
  getUpdates request"), and so does any ``getUpdates`` while a webhook is set;
* ``allowed_updates`` (from ``getUpdates`` or ``setWebhook``) applies to updates created after it, as in Telegram:
  an update of another type is not queued (it is kept in :attr:`UpdateQueue.dropped`, for tests to see).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from emulators.telegram.params import BotApiError

Update = dict[str, Any]

DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
"""What Telegram sends without ``allowed_updates``: everything but chat_member and the two reaction types."""

_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_OTHER_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


@dataclass
class WebhookConfig:
    """What ``setWebhook`` set, and the last delivery failure as ``getWebhookInfo`` reports it."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Pending updates in order, long polling over them, and the webhook setting."""

    def __init__(self, poll_cap: float = 0.5) -> None:
        self.poll_cap = poll_cap
        self.pending: list[Update] = []
        self.dropped: list[Update] = []
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: WebhookConfig | None = None
        self._last_id = 0
        self._changed = asyncio.Event()
        self.holding = 0  # getUpdates requests being held right now
        self._poll_generation = 0
        self._closing = False

    def _notify(self) -> None:
        """Wake everything waiting on the queue (held polls, webhook delivery)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def changed(self) -> Coroutine[Any, Any, bool]:
        """Completes at the next change to the queue or the webhook setting *after this call* (the event is
        picked now, not when the coroutine first runs, so a change in between is not missed)."""
        return self._changed.wait()

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        """A new update ``{"update_id": ..., kind: payload}``; its id."""
        self._last_id += 1
        update = {"update_id": self._last_id, kind: payload}
        (self.pending if kind in self.allowed else self.dropped).append(update)
        self._notify()
        return self._last_id

    def allow(self, update_types: list[str] | None) -> None:
        """Set ``allowed_updates``: ``None`` keeps the previous setting, ``[]`` restores the default."""
        if update_types is not None:
            self.allowed = frozenset(update_types) if update_types else DEFAULT_UPDATE_TYPES

    def confirm(self, offset: int | None) -> None:
        """Forget what ``offset`` confirms."""
        if offset is None:
            return
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [update for update in self.pending if update["update_id"] >= offset]

    def drop_pending(self) -> None:
        self.pending.clear()

    def set_webhook(self, config: WebhookConfig | None) -> None:
        self.webhook = config
        self._notify()

    def close(self) -> None:
        """Release held polls at once and stop holding new ones (the emulator is stopping)."""
        self._closing = True
        self._notify()

    def reopen(self) -> None:
        """Hold polls again (the emulator started again)."""
        self._closing = False

    async def poll(self, *, offset: int | None, limit: int, hold: float) -> list[Update]:
        """``getUpdates``: confirm ``offset``, return up to ``limit`` updates, holding up to ``hold`` s for one."""
        if self.webhook is not None:
            raise BotApiError(409, _WEBHOOK_ACTIVE)
        self.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older held poll now ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(hold, self.poll_cap))
        while not self.pending and not self._closing and loop.time() < deadline:
            self.holding += 1
            try:
                async with asyncio.timeout_at(deadline):
                    await self.changed()
            except TimeoutError:
                break
            finally:
                self.holding -= 1
            if self._poll_generation != generation:
                raise BotApiError(409, _OTHER_POLL)
            if self.webhook is not None:
                raise BotApiError(409, _WEBHOOK_ACTIVE)
        return self.pending[:limit]

    def webhook_info(self) -> dict[str, Any]:
        """``getWebhookInfo``."""
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self.pending)}
        webhook = self.webhook
        if webhook is not None:
            info.update(url=webhook.url, ip_address="127.0.0.1", max_connections=webhook.max_connections)
            if self.allowed != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self.allowed)
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info
