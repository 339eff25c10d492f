"""The link a manager sends a client to follow their order: ``/client/orders/<id>?exp=<unix>&sig=<hex>``, where
``sig`` is the HMAC-SHA256 of ``"client-order:<id>:<exp>"`` with the shop's ``CLIENT_LINK_SECRET``. The link opens
that one order only, until ``exp``; it needs no login, so whoever holds it can read what the page shows (and nothing
more: see ``workflows/client_status.py``). A forged, altered, expired or missing signature is refused; the reason is
told apart only for a link that was once genuine (``expired``), so a guess learns nothing.

Pure: the secret and the clock come in; no I/O."""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workflows.ports import Clock

PATH = "/client/orders/{order_id}"
API_PATH = "/api/client/orders/{order_id}"
_MAX_EXP_DIGITS = 12  # unix seconds up to the year 33658: anything longer is not a time we made


class LinkRefusal(enum.StrEnum):
    MISSING = "link_signature_missing"  # no ``sig`` or no ``exp``
    INVALID = "link_signature_invalid"  # not ours, or made for another order or another expiry
    EXPIRED = "link_expired"  # ours, but past its ``exp``


@dataclass(frozen=True)
class ClientLink:
    order_id: int
    path: str  # with its query: what follows the shop's address
    url: str | None  # the whole address, when CLIENT_LINK_BASE_URL is set
    expires_at: datetime


class ClientLinks:
    def __init__(self, secret: bytes, clock: Clock, lifetime: timedelta, base_url: str | None = None) -> None:
        self._secret, self._clock, self._lifetime = secret, clock, lifetime
        self._base = base_url.rstrip("/") if base_url else None

    def link(self, order_id: int) -> ClientLink:
        """A fresh link to ``order_id``'s page, good for the configured lifetime from now."""
        expires = int((self._clock.now() + self._lifetime).timestamp())
        path = f"{PATH.format(order_id=order_id)}?exp={expires}&sig={self._sign(order_id, expires)}"
        url = f"{self._base}{path}" if self._base else None
        return ClientLink(order_id, path, url, datetime.fromtimestamp(expires, UTC))

    def refusal(self, order_id: int, exp: str | None, sig: str | None) -> LinkRefusal | None:
        """Why a request with ``exp`` and ``sig`` may not read ``order_id``, or ``None`` when it may. The signature is
        compared in constant time before the expiry is looked at."""
        if not exp or not sig:
            return LinkRefusal.MISSING
        if not (exp.isascii() and exp.isdigit() and len(exp) <= _MAX_EXP_DIGITS):
            return LinkRefusal.INVALID
        expected = self._sign(order_id, int(exp))
        if not hmac.compare_digest(sig.encode("utf-8", "surrogateescape"), expected.encode()):
            return LinkRefusal.INVALID
        if int(exp) <= self._clock.now().timestamp():
            return LinkRefusal.EXPIRED
        return None

    def _sign(self, order_id: int, expires: int) -> str:
        return hmac.new(self._secret, f"client-order:{order_id}:{expires}".encode(), hashlib.sha256).hexdigest()
