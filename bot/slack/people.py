"""Who answered in Slack, by the name Slack shows: a store person's answer records their name beside their id.

The name comes from ``users.info`` (scope ``users:read``) through the bolt client the click came with, once per
person while the service runs. The lookup is on the click's way to Slack's 200, so it is bounded
(``SLACK_NAME_TIMEOUT_S``): when Slack refuses it, fails or is slow, the answer is taken with the id alone, and the
next click of that person asks again. The answer itself never waits on a name beyond that bound, and is never lost
for one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class SlackNames:
    """Slack users' names as Slack shows them, by user id, asked once each and kept for the process's life."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._known: dict[str, str] = {}

    async def name(self, client: AsyncWebClient, user: str) -> str | None:
        """``user``'s name, or ``None`` when Slack did not tell it within the bound (the caller keeps the id)."""
        known = self._known.get(user)
        if known is not None:
            return known
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await client.users_info(user=user)
            name = shown_name(answer.data.get("user") if isinstance(answer.data, dict) else None)
        except Exception as error:  # whatever went wrong, the answer is taken with the id: it must not be lost
            log.warning("slack users.info for %s failed, the answer keeps the id: %s", user, _why(error))
            return None
        if name is not None:
            self._known[user] = name
        return name


def shown_name(user: Any) -> str | None:
    """The name Slack shows for a ``users.info`` user: the display name the person chose, else their full name,
    else the legacy handle; ``None`` when it holds none of them."""
    if not isinstance(user, dict):
        return None
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def _why(error: BaseException) -> str:
    """Slack's error code, else the HTTP status, else the kind of failure: never the response's body."""
    response = getattr(error, "response", None)
    data, status = getattr(response, "data", None), getattr(response, "status_code", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {status}" if isinstance(status, int) else type(error).__name__
