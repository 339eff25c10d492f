"""The Telegram Bot API emulator, driven through the real aiogram 3 ``Bot`` (and its Dispatcher) over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from emulators.telegram import SECRET_HEADER, TelegramEmulator, TelegramLimits, TgUser, Window
from emulators.telegram.formatting import parse_entities
from emulators.telegram.rate_limit import seconds_reader
from tests.fakes import FakeClock

TOKEN = "123456:TEST"
ANNA = TgUser(42, "Anna", username="anna_tverskaya", language_code="ru")
STORE_GROUP = -1001234567890


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=f"#{n}", callback_data=d) for n, d in enumerate(data)]]
    )


def png(width: int, height: int) -> bytes:
    """A valid (blank, greyscale) PNG of the given size."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class LocalSession(AiohttpSession):
    """aiogram's own HTTP session, minus the 250 ms ``close()`` waits for TLS connections to wind down.

    Nothing here speaks TLS, and that pause per test would be most of this file's run time; every request still
    goes through ``AiohttpSession`` unchanged (``test_a_wrong_token_is_unauthorized`` uses the plain one).
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def bot_for(emulator: TelegramEmulator, token: str = TOKEN) -> Bot:
    return Bot(token=token, session=LocalSession(api=TelegramAPIServer.from_base(emulator.base_url)))


@contextlib.asynccontextmanager
async def running(
    clock: FakeClock, limits: TelegramLimits | None = None
) -> AsyncIterator[tuple[TelegramEmulator, Bot]]:
    """An emulator with Telegram's default flood limits (or ``limits``) and a bot connected to it."""
    async with TelegramEmulator(token=TOKEN, users=[ANNA], clock=clock, limits=limits) as emulator:
        bot = bot_for(emulator)
        try:
            yield emulator, bot
        finally:
            await bot.session.close()


@pytest.fixture
async def tg(clock: FakeClock) -> AsyncIterator[TelegramEmulator]:
    """Flood control off: these tests send bursts without moving the clock; the flood tests use :func:`running`."""
    limits = TelegramLimits.unlimited()
    async with TelegramEmulator(token=TOKEN, users=[ANNA], clock=clock, limits=limits, poll_cap=0.2) as emulator:
        yield emulator


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = bot_for(tg)
    try:
        yield bot
    finally:
        await bot.session.close()


# -- identity, errors ------------------------------------------------------------------------------------------


async def test_get_me_describes_the_bot(tg: TelegramEmulator, bot: Bot) -> None:
    assert tg.base_url.startswith("http://127.0.0.1:")
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "storeops_bot")
    [call] = tg.calls()
    assert (call.method, call.status, call.error, call.at) == ("getMe", 200, None, tg.now())


async def test_a_wrong_token_is_unauthorized(tg: TelegramEmulator) -> None:
    intruder = Bot("654321:OTHER", session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await intruder.get_me()
    finally:
        await intruder.session.close()
    assert tg.calls("getMe")[0].status == 401


async def test_unknown_methods_are_404_and_json_bodies_are_accepted(tg: TelegramEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot{TOKEN}/sendTelepathy", json={}) as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        body = {"chat_id": ANNA.id, "text": "JSON works", "reply_markup": {"inline_keyboard": [[]]}}
        async with http.post(f"{tg.base_url}/bot{TOKEN}/sendmessage", json=body) as response:
            assert response.status == 200
            assert (await response.json())["result"]["text"] == "JSON works"
    assert tg.calls("sendMessage")[0].params["chat_id"] == ANNA.id  # method names are case-insensitive


# -- messages, keyboards, edits --------------------------------------------------------------------------------


async def test_send_message_with_an_inline_keyboard_is_stored(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "Есть SKU-1 × 2?", reply_markup=keyboard("accept:7", "reject:7"))
    assert sent.chat.type == "private" and sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][1].callback_data == "reject:7"

    [message] = tg.messages(ANNA.id)
    assert (message.message_id, message.text) == (sent.message_id, "Есть SKU-1 × 2?")
    assert [b["callback_data"] for b in message.buttons[0]] == ["accept:7", "reject:7"]
    params = tg.calls("sendMessage")[0].params
    assert params["chat_id"] == "42"  # aiogram sends scalars as strings, objects as JSON strings
    assert json.loads(params["reply_markup"])["inline_keyboard"][0][0]["callback_data"] == "accept:7"


async def test_replies_reference_the_earlier_message(tg: TelegramEmulator, bot: Bot) -> None:
    tg.push_text(ANNA, "где заказ?")
    reply = await bot.send_message(ANNA.id, "Уже едет", reply_parameters=ReplyParameters(message_id=1))
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "где заказ?"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ANNA.id, "?", reply_parameters=ReplyParameters(message_id=99))


