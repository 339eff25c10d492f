"""The objects of an emulated Telegram: users, chats, messages, files and callback queries, in Bot API shape.

Each ``to_api()`` returns the dict the Bot API would, complete enough for aiogram's pydantic models (a ``Message``
has ``message_id``, ``date`` > 0 and ``chat``; a ``User`` has ``id``, ``is_bot`` and ``first_name``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Markup = dict[str, Any]
Entities = list[dict[str, Any]]


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


class ChatRef(Protocol):
    @property
    def id(self) -> int: ...


class MessageRef(Protocol):
    """Anything naming a message by ``chat.id`` and ``message_id``: a :class:`TgMessage`, or aiogram's ``Message``."""

    @property
    def message_id(self) -> int: ...

    @property
    def chat(self) -> ChatRef: ...


@dataclass(frozen=True)
class TgUser:
    """A Telegram account; people by default, the bot itself with ``is_bot``."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        return _without_none(
            {
                "id": self.id,
                "is_bot": self.is_bot,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
                "language_code": self.language_code,
            }
        )


@dataclass(frozen=True)
class TgChat:
    """A chat: ``private`` (id = the user's id), ``group``/``supergroup``/``channel`` (negative ids)."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def private(cls, user: TgUser) -> TgChat:
        """The bot's private chat with ``user``."""
        return cls(user.id, "private", None, user.username, user.first_name, user.last_name)

    @classmethod
    def group(cls, chat_id: int, title: str | None = None, username: str | None = None) -> TgChat:
        """A group; ids starting ``-100`` are supergroups, as in Telegram."""
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return cls(chat_id, kind, title or f"Group {chat_id}", username)

    @property
    def is_group(self) -> bool:
        return self.id < 0

    def to_api(self) -> dict[str, Any]:
        return _without_none(
            {
                "id": self.id,
                "type": self.type,
                "title": self.title,
                "username": self.username,
                "first_name": self.first_name,
                "last_name": self.last_name,
            }
        )


@dataclass(frozen=True)
class BotProfile:
    """How ``getMe`` describes the bot; its id is the number before ``:`` in the token."""

    first_name: str = "StoreOps"
    username: str = "storeops_bot"
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False

    def user(self, bot_id: int) -> TgUser:
        return TgUser(bot_id, self.first_name, username=self.username, is_bot=True)

    def to_api(self, bot_id: int) -> dict[str, Any]:
        return {
            **self.user(bot_id).to_api(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass(frozen=True)
class StoredFile:
    """A file the bot sent: the uploaded bytes, or only a URL the bot pointed Telegram at (``data`` is ``None``)."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None = None
    content_type: str | None = None
    url: str | None = None
    width: int = 1
    height: int = 1

    def photo_size(self) -> dict[str, Any]:
        return _without_none(
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": None if self.data is None else len(self.data),
            }
        )


@dataclass(frozen=True)
class MessageVersion:
    """What a message said before an edit replaced it."""

    text: str | None
    entities: Entities
    reply_markup: Markup | None


@dataclass
class TgMessage:
    """A message in a chat. ``text`` is plain (Telegram strips ``parse_mode`` markup into ``entities``) and
    ``sent_text`` is what the bot sent; ``history`` holds the versions edits replaced, oldest first."""

    chat: TgChat
    message_id: int
    date: int
    sender: TgUser
    outgoing: bool
    text: str | None = None
    entities: Entities = field(default_factory=list)
    sent_text: str | None = None
    parse_mode: str | None = None
    reply_markup: Markup | None = None
    reply_to_message_id: int | None = None
    photo: StoredFile | None = None
    caption: str | None = None
    history: list[MessageVersion] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard's rows (empty without one)."""
        rows = (self.reply_markup or {}).get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    def content(self) -> MessageVersion:
        return MessageVersion(self.text if self.photo is None else self.caption, self.entities, self.inline_markup())

    def inline_markup(self) -> Markup | None:
        """The markup Telegram shows on the message: only inline keyboards stay attached."""
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def to_api(self, reply_to: TgMessage | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.photo is not None:
            body["photo"] = [self.photo.photo_size()]
            if self.caption:
                body["caption"] = self.caption
                if self.entities:
                    body["caption_entities"] = self.entities
        elif self.text is not None:
            body["text"] = self.text
            if self.entities:
                body["entities"] = self.entities
        if reply_to is not None:
            body["reply_to_message"] = reply_to.to_api()
        if self.edit_date is not None:
            body["edit_date"] = self.edit_date
        markup = self.inline_markup()
        if markup is not None:
            body["reply_markup"] = markup
        return body


@dataclass
class CallbackQueryRecord:
    """A button press pushed to the bot, and how the bot answered it (``answered`` once it did)."""

    id: str
    user: TgUser
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    url: str | None = None
