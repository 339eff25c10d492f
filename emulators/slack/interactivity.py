"""Slack's side of a button press: the ``block_actions`` payload Slack builds when a user clicks a button on a
message, signed with the app's signing secret and POSTed to the app's Request URL — what Slack's servers do.

The sandbox console uses it for a store clerk's click; the payload has the fields slack-bolt reads."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
from slack_sdk.signature import SignatureVerifier

from emulators.slack.workspace import SlackMessage


def buttons(message: SlackMessage) -> list[dict[str, str]]:
    """The buttons a message shows now: ``{"text", "action_id", "value"}`` each."""
    found = []
    for block in message.blocks or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements", []):
            if element.get("type") == "button":
                text = element.get("text", {}).get("text", "")
                found.append(
                    {"text": text, "action_id": element.get("action_id", ""), "value": element.get("value", "")}
                )
    return found


def block_action(
    message: SlackMessage, action_id: str, value: str, user: str, team: str = "T0SANDBOX"
) -> dict[str, Any]:
    """The interaction payload of ``user`` clicking the button ``action_id``/``value`` on ``message``.

    The button must be on the message now: a clerk cannot press a button that is gone."""
    shown = {(b["action_id"], b["value"]) for b in buttons(message)}
    if (action_id, value) not in shown:
        raise LookupError(f"message {message.ts} in {message.channel} shows no button {action_id}={value}")
    block_id = next((b.get("block_id", "") for b in message.blocks if b.get("type") == "actions"), "")
    now = f"{time.time():.6f}"
    return {
        "type": "block_actions", "team": {"id": team, "domain": "sandbox"}, "api_app_id": "A0SANDBOX",
        "token": "legacy", "trigger_id": f"{now}.sandbox",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                      "is_ephemeral": False},
        "channel": {"id": message.channel, "name": message.channel.lower()},
        "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
        "response_url": "http://127.0.0.1:9/unused", "state": {"values": {}},
        "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                     "action_ts": now}],
    }  # fmt: skip


async def deliver(http: httpx.AsyncClient, request_url: str, signing_secret: str, payload: dict[str, Any]) -> int:
    """POST the payload as Slack does (form-encoded ``payload=``, ``X-Slack-Signature`` v0); the app's status."""
    body = "payload=" + quote(json.dumps(payload, ensure_ascii=False))
    stamp = str(int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    response = await http.post(request_url, content=body.encode(), headers=headers)
    return response.status_code
