"""The whole store cascade through the real slack-bolt AsyncApp and slack_sdk AsyncWebClient,
against the Slack emulator, with requests signed by slack_sdk's SignatureVerifier. A fake clock
drives the 20 minutes; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from app.bootstrap import Services, build
from app.http.server import create_app
from app.settings import load_settings
from bot.slack.delivery import SlackDelivery
from emulators.slack import SlackEmulator, SlackUser
from tests.fakes import FakeClock
from workflows.leases import LEASE, HeldLeases
from workflows.model import LineStatus, StockFigure
from workflows.orders import LineRequest, PlaceOrder
from workflows.tasks import TaskState
from workflows.topology import Topology

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-storeops-test"
TRANSCRIPTS = Path(__file__).resolve().parents[2] / "docs" / "transcripts"
STAFF = {"s1": "U1", "s2": "U2", "s3": "U3"}
# as Slack knows them: U1 and U2 chose display names, U3 has only a full name
PEOPLE = {
    "U1": SlackUser("Анна Петрова", "Анна"),
    "U2": SlackUser("Борис Орлов", "Борис"),
    "U3": SlackUser("Вера Смирнова"),
}


def _shop() -> Topology:
    stores = [
        {"code": code, "kind": "store", "title": code.upper(), "slack_channel": f"C{code.upper()}", "staff": [user],
         "priority": n, "timezone": "Europe/Moscow"}
        for n, (code, user) in enumerate(STAFF.items(), 1)
    ]  # fmt: skip
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}, *stores],
            "channels": {"site": {"serves": ["online", *STAFF]}},
        }
    )


class World:
    def __init__(self, services: Services, slack: SlackEmulator, http: TestClient[Any, Any], clock: FakeClock) -> None:
        self.services, self.slack, self.http, self.clock = services, slack, http, clock

    async def deliver(self) -> None:
        assert self.services.chats.slack_delivery is not None
        await self.services.chats.slack_delivery.run_once()

    def question(self, store: str, nth: int = 0) -> Any:
        """The store's ``nth`` question (0: its first), not counting replies in threads."""
        return [m for m in self.slack.messages(f"C{store.upper()}") if m.thread_ts is None][nth]

    async def click(
        self, store: str, option: str, user: str, *, secret: str = SECRET, age: int = 0, settle: bool = True,
        nth: int = 0,
    ) -> int:  # fmt: skip
        message = self.question(store, nth)
        first_version = message.history[0].blocks if message.history else message.blocks  # buttons go on close
        task_id = first_version[-1]["elements"][0]["value"]
        payload = {
            "type": "block_actions", "team": {"id": "T1", "domain": "shop"}, "api_app_id": "A1", "token": "legacy",
            "user": {"id": user, "username": user.lower(), "team_id": "T1"}, "trigger_id": "1.2.3",
            "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": False},
            "channel": {"id": message.channel, "name": store}, "message": {"ts": message.ts, "text": message.text},
            "response_url": "http://127.0.0.1:9/unused", "state": {"values": {}},
            "actions": [{"type": "button", "action_id": f"task:{option}", "block_id": f"task:{task_id}",
                         "value": task_id, "action_ts": "1700000001.000200"}],
        }  # fmt: skip
        body = "payload=" + quote(json.dumps(payload))
        stamp = str(int(time.time()) - age)
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
        assert signature is not None
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
        }
        response = await self.http.post("/slack/events", data=body, headers=headers)
        assert self.services.chats.slack_delivery is not None
        if settle:
            await self.services.chats.slack_delivery.settled()  # the click's delivery runs in the background
        return response.status


@pytest.fixture
def slack_timeout_s() -> str:
    """SLACK_TIMEOUT_S for the world; a test parametrizes it to a tiny value to see a timeout."""
    return "5"


@pytest.fixture
def slack_name_timeout_s() -> str:
    """SLACK_NAME_TIMEOUT_S for the world; a test parametrizes it to a tiny value to see users.info time out."""
    return "1"


