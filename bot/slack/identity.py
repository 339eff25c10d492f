"""Who the bot is, told to slack-bolt without asking Slack on a click's way in.

Left to itself, bolt checks the bot token with ``auth.test`` on the first request it handles and keeps
the answer. While Slack is in trouble that check fails or hangs, and bolt then drops the click (an
error answered with 200, or a 500 after the timeout); Slack never sends a click again, so a click on a
freshly started instance would be lost. The token is ours and known, so every request is authorized
with it at once. The bot's user and bot ids (bolt uses them to ignore the bot's own events) are
learned with one ``auth.test`` in the background from start-up, tried again on a later request if Slack
failed it.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class KnownBot(AsyncAuthorize):
    """bolt's ``authorize``: the bot token we hold, and the bot's ids once Slack has told them."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._bot_user_id: str | None = None
        self._bot_id: str | None = None
        self._learning: asyncio.Task[None] | None = None

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        self.learn_in_background()
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=self._client.token,
            bot_user_id=self._bot_user_id,
            bot_id=self._bot_id,
            user_id=user_id,
        )

    @property
    def known(self) -> bool:
        """Whether Slack has told the bot's ids yet."""
        return self._bot_user_id is not None

    def learn_in_background(self) -> None:
        """Ask Slack who the bot is without waiting (at start-up, and again on a request while unknown)."""
        if self.known or (self._learning is not None and not self._learning.done()):
            return
        self._learning = asyncio.create_task(self._learn())

    async def _learn(self) -> None:
        try:
            answer = await self._client.auth_test()
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as error:  # the next request tries again
            log.warning("slack auth.test failed, bot ids unknown for now: %s", type(error).__name__)
            return
        self._bot_user_id, self._bot_id = answer.get("user_id"), answer.get("bot_id")

    async def close(self) -> None:
        """Stop a check still waiting on Slack."""
        if self._learning is not None:
            self._learning.cancel()
            await asyncio.gather(self._learning, return_exceptions=True)
