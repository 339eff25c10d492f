"""A wire-level emulator of the Telegram Bot API for the real aiogram 3 ``Bot``.

It serves ``getMe``, ``getUpdates`` (long polling), ``setWebhook``/``deleteWebhook``/``getWebhookInfo`` (with
delivery to the webhook), ``setMyCommands``/``getMyCommands``/``deleteMyCommands``, ``sendMessage``,
``sendPhoto``, ``editMessageText``, ``editMessageReplyMarkup``, ``deleteMessage`` and ``answerCallbackQuery`` for
one bot token, with Telegram's error answers, ``parse_mode`` parsing, inline keyboard checks and flood control
(HTTP 429 with ``retry_after``) on a clock tests can move. Tests push users' messages and button presses as updates.
"""

from __future__ import annotations

from emulators.telegram.keyboards import MAX_CALLBACK_DATA_BYTES, BotCommand
from emulators.telegram.model import (
    BotProfile,
    CallbackQueryRecord,
    MessageRef,
    MessageVersion,
    StoredFile,
    TgChat,
    TgMessage,
    TgUser,
)
from emulators.telegram.params import BotApiError, UploadedFile
from emulators.telegram.rate_limit import (
    Clock,
    FloodReport,
    SentMessage,
    SupportsNow,
    TelegramLimits,
    Window,
    flood_report,
    max_in_window,
)
from emulators.telegram.server import TelegramEmulator, TgCall
from emulators.telegram.updates import WebhookConfig
from emulators.telegram.webhook import SECRET_HEADER, WebhookDelivery
from emulators.telegram.wire import create_app

__all__ = [
    "MAX_CALLBACK_DATA_BYTES",
    "SECRET_HEADER",
    "BotApiError",
    "BotCommand",
    "BotProfile",
    "CallbackQueryRecord",
    "Clock",
    "FloodReport",
    "MessageRef",
    "MessageVersion",
    "SentMessage",
    "StoredFile",
    "SupportsNow",
    "TelegramEmulator",
    "TelegramLimits",
    "TgCall",
    "TgChat",
    "TgMessage",
    "TgUser",
    "UploadedFile",
    "WebhookConfig",
    "WebhookDelivery",
    "Window",
    "create_app",
    "flood_report",
    "max_in_window",
]
