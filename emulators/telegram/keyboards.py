"""``reply_markup`` and bot commands checked the way the Bot API checks them.

The limit that bites in production is ``callback_data``: 1 to 64 **bytes** of UTF-8, so 33 Cyrillic letters are
already too long; Telegram refuses the whole message with ``BUTTON_DATA_INVALID``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulators.telegram.params import bad_request

MAX_CALLBACK_DATA_BYTES = 64
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """``markup`` when Telegram would accept it; an inline keyboard's buttons are checked one by one."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards, ReplyKeyboardRemove and ForceReply are stored as sent
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
    for row in rows:
        for button in row:
            _check_button(button)
    return markup


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not any(action in button for action in _BUTTON_ACTIONS):
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise bad_request("BUTTON_URL_INVALID")


@dataclass(frozen=True)
class BotCommand:
    """One entry of the bot's command menu."""

    command: str
    description: str


def scope_key(scope: Any) -> str:
    """A stable key for a ``BotCommandScope`` (``None`` is the default scope)."""
    if not isinstance(scope, Mapping):
        scope = {"type": "default"}
    return json.dumps(dict(scope), sort_keys=True)


def check_commands(commands: Any) -> list[BotCommand]:
    """The commands of a ``setMyCommands`` call, checked as Telegram does."""
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too many commands specified")
    checked = []
    for item in commands:
        if not isinstance(item, Mapping):
            raise bad_request("can't parse BotCommand")
        command, description = str(item.get("command", "")), str(item.get("description", ""))
        if not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("command description must be non-empty")
        checked.append(BotCommand(command, description))
    return checked