async def test_edit_keeps_history_and_refuses_a_no_op(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "Reserve 2 × SKU-1?", reply_markup=keyboard("accept:7"))
    edited = await bot.edit_message_text(text="Accepted", chat_id=ANNA.id, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "Accepted" and edited.edit_date is not None

    [message] = tg.messages(ANNA.id)
    assert (message.text, message.reply_markup) == ("Accepted", None)  # no reply_markup: the keyboard is gone
    assert [(v.text, v.reply_markup is not None) for v in message.history] == [("Reserve 2 × SKU-1?", True)]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="Accepted", chat_id=ANNA.id, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="?", chat_id=ANNA.id, message_id=999)
    await bot.edit_message_reply_markup(chat_id=ANNA.id, message_id=sent.message_id, reply_markup=keyboard("undo:7"))
    assert tg.messages(ANNA.id)[0].buttons[0][0]["callback_data"] == "undo:7"
    assert [call.error is None for call in tg.calls("editMessageText")] == [True, False, False]


async def test_callback_data_is_limited_to_64_utf8_bytes(tg: TelegramEmulator, bot: Bot) -> None:
    await bot.send_message(ANNA.id, "fits", reply_markup=keyboard("д" * 32))  # 64 bytes
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ANNA.id, "too long", reply_markup=keyboard("д" * 33))  # 33 letters, 66 bytes
    assert [m.text for m in tg.messages(ANNA.id)] == ["fits"]


async def test_parse_mode_is_parsed_like_telegram(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "<b>Кабель</b> &lt;USB-C&gt; 😀<i>x</i>", parse_mode="HTML")
    assert sent.text == "Кабель <USB-C> 😀x"
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 6), ("italic", 17, 1)]
    with pytest.raises(TelegramBadRequest, match='can\'t parse entities: Unsupported start tag "usb-c"'):
        await bot.send_message(ANNA.id, "Кабель <USB-C>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(ANNA.id, "*Итого* 42.", parse_mode="MarkdownV2")
    assert tg.messages(ANNA.id)[0].sent_text == "<b>Кабель</b> &lt;USB-C&gt; 😀<i>x</i>"


@pytest.mark.parametrize(
    ("text", "mode", "plain", "entities"),
    [
        ("*a* _b_ `c`", "Markdown", "a b c", [("bold", 0, 1), ("italic", 2, 1), ("code", 4, 1)]),
        ("[site](https://x.ru) \\_", "Markdown", "site _", [("text_link", 0, 4)]),
        ("*a _b_* __u__ ||s|| 1\\.5", "MarkdownV2", "a b u s 1.5", [("bold", 0, 3), ("italic", 2, 1)]),
        ("```python\nprint()```", "MarkdownV2", "print()", [("pre", 0, 7)]),
        ('<pre><code class="language-py">x</code></pre>', "HTML", "x", [("pre", 0, 1)]),
    ],
)
def test_formatting_entities(text: str, mode: str, plain: str, entities: list[tuple[str, int, int]]) -> None:
    parsed, found = parse_entities(text, mode)
    assert parsed == plain
    assert [(e["type"], e["offset"], e["length"]) for e in found][: len(entities)] == entities


async def test_delete_and_blocked_users(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "oops")
    assert await bot.delete_message(ANNA.id, sent.message_id) is True
    assert tg.messages(ANNA.id) == [] and tg.messages(ANNA.id, include_deleted=True)[0].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ANNA.id, sent.message_id)
    tg.block(ANNA.id)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ANNA.id, "hello?")


