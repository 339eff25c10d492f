"""Slack's Web API over HTTP on 127.0.0.1, close enough on the wire for the real ``slack_sdk`` clients.

What ``slack_sdk`` (3.47) sends, and so what this accepts:

* every method at ``<base_url><method>``, the token in ``Authorization: Bearer xoxb-...`` (a ``token`` parameter
  is accepted too, as Slack does);
* ``chat.*`` as a JSON body; ``auth.test`` as a POST whose parameters are in the *query string* (empty body);
  ``conversations.replies``, ``conversations.history`` and ``users.info`` as a **GET** with a query string
  (booleans as ``1``); other clients may send form-encoded bodies.
  Parameters from the query string and the body are merged, the body winning.

Answers follow Slack: HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}`` for every failure
except rate limits, which are HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer
from emulators.refusals import ForcedRateLimits
from emulators.slack.rate_limit import ChannelRateLimiter, Clock, RateLimitPolicy
from emulators.slack.socket_mode import PATH as SOCKET_MODE_PATH
from emulators.slack.socket_mode import SocketModeHub
from emulators.slack.workspace import (
    BotIdentity,
    EphemeralMessage,
    Params,
    SlackApiFailure,
    SlackMessage,
    SlackUser,
    SlackWorkspace,
)

_METHODS: dict[str, Callable[[SlackWorkspace, Params], dict[str, Any]]] = {
    "auth.test": lambda workspace, _params: workspace.auth_test(),
    "chat.postMessage": SlackWorkspace.post_message,
    "chat.update": SlackWorkspace.update_message,
    "chat.postEphemeral": SlackWorkspace.post_ephemeral,
    "conversations.replies": SlackWorkspace.replies,
    "conversations.history": SlackWorkspace.history,
    "users.info": SlackWorkspace.user_info,
}
# A method that needs one of these scopes of the token, Slack's "needed" when it has none of them.
_SCOPES = {
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "users.info": ("users:read",),
}


@dataclass(frozen=True)
class SlackCall:
    """One request as the emulator received it, and how it answered (``error`` is ``None`` when ``ok``)."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int
    error: str | None


@dataclass(frozen=True)
class SlackAnswer:
    """An HTTP answer before it is put on the wire."""

    body: dict[str, Any]
    status: int = 200
    headers: Mapping[str, str] | None = None


