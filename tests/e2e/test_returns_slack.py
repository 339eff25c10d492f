"""A return receipt in a store's Slack channel, through the real slack-bolt app and the Slack emulator: the
question shows the return's buttons, the staff's click settles it, a second click is refused."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from slack_sdk.signature import SignatureVerifier

from tests.e2e import test_store_cascade_slack as cascade
from tests.e2e.test_store_cascade_slack import SECRET, World
from workflows.orders import LineRequest, PlaceOrder

# the store cascade's world: the service on SQLite, the Slack emulator, signed requests
world, slack_timeout_s, slack_name_timeout_s = cascade.world, cascade.slack_timeout_s, cascade.slack_name_timeout_s


async def _click(world: World, message: Any, option: str, user: str) -> int:
    task_id = (message.history[0].blocks if message.history else message.blocks)[-1]["elements"][0]["value"]
    payload = {
        "type": "block_actions", "team": {"id": "T1", "domain": "shop"}, "api_app_id": "A1", "token": "legacy",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": False},
        "channel": {"id": message.channel, "name": "s1"}, "message": {"ts": message.ts, "text": message.text},
        "response_url": "http://127.0.0.1:9/unused", "state": {"values": {}},
        "actions": [{"type": "button", "action_id": f"return:{option}", "block_id": f"task:{task_id}",
                     "value": task_id, "action_ts": "1700000001.000200"}],
    }  # fmt: skip
    body = "payload=" + quote(json.dumps(payload))
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }  # fmt: skip
    response = await world.http.post("/slack/events", data=body, headers=headers)
    assert world.services.chats.slack_delivery is not None
    await world.services.chats.slack_delivery.settled()
    return response.status


def _receipt(world: World) -> Any:
    return next(m for m in world.slack.messages("CS1") if "Возврат" in m.text)


async def test_a_return_is_asked_in_the_store_channel_and_the_first_click_stands(world: World) -> None:
    shop = world.services.shop
    placed = (await shop.orders.place(PlaceOrder("site", "SO-<!channel>", [LineRequest("КР-7/2", 1)]))).order
    assert placed.id is not None
    await world.deliver()
    assert await world.click("s1", "available", "U1") == 200

    await shop.returns.announce(placed.id, "КР-7/2", None, "site")
    await shop.returns.announce(placed.id, "КР-7/2", None, "site")  # said twice: one question
    await world.deliver()
    asked = [m for m in world.slack.messages("CS1") if "Возврат" in m.text]
    assert len(asked) == 1
    receipt = asked[0]
    assert [b["action_id"] for b in receipt.blocks[-1]["elements"]] == [
        "return:sellable", "return:defective", "return:not_received",
    ]  # fmt: skip
    shown = json.dumps(receipt.blocks, ensure_ascii=False)
    assert "SO-&lt;!channel&gt;" in shown and "<!channel>" not in shown  # the order number cannot ping anyone

    assert await _click(world, receipt, "sellable", "U2") == 200  # not s1's staff
    assert "только его сотрудники" in world.slack.ephemerals("CS1")[-1].text
    world.clock.advance(days=2)  # the parcel arrives after 1C's last figure
    assert await _click(world, receipt, "sellable", "U1") == 200
    assert "Пришёл, можно продавать — <@U1>" in _receipt(world).text  # updated in place, buttons gone
    assert all(b["type"] != "actions" for b in _receipt(world).blocks)
    assert await shop.returns.expected_back("КР-7/2") == {"s1": 1}

    assert await _click(world, receipt, "defective", "U1") == 200
    assert "ответил(а) <@U1>" in world.slack.ephemerals("CS1")[-1].text
    history = [e for e in (await shop.orders.get(placed.id)).history if e.kind.startswith("return_")]
    assert [e.kind for e in history] == ["return_announced", "return_sellable"]
    assert (history[-1].detail["by"], history[-1].detail["by_name"]) == ("U1", "Анна")  # the id, and as Slack says
