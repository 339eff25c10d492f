"""The Slack Web API emulator, driven only through the real ``slack_sdk`` / ``slack_bolt`` clients over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from emulators.slack import SlackEmulator, SlackUser

TOKEN = "xoxb-test-storeops"
SIGNING_SECRET = "test-signing-secret"
TVERSKAYA = "C0TVERSKAYA"
MANAGER = "U0MANAGER"
BUTTON: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Reserve 2 × SKU-1?"}},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "accept", "value": "7", "text": {"type": "plain_text", "text": "Accept"}}
        ],
    },
]


class MonotonicClock:
    """The emulator's rate-limit clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _no_slack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_bolt reads SLACK_* implicitly (a CLIENT_ID/SECRET pair would even switch on OAuth)."""
    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def monotonic() -> MonotonicClock:
    return MonotonicClock()


@pytest.fixture
async def slack(monotonic: MonotonicClock) -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(
        bot_token=TOKEN, channels={TVERSKAYA: "tverskaya"}, users={MANAGER: "anna"}, clock=monotonic
    )
    async with emulator:
        yield emulator


@pytest.fixture
def client(slack: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.base_url)


async def test_auth_test_describes_the_bot(slack: SlackEmulator, client: AsyncWebClient) -> None:
    assert slack.base_url.startswith("http://127.0.0.1:") and slack.base_url.endswith("/api/")
    response = await client.auth_test()
    assert response["user_id"] == "U0STOREBOT" and response["bot_id"] == "B0STOREBOT"
    assert response["team_id"] == "T0STOREOPS" and response["url"] == "https://storeops.slack.com/"
    assert "chat:write" in response.headers["x-oauth-scopes"]
    assert [(call.method, call.token) for call in slack.calls()] == [("auth.test", TOKEN)]


@pytest.mark.parametrize(("token", "error"), [("xoxb-someone-else", "invalid_auth"), (None, "not_authed")])
async def test_auth_test_refuses_a_wrong_or_missing_token(slack: SlackEmulator, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token=token, base_url=slack.base_url).auth_test()
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error


async def test_a_token_form_field_is_accepted(slack: SlackEmulator) -> None:
    response = await AsyncWebClient(base_url=slack.base_url).api_call("auth.test", data={"token": TOKEN})
    assert response["ok"] is True
    assert slack.calls("auth.test")[0].params == {}