async def test_send_photo_stores_the_uploaded_bytes(tg: TelegramEmulator, bot: Bot) -> None:
    image = png(3, 2)
    sent = await bot.send_photo(
        STORE_GROUP, BufferedInputFile(image, "shelf.png"), caption="<b>Полка</b> 3", parse_mode="HTML"
    )
    assert sent.photo is not None and (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    assert sent.caption == "Полка 3" and sent.chat.type == "supergroup"
    assert tg.photo(STORE_GROUP, sent.message_id) == image
    [message] = tg.messages(STORE_GROUP)
    assert message.photo is not None and message.photo.filename == "shelf.png"

    again = await bot.send_photo(STORE_GROUP, sent.photo[-1].file_id)  # a known file_id is reused
    assert again.photo is not None and again.photo[-1].file_unique_id == sent.photo[-1].file_unique_id


async def test_commands_are_kept_per_scope_and_language(tg: TelegramEmulator, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Начать")])
    store_scope = BotCommandScopeChat(chat_id=STORE_GROUP)
    await bot.set_my_commands([BotCommand(command="tasks", description="Tasks")], store_scope, "en")
    assert tg.commands() == [("start", "Начать")]
    assert tg.commands({"type": "chat", "chat_id": STORE_GROUP}, "en") == [("tasks", "Tasks")]
    assert [c.command for c in await bot.get_my_commands(scope=store_scope, language_code="en")] == ["tasks"]
    assert await bot.get_my_commands(language_code="en") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Start-Now", description="x")])


# -- flood control ---------------------------------------------------------------------------------------------


async def test_flooding_a_chat_gets_retry_after_until_the_clock_moves(clock: FakeClock) -> None:
    async with running(clock) as (tg, bot):
        sent = await bot.send_message(ANNA.id, "one", reply_markup=keyboard("a"))
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(ANNA.id, "two")
        assert refused.value.retry_after == 1
        assert tg.calls("sendMessage")[-1].status == 429
        await bot.edit_message_text(text="one!", chat_id=ANNA.id, message_id=sent.message_id)  # edits don't count
        await bot.send_message(ANNA.id + 1, "another chat is fine")
        clock.advance(seconds=1)
        await bot.send_message(ANNA.id, "two")
    assert [m.text for m in tg.messages(ANNA.id)] == ["one!", "two"]


async def test_a_group_gets_twenty_messages_a_minute(clock: FakeClock) -> None:
    async with running(clock) as (tg, bot):
        for n in range(20):
            await bot.send_message(STORE_GROUP, f"task {n}")
            clock.advance(seconds=1)
        with pytest.raises(TelegramRetryAfter) as refused:
            await bot.send_message(STORE_GROUP, "task 20")
        assert refused.value.retry_after == 40  # the first of the 20 leaves the 60 s window 40 s from now
        clock.advance(seconds=40)
        await bot.send_message(STORE_GROUP, "task 20")

    report = tg.flood_report()
    assert report.per_group_per_minute == {STORE_GROUP: 20}
    assert (report.max_per_chat_per_second, report.overall_per_second) == (1, 1)


async def test_limits_are_a_policy(clock: FakeClock) -> None:
    limits = TelegramLimits(per_chat=Window(3, 1.0), per_group=None, overall=Window(4, 1.0), count_edits=True)
    async with running(clock, limits) as (tg, bot):
        for chat in (1, 1, 1, 2):
            await bot.send_message(chat, "hi")
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(3, "overall limit")
        with pytest.raises(TelegramRetryAfter):  # edits count too: chat 1 has had its 3 this second
            await bot.edit_message_text(text="edited", chat_id=1, message_id=1)
        clock.advance(seconds=1)
        await bot.edit_message_text(text="edited", chat_id=1, message_id=1)
        tg.force_rate_limit("sendMessage", retry_after=7)
        with pytest.raises(TelegramRetryAfter) as forced:
            await bot.send_message(3, "forced")
        assert forced.value.retry_after == 7
        await bot.send_message(3, "now fine")
    assert tg.flood_report().per_chat_per_second == {1: 3, 2: 1, 3: 1}


async def test_a_held_method_waits_until_released_then_is_answered(tg: TelegramEmulator, bot: Bot) -> None:
    tg.hold("sendMessage")
    sending = asyncio.create_task(bot.send_message(1, "slow"))
    await tg.wait_for_held("sendMessage")
    assert (await bot.get_me()).is_bot  # other methods still answer
    assert not sending.done() and tg.messages(1) == []
    tg.release("sendMessage")
    assert (await sending).text == "slow"
    assert [m.text for m in tg.messages(1)] == ["slow"] and tg.held == ["sendMessage"]


def test_the_clock_may_be_a_callable_or_have_now() -> None:
    ticks = iter([5.0, 6.5])
    assert [seconds_reader(lambda: next(ticks))() for _ in range(2)] == [5.0, 6.5]
    fake = FakeClock()
    read = seconds_reader(fake)
    before = read()
    fake.advance(seconds=90)
    assert read() - before == 90


# -- updates: polling, offsets, callbacks ----------------------------------------------------------------------


async def test_get_updates_honours_offset_and_holds_when_empty(tg: TelegramEmulator, bot: Bot) -> None:
    first, second = tg.push_text(ANNA, "/start"), tg.push_text(ANNA, "hi")
    assert second == first + 1
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first, second]
    assert updates[0].message is not None and updates[0].message.entities is not None
    assert updates[0].message.entities[0].type == "bot_command"
    assert [u.update_id for u in await bot.get_updates()] == [first, second]  # not confirmed yet: again

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(offset=second + 1, timeout=5) == []
    assert loop.time() - started >= 0.15  # held up to poll_cap (0.2 s), not the 5 s asked for
    assert tg.pending_updates() == []


async def test_a_second_poller_ends_the_first_with_409(tg: TelegramEmulator, bot: Bot) -> None:
    held = asyncio.create_task(bot.get_updates(timeout=5))
    async with asyncio.timeout(2):
        while tg.updates.holding == 0:
            await asyncio.sleep(0.005)
    second = asyncio.create_task(bot.get_updates(timeout=5))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await held
    assert await second == []


async def test_callback_queries_carry_the_stored_message(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "Reserve?", reply_markup=keyboard("accept:7"))
    with pytest.raises(ValueError, match="no button"):
        tg.push_callback(ANNA.id, (ANNA.id, sent.message_id), "accept:8")
    query_id = tg.push_callback(ANNA.id, (ANNA.id, sent.message_id), "accept:7")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "accept:7"
    assert isinstance(query.message, Message) and query.message.text == "Reserve?"
    assert await bot.answer_callback_query(query_id, text="Принято") is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    assert [(c.data, c.answered, c.answer_text) for c in tg.callbacks()] == [("accept:7", True, "Принято")]


async def test_polling_dispatcher_answers_start_and_a_button(tg: TelegramEmulator, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Reserve 2 × SKU-1?", reply_markup=keyboard("accept:7"))

    @router.callback_query(F.data.startswith("accept:"))
    async def accept(callback: CallbackQuery) -> None:
        await callback.answer("accepted")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"{callback.message.text} — accepted")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    await bot.delete_webhook(drop_pending_updates=True)
    tg.push_text(ANNA, "/start")
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    try:
        await tg.wait_for("sendMessage", timeout=5)
        [question] = tg.messages(ANNA.id)
        tg.push_callback(ANNA, question, "accept:7")
        await tg.wait_for("answerCallbackQuery", timeout=5)
        await tg.wait_for("editMessageText", timeout=5)
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 5)

    assert tg.messages(ANNA.id)[0].text == "Reserve 2 × SKU-1? — accepted"
    assert tg.callbacks()[0].answer_text == "accepted"
    polls = tg.calls("getUpdates")
    assert json.loads(polls[0].params["allowed_updates"]) == ["callback_query", "message"]
    assert all(call.error is None for call in tg.received)
    assert len(tg.calls("sendMessage")) == 1  # the /start update was confirmed, never re-delivered


