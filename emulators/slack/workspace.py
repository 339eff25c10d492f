"""The state of one emulated Slack workspace and what the chat/conversations methods do to it.

Nothing here speaks HTTP: each method takes the request's parameters (as a dict, the way Slack merges query string
and body) and returns Slack's response body, or raises :class:`SlackApiFailure` with Slack's error code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Params = Mapping[str, Any]
Blocks = list[dict[str, Any]]


class SlackApiFailure(Exception):
    """A method failed the way Slack reports it: HTTP 200 with ``{"ok": false, "error": <error>}``."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot token belongs to, as ``auth.test`` describes it."""

    team_id: str = "T0STOREOPS"
    team: str = "storeops"
    user_id: str = "U0STOREBOT"
    user: str = "storeops"
    bot_id: str = "B0STOREBOT"
    url: str = "https://storeops.slack.com/"


@dataclass(frozen=True)
class SlackUser:
    """A member of the workspace as ``users.info`` describes them. Slack shows ``display_name`` when the person set
    one, else ``real_name``; ``name`` is the legacy handle."""

    real_name: str
    display_name: str = ""
    name: str = ""
    deleted: bool = False

    def to_api(self, user_id: str, team_id: str) -> dict[str, Any]:
        """The ``user`` object of ``users.info``, with the fields Slack always sends (no avatars, no e-mail)."""
        return {
            "id": user_id, "team_id": team_id, "name": self.name or user_id.lower(), "deleted": self.deleted,
            "color": "9f69e7", "real_name": self.real_name, "tz": "Europe/Moscow", "tz_label": "Moscow Time",
            "tz_offset": 10800, "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": False, "is_app_user": False,
            "updated": 1_700_000_000, "is_email_confirmed": True, "who_can_share_contact_card": "EVERYONE",
            "profile": {
                "title": "", "phone": "", "skype": "", "real_name": self.real_name,
                "real_name_normalized": self.real_name, "display_name": self.display_name,
                "display_name_normalized": self.display_name, "fields": None, "status_text": "",
                "status_emoji": "", "status_expiration": 0, "avatar_hash": "g0000000000a", "first_name": "",
                "last_name": "", "team": team_id,
            },
        }  # fmt: skip


@dataclass(frozen=True)
class MessageVersion:
    """What a message said before a ``chat.update`` replaced it."""

    text: str
    blocks: Blocks


@dataclass
class SlackMessage:
    """A message the bot posted to a channel; ``text``/``blocks`` are current, ``history`` holds older versions."""

    channel: str
    ts: str
    text: str
    blocks: Blocks
    user: str
    bot_id: str
    thread_ts: str | None = None
    history: list[MessageVersion] = field(default_factory=list)
    edited_ts: str | None = None
    metadata: dict[str, Any] | None = None  # message metadata: {"event_type": ..., "event_payload": {...}}

    def to_api(self, team_id: str, reply_count: int = 0, *, with_metadata: bool = False) -> dict[str, Any]:
        """The message as Slack's API returns it (``message`` in chat.* answers, items of ``messages``); its
        metadata only ``with_metadata`` (Slack's history gives it only when asked with ``include_all_metadata``)."""
        body: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": self.bot_id,
            "team": team_id,
            "text": self.text,
            "ts": self.ts,
        }
        if self.blocks:
            body["blocks"] = self.blocks
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        elif reply_count:
            body["thread_ts"] = self.ts
            body["reply_count"] = reply_count
        if self.edited_ts is not None:
            body["edited"] = {"user": self.user, "ts": self.edited_ts}
        if with_metadata and self.metadata is not None:
            body["metadata"] = self.metadata
        return body


@dataclass(frozen=True)
class EphemeralMessage:
    """A ``chat.postEphemeral``: visible only to ``user`` in ``channel``; Slack never lets anyone read it back."""

    channel: str
    user: str
    text: str
    blocks: Blocks
    message_ts: str
    thread_ts: str | None = None


