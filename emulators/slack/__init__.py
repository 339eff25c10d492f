"""A wire-level emulator of Slack's Web API for the real ``slack_sdk`` / ``slack_bolt`` clients.

It emulates ``auth.test``, ``chat.postMessage`` and ``chat.update`` (with message metadata),
``chat.postEphemeral``, ``conversations.replies`` and ``conversations.history`` (both only for a token granted a
history scope, the metadata only with ``include_all_metadata``) and ``users.info`` for one workspace and
one bot token, Slack's error bodies, and its per-channel posting rate limit (HTTP 429 with ``Retry-After``), on a
clock tests can move.
"""

from __future__ import annotations

from emulators.slack.rate_limit import ChannelRateLimiter, Clock, RateLimitPolicy
from emulators.slack.server import SlackAnswer, SlackCall, SlackEmulator, create_app
from emulators.slack.workspace import (
    BotIdentity,
    EphemeralMessage,
    MessageVersion,
    SlackApiFailure,
    SlackMessage,
    SlackUser,
    SlackWorkspace,
)

__all__ = [
    "BotIdentity",
    "ChannelRateLimiter",
    "Clock",
    "EphemeralMessage",
    "MessageVersion",
    "RateLimitPolicy",
    "SlackAnswer",
    "SlackApiFailure",
    "SlackCall",
    "SlackEmulator",
    "SlackMessage",
    "SlackUser",
    "SlackWorkspace",
    "create_app",
]
