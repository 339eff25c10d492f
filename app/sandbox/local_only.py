"""The sandbox has no login: it is a tool for the developer's own machine. These rules keep a web page the
developer happens to visit from driving it or reading it (the state carries the service's API token):

- every request must name this machine in ``Host`` (a loopback name or address, or the address the sandbox was
  told to listen on), so a page on a name that resolves to 127.0.0.1 ("DNS rebinding") reads nothing;
- a request that carries an ``Origin`` must come from the sandbox's own origin, so another site's script or
  form is refused before it acts;
- the console's actions take ``Content-Type: application/json`` only, which no page of another origin can send
  without the browser asking first (and the sandbox never says yes).

Listening on anything but loopback lets anyone on the network drive it: :func:`exposed` says when, and the
``storeops sandbox`` command warns."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONSOLE_API = "/sandbox/api/"
LOOPBACK_NAMES = frozenset({"localhost"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# a Host header's name (or bracketed IPv6 address) and optional port; anything else is no Host at all
_AUTHORITY = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?")
EXPOSED_WARNING = (
    "the sandbox listens on %s, not on loopback: its console has no login, so anyone who can reach this address "
    "on the network can drive it and read the service's API token (use --host 127.0.0.1 unless that is intended)"
)


def json_error(status: int, code: str, message: str, details: list[Any] | None = None) -> web.Response:
    """The console's error shape."""
    return web.json_response({"error": code, "message": message, "details": details or []}, status=status)


def _bare(host: str) -> str:
    return host.strip().removeprefix("[").removesuffix("]").lower()


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets allowed)."""
    bare = _bare(host)
    if bare in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


def exposed(bind_host: str) -> bool:
    """Whether listening on ``bind_host`` lets other machines in (anything but loopback, 0.0.0.0 included)."""
    return not is_loopback(bind_host)


def authority(value: str) -> tuple[str, int] | None:
    """A Host header's name and port (80 when absent): ``"[::1]:8080"`` → ``("::1", 8080)``; ``None`` if malformed."""
    found = _AUTHORITY.fullmatch(value.strip().lower())
    if found is None:
        return None
    port = int(found["port"]) if found["port"] else 80
    return found["v6"] or found["name"], port


def allowed_host(value: str | None, bind_host: str) -> bool:
    """A Host naming this machine: a loopback name or address, or the address the sandbox listens on."""
    named = authority(value) if value else None
    return named is not None and (is_loopback(named[0]) or named[0] == _bare(bind_host))


def own_origin(origin: str, host: str) -> bool:
    """Whether ``Origin`` is the sandbox's own (plain HTTP at the ``Host`` the request was sent to)."""
    scheme, separator, rest = origin.strip().lower().partition("://")
    return scheme == "http" and bool(separator) and authority(rest) is not None and authority(rest) == authority(host)


def _console_action(request: web.Request) -> bool:
    return request.method not in SAFE_METHODS and request.path.startswith(CONSOLE_API)


def local_only(bind_host: str) -> Middleware:
    """The middleware enforcing the rules above on every route of the sandbox's service."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if host is None or not allowed_host(host, bind_host):
            message = "the sandbox answers only requests addressed to this machine (127.0.0.1, localhost, [::1])"
            return json_error(403, "forbidden_host", message)
        origin = request.headers.get("Origin")
        if origin is not None and not own_origin(origin, host):
            return json_error(403, "forbidden_origin", "the sandbox answers only its own pages, not other sites")
        if _console_action(request) and request.content_type != "application/json":
            message = "the console's actions take a JSON body: send Content-Type: application/json"
            return json_error(415, "unsupported_media_type", message)
        return await handler(request)

    return guard
