"""Slow and surplus clients. aiohttp limits the size of a body but neither the time a client takes to send its
request nor how many connections are served at once: a client that sends its request head a byte at a time, or
announces a body it never finishes, holds a connection (and a handler) as long as it likes, and enough of them wear
the process out. Here:

- :class:`GuardedSite` serves the runner's application like ``web.TCPSite``, but puts a :class:`GuardedConnection`
  around aiohttp's protocol on every connection. It counts the connections (one over ``max_connections`` is
  answered ``503`` with ``Retry-After`` and closed before anything of its request is read) and closes a connection
  whose request head is not complete within ``header_timeout_s`` of connecting or of its previous response.
- :func:`request_deadlines`, a middleware, tells the connection when a request's head arrived and when its response
  is done, and gives the body ``body_timeout_s`` from the head to arrive whole. Past that, whatever reads the body
  (``request.read()``, ``request.json()``, a handler streaming ``request.content`` such as the 1C exchange's
  uploads) gets :class:`BodyTimedOut`; the client gets ``408 request_timeout`` and the connection is closed.

A reverse proxy in front (nginx, Caddy) buffers slow clients and stays the first defence; this is the second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from aiohttp import StreamReader, web
from aiohttp.typedefs import Middleware

from app.http.errors import Handler, error_response

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0  # one line per kind of event at most this often
RETRY_AFTER_S = 5  # told to a client refused over the cap


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_connections: int = 256


class BodyTimedOut(TimeoutError):
    """What every read of a request body raises once the body missed its deadline. A ``TimeoutError``, so that
    aiohttp, draining the rest of a body no handler read, stops quietly instead of logging an error."""


class ThrottledLog:
    """One line for a kind of event at most every ``every_s`` seconds, counting the events since the last line:
    a flood of refused connections writes a line a minute, not a line each. ``message`` takes the count."""

    def __init__(
        self, level: int, message: str, *, every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._level, self._message, self._every_s, self._clock = level, message, every_s, clock
        self._count = 0
        self._quiet_until: float | None = None

    def note(self) -> None:
        self._count += 1
        now = self._clock()
        if self._quiet_until is not None and now < self._quiet_until:
            return
        log.log(self._level, self._message, self._count)
        self._count, self._quiet_until = 0, now + self._every_s


def _refusal() -> bytes:
    body = json.dumps({
        "error": "too_many_connections",
        "message": "the server is serving as many connections as it may; try again shortly",
        "details": [],
    }).encode()  # fmt: skip
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: {RETRY_AFTER_S}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


REFUSAL = _refusal()


class ConnectionGuard:
    """The protocol factory of a :class:`GuardedSite`: a :class:`GuardedConnection` per accepted connection, each
    around a protocol made by ``serve`` (the runner's ``web.Server``). ``open`` is how many are being served."""

    def __init__(
        self,
        serve: Callable[[], asyncio.Protocol],
        limits: ConnectionLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.serve, self.limits = serve, limits
        self.open = 0
        self.refusals = ThrottledLog(
            logging.WARNING,
            f"http: refused %d connection(s), {limits.max_connections} being served already (HTTP_MAX_CONNECTIONS)",
            clock=clock,
        )
        self.late_heads = ThrottledLog(
            logging.INFO,
            f"http: closed %d connection(s) that sent no whole request head within {limits.header_timeout_s:g} s "
            "(HTTP_HEADER_TIMEOUT_S)",
            clock=clock,
        )

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)


class GuardedConnection(asyncio.Protocol):
    """One client connection: aiohttp's protocol inside, every event handed on to it, with the cap and the deadline
    for the request head around it. :func:`request_deadlines` calls :meth:`head_arrived` and :meth:`response_done`."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._in_request = False
        self._unsent = 0  # response bytes still queued when the deadline last passed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        guard = self._guard
        if guard.open >= guard.limits.max_connections:
            transport.write(REFUSAL)
            transport.close()
            guard.refusals.note()
            return
        guard.open += 1
        self._transport = transport
        self._inner = guard.serve()
        self._inner.connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        self._transport = None
        if self._inner is not None:
            inner, self._inner = self._inner, None
            self._guard.open -= 1
            inner.connection_lost(exc)

    def head_arrived(self) -> None:
        """A request's head is complete and its handler starts: no deadline while it runs."""
        self._in_request = True
        self._stop_deadline()

    def response_done(self) -> None:
        """The handler returned: the next request's head is due within the timeout."""
        self._in_request = False
        self._unsent = 0
        self._await_head()

    def _await_head(self) -> None:
        self._stop_deadline()
        if self._transport is not None and not self._transport.is_closing():
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._guard.limits.header_timeout_s, self._head_late)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        self._deadline = None
        transport = self._transport
        if self._in_request or transport is None or transport.is_closing():
            return
        unsent = transport.get_write_buffer_size()
        if unsent and unsent != self._unsent:  # the last response is still going out, and the client reads it
            self._unsent = unsent
            self._await_head()
            return
        self._guard.late_heads.note()
        if unsent:  # a client that stopped reading: what is queued for it would keep the socket open
            transport.abort()
        else:
            transport.close()


class GuardedSite(web.BaseSite):
    """``web.TCPSite`` with a :class:`ConnectionGuard` between the socket and aiohttp (plain HTTP: TLS ends at the
    reverse proxy). ``runner.addresses`` gives the port bound, as with ``TCPSite`` (port 0 takes a free one)."""

    __slots__ = ("_host", "_limits", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: ConnectionLimits) -> None:
        super().__init__(runner)
        self._host, self._port, self._limits = host, port, limits

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("call runner.setup() before starting the site")
        guard = ConnectionGuard(server, self._limits)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(guard, self._host, self._port, backlog=self._backlog)


def request_deadlines(body_timeout_s: float) -> Middleware:
    """The middleware that marks each request's start and end on its :class:`GuardedConnection` (when served by a
    :class:`GuardedSite`) and bounds the time its body takes to arrive."""

    @web.middleware
    async def deadlines(request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = _connection_of(request)
        if connection is not None:
            connection.head_arrived()
        body = BodyDeadline(request.content, body_timeout_s)
        try:
            response = await handler(request)
        except BodyTimedOut:
            message = f"the request body did not arrive whole within {body_timeout_s:g} s (HTTP_BODY_TIMEOUT_S)"
            response = error_response(408, "request_timeout", message)
        finally:
            body.stop()
            if connection is not None:
                connection.response_done()
        if body.expired:  # what is left of the body is not worth waiting for
            response.force_close()
        return response

    return deadlines


def _connection_of(request: web.Request) -> GuardedConnection | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, GuardedConnection) else None


class BodyDeadline:
    """``timeout_s`` from now for ``body`` to arrive whole; past it, every read of it raises :class:`BodyTimedOut`.
    Nothing to do for a request without a body, or whose body came with its head."""

    def __init__(self, body: StreamReader, timeout_s: float) -> None:
        self.expired = False
        self._body, self._timeout_s = body, timeout_s
        self._timer: asyncio.TimerHandle | None = None
        if not body.is_eof():
            self._timer = asyncio.get_running_loop().call_later(timeout_s, self._expire)
            body.on_eof(self.stop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self._body.is_eof():
            self.expired = True
            self._body.set_exception(BodyTimedOut(f"the body did not arrive within {self._timeout_s:g} s"))