# -- webhook ---------------------------------------------------------------------------------------------------


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/hook"


async def test_a_webhook_blocks_polling_and_receives_updates(tg: TelegramEmulator, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    status = 500

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.json_response({}, status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, url = await serve(app)
    try:
        assert await bot.set_webhook(url, secret_token="s3cr3t-token") is True
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        update_id = tg.push_text(ANNA, "/start")

        [failed] = await tg.push_to_webhook()
        assert (failed.status, failed.ok) == (500, False)
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 1)
        assert info.last_error_message is not None and "500" in info.last_error_message

        status = 200
        [delivered] = await tg.push_to_webhook()
        assert (delivered.update_id, delivered.status) == (update_id, 200)
        assert [secret for secret, _ in received] == ["s3cr3t-token", "s3cr3t-token"]
        assert received[-1][1]["message"]["text"] == "/start"
        assert (await bot.get_webhook_info()).pending_update_count == 0

        await bot.delete_webhook()
        assert await bot.get_updates() == []
    finally:
        await runner.cleanup()


async def test_aiogram_webhook_handler_answering_with_a_method(tg: TelegramEmulator, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> Any:
        return message.answer("Здравствуйте!")  # returned, not awaited: it travels in the webhook's answer

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token="s3cr3t", handle_in_background=False).register(app, "/hook")
    runner, url = await serve(app)
    try:
        await bot.set_webhook(url, secret_token="wrong")
        tg.push_text(ANNA, "/start")
        [refused] = await tg.push_to_webhook()
        assert refused.status == 401  # aiogram checks the secret header

        await bot.set_webhook(url, secret_token="s3cr3t")
        [delivered] = await tg.push_to_webhook()
        assert delivered.ok and delivered.reply is not None and delivered.reply["method"] == "sendMessage"
    finally:
        await runner.cleanup()
    [answer] = tg.calls("sendMessage")
    assert (answer.via, answer.error) == ("webhook", None)
    assert [m.text for m in tg.messages(ANNA.id)] == ["Здравствуйте!"]


async def test_webhook_auto_delivery(clock: FakeClock) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, url = await serve(app)
    try:
        async with TelegramEmulator(token=TOKEN, clock=clock, webhook_auto_delivery=True) as tg:
            bot = bot_for(tg)
            try:
                await bot.set_webhook(url)
                tg.push_text(ANNA, "/start")
                tg.push_text(ANNA, "/help")
                async with asyncio.timeout(5):
                    while len(tg.webhook_deliveries) < 2:
                        await asyncio.sleep(0.01)
            finally:
                await bot.session.close()
    finally:
        await runner.cleanup()
    assert [update["message"]["text"] for update in received] == ["/start", "/help"]
    assert tg.pending_updates() == []


async def test_allowed_updates_filters_updates_created_after_it(tg: TelegramEmulator, bot: Bot) -> None:
    sent = await bot.send_message(ANNA.id, "?", reply_markup=keyboard("ok"))
    assert await bot.get_updates(allowed_updates=["message"]) == []
    tg.push_callback(ANNA, sent, "ok")  # no callback_query handler: Telegram would not send it
    text_id = tg.push_text(ANNA, "hi")
    assert [u.update_id for u in await bot.get_updates()] == [text_id]
    assert [next(iter(u.keys() - {"update_id"})) for u in tg.updates.dropped] == ["callback_query"]