@pytest.fixture
async def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack_timeout_s: str, slack_name_timeout_s: str
) -> AsyncIterator[World]:
    channels = {f"C{code.upper()}": code for code in STAFF}
    clock = FakeClock()  # Slack's message times follow it, as the real ones follow the real time
    wall_clock = lambda: clock.now().timestamp()  # noqa: E731
    async with SlackEmulator(bot_token=TOKEN, channels=channels, users=PEOPLE, wall_clock=wall_clock) as slack:
        monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cascade.db'}")
        monkeypatch.setenv("API_TOKEN", "cascade-test-token-0001")
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("SLACK_API_BASE", slack.base_url)
        monkeypatch.setenv("SLACK_TIMEOUT_S", slack_timeout_s)
        monkeypatch.setenv("SLACK_NAME_TIMEOUT_S", slack_name_timeout_s)
        monkeypatch.setenv("LOCALE", "ru")
        services = await build(load_settings(env_file=None), _shop(), clock=clock)
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("КР-7/2", code, 1) for code in STAFF])
        try:
            async with TestClient(TestServer(create_app(services), host="127.0.0.1")) as http:
                yield World(services, slack, http, clock)
        finally:
            await services.close()


async def test_timeout_missing_available_as_slack_sees_it(world: World) -> None:
    placed = (await world.services.shop.orders.place(PlaceOrder("site", "SO-1001", [LineRequest("КР-7/2", 1)]))).order
    assert placed.id is not None
    await world.deliver()
    first = world.question("s1")
    assert "SO-1001" in first.text
    assert [b["action_id"] for b in first.blocks[-1]["elements"]] == [
        "task:available",
        "task:missing",
        "task:defective",
    ]
    assert "Ответьте до *12:20*" in json.dumps(first.blocks, ensure_ascii=False)  # 09:00 UTC + 20 min, Moscow time

    world.clock.advance(minutes=10)
    await world.services.shop.pump.run_once()
    await world.deliver()
    reminder = [m.text for m in world.slack.messages("CS1") if m.thread_ts == first.ts]
    assert reminder == ["Напоминание: заказ SO-1001 ждёт ответа до 12:20."]  # the question's deadline, as it said

    world.clock.advance(minutes=10)
    await world.services.shop.pump.run_once()
    await world.deliver()
    assert "Ответа не было до 12:20" in world.question("s1").text and world.question("s1").history  # in place

    assert await world.click("s2", "missing", "U2") == 200
    assert "Нет на месте — <@U2>" in world.question("s2").text
    assert await world.click("s3", "available", "U3") == 200
    assert "Есть, в порядке — <@U3>" in world.question("s3").text
    assert "actions" not in [b["type"] for b in world.question("s3").blocks]  # buttons gone

    order = await world.services.shop.orders.get(placed.id)
    assert (order.lines[0].status, order.lines[0].warehouse) == (LineStatus.RESERVED, "s3")
    steps = [(e.kind, e.detail.get("store"), e.detail.get("outcome"), e.detail.get("by")) for e in order.history]
    assert steps[2:] == [
        ("store_asked", "s1", None, None), ("store_declined", "s1", "timeout", None),
        ("store_asked", "s2", None, None), ("store_declined", "s2", "missing", "U2"),
        ("store_asked", "s3", None, None), ("store_confirmed", "s3", "available", "U3"),
    ]  # fmt: skip
    api = await world.http.get(f"/api/orders/{placed.id}", headers={"Authorization": "Bearer cascade-test-token-0001"})
    assert [h["event"] for h in (await api.json())["history"]][-1] == "store_confirmed"
    if os.environ.get("STOREOPS_WRITE_TRANSCRIPTS"):
        write_transcript(world, await _history(world, placed.id))