async def test_users_info_answers_as_slack_does_by_a_get_with_a_query_string(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    answer = await client.users_info(user=MANAGER)
    user = answer["user"]
    assert answer["ok"] is True and (user["id"], user["team_id"], user["deleted"], user["is_bot"]) == (
        MANAGER, "T0STOREOPS", False, False,
    )  # fmt: skip
    assert (user["real_name"], user["profile"]["real_name"], user["profile"]["display_name"]) == ("anna",) * 3
    assert {"name", "tz", "tz_offset", "updated", "is_admin", "is_restricted"} <= set(user)
    assert {"real_name_normalized", "display_name_normalized", "avatar_hash", "team"} <= set(user["profile"])
    [call] = slack.calls("users.info")
    assert call.params["user"] == MANAGER  # slack_sdk sends it as GET ?user=…


async def test_users_info_tells_a_display_name_apart_from_the_full_name(monotonic: MonotonicClock) -> None:
    people = {"U1": SlackUser("Анна Петрова", "Анна", name="anna.p"), "U2": SlackUser("Вера Смирнова")}
    async with SlackEmulator(bot_token=TOKEN, users=people, clock=monotonic) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
        anna, vera = (await client.users_info(user="U1"))["user"], (await client.users_info(user="U2"))["user"]
    assert (anna["name"], anna["real_name"], anna["profile"]["display_name"]) == ("anna.p", "Анна Петрова", "Анна")
    assert (vera["name"], vera["real_name"], vera["profile"]["display_name"]) == ("u2", "Вера Смирнова", "")


async def test_users_info_refuses_an_unknown_user_and_a_token_without_users_read(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"
    slack.scopes = "chat:write,chat:write.public"
    with pytest.raises(SlackApiError) as unscoped:
        await client.users_info(user=MANAGER)
    assert (unscoped.value.response["error"], unscoped.value.response["needed"]) == ("missing_scope", "users:read")


async def test_post_then_update_changes_the_stored_message(slack: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=TVERSKAYA, text="Reserve 2 × SKU-1?", blocks=BUTTON)
    assert posted["channel"] == TVERSKAYA and posted["message"]["blocks"] == BUTTON
    updated = await client.chat_update(channel=TVERSKAYA, ts=posted["ts"], text="Accepted by <@U0MANAGER>", blocks=[])

    assert updated["ts"] == posted["ts"] and updated["message"]["edited"]["user"] == "U0STOREBOT"
    [message] = slack.messages("tverskaya")
    assert (message.ts, message.text, message.blocks) == (posted["ts"], "Accepted by <@U0MANAGER>", [])
    assert [(v.text, v.blocks) for v in message.history] == [("Reserve 2 × SKU-1?", BUTTON)]
    assert slack.calls("chat.update")[0].params == {
        "channel": TVERSKAYA,
        "ts": posted["ts"],
        "text": "Accepted by <@U0MANAGER>",
        "blocks": [],
    }


async def test_timestamps_are_slack_shaped_unique_and_increasing(client: AsyncWebClient) -> None:
    stamps = [(await client.chat_postMessage(channel=TVERSKAYA, text=f"#{n}"))["ts"] for n in range(3)]
    assert stamps[0] == "1700000000.000100"
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 3


async def test_form_encoded_blocks_arrive_as_a_json_string(slack: SlackEmulator, client: AsyncWebClient) -> None:
    await client.api_call(
        "chat.postMessage", data={"channel": "#tverskaya", "text": "hi", "blocks": json.dumps(BUTTON)}
    )
    assert slack.messages(TVERSKAYA)[0].blocks == BUTTON


async def test_conversations_replies_reads_a_thread(
    slack: SlackEmulator, client: AsyncWebClient, monotonic: MonotonicClock
) -> None:
    parent = await client.chat_postMessage(channel=TVERSKAYA, text="Order 42: confirm stock")
    await client.chat_postMessage(channel=TVERSKAYA, text="unrelated")
    for text in ("1 left", "confirmed"):
        monotonic.advance(1.0)  # four posts in one instant would hit the channel's rate limit
        await client.chat_postMessage(channel=TVERSKAYA, text=text, thread_ts=parent["ts"])

    thread = await client.conversations_replies(channel=TVERSKAYA, ts=parent["ts"])

    assert [m["text"] for m in thread["messages"]] == ["Order 42: confirm stock", "1 left", "confirmed"]
    assert thread["messages"][0]["reply_count"] == 2
    assert {m["thread_ts"] for m in thread["messages"]} == {parent["ts"]}
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_replies(channel=TVERSKAYA, ts="1.000000")
    assert raised.value.response["error"] == "thread_not_found"


async def test_conversations_replies_gives_metadata_only_when_asked(
    slack: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(channel=TVERSKAYA, text="Order 42: confirm stock")
    reminder = {"event_type": "storeops_reminder", "event_payload": {"task_id": 7, "notice_id": 3}}
    await client.chat_postMessage(channel=TVERSKAYA, text="reminder", thread_ts=parent["ts"], metadata=reminder)

    plain = await client.conversations_replies(channel=TVERSKAYA, ts=parent["ts"])
    full = await client.conversations_replies(channel=TVERSKAYA, ts=parent["ts"], include_all_metadata=True)

    assert ["metadata" in m for m in plain["messages"]] == [False, False]
    assert full["messages"][1]["metadata"] == reminder


TASK_7 = {"event_type": "storeops_task", "event_payload": {"task_id": 7}}


async def test_metadata_is_posted_and_read_back_only_with_include_all_metadata(
    slack: SlackEmulator, client: AsyncWebClient, monotonic: MonotonicClock
) -> None:
    posted = await client.chat_postMessage(channel=TVERSKAYA, text="Reserve?", blocks=BUTTON, metadata=TASK_7)
    assert posted["message"]["metadata"] == TASK_7  # the post's answer echoes it
    await client.chat_postMessage(channel=TVERSKAYA, text="in its thread", thread_ts=posted["ts"])
    monotonic.advance(1.0)
    later = await client.chat_postMessage(channel=TVERSKAYA, text="no metadata")

    plain = await client.conversations_history(channel=TVERSKAYA)
    assert [m["ts"] for m in plain["messages"]] == [later["ts"], posted["ts"]]  # newest first, no thread replies
    assert all("metadata" not in m for m in plain["messages"])  # Slack leaves it out unless asked
    assert plain["messages"][1]["reply_count"] == 1 and plain["has_more"] is False

    full = await client.conversations_history(channel=TVERSKAYA, include_all_metadata=True)
    assert [m.get("metadata") for m in full["messages"]] == [None, TASK_7]
    assert slack.calls("conversations.history")[-1].params["include_all_metadata"] == "1"  # slack_sdk's GET form

    await client.chat_update(channel=TVERSKAYA, ts=posted["ts"], text="Closed", blocks=[])  # no metadata: kept
    assert slack.messages(TVERSKAYA)[0].metadata == TASK_7


async def test_history_pages_with_a_cursor_and_keeps_to_oldest_and_latest(
    client: AsyncWebClient, monotonic: MonotonicClock
) -> None:
    stamps = []
    for n in range(5):
        monotonic.advance(1.0)
        stamps.append((await client.chat_postMessage(channel=TVERSKAYA, text=f"m{n}"))["ts"])

    first = await client.conversations_history(channel=TVERSKAYA, oldest=stamps[0], limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_history(channel=TVERSKAYA, oldest=stamps[0], limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"] and second["has_more"] is False  # oldest: exclusive
    inclusive = await client.conversations_history(
        channel=TVERSKAYA, oldest=stamps[0], latest=stamps[1], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m1", "m0"]


async def test_history_needs_a_history_scope_and_metadata_must_be_well_formed(slack: SlackEmulator) -> None:
    async with SlackEmulator(bot_token=TOKEN, channels={TVERSKAYA: "tverskaya"}, scopes="chat:write") as narrow:
        with pytest.raises(SlackApiError) as raised:
            await AsyncWebClient(token=TOKEN, base_url=narrow.base_url).conversations_history(channel=TVERSKAYA)
    assert raised.value.response["error"] == "missing_scope"
    assert "channels:history" in raised.value.response["needed"]
    async with SlackEmulator(bot_token=TOKEN, channels={TVERSKAYA: "tverskaya"}, scopes="chat:write") as narrow:
        narrow_client = AsyncWebClient(token=TOKEN, base_url=narrow.base_url)
        parent = await narrow_client.chat_postMessage(channel=TVERSKAYA, text="hi")
        with pytest.raises(SlackApiError) as raised:
            await narrow_client.conversations_replies(channel=TVERSKAYA, ts=parent["ts"])
    assert raised.value.response["error"] == "missing_scope"
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
    malformed: list[dict[str, Any]] = [
        {"event_type": "x"},
        {"event_payload": {}},
        {"event_type": "x", "event_payload": "7"},
    ]
    for wrong in malformed:
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=TVERSKAYA, text="hi", metadata=wrong)
        assert raised.value.response["error"] == "invalid_metadata_format"
    assert slack.messages(TVERSKAYA) == []


async def test_an_ephemeral_is_recorded_for_its_user_only(slack: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.chat_postEphemeral(channel=TVERSKAYA, user=MANAGER, text="Only you can see this")
    [ephemeral] = slack.ephemerals(TVERSKAYA)
    assert (ephemeral.user, ephemeral.text, ephemeral.message_ts) == (
        MANAGER,
        "Only you can see this",
        response["message_ts"],
    )
    assert slack.messages(TVERSKAYA) == []
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postEphemeral(channel=TVERSKAYA, user="U0STRANGER", text="?")
    assert raised.value.response["error"] == "user_not_found"


async def test_slack_errors_are_http_200_with_an_error_code(slack: SlackEmulator, client: AsyncWebClient) -> None:
    async def error_of(call: Any) -> tuple[int, str]:
        with pytest.raises(SlackApiError) as raised:
            await call
        return raised.value.response.status_code, raised.value.response["error"]

    assert await error_of(client.chat_postMessage(channel="C0NOWHERE", text="hi")) == (200, "channel_not_found")
    assert await error_of(client.chat_update(channel=TVERSKAYA, ts="1.000000", text="x")) == (200, "message_not_found")
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        assert await error_of(client.chat_postMessage(channel=TVERSKAYA)) == (200, "no_text")
    assert await error_of(client.api_call("chat.shout", json={"channel": TVERSKAYA})) == (200, "unknown_method")
    assert [call.error for call in slack.calls()] == [
        "channel_not_found",
        "message_not_found",
        "no_text",
        "unknown_method",
    ]


async def test_a_hung_method_answers_nothing_until_released_then_drops_what_it_held(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url, timeout=1)
    slack.hang("chat.postMessage")
    posting = asyncio.create_task(client.chat_postMessage(channel=TVERSKAYA, text="lost"))
    await slack.wait_for_held("chat.postMessage")
    assert (await client.auth_test())["ok"]  # other methods still answer
    assert not posting.done()
    slack.release("chat.postMessage")
    with pytest.raises(SlackApiError) as dropped:
        await posting
    assert dropped.value.response.status_code == 503
    await client.chat_postMessage(channel=TVERSKAYA, text="kept")
    assert [m.text for m in slack.messages(TVERSKAYA)] == ["kept"]
    assert slack.held == ["chat.postMessage"] and len(slack.calls("chat.postMessage")) == 1


async def test_a_failing_method_answers_its_status_until_released(slack: SlackEmulator) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.base_url, timeout=1)
    slack.fail("auth.test", 500)
    with pytest.raises(SlackApiError) as failed:
        await client.auth_test()
    assert failed.value.response.status_code == 500
    await client.chat_postMessage(channel=TVERSKAYA, text="others still answer")
    slack.release("auth.test")
    assert (await client.auth_test())["ok"]
    assert [call.status for call in slack.calls("auth.test")] == [500, 200]


async def test_the_fourth_rapid_post_to_a_channel_is_rate_limited(
    slack: SlackEmulator, client: AsyncWebClient, monotonic: MonotonicClock
) -> None:
    for n in range(3):
        await client.chat_postMessage(channel=TVERSKAYA, text=f"burst {n}")
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=TVERSKAYA, text="one too many")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "1"
    assert raised.value.response["error"] == "ratelimited"

    monotonic.advance(1.0)
    await client.chat_postMessage(channel=TVERSKAYA, text="after waiting")
    assert [m.text for m in slack.messages(TVERSKAYA)] == ["burst 0", "burst 1", "burst 2", "after waiting"]


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch, monotonic: MonotonicClock) -> list[float]:
    """slack_sdk's rate-limit handler sleeps ``Retry-After + random()``: make that move the fake clock instead."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        monotonic.advance(seconds)

    monkeypatch.setattr(builtin_async_handlers, "asyncio", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    return sleeps


async def test_slack_sdk_retry_handler_honours_retry_after(slack: SlackEmulator, retry_sleeps: list[float]) -> None:
    client = AsyncWebClient(
        token=TOKEN, base_url=slack.base_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    started = time.monotonic()
    for n in range(4):
        await client.chat_postMessage(channel=TVERSKAYA, text=f"line {n}")

    assert time.monotonic() - started < 2
    assert retry_sleeps == [1.0]
    assert [call.status for call in slack.calls("chat.postMessage")] == [200, 200, 200, 429, 200]
    assert [m.text for m in slack.messages(TVERSKAYA)] == [f"line {n}" for n in range(4)]


async def test_forced_rate_limits_for_any_method(slack: SlackEmulator, retry_sleeps: list[float]) -> None:
    slack.force_rate_limit("chat.update", times=2, retry_after=0)
    client = AsyncWebClient(
        token=TOKEN, base_url=slack.base_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    )
    posted = await client.chat_postMessage(channel=TVERSKAYA, text="draft")
    await client.chat_update(channel=TVERSKAYA, ts=posted["ts"], text="final")

    assert retry_sleeps == [0.0, 0.0]
    assert [call.status for call in slack.calls("chat.update")] == [429, 429, 200]
    assert slack.messages(TVERSKAYA)[0].text == "final"


def _block_action(message_ts: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0STOREOPS", "domain": "storeops"},
        "user": {"id": MANAGER, "username": "anna", "team_id": "T0STOREOPS"},
        "api_app_id": "A0STOREOPS",
        "token": "legacy-verification-token",
        "trigger_id": "123.456.abc",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": TVERSKAYA, "is_ephemeral": False},
        "channel": {"id": TVERSKAYA, "name": "tverskaya"},
        "message": {"ts": message_ts, "text": "Reserve 2 × SKU-1?", "blocks": BUTTON},
        "response_url": "http://127.0.0.1:9/response_url/unused",
        "actions": [
            {"type": "button", "action_id": "accept", "block_id": "b1", "value": "7", "action_ts": "1700000001.000200"}
        ],
        "state": {"values": {}},
    }
    return urlencode({"payload": json.dumps(payload)})


def _signed(body: str) -> dict[str, str | Sequence[str]]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
    }


@pytest.fixture
def local_network_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any name lookup other than localhost fails, so reaching slack.com would break the test."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", b"localhost"):
            raise OSError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.usefixtures("local_network_only")
async def test_a_bolt_app_verifies_its_token_against_the_emulator(slack: SlackEmulator, client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=True)

    @app.action("accept")
    async def accept(ack: Any, body: dict[str, Any], client: AsyncWebClient, action: dict[str, Any]) -> None:
        await ack()
        await client.chat_update(
            channel=body["channel"]["id"],
            ts=body["message"]["ts"],
            text=f"Accepted (task {action['value']})",
            blocks=[],
        )

    # AsyncApp has no token_verification_enabled: auth.test waits for the first request that needs it.
    assert slack.calls("auth.test") == []
    posted = await client.chat_postMessage(channel=TVERSKAYA, text="Reserve 2 × SKU-1?", blocks=BUTTON)
    for _ in range(2):
        body = _block_action(posted["ts"])
        response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=_signed(body)))
        assert response.status == 200

    assert len(slack.calls("auth.test")) == 1
    assert slack.messages(TVERSKAYA)[0].text == "Accepted (task 7)"
    assert slack.calls("chat.update")[0].params["team_id"] == "T0STOREOPS"
    assert {call.token for call in slack.calls()} == {TOKEN}


async def test_auto_created_channels_and_waiting_for_background_calls(monotonic: MonotonicClock) -> None:
    async with SlackEmulator(bot_token=TOKEN, auto_create_channels=True, clock=monotonic) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.base_url)
        posting = asyncio.create_task(client.chat_postMessage(channel="C0NEW", text="first"))
        [call] = await slack.wait_for_calls("chat.postMessage", patience=2)
        await posting

    assert call.params == {"channel": "C0NEW", "text": "first"} and call.status == 200
    assert [m.text for m in slack.messages("C0NEW")] == ["first"]
    with pytest.raises(KeyError):
        slack.messages("C0NEVER")
