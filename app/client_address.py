"""The client's own address behind a reverse proxy that the operator trusts.

Behind nginx every request's TCP peer is the proxy, so counting wrong tokens per peer would let one guesser
shut every client out. When the peer is one of ``HTTP_TRUSTED_PROXIES`` (addresses or networks), the client is
the last address in ``X-Forwarded-For`` that is not itself a trusted proxy — the one the nearest proxy we trust
saw; whatever a client wrote further left is its own claim and is not believed. From anyone else the header is
ignored: a client cannot make itself someone else by sending it. The request goes on with that address as its
``remote``, so the throttles, the 1C exchange and the logs all see the client."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = "X-Forwarded-For"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def proxy_networks(text: str) -> list[Network]:
    """``HTTP_TRUSTED_PROXIES``: addresses or networks separated by commas or blanks; ``ValueError`` naming a bad
    one."""
    networks = []
    for item in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is no IP address or network (like 10.0.0.5 or 172.16.0.0/12)") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_behind(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str | None:
    """The client's address: ``peer`` unless it is a trusted proxy that named the client in ``forwarded_for``."""
    if not trusted or peer is None or not forwarded_for:
        return peer
    hop = _address(peer)
    if hop is None or not any(hop in network for network in trusted):
        return peer
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            return peer  # a hop we cannot read: the proxy's own address stands, nothing is guessed
        if not any(address in network for network in trusted):
            return str(address)
    return peer


def forwarded_client(trusted: Sequence[Network]) -> Any:
    """A middleware that gives each request its client's address as ``remote`` (see the module's docstring)."""

    @web.middleware
    async def use_client_address(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_behind(request.remote, request.headers.get(FORWARDED_FOR), trusted)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return use_client_address