class SlackWorkspace:
    """Channels, users and the messages posted in them, with the semantics of Slack's chat methods.

    ``channels`` maps channel ids to names (either may be used as ``channel``); ``users`` maps user ids to the
    people (a bare name is their display and real name), or is ``None`` to accept any user id — ``users.info`` then
    knows nobody. With ``auto_create_channels`` an unknown channel id springs into being
    on first use instead of answering ``channel_not_found``.
    """

    def __init__(
        self,
        *,
        identity: BotIdentity,
        channels: Mapping[str, str],
        users: Mapping[str, str | SlackUser] | None = None,
        auto_create_channels: bool = False,
        first_ts: float = 1_700_000_000.0001,
        wall_clock: Callable[[], float] | None = None,  # unix seconds: message ts follow it (the sandbox's clock)
    ) -> None:
        self.identity = identity
        self.channels: dict[str, str] = dict(channels)
        self.users: dict[str, SlackUser] | None = None
        if users is not None:
            self.users = {user: SlackUser(p, p) if isinstance(p, str) else p for user, p in users.items()}
        self.auto_create_channels = auto_create_channels
        self.messages: dict[str, list[SlackMessage]] = {channel: [] for channel in self.channels}
        self.ephemerals: dict[str, list[EphemeralMessage]] = {channel: [] for channel in self.channels}
        self._last_ts_micros = round(first_ts * 1_000_000) - 100
        self._wall_clock = wall_clock

    # -- the methods -----------------------------------------------------------------------------------------

    def auth_test(self) -> dict[str, Any]:
        """``auth.test`` for the bot token."""
        i = self.identity
        return {
            "ok": True,
            "url": i.url,
            "team": i.team,
            "user": i.user,
            "team_id": i.team_id,
            "user_id": i.user_id,
            "bot_id": i.bot_id,
            "is_enterprise_install": False,
        }

    def post_message(self, params: Params) -> dict[str, Any]:
        """``chat.postMessage``: a new message, or a reply when ``thread_ts`` is given."""
        channel = self.resolve_channel(params.get("channel"))
        text, blocks = _content(params)
        if not text and not blocks:
            raise SlackApiFailure("no_text")
        thread_ts = _optional_str(params.get("thread_ts"))
        metadata = _metadata(params)
        message = SlackMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text or "",
            blocks=blocks or [],
            user=self.identity.user_id,
            bot_id=self.identity.bot_id,
            thread_ts=thread_ts,
            metadata=metadata,
        )
        self.messages[channel].append(message)
        shown = message.to_api(self.identity.team_id, with_metadata=True)  # the post's answer echoes its metadata
        return {"ok": True, "channel": channel, "ts": message.ts, "message": shown}

    def update_message(self, params: Params) -> dict[str, Any]:
        """``chat.update``: replaces the text and/or blocks given; an omitted field keeps its value, as in Slack."""
        channel = self.resolve_channel(params.get("channel"))
        message = self._find(channel, _optional_str(params.get("ts")))
        if message is None:
            raise SlackApiFailure("message_not_found")
        text, blocks = _content(params)
        if not text and not blocks:
            raise SlackApiFailure("no_text")
        metadata = _metadata(params)
        message.history.append(MessageVersion(text=message.text, blocks=message.blocks))
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        if metadata is not None:  # omitted: the message keeps the metadata it has
            message.metadata = metadata
        message.edited_ts = self._next_ts()
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_api(self.identity.team_id),
        }

    def post_ephemeral(self, params: Params) -> dict[str, Any]:
        """``chat.postEphemeral``: recorded for the user; it never appears in the channel's messages."""
        channel = self.resolve_channel(params.get("channel"))
        user = _optional_str(params.get("user"))
        if not user or (self.users is not None and user not in self.users):
            raise SlackApiFailure("user_not_found")
        text, blocks = _content(params)
        if not text and not blocks:
            raise SlackApiFailure("no_text")
        ephemeral = EphemeralMessage(
            channel=channel,
            user=user,
            text=text or "",
            blocks=blocks or [],
            message_ts=self._next_ts(),
            thread_ts=_optional_str(params.get("thread_ts")),
        )
        self.ephemerals[channel].append(ephemeral)
        return {"ok": True, "message_ts": ephemeral.message_ts}

    def user_info(self, params: Params) -> dict[str, Any]:
        """``users.info``: one member of the workspace; ``user_not_found`` for anyone else (or no ``user``)."""
        user = _optional_str(params.get("user"))
        person = (self.users or {}).get(user or "")
        if user is None or person is None:
            raise SlackApiFailure("user_not_found")
        return {"ok": True, "user": person.to_api(user, self.identity.team_id)}

    def replies(self, params: Params) -> dict[str, Any]:
        """``conversations.replies``: the thread containing ``ts``, parent first, then replies in order; each
        message's metadata only with ``include_all_metadata``."""
        channel = self.resolve_channel(params.get("channel"))
        message = self._find(channel, _optional_str(params.get("ts")))
        if message is None:
            raise SlackApiFailure("thread_not_found")
        root = message.thread_ts or message.ts
        thread = [m for m in self.messages[channel] if root in (m.ts, m.thread_ts)]
        reply_count = len(thread) - 1
        return {
            "ok": True,
            "messages": [
                m.to_api(self.identity.team_id, reply_count, with_metadata=_flag(params.get("include_all_metadata")))
                for m in thread
            ],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def history(self, params: Params) -> dict[str, Any]:
        """``conversations.history``: the channel's messages (not thread replies), newest first, between ``oldest``
        and ``latest`` (exclusive unless ``inclusive``), ``limit`` a page (default 100, at most 999) with a
        ``next_cursor`` while ``has_more``; each message's metadata only with ``include_all_metadata``."""
        channel = self.resolve_channel(params.get("channel"))
        oldest, latest = (
            _timestamp(params.get("oldest"), Decimal(0)),
            _timestamp(params.get("latest"), Decimal("Infinity")),
        )
        inclusive, with_metadata = _flag(params.get("inclusive")), _flag(params.get("include_all_metadata"))
        limit = _limit(params.get("limit"))
        cursor, up_to_latest = _optional_str(params.get("cursor")), inclusive
        if cursor:  # Slack's cursors are opaque; ours are "next_ts:<ts of the next message>", base64
            try:
                latest, up_to_latest = Decimal(base64.b64decode(cursor).decode().removeprefix("next_ts:")), True
            except (ValueError, ArithmeticError):
                raise SlackApiFailure("invalid_cursor") from None
        inside = [
            m for m in self.messages[channel]
            if m.thread_ts in (None, m.ts) and (oldest <= Decimal(m.ts) if inclusive else oldest < Decimal(m.ts))
            and (Decimal(m.ts) <= latest if up_to_latest else Decimal(m.ts) < latest)
        ]  # fmt: skip
        inside.sort(key=lambda m: Decimal(m.ts), reverse=True)
        page, rest = inside[:limit], inside[limit:]
        replies = {m.ts: sum(1 for r in self.messages[channel] if r.thread_ts == m.ts and r.ts != m.ts) for m in page}
        body: dict[str, Any] = {
            "ok": True,
            "messages": [m.to_api(self.identity.team_id, replies[m.ts], with_metadata=with_metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if rest:
            body["response_metadata"] = {"next_cursor": base64.b64encode(f"next_ts:{rest[0].ts}".encode()).decode()}
        return body

    # -- lookups ---------------------------------------------------------------------------------------------

    def find_channel(self, reference: object) -> str | None:
        """The id of a known channel given by id, name or ``#name`` (Slack accepts all three)."""
        if not isinstance(reference, str) or not reference:
            return None
        if reference in self.channels:
            return reference
        name = reference.removeprefix("#")
        return next((channel_id for channel_id, known in self.channels.items() if known == name), None)

    def resolve_channel(self, reference: object) -> str:
        """:meth:`find_channel` for a request: may auto-create the channel, else ``channel_not_found``."""
        channel = self.find_channel(reference)
        if channel is not None:
            return channel
        if self.auto_create_channels and isinstance(reference, str) and reference and not reference.startswith("#"):
            self.channels[reference] = reference
            self.messages[reference] = []
            self.ephemerals[reference] = []
            return reference
        raise SlackApiFailure("channel_not_found")

    def _find(self, channel: str, ts: str | None) -> SlackMessage | None:
        return next((m for m in self.messages[channel] if m.ts == ts), None)

    def _next_ts(self) -> str:
        """Slack-shaped timestamps ("1700000000.000100"): unique and increasing within the workspace."""
        self._last_ts_micros += 100
        if self._wall_clock is not None:
            self._last_ts_micros = max(self._last_ts_micros, round(self._wall_clock() * 1_000_000))
        seconds, micros = divmod(self._last_ts_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _metadata(params: Params) -> dict[str, Any] | None:
    """Message metadata as given (an object in a JSON body, a JSON string in a form): ``event_type`` a string and
    ``event_payload`` an object, as Slack requires, else ``invalid_metadata_format``."""
    raw = params.get("metadata")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackApiFailure("invalid_metadata_format") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("event_type"), str) or not raw["event_type"]:
        raise SlackApiFailure("invalid_metadata_format")
    if not isinstance(raw.get("event_payload"), dict):
        raise SlackApiFailure("invalid_metadata_format")
    return {"event_type": raw["event_type"], "event_payload": raw["event_payload"]}


def _flag(value: object) -> bool:
    """A boolean parameter as clients send it: ``true``/``1`` (slack_sdk sends ``1`` in a query string)."""
    return value is True or str(value).lower() in ("1", "true")


def _timestamp(value: object, default: Decimal) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise SlackApiFailure("invalid_ts_oldest") from None


def _limit(value: object) -> int:
    try:
        return max(1, min(999, int(str(value)))) if value not in (None, "") else 100
    except ValueError:
        raise SlackApiFailure("invalid_limit") from None


def _content(params: Params) -> tuple[str | None, Blocks | None]:
    """``text`` and ``blocks`` as given; blocks arrive as a list (JSON bodies) or a JSON string (forms)."""
    text = _optional_str(params.get("text"))
    raw = params.get("blocks")
    if raw is None:
        return text, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            raise SlackApiFailure("invalid_blocks_format") from None
    if not isinstance(raw, list):
        raise SlackApiFailure("invalid_blocks_format")
    if not all(isinstance(block, dict) and isinstance(block.get("type"), str) for block in raw):
        raise SlackApiFailure("invalid_blocks")
    return text, raw
