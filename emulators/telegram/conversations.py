"""The chats an emulated bot is in, the messages in them, and what the message methods do to them.

Nothing here speaks HTTP: each method takes a request's parameters and returns the Bot API ``result``, or raises
:class:`~emulators.telegram.params.BotApiError` with Telegram's status and description.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from emulators.telegram.files import FileStore
from emulators.telegram.formatting import formatted, utf16_len
from emulators.telegram.keyboards import check_reply_markup
from emulators.telegram.model import CallbackQueryRecord, Entities, TgChat, TgMessage, TgUser
from emulators.telegram.params import (
    BotApiError,
    Params,
    bad_request,
    bool_param,
    int_param,
    json_param,
    text_param,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
_CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)


class Conversations:
    """Users, chats and messages; the bot's outgoing messages and the users' incoming ones share a chat's ids.

    An unknown ``chat_id`` springs into being on first use with ``auto_create_chats`` (positive ids become a
    private chat with a generated user, negative ids a group); without it the bot gets ``chat not found``.
    """

    def __init__(
        self,
        bot: TgUser,
        *,
        users: Iterable[TgUser],
        chats: Iterable[TgChat],
        auto_create_chats: bool,
        unix_now: Callable[[], int],
    ) -> None:
        self.bot = bot
        self.auto_create_chats = auto_create_chats
        self.users: dict[int, TgUser] = {}
        self.chats: dict[int, TgChat] = {}
        self.messages: dict[int, list[TgMessage]] = {}
        self.files = FileStore()
        self.callbacks: dict[str, CallbackQueryRecord] = {}
        self.blocked: set[int] = set()
        self.unix_now = unix_now
        self._last_callback = 0
        for user in users:
            self.add_user(user)
        for chat in chats:
            self.add_chat(chat)

    # -- people and chats ------------------------------------------------------------------------------------

    def add_user(self, user: TgUser) -> TgUser:
        """Know ``user`` and open its private chat with the bot."""
        self.users[user.id] = user
        self.add_chat(TgChat.private(user))
        return user

    def user(self, user_id: int) -> TgUser:
        """A known user, or a new one named after its id."""
        return self.users.get(user_id) or self.add_user(TgUser(user_id, f"User{user_id}", username=f"user{user_id}"))

    def add_chat(self, chat: TgChat) -> TgChat:
        self.chats[chat.id] = chat
        self.messages.setdefault(chat.id, [])
        return chat

    def chat(self, chat_id: int) -> TgChat:
        """A known chat, or a new group (negative id) or private chat (positive id)."""
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id < 0:
            return self.add_chat(TgChat.group(chat_id))
        self.user(chat_id)
        return self.chats[chat_id]

    def resolve_chat(self, params: Params) -> TgChat:
        """The chat a request names by ``chat_id`` (a number or ``@username``)."""
        reference = text_param(params, "chat_id")
        if not reference:
            raise bad_request("chat_id is empty")
        if reference.startswith("@"):
            found = next((c for c in self.chats.values() if c.username == reference[1:]), None)
            if found is None:
                raise bad_request("chat not found")
            return found
        chat_id = int_param(params, "chat_id")
        assert chat_id is not None
        if chat_id not in self.chats and not self.auto_create_chats:
            raise bad_request("chat not found")
        chat = self.chat(chat_id)
        if chat.type == "private" and chat.id in self.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def find(self, chat_id: int, message_id: int) -> TgMessage | None:
        return next((m for m in self.messages.get(chat_id, []) if m.message_id == message_id and not m.deleted), None)

    def _new_message(self, chat: TgChat, sender: TgUser, **fields: Any) -> TgMessage:
        chat_messages = self.messages.setdefault(chat.id, [])
        message_id = (chat_messages[-1].message_id if chat_messages else 0) + 1
        message = TgMessage(chat, message_id, self.unix_now(), sender, sender.is_bot, **fields)
        chat_messages.append(message)
        return message

    def _reply_target(self, chat: TgChat, params: Params) -> int | None:
        reply = json_param(params, "reply_parameters")
        if isinstance(reply, dict):
            message_id = int_param(reply, "message_id")
            tolerant = bool_param(reply, "allow_sending_without_reply")
        else:
            message_id = int_param(params, "reply_to_message_id")
            tolerant = bool_param(params, "allow_sending_without_reply")
        if message_id is None:
            return None
        if self.find(chat.id, message_id) is None:
            if tolerant:
                return None
            raise bad_request("message to be replied not found")
        return message_id

    def _api(self, message: TgMessage) -> dict[str, Any]:
        reply_to = None
        if message.reply_to_message_id is not None:
            reply_to = self.find(message.chat.id, message.reply_to_message_id)
        return message.to_api(reply_to)

    # -- the bot's methods -----------------------------------------------------------------------------------

    def send_message(self, params: Params) -> dict[str, Any]:
        """``sendMessage``."""
        chat = self.resolve_chat(params)
        sent_text = text_param(params, "text") or ""
        parse_mode = text_param(params, "parse_mode")
        text, entities = formatted(sent_text, parse_mode, json_param(params, "entities"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = check_reply_markup(json_param(params, "reply_markup"))
        message = self._new_message(
            chat,
            self.bot,
            text=text,
            entities=entities,
            sent_text=sent_text,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=self._reply_target(chat, params),
        )
        return self._api(message)

    def send_photo(self, params: Params) -> dict[str, Any]:
        """``sendPhoto``: an uploaded file (``photo`` itself or ``attach://<part>``), a known file_id or a URL."""
        chat = self.resolve_chat(params)
        photo = self.files.take(params, "photo")
        sent_caption = text_param(params, "caption")
        parse_mode = text_param(params, "parse_mode")
        caption, entities = formatted(sent_caption or "", parse_mode, json_param(params, "caption_entities"))
        if len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        message = self._new_message(
            chat,
            self.bot,
            photo=photo,
            caption=caption or None,
            entities=entities,
            sent_text=sent_caption,
            parse_mode=parse_mode,
            reply_markup=check_reply_markup(json_param(params, "reply_markup")),
            reply_to_message_id=self._reply_target(chat, params),
        )
        return self._api(message)

    def _editable(self, params: Params) -> TgMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline-mode messages are not emulated
        chat = self.resolve_chat(params)
        message_id = int_param(params, "message_id")
        message = None if message_id is None else self.find(chat.id, message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.outgoing:
            raise bad_request("message can't be edited")
        return message

    def _replace(self, message: TgMessage, text: str | None, entities: Entities, markup: dict[str, Any] | None) -> None:
        before = message.content()
        after = type(before)(text, entities, markup if markup and "inline_keyboard" in markup else None)
        if before == after:
            raise bad_request(_NOT_MODIFIED)
        message.history.append(before)
        if message.photo is None:
            message.text = text
        else:
            message.caption = text
        message.entities, message.reply_markup = entities, markup
        message.edit_date = self.unix_now()

    def edit_message_text(self, params: Params) -> dict[str, Any]:
        """``editMessageText``; an omitted ``reply_markup`` removes the inline keyboard, as in Telegram."""
        message = self._editable(params)
        if message.photo is not None:
            raise bad_request("there is no text in the message to edit")
        sent_text = text_param(params, "text") or ""
        parse_mode = text_param(params, "parse_mode")
        text, entities = formatted(sent_text, parse_mode, json_param(params, "entities"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._replace(message, text, entities, check_reply_markup(json_param(params, "reply_markup")))
        message.sent_text, message.parse_mode = sent_text, parse_mode
        return self._api(message)

    def edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        """``editMessageReplyMarkup``; no ``reply_markup`` removes the keyboard."""
        message = self._editable(params)
        current = message.content()
        self._replace(message, current.text, current.entities, check_reply_markup(json_param(params, "reply_markup")))
        return self._api(message)

    def delete_message(self, params: Params) -> bool:
        """``deleteMessage``: the message stays in the record, marked ``deleted``."""
        chat = self.resolve_chat(params)
        message_id = int_param(params, "message_id")
        message = None if message_id is None else self.find(chat.id, message_id)
        if message is None:
            raise bad_request("message to delete not found")
        message.deleted = True
        return True

    def answer_callback_query(self, params: Params) -> bool:
        """``answerCallbackQuery``: once per query, as Telegram allows."""
        record = self.callbacks.get(text_param(params, "callback_query_id") or "")
        if record is None or record.answered:
            raise bad_request(_CALLBACK_TOO_OLD)
        record.answered = True
        record.answer_text = text_param(params, "text")
        record.show_alert = bool_param(params, "show_alert")
        record.url = text_param(params, "url")
        return True

    # -- what users do ---------------------------------------------------------------------------------------

    def user_message(self, user: TgUser, chat: TgChat, text: str, reply_to: int | None = None) -> TgMessage:
        """A text from ``user``; a leading ``/command`` gets its ``bot_command`` entity, as Telegram adds it."""
        entities: Entities = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        return self._new_message(chat, user, text=text, entities=entities, sent_text=text, reply_to_message_id=reply_to)

    def press(
        self, user: TgUser, chat_id: int, message_id: int, data: str
    ) -> tuple[CallbackQueryRecord, dict[str, Any]]:
        """A button press on the bot's message: the record, and the ``callback_query`` the bot will receive."""
        message = self.find(chat_id, message_id)
        if message is None or not message.outgoing:
            raise KeyError(f"the bot has no message {message_id} in chat {chat_id}")
        self._last_callback += 1
        record = CallbackQueryRecord(f"{4_200_000_000_000_000 + self._last_callback}", user, chat_id, message_id, data)
        self.callbacks[record.id] = record
        query = {
            "id": record.id,
            "from": user.to_api(),
            "message": self._api(message),
            "chat_instance": str((chat_id * 2_654_435_761) % 2**63),
            "data": data,
        }
        return record, query

    def incoming(self, message: TgMessage) -> dict[str, Any]:
        """``message`` as an update's ``message`` field."""
        return self._api(message)
