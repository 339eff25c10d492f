"""The slack-bolt app: store staff click a button, the cascade decides, the message follows."""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import escape
from bot.slack.delivery import SlackDelivery
from bot.slack.identity import KnownBot
from bot.slack.people import SlackNames
from bot.texts import Locale, text
from workflows.returns import Returns
from workflows.store_confirmation import NotStaff, StoreCascade
from workflows.tasks import Decision, UnknownTask
from workflows.topology import Topology

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # Slack's interactions are a few KiB; the rest is someone else's
_BUTTON = re.compile(r"^task:(available|missing|defective)$")
_RETURN_BUTTON = re.compile(r"^return:(sellable|defective|not_received)$")  # a return receipt's


class StaffAnswer(Protocol):
    """A workflow's answer to a store person's button: the task, the option, their Slack id and shown name."""

    async def __call__(self, task_id: int, option: str, user: str, *, name: str | None = None) -> Decision: ...


def build_slack_app(
    *, client: AsyncWebClient, bot: KnownBot, signing_secret: str | None, cascade: StoreCascade,
    delivery: SlackDelivery, topology: Topology, locale: Locale, names: SlackNames, returns: Returns | None = None,
) -> AsyncApp:  # fmt: skip
    # process_before_response: the click is decided before Slack gets its 200, so a retry of an
    # unacknowledged request finds the task already closed. On the way to that 200 only the name of a
    # store person who answers is asked of Slack, bounded (SlackNames): the answer is taken with the id
    # alone when it does not come. The bot is authorized without auth.test, and what Slack is told goes
    # in the background. Without a signing secret (Socket Mode only) nothing arrives over HTTP to verify.
    app = AsyncApp(
        client=_without_token(client),  # bolt gives each request the token that `bot` authorizes
        authorize=bot,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=True,
    )

    staff = {user for warehouse in topology.warehouses for user in warehouse.staff}

    async def name_of(slack: AsyncWebClient, user: str) -> str | None:
        return await names.name(slack, user) if user in staff else None  # a stranger is refused by id alone

    @app.action(_BUTTON)
    async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # `client`: bolt's, with the token `bot` authorized
        name = await name_of(client, body["user"]["id"])
        await _decide(cascade.answer, body, action, name, delivery, topology, locale)

    if returns is not None:

        @app.action(_RETURN_BUTTON)
        async def on_return_button(
            ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
        ) -> None:
            await ack()
            name = await name_of(client, body["user"]["id"])
            await _decide(returns.answer, body, action, name, delivery, topology, locale)

    return app


async def _decide(
    answer: StaffAnswer, body: dict[str, Any], action: dict[str, Any], name: str | None, delivery: SlackDelivery,
    topology: Topology, locale: Locale,
) -> None:  # fmt: skip
    """Hand a click to its workflow; the clicker alone is told why a click changed nothing."""
    option = action["action_id"].split(":", 1)[1]
    user, channel = body["user"]["id"], body["channel"]["id"]
    try:
        decision = await answer(int(action["value"]), option, user, name=name)
    except NotStaff:
        store = next((w.display_name for w in topology.warehouses if w.slack_channel == channel), channel)
        delivery.whisper(channel, user, text(locale, "refused.not_staff", store=escape(store)))
        return
    except (UnknownTask, ValueError):
        delivery.whisper(channel, user, text(locale, "refused.unknown_task"))
        return
    if decision.accepted:
        delivery.kick()  # show the outcome now, in the background: Slack waits only 3 s for the answer
    elif decision.refusal in ("answered", "expired", "cancelled"):
        delivery.whisper(
            channel, user, text(locale, f"refused.{decision.refusal}", by=escape(decision.task.answered_by))
        )


def _without_token(client: AsyncWebClient) -> AsyncWebClient:
    """``client``'s settings without its token, as bolt's template for each request's client: with a token
    there as well as ``authorize``, bolt would warn at every start that it ignores the token."""
    return AsyncWebClient(
        base_url=client.base_url, timeout=client.timeout, retry_handlers=client.retry_handlers, logger=client.logger
    )


def slack_events_handler(app: AsyncApp, signing_secret: str) -> Any:
    """``POST /slack/events`` on the service's own aiohttp server. The size, timestamp and signature are
    checked here before bolt sees the request, so a forged or oversized one costs one short log line."""
    verifier = SignatureVerifier(signing_secret)

    async def handle(request: web.Request) -> web.Response:
        body = await _read_capped(request)
        if body is None:
            return _refuse(request, 413, "body over 64 KiB")
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return _refuse(request, 400, "timestamp missing or not a number")
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(request, 400, "body is not UTF-8")
        if not verifier.is_valid(body=text_body, timestamp=stamp, signature=request.headers.get("X-Slack-Signature")):
            return _refuse(request, 401, "signature invalid or stale")
        try:
            bolt_request = AsyncBoltRequest(body=text_body, query=request.query_string, headers=dict(request.headers))
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):  # signed, yet not Slack's body
            return _refuse(request, 400, "body unreadable")
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return handle


async def _read_capped(request: web.Request) -> bytes | None:
    """The body, or ``None`` when it is over :data:`MAX_BODY` (read no further than that)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = bytearray()
    while len(body) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    return None


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("slack events: refused with %s from %s: %s", status, request.remote, reason)
    return web.Response(status=status, text=reason)


async def start_socket_mode(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Connect to Slack over Socket Mode (``SLACK_APP_TOKEN``): no public URL needed."""
    handler = AsyncSocketModeHandler(app, app_token, web_client=app.client)
    await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack-bolt
    return handler


async def stop_socket_mode(handler: AsyncSocketModeHandler) -> None:
    await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack-bolt
