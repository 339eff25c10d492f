"""The Telegram pacer keeps within Telegram's limits on its own and waits out a 429: checked on
a fake clock whose sleep only moves the clock."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from bot.telegram.pacing import FloodWait, Pacer
from tests.fakes import FakeTime


async def test_one_message_a_second_per_chat_and_thirty_in_all() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    sent: list[tuple[float, int]] = []

    async def send(chat: int) -> int:
        sent.append((t.now, chat))
        return chat

    for chat in (1, 1, 1):
        await pacer.send(chat, lambda chat=chat: send(chat))  # type: ignore[misc]
    assert [at for at, _ in sent] == [0.0, 1.0, 2.0]
    sent.clear()
    t.now += 1.0  # the last send above has left the one-second window
    start = t.now
    for chat in range(100, 131):  # 31 different chats
        await pacer.send(chat, lambda chat=chat: send(chat))  # type: ignore[misc]
    assert sum(1 for at, _ in sent if at < start + 1.0) == 30 and sent[-1][0] >= start + 1.0


async def test_a_429_is_waited_out_and_the_message_sent_once() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    attempts: list[float] = []

    async def flaky() -> str:
        attempts.append(t.now)
        if len(attempts) == 1:
            raise TelegramRetryAfter(SendMessage(chat_id=1, text="x"), "Too Many Requests: retry after 7", 7)
        return "sent"

    assert await pacer.send(1, flaky) == "sent"
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 7
    assert pacer.retries == 1


async def test_an_edit_neither_waits_for_its_chats_second_nor_takes_it() -> None:
    """Telegram counts new messages: the edit that closes the question a person just pressed goes at once."""
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    done: list[tuple[float, str]] = []

    async def call(what: str) -> None:
        done.append((t.now, what))

    await pacer.send(1, lambda: call("message"))
    await pacer.edit(1, lambda: call("edit"))
    assert pacer.free_in([1]) == 1.0  # the edit took no second: the next message waits for the first's
    await pacer.send(1, lambda: call("next message"))
    assert done == [(0.0, "message"), (0.0, "edit"), (1.0, "next message")]


async def test_a_429_on_an_edit_is_waited_out_and_the_edit_made_once() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    attempts: list[float] = []

    async def flaky() -> str:
        attempts.append(t.now)
        if len(attempts) == 1:
            raise TelegramRetryAfter(SendMessage(chat_id=1, text="x"), "Too Many Requests: retry after 3", 3)
        return "edited"

    assert await pacer.edit(1, flaky) == "edited"
    assert attempts == [0.0, 3.0] and pacer.retries == 1


async def test_free_in_says_when_one_message_to_each_chat_could_start() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep, overall_per_s=3)

    async def sent() -> None:
        return None

    assert pacer.free_in([1, 2]) == 0.0
    await pacer.send(1, sent)
    t.now += 0.25
    assert pacer.free_in([1]) == 0.75 and pacer.free_in([2]) == 0.0
    assert pacer.free_in([1, 1, 2]) == 0.75  # one message to each chat: a chat named twice counts once
    await pacer.send(2, sent)
    assert pacer.free_in([3]) == 0.0  # the third of three a second
    assert pacer.free_in([3, 4]) == 0.75  # a fourth waits until the first has left the second
    assert t.slept == []  # asking never waits


def _refusing(t: FakeTime, refusals: list[int], attempts: list[float]) -> Any:
    async def make_request(bot: object, method: SendMessage) -> str:
        attempts.append(t.now)
        if refusals:
            seconds = refusals.pop(0)
            raise TelegramRetryAfter(method, f"Too Many Requests: retry after {seconds}", seconds)
        return "sent"

    return make_request


async def test_flood_wait_waits_out_a_reply_refused_for_flood_but_not_for_long() -> None:
    t = FakeTime()
    attempts: list[float] = []
    wait = FloodWait(sleep=t.sleep, max_wait_s=30.0)
    method = SendMessage(chat_id=1, text="x")
    sent: object = await wait(_refusing(t, [3], attempts), None, method)  # type: ignore[arg-type]
    assert sent == "sent"
    assert attempts == [0.0, 3.0] and wait.waited == 1

    attempts.clear()  # a minute's ban: the handler hears of it at once rather than holding the update
    with pytest.raises(TelegramRetryAfter):
        await wait(_refusing(t, [60], attempts), None, method)  # type: ignore[arg-type]
    assert len(attempts) == 1


async def test_flood_wait_stands_aside_inside_the_pacer_which_waits_out_429_itself() -> None:
    t = FakeTime()
    attempts: list[float] = []
    wait = FloodWait(sleep=t.sleep)
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    make_request = _refusing(t, [7], attempts)
    method = SendMessage(chat_id=1, text="x")
    sent: object = await pacer.send(1, lambda: wait(make_request, None, method))  # type: ignore[arg-type]
    assert sent == "sent"
    assert wait.waited == 0 and pacer.retries == 1 and len(attempts) == 2


async def test_a_photo_a_person_waits_for_takes_its_chats_turn_instead_of_a_429() -> None:
    """/report's photo a moment after an alert was delivered to the same chat: it waits the rest of the chat's second
    (0.7 s on the fake clock), not a refusal and Telegram's whole retry_after; another chat's turn is free at once,
    and the next delivery to the chat counts the photo."""
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)

    async def sent() -> None:
        return None

    await pacer.send(1, sent)  # the alert
    t.now = 0.3
    await pacer.turn(1)
    assert t.now == 1.0 and t.slept == [0.7]
    pacer.took(1)
    await pacer.turn(2)
    pacer.took(2)
    assert t.now == 1.0 and pacer.free_in([1]) == 1.0