def write_transcript(world: World, history: list[str]) -> None:
    """What Slack was sent, each message as its blocks read, and the order's history as the office reads it."""
    lines = ["# One store cascade as the Slack emulator saw it (fake clock starts 2026-11-21 09:00 UTC = 12:00 Moscow)"]
    for call in world.slack.calls():
        if call.method not in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            continue
        where = " ".join(
            f"{key}={call.params[key]}" for key in ("channel", "ts", "thread_ts", "user") if call.params.get(key)
        )
        lines += ["", f"{call.method:<22} {where}"]
        blocks = (
            json.loads(call.params["blocks"])
            if isinstance(call.params.get("blocks"), str)
            else call.params.get("blocks")
        )
        texts = [block["text"]["text"] for block in blocks or [] if isinstance(block.get("text"), dict)]
        texts += [
            element["text"]
            for block in blocks or []
            for element in block.get("elements", [])
            if "text" in element and isinstance(element["text"], str)
        ]
        buttons = [
            element["text"]["text"]
            for block in blocks or []
            if block.get("type") == "actions"
            for element in block["elements"]
        ]
        lines += [f"    {line}" for text in texts or [call.params.get("text", "")] for line in text.splitlines()]
        if buttons:
            lines.append("    buttons: " + " | ".join(buttons))
    lines += ["", "# The order's history as the dashboard and /order show it", *history]
    (TRANSCRIPTS / "store_cascade.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def _history(world: World, order_id: int) -> list[str]:
    api = await world.http.get(f"/api/orders/{order_id}", headers={"Authorization": "Bearer cascade-test-token-0001"})
    return [entry["text"] for entry in (await api.json())["history"]]


async def test_the_history_names_who_answered_as_slack_shows_them_and_keeps_their_id(world: World) -> None:
    placed = (await world.services.shop.orders.place(PlaceOrder("site", "SO-N1", [LineRequest("КР-7/2", 1)]))).order
    await world.deliver()
    assert await world.click("s1", "missing", "U1") == 200
    await world.deliver()
    assert await world.click("s2", "available", "U2") == 200
    assert "Есть, в порядке — <@U2>" in world.question("s2").text  # Slack itself shows the mention by name

    order = await world.services.shop.orders.get(placed.id or 0)
    answers = [(e.kind, e.detail.get("by"), e.detail.get("by_name")) for e in order.history if "by" in e.detail]
    assert answers == [("store_declined", "U1", "Анна"), ("store_confirmed", "U2", "Борис")]
    said = await _history(world, placed.id or 0)
    assert [line for line in said if "магазин S1 не" in line or "магазин S2 ответил" in line] == [
        "Строка 1: магазин S1 не подтвердил — нет на месте (Анна)",
        "Строка 1: магазин S2 ответил — есть, в порядке (Борис)",
    ]

    await world.services.shop.ledger.apply_stock(world.clock.now(), [StockFigure("LAMP", "s1", 1)])
    again = (await world.services.shop.orders.place(PlaceOrder("site", "SO-N2", [LineRequest("LAMP", 1)]))).order
    await world.deliver()
    await world.click("s1", "available", "U1", nth=1)  # the same person again: Slack is not asked twice
    assert [call.params["user"] for call in world.slack.calls("users.info")] == ["U1", "U2"]
    assert (await _history(world, again.id or 0))[-1].endswith("есть, в порядке (Анна)")


async def test_a_person_with_no_display_name_is_named_by_their_full_name(world: World) -> None:
    placed = (await world.services.shop.orders.place(PlaceOrder("site", "SO-N3", [LineRequest("КР-7/2", 1)]))).order
    await world.deliver()
    for _ in ("s1", "s2"):  # neither answers
        world.clock.advance(minutes=20)
        await world.services.shop.pump.run_once()
        await world.deliver()
    assert await world.click("s3", "available", "U3") == 200
    assert (await _history(world, placed.id or 0))[
        -1
    ] == "Строка 1: магазин S3 ответил — есть, в порядке (Вера Смирнова)"


@pytest.mark.parametrize("slack_name_timeout_s", ["0.2"])
@pytest.mark.parametrize(
    ("trouble", "logged"),
    [("hang", "TimeoutError"), ("fail", "HTTP 500"), ("missing_scope", "missing_scope"),
     ("unknown_user", "user_not_found")],
)  # fmt: skip
async def test_an_answer_is_taken_with_the_id_when_slack_does_not_tell_the_name(
    world: World, trouble: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """users.info is on the click's way to Slack's 200: bounded, and the answer never depends on it."""
    placed = (await world.services.shop.orders.place(PlaceOrder("site", "SO-N4", [LineRequest("КР-7/2", 1)]))).order
    await world.deliver()
    if trouble == "hang":
        world.slack.hang("users.info")
    elif trouble == "fail":
        world.slack.fail("users.info")
    elif trouble == "missing_scope":  # the app installed before it asked for users:read
        world.slack.scopes = "chat:write,chat:write.public"
    else:
        del world.slack.workspace.users["U1"]  # type: ignore[union-attr]  # gone from the workspace since
    async with asyncio.timeout(2):  # a guard: the click waits for the name SLACK_NAME_TIMEOUT_S (0.2 s) at most
        assert await world.click("s1", "available", "U1") == 200
    world.slack.release()

    order = await world.services.shop.orders.get(placed.id or 0)
    assert order.lines[0].status == LineStatus.RESERVED  # the answer stands
    confirmed = order.history[-1]
    assert (confirmed.kind, confirmed.detail.get("by"), "by_name" in confirmed.detail) == (
        "store_confirmed",
        "U1",
        False,
    )
    assert (await _history(world, placed.id or 0))[-1] == "Строка 1: магазин S1 ответил — есть, в порядке (U1)"
    assert "Есть, в порядке — <@U1>" in world.question("s1").text
    said = [r.getMessage() for r in caplog.records if r.name == "bot.slack.people"]
    assert len(said) == 1 and said[0].endswith(f"keeps the id: {logged}")
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("slack_name_timeout_s", ["0.2"])
async def test_a_name_slack_could_not_tell_is_asked_again_at_the_next_answer(world: World) -> None:
    await world.services.shop.ledger.apply_stock(world.clock.now(), [StockFigure("LAMP", "s1", 1)])
    await world.services.shop.orders.place(PlaceOrder("site", "SO-N5", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    world.slack.hang("users.info")
    assert await world.click("s1", "available", "U1") == 200
    world.slack.release()
    placed = (await world.services.shop.orders.place(PlaceOrder("site", "SO-N6", [LineRequest("LAMP", 1)]))).order
    await world.deliver()
    assert await world.click("s1", "available", "U1", nth=1) == 200
    assert (await _history(world, placed.id or 0))[-1].endswith("(Анна)")


async def test_a_late_pump_sends_no_reminder_after_the_deadline(world: World) -> None:
    """The pump fires half-time and the deadline together (it was down, the clock moved on): s1's thread gets no
    reminder, its question closes stating the deadline it gave, and s2 is asked with its own."""
    await world.services.shop.orders.place(PlaceOrder("site", "SO-1002", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    first = world.question("s1")
    world.clock.advance(minutes=27)
    await world.services.shop.pump.run_once()
    await world.deliver()
    assert [m for m in world.slack.messages("CS1") if m.thread_ts == first.ts] == []
    assert "Ответа не было до 12:20" in world.question("s1").text  # not 12:27, when the pump came round
    assert "Ответьте до *12:47*" in json.dumps(world.question("s2").blocks, ensure_ascii=False)


async def test_a_reminder_still_waiting_when_the_store_answers_is_not_sent(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-1003", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    world.clock.advance(minutes=10)
    await world.services.shop.pump.run_once()  # the reminder is queued; Slack has not had it yet
    world.clock.advance(minutes=1)
    assert await world.click("s1", "available", "U1") == 200  # the click's delivery takes the reminder too
    await world.deliver()
    first = world.question("s1")
    assert [m for m in world.slack.messages("CS1") if m.thread_ts == first.ts] == []
    assert "Есть, в порядке — <@U1>, 12:11" in first.text  # when it was answered


async def test_forged_or_stale_requests_are_refused_and_change_nothing(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-2", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    assert await world.click("s1", "available", "U1", secret="not-the-secret") == 401
    assert await world.click("s1", "available", "U1", age=6 * 60) == 401
    task_id = int(world.question("s1").blocks[-1]["elements"][0]["value"])
    async with world.services.shop.uow(read_only=True) as work:
        task = await work.tasks.get(task_id)
    assert task is not None and task.state == TaskState.OPEN
    assert world.question("s1").history == []


async def test_other_staff_double_clicks_and_late_clicks_have_one_effect(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-3", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    assert await world.click("s1", "available", "U3") == 200  # staff of s3, not s1
    assert "только его сотрудники" in world.slack.ephemerals("CS1")[-1].text
    assert world.question("s1").history == []
    assert await world.click("s1", "available", "U1") == 200
    assert await world.click("s1", "missing", "U1") == 200  # a second click
    assert "ответил(а) <@U1>" in world.slack.ephemerals("CS1")[-1].text
    assert len(world.question("s1").history) == 1  # updated once
    world.clock.advance(minutes=30)
    await world.services.shop.pump.run_once()  # the deadline after the answer changes nothing
    await world.deliver()
    assert len(world.question("s1").history) == 1
    assert world.slack.messages("CS2") == []


async def test_slack_rate_limit_is_honoured_and_nothing_is_lost(world: World) -> None:
    world.slack.force_rate_limit("chat.postMessage", times=1, retry_after=0)
    await world.services.shop.orders.place(PlaceOrder("site", "SO-4", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    posts = world.slack.calls("chat.postMessage")
    assert [call.status for call in posts] == [429, 200]  # retried after Retry-After
    assert len(world.slack.messages("CS1")) == 1  # posted once
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.notices.undelivered(10, ["store_question"]) == []


async def test_concurrent_delivery_runs_update_a_message_once(world: World) -> None:
    import asyncio

    await world.services.shop.orders.place(PlaceOrder("site", "SO-5", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    task_id = int(world.question("s1").blocks[-1]["elements"][0]["value"])
    assert (await world.services.shop.cascade.answer(task_id, "available", "U1")).accepted
    assert world.services.chats.slack_delivery is not None
    await asyncio.gather(*(world.services.chats.slack_delivery.run_once() for _ in range(3)))
    assert len(world.question("s1").history) == 1
    assert len(world.slack.calls("chat.update")) == 1


async def test_a_question_closed_while_it_was_being_posted_is_shown_closed(world: World) -> None:
    """On PostgreSQL another instance may take the closing notice while this one is still
    posting the question: nothing is posted yet, so it skips it. The poster looks again after
    posting and updates the message (here the other instance's skip is played by hand)."""
    services = world.services
    assert services.chats.slack_delivery is not None
    placed = (await services.shop.orders.place(PlaceOrder("site", "SO-RACE", [LineRequest("КР-7/2", 1)]))).order
    await world.deliver()
    await services.shop.orders.cancel(placed.id or 0, "client changed their mind")
    async with services.shop.uow() as work:  # the other instance's run found nothing to update
        for notice_id, _, payload in await work.notices.undelivered(10, ["task_closed"]):
            task_id = int(str(payload["task_id"]))
            await work.notices.delivered(notice_id, world.clock.now())
        await work.commit()
    assert [block["type"] for block in world.question("s1").blocks][-1] == "actions"
    await services.chats.slack_delivery._recheck(task_id)
    message = world.question("s1")
    assert len(message.history) == 1  # posted open, then updated once
    assert "actions" not in [block["type"] for block in message.blocks]


async def test_a_hung_slack_holds_no_write_lock(world: World) -> None:
    """Delivery calls Slack outside any transaction: on SQLite a write transaction holds the
    process's write lock, so orders and stock figures would wait for Slack."""
    delivery = world.services.chats.slack_delivery
    assert delivery is not None
    world.slack.hang("chat.postMessage")
    await world.services.shop.orders.place(PlaceOrder("site", "SO-H1", [LineRequest("КР-7/2", 1)]))
    running = asyncio.create_task(delivery.run_once())
    await world.slack.wait_for_held("chat.postMessage")
    async with asyncio.timeout(2):  # a guard: with the lock held this waits for Slack (5 s here)
        await world.services.shop.ledger.apply_stock(world.clock.now(), [StockFigure("LAMP", "s1", 4)])
        await world.services.shop.orders.place(PlaceOrder("site", "SO-H2", [LineRequest("LAMP", 1)]))
    world.slack.release()  # the held call is dropped: the notice goes back
    assert await running == 0
    await world.deliver()
    assert {m.text.split(": ")[0][-5:] for m in world.slack.messages("CS1")} == {"SO-H1", "SO-H2"}


@pytest.mark.parametrize("slack_timeout_s", ["0.2"])
async def test_a_timed_out_notice_is_released_and_sent_when_slack_answers_again(world: World) -> None:
    world.slack.hang("chat.postMessage")
    await world.services.shop.orders.place(PlaceOrder("site", "SO-T1", [LineRequest("КР-7/2", 1)]))
    assert world.services.chats.slack_delivery is not None
    async with asyncio.timeout(3):  # a guard: slack_sdk's own default would wait 30 s
        assert await world.services.chats.slack_delivery.run_once() == 0  # SLACK_TIMEOUT_S ran out
    world.slack.release()
    await world.deliver()  # the same moment: released, not left to wait out its lease
    assert ["SO-T1" in m.text for m in world.slack.messages("CS1")] == [True]
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.notices.undelivered(10, ["store_question"]) == []


async def test_a_click_is_answered_while_slack_hangs(world: World) -> None:
    """Slack waits 3 s for the answer to a click; the message follows in the background."""
    await world.services.shop.orders.place(PlaceOrder("site", "SO-C1", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    world.slack.hang("chat.update")
    async with asyncio.timeout(2):  # a guard: waiting for the delivery would take SLACK_TIMEOUT_S (5 s)
        assert await world.click("s1", "available", "U1", settle=False) == 200
    await world.slack.wait_for_held("chat.update")
    world.slack.release()
    assert world.services.chats.slack_delivery is not None
    await world.services.chats.slack_delivery.settled()
    await world.deliver()
    assert "Есть, в порядке — <@U1>" in world.question("s1").text


@pytest.mark.parametrize("outage", ["fail", "hang"])
async def test_a_click_on_a_fresh_instance_is_decided_while_slack_cannot_check_the_token(
    world: World, outage: str
) -> None:
    """No click waits on ``auth.test``: Slack never sends a click again, so one lost to an outage is lost."""
    await world.services.shop.orders.place(PlaceOrder("site", "SO-A1", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    task_id = int(world.question("s1").blocks[-1]["elements"][0]["value"])
    if outage == "fail":
        world.slack.fail("auth.test")
    else:
        world.slack.hang("auth.test")
    async with asyncio.timeout(2):  # a guard: a click waiting on auth.test would take SLACK_TIMEOUT_S (5 s)
        assert await world.click("s1", "available", "U1") == 200
    async with world.services.shop.uow(read_only=True) as work:
        task = await work.tasks.get(task_id)
    assert task is not None and (task.state, task.answer, task.answered_by) == (TaskState.ANSWERED, "available", "U1")
    assert "Есть, в порядке — <@U1>" in world.question("s1").text


async def test_the_bot_ids_are_learned_once_slack_answers_auth_test(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-A3", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    bot = world.services.chats.slack_bot
    assert bot is not None and not bot.known
    world.slack.fail("auth.test")
    assert await world.click("s1", "available", "U1") == 200  # decided; the check failed in the background
    await world.slack.wait_for_calls("auth.test")
    world.slack.release()
    async with asyncio.timeout(2):
        while not bot.known:  # a later request tries again (a late click: refused, answered all the same)
            assert await world.click("s1", "missing", "U1") == 200
            await asyncio.sleep(0.01)
    assert [call.status for call in world.slack.calls("auth.test")] == [500, 200]


async def test_a_refused_click_is_answered_while_slack_hangs(world: World) -> None:
    """The refusal is shown to the clicker in the background: Slack's 3 s are for our answer, not for Slack."""
    await world.services.shop.orders.place(PlaceOrder("site", "SO-A2", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    world.slack.hang("chat.postEphemeral")
    async with asyncio.timeout(2):  # a guard: waiting for the ephemeral would take SLACK_TIMEOUT_S (5 s)
        assert await world.click("s1", "available", "U3", settle=False) == 200  # U3 is not s1's staff
    await world.slack.wait_for_held("chat.postEphemeral")
    world.slack.release()
    assert world.services.chats.slack_delivery is not None
    await world.services.chats.slack_delivery.settled()
    assert world.slack.ephemerals("CS1") == []  # dropped by the outage: a hint, not a notice, so not retried


async def _post_events(world: World, body: str, *, stamp: str | None = None, sign: bool = True) -> int:
    stamp = str(int(time.time())) if stamp is None else stamp
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body) if sign else "v0=" + "0" * 64
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    return (await world.http.post("/slack/events", data=body.encode(), headers=headers)).status


def _logged_about_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("slack_bolt", "bot.slack", "aiohttp.server", "aiohttp.web"))
    ]


async def test_a_forged_request_is_refused_with_one_short_line_and_no_body(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = "payload=" + quote('{"type":"block_actions"}') + "&junk=" + "FORGED\nINJECTED " * 4000
    assert await _post_events(world, forged[:60_000], sign=False) == 401
    logged = _logged_about_events(caplog)
    assert len(logged) == 1 and "401" in logged[0]
    assert len(logged[0]) < 200 and "FORGED" not in logged[0] and "\n" not in logged[0]


async def test_an_oversized_body_is_refused_unread(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert await _post_events(world, "payload=" + "x" * 100_000) == 413
    logged = _logged_about_events(caplog)
    assert len(logged) == 1 and "413" in logged[0] and "xxxx" not in logged[0]


@pytest.mark.parametrize("stamp", ["soon", "", "1e9", "١٧٠٠٠٠٠٠٠٠"])
async def test_a_timestamp_that_is_not_a_number_is_a_bad_request(
    world: World, caplog: pytest.LogCaptureFixture, stamp: str
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await _post_events(world, "payload=%7B%7D", stamp=stamp, sign=False) == 400
    assert len(_logged_about_events(caplog)) == 1


@pytest.mark.parametrize(
    "body", ["payload=%7Bnot json", "payload=%5B1%5D", "{", "\udcff", '{"a":' * 5000 + "1" + "}" * 5000]
)
async def test_a_body_bolt_cannot_read_is_a_bad_request_not_a_crash(
    world: World, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = body.encode("utf-8", "surrogateescape")
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=encoded.decode("latin-1"))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature or ""}
    status = (await world.http.post("/slack/events", data=encoded, headers=headers)).status
    assert status in (400, 401)
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    assert len(_logged_about_events(caplog)) == 1


class Crash(BaseException):
    """The process dies here: nothing after it runs, nothing is handed back."""


def other_instance(world: World) -> SlackDelivery:
    """The delivery of another instance on the same database (its own Slack client, its own name on leases)."""
    client = AsyncWebClient(token=TOKEN, base_url=world.slack.base_url)
    shop = world.services.shop
    return SlackDelivery(shop.uow, client, shop.topology, shop.clock, "ru", owner="other/1", held=HeldLeases())


async def _posted_then_lost(world: World, order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A question is posted and Slack takes it; the instance dies before it records the message's ts."""
    delivery = world.services.chats.slack_delivery
    assert delivery is not None

    async def dies(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(delivery, "_settle", dies)
    await world.services.shop.orders.place(PlaceOrder("site", order, [LineRequest("КР-7/2", 1)]))
    with pytest.raises(Crash):
        await delivery.run_once()
    assert len(world.slack.calls("chat.postMessage")) == 1  # Slack has it; we never learnt its ts


async def test_a_question_slack_took_before_a_crash_is_taken_over_not_posted_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _posted_then_lost(world, "SO-CRASH", monkeypatch)
    world.clock.advance(seconds=LEASE.total_seconds() + 1)  # the dead instance's lease ran out
    other = other_instance(world)
    assert await other.run_once() == 1

    (question,) = world.slack.messages("CS1")  # one message, not two
    assert len(world.slack.calls("chat.postMessage")) == 1
    (update,) = world.slack.calls("chat.update")  # taken over in place, its metadata kept
    assert update.params["ts"] == question.ts
    assert question.metadata == {"event_type": "storeops_task", "event_payload": {"task_id": _task_id(question)}}
    (looked,) = world.slack.calls("conversations.history")
    assert looked.params["include_all_metadata"] == "1"
    # bounded by the first attempt (less the clock skew allowed), which was a lease ago
    assert float(looked.params["oldest"]) == (world.clock.now() - LEASE - timedelta(seconds=1, minutes=5)).timestamp()
    async with world.services.shop.uow(read_only=True) as work:
        assert await work.tasks.messages(_task_id(question)) == [("slack", "CS1", question.ts)]

    assert await world.click("s1", "available", "U1") == 200  # the one live message answers and is closed
    await other.run_once()
    await world.deliver()
    assert "actions" not in [block["type"] for block in world.question("s1").blocks]
    assert len(world.slack.messages("CS1")) == 1


@pytest.mark.parametrize("slack_timeout_s", ["0.2"])
async def test_a_post_slack_took_but_answered_too_late_is_not_posted_again(world: World) -> None:
    delivery = world.services.chats.slack_delivery
    assert delivery is not None
    slow = AsyncWebClient(token=TOKEN, base_url=world.slack.base_url)

    async def answers_too_late(**arguments: Any) -> Any:
        await AsyncWebClient.chat_postMessage(slow, **arguments)  # Slack takes it...
        raise TimeoutError  # ...and its answer comes after SLACK_TIMEOUT_S

    delivery._client.chat_postMessage = answers_too_late  # type: ignore[method-assign]
    await world.services.shop.orders.place(PlaceOrder("site", "SO-SLOW", [LineRequest("КР-7/2", 1)]))
    assert await delivery.run_once() == 0  # released at once, as any timeout
    del delivery._client.chat_postMessage
    assert await delivery.run_once() == 1  # the same moment: the release made it due again
    assert len(world.slack.messages("CS1")) == 1
    assert len(world.slack.calls("conversations.history")) == 1


async def test_a_first_post_reads_no_history(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-1ST", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    assert world.slack.calls("conversations.history") == []
    assert world.question("s1").metadata is not None


async def test_without_a_history_scope_the_question_is_posted_again_with_a_warning(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world.slack.scopes = "chat:write,chat:write.public"  # an app installed before the history scopes
    await _posted_then_lost(world, "SO-NOSCOPE", monkeypatch)
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await other_instance(world).run_once() == 1  # a second copy rather than none
    assert len(world.slack.messages("CS1")) == 2
    assert any("cannot read CS1's history (missing_scope)" in r.getMessage() for r in caplog.records)


async def _reminder_posted_then_lost(world: World, order: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A question is asked and, half-way to its deadline, its reminder is posted and Slack takes it; the instance
    dies before it records the reminder as delivered. The question's message is returned."""
    await world.services.shop.orders.place(PlaceOrder("site", order, [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    first = world.question("s1")
    world.clock.advance(minutes=10)
    await world.services.shop.pump.run_once()  # the reminder is queued
    delivery = world.services.chats.slack_delivery
    assert delivery is not None

    async def dies(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(delivery, "_settle", dies)
    with pytest.raises(Crash):
        await delivery.run_once()
    assert len([m for m in world.slack.messages("CS1") if m.thread_ts == first.ts]) == 1  # Slack has it
    return first


async def test_a_reminder_slack_took_before_a_crash_is_not_posted_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _reminder_posted_then_lost(world, "SO-RCRASH", monkeypatch)
    world.clock.advance(seconds=LEASE.total_seconds() + 1)  # the dead instance's lease ran out
    assert await other_instance(world).run_once() == 1  # the notice is settled as delivered

    (reminder,) = [m for m in world.slack.messages("CS1") if m.thread_ts == first.ts]  # one, not two
    assert reminder.metadata is not None and reminder.metadata["event_type"] == "storeops_reminder"
    (looked,) = world.slack.calls("conversations.replies")
    assert looked.params["ts"] == first.ts and looked.params["include_all_metadata"] == "1"
    assert await other_instance(world).run_once() == 0  # nothing left to send
    assert len(world.slack.calls("chat.postMessage")) == 2  # the question and one reminder


async def test_a_first_reminder_reads_no_thread(world: World) -> None:
    await world.services.shop.orders.place(PlaceOrder("site", "SO-R1ST", [LineRequest("КР-7/2", 1)]))
    await world.deliver()
    world.clock.advance(minutes=10)
    await world.services.shop.pump.run_once()
    await world.deliver()
    first = world.question("s1")
    (reminder,) = [m for m in world.slack.messages("CS1") if m.thread_ts == first.ts]
    assert reminder.metadata is not None
    assert world.slack.calls("conversations.replies") == []


async def test_without_a_history_scope_the_reminder_is_posted_again_with_a_warning(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = await _reminder_posted_then_lost(world, "SO-RNOSCOPE", monkeypatch)
    world.slack.scopes = "chat:write,chat:write.public"  # an app installed before the history scopes
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await other_instance(world).run_once() == 1  # a second reminder rather than none
    assert len([m for m in world.slack.messages("CS1") if m.thread_ts == first.ts]) == 2
    assert any("cannot read a thread in CS1 (missing_scope)" in r.getMessage() for r in caplog.records)


def _task_id(message: Any) -> int:
    first = message.history[0].blocks if message.history else message.blocks
    return int(first[-1]["elements"][0]["value"])