class SlackEmulator(LocalServer):
    """One Slack workspace with one bot token, served on a free port of 127.0.0.1.

    Use ``async with SlackEmulator(...) as slack:`` and give ``slack.base_url`` to
    ``AsyncWebClient(base_url=...)``. Every request is recorded (:meth:`calls`); messages are kept per channel
    (:meth:`messages`, :meth:`ephemerals`). ``clock`` drives rate limiting and call times: pass a fake one so
    tests move time instead of sleeping.
    """

    name = "Slack"
    url_path = "/api/"

    def __init__(
        self,
        *,
        bot_token: str,
        channels: Mapping[str, str] | None = None,
        users: Mapping[str, str | SlackUser] | None = None,
        identity: BotIdentity | None = None,
        auto_create_channels: bool = False,
        rate_limit: RateLimitPolicy | None = None,
        clock: Clock = time.monotonic,
        scopes: str = "chat:write,chat:write.public,commands,users:read,channels:history,groups:history",
        app_token: str | None = None,  # xapp-…: enables Socket Mode (apps.connections.open)
        wall_clock: Callable[[], float] | None = None,  # unix seconds for message ts (default: from 1700000000)
    ) -> None:
        self.bot_token = bot_token
        self.scopes = scopes
        self.workspace = SlackWorkspace(
            identity=identity or BotIdentity(),
            channels=channels or {},
            users=users,
            auto_create_channels=auto_create_channels,
            wall_clock=wall_clock,
        )
        self.received: list[SlackCall] = []
        self._clock = clock
        self._limiter = ChannelRateLimiter(rate_limit or RateLimitPolicy(), clock)
        self._forced = ForcedRateLimits()
        self._recorded = asyncio.Condition()
        self.app_token = app_token
        self.socket_mode = SocketModeHub()
        self._hanging: dict[str, asyncio.Event] = {}
        self._failing: dict[str, int] = {}  # method → the HTTP status it answers with, nothing done
        self.held: list[str] = []  # methods of calls that arrived while hanging, in order

    # -- serving ---------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        """The aiohttp application answering ``/api/<method>``, for mounting or for ``aiohttp_client``."""
        return create_app(self)

    async def _before_stop(self) -> None:
        self.release()
        await self.socket_mode.close()

    # -- what tests read and steer ---------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Requests received, oldest first; only those of ``method`` when given."""
        return [call for call in self.received if method is None or call.method == method]

    def messages(self, channel: str) -> list[SlackMessage]:
        """Messages in a channel (id or name), thread replies included, in posting order."""
        return list(self.workspace.messages[self._known_channel(channel)])

    def ephemerals(self, channel: str) -> list[EphemeralMessage]:
        """Ephemeral messages shown in a channel (id or name), in order."""
        return list(self.workspace.ephemerals[self._known_channel(channel)])

    def _known_channel(self, reference: str) -> str:
        channel = self.workspace.find_channel(reference)
        if channel is None:
            raise KeyError(f"no Slack channel {reference!r} in the emulator")
        return channel

    def force_rate_limit(self, method: str, times: int = 1, retry_after: int = 0) -> None:
        """Make the next ``times`` calls of ``method`` answer 429 with ``Retry-After: retry_after``."""
        self._forced.add(method, times, retry_after)

    def hang(self, method: str) -> None:
        """Calls of ``method`` get no answer until :meth:`release`; then they are dropped (HTTP 503, nothing
        done), as a request lost in a Slack outage. Only :attr:`held` records them, not :meth:`calls`."""
        self._hanging.setdefault(method, asyncio.Event())

    def fail(self, method: str, status: int = 500) -> None:
        """Calls of ``method`` answer HTTP ``status`` with a plain-text body and do nothing, as Slack does in an
        outage, until :meth:`release`. They are recorded in :meth:`calls`."""
        self._failing[method] = status

    def failing(self, method: str) -> int | None:
        """The HTTP status ``method`` fails with now, or ``None``."""
        return self._failing.get(method)

    def release(self, method: str | None = None) -> None:
        """Stop hanging or failing ``method`` (every method when ``None``); held calls are dropped."""
        for name in [method] if method is not None else list(self._failing):
            self._failing.pop(name, None)
        for name in [method] if method is not None else list(self._hanging):
            event = self._hanging.pop(name, None)
            if event is not None:
                event.set()

    async def hold(self, method: str) -> bool:
        """Wait while ``method`` hangs; ``True`` when the call was held (and so must be dropped)."""
        event = self._hanging.get(method)
        if event is None:
            return False
        self.held.append(method)
        async with self._recorded:
            self._recorded.notify_all()
        await event.wait()
        return True

    async def wait_for_held(self, method: str, count: int = 1, patience: float = 5.0) -> None:
        """Wait until ``count`` calls of ``method`` are held (``patience`` only guards against a hang)."""
        async with asyncio.timeout(patience), self._recorded:
            await self._recorded.wait_for(lambda: self.held.count(method) >= count)

    async def wait_for_calls(self, method: str, count: int = 1, patience: float = 5.0) -> list[SlackCall]:
        """Wait until ``count`` calls of ``method`` arrived (for apps that call Slack in the background).

        ``patience`` (real seconds) only guards against a hang: it raises ``TimeoutError`` when exceeded.
        """
        async with asyncio.timeout(patience), self._recorded:
            await self._recorded.wait_for(lambda: len(self.calls(method)) >= count)
        return self.calls(method)

    # -- answering -------------------------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any], token: str | None) -> SlackAnswer:
        """Slack's answer to ``method`` called with ``params`` and ``token``."""
        if method == "apps.connections.open":
            if not token or token != self.app_token:
                return SlackAnswer({"ok": False, "error": "invalid_auth" if token else "not_authed"})
            ws_base = self.base_url.removesuffix("/api/").replace("http://", "ws://")
            return SlackAnswer({"ok": True, "url": f"{ws_base}{SOCKET_MODE_PATH}?ticket={uuid.uuid4().hex}"})
        if method not in _METHODS:
            return SlackAnswer({"ok": False, "error": "unknown_method", "req_method": method})
        if not token:
            return SlackAnswer({"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return SlackAnswer({"ok": False, "error": "invalid_auth"})
        needed = _SCOPES.get(method)
        if needed and not set(needed) & set(self.scopes.split(",")):
            return SlackAnswer({"ok": False, "error": "missing_scope", "needed": ",".join(needed),
                                "provided": self.scopes})  # fmt: skip
        try:
            retry_after = self._forced.take(method)
            if retry_after is None and method == "chat.postMessage":
                retry_after = self._limiter.acquire(self.workspace.resolve_channel(params.get("channel")))
            if retry_after is not None:
                body = {"ok": False, "error": "ratelimited"}
                return SlackAnswer(body, status=429, headers={"Retry-After": str(retry_after)})
            body = _METHODS[method](self.workspace, params)
        except SlackApiFailure as failure:
            return SlackAnswer({"ok": False, "error": failure.error})
        headers = {"x-oauth-scopes": self.scopes} if method == "auth.test" else None
        return SlackAnswer(body, headers=headers)

    async def record(self, method: str, params: dict[str, Any], token: str | None, answer: SlackAnswer) -> None:
        """Keep a received request and wake whoever waits for it."""
        error = None if answer.body.get("ok") else str(answer.body.get("error"))
        self.received.append(SlackCall(method, params, token, self._clock(), answer.status, error))
        async with self._recorded:
            self._recorded.notify_all()


def create_app(emulator: SlackEmulator) -> web.Application:
    """An aiohttp application serving ``emulator`` at ``/api/<method>`` (GET and POST, as Slack does)."""

    async def handle(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, token = await _read_request(request)
        if await emulator.hold(method):
            raise web.HTTPServiceUnavailable()
        status = emulator.failing(method)
        if status is not None:
            await emulator.record(method, params, token, SlackAnswer({"ok": False, "error": "outage"}, status=status))
            return web.Response(status=status, text="Slack is having trouble")
        answer = emulator.answer(method, params, token)
        await emulator.record(method, params, token, answer)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    app = web.Application()
    app.router.add_get(SOCKET_MODE_PATH, emulator.socket_mode.handle)
    app.router.add_get("/api/{method}", handle)
    app.router.add_post("/api/{method}", handle)
    return app


async def _read_request(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merged query and body parameters (without ``token``), and the token from the header or a parameter."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    token = params.pop("token", None)
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ").strip()
    return params, None if token is None else str(token)
