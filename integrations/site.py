"""The shop's own site as a sales channel (``workflows.channels.ChannelClient``), on an injected
``httpx.AsyncClient``.

The site has no vendor API: it implements ours, ``docs/site_stock_api.md``. In short: ``Authorization: Bearer``
on every request; ``PUT /stock`` takes up to 1000 absolute quantities stamped ``updated_at`` and answers which
skus it ``accepted`` and which it ``rejected`` (with a reason); ``GET /stock?sku=…`` reads them back (≤ 1000
skus); ``PUT /prices`` and ``GET /prices`` do the same for prices; ``GET /orders/new`` lists orders to fulfil;
``GET /orders/events?after=<cursor>`` pages through what became of them (cancelled, delivered, returned). At most
10 requests a second, else 429 with ``Retry-After``.
Our article is the site's id, so a line's ``offer_id`` is normally its ``sku``.

The token is sent in a header and never appears in a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeGuard
from urllib.parse import quote

import httpx

from integrations import site_prices
from integrations.rate_gate import RateGate, Sleep
from integrations.wire import Wire
from workflows.channels import (
    ChannelOrder,
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    OrderEventPage,
    PriceLine,
    PushOutcome,
    StockLine,
)

log = logging.getLogger(__name__)

BATCH_LIMIT = 1000  # PUT /stock items, and GET /stock skus
QUERY_BUDGET = 6000
"""Most bytes of ``sku=…&sku=…`` one read sends: servers commonly refuse request lines over 8 KiB (aiohttp, nginx's
default buffers), and 1000 long or Cyrillic skus, percent-encoded, would be far over."""
_WIRE = Wire("the site", unavailable=ChannelUnavailable, refused=ChannelRefused)
"""The site's errors are ``{"error": "<what is wrong>"}`` (the wire's default reading); it never echoes the token,
which goes only in a header."""
SITE_SKU = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
"""What the site takes as a sku: 1..255 characters, no control characters (for ``fullmatch``)."""
EVENTS_PAGE = 100  # the ``limit`` of a read of order events
EVENT_PAGES = 10  # full pages one read goes on for; the rest comes on the next read
SITE_CURSOR = re.compile(r"[\x21-\x7e]{1,200}")
"""What the site may give as ``next``: 1..200 printable ASCII characters (for ``fullmatch``)."""
_REASON_CHARS = 300


def default_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """The site allows 10 requests in any one second. A bucket lets through at most ``burst + rate * T`` in any
    ``T`` seconds, so 5 a second with a burst of 5 stays within 10 however the site's second is counted."""
    return RateGate(per_minute=300, burst=5, clock=clock, sleep=sleep)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SiteClient:
    """The site's stock API at ``base`` (``SITE_API_BASE``, or an emulator's).

    ``gate`` paces every request, one token each (:func:`default_gate`); a 429's ``Retry-After`` holds it off.
    ``clock`` gives the time the pushed figures are true (``updated_at``) and must be timezone-aware. One request
    per push, no retry: what the site neither accepted nor rejected comes back in ``retry``.
    """

    batch_limit = BATCH_LIMIT
    price_batch_limit = BATCH_LIMIT  # PUT /prices items, and GET /prices skus: as for stock

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base: str,
        token: str,
        name: str = "site",
        gate: RateGate | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not token:
            raise ValueError("the site's API needs a token")
        self.name = name
        self._client = client
        self._base = base.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._gate = gate if gate is not None else default_gate()
        self._clock = clock

    def __repr__(self) -> str:
        return f"SiteClient(name={self.name!r}, base={self._base!r})"

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        """Send each line's ``qty`` (0 included) as the absolute ``available`` of its offer id, stamped now.

        A line the site would reject anyway (offer id not a site sku, already in this push, qty not an integer
        >= 0) is rejected here and not sent. ``ValueError`` for more than :attr:`batch_limit` lines.
        """
        if len(lines) > self.batch_limit:
            raise ValueError(f"a push carries at most {self.batch_limit} lines, not {len(lines)}")
        stamp = self._stamp()
        rejected: dict[str, str] = {}
        sku_of: dict[str, str] = {}  # offer id -> our sku, for the lines sent
        items: list[dict[str, Any]] = []
        for line in lines:
            reason = _local_refusal(line, sku_of)
            if reason is not None:
                rejected[line.sku] = reason
                continue
            sku_of[line.offer_id] = line.sku
            items.append({"sku": line.offer_id, "available": line.qty, "updated_at": stamp})
        if not items:
            return PushOutcome(rejected=rejected)
        answer = await self._call("PUT", "/stock", json={"items": items})
        return _outcome(answer, sku_of, rejected, "stock")

    def _stamp(self) -> str:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must give timezone-aware times: updated_at needs an offset")
        return now.isoformat(timespec="seconds")

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        """What the site shows as available for these lines, asked at most 1000 skus, and
        :data:`QUERY_BUDGET` bytes of query, at a time. Skus the site does not sell are left out, as are offer
        ids that are not site skus."""
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            if SITE_SKU.fullmatch(line.offer_id):
                skus_of.setdefault(line.offer_id, []).append(line.sku)
        shown: dict[str, int] = {}
        for chunk in _query_chunks(list(skus_of), self.batch_limit):
            answer = await self._call("GET", "/stock", params={"sku": chunk})
            for item in _list(answer.get("items")):
                offer, available = _dict(item).get("sku"), _dict(item).get("available")
                if isinstance(offer, str) and _is_count(available):
                    shown[offer] = available
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    # -- prices (SetsPrices) ------------------------------------------------------------------------------------

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        """Send each line's price as its offer id's ``price`` (``PUT /prices``), stamped now, as stock is sent.

        A line the site would reject anyway (offer id not a site sku, already in this push, a price that is not a
        positive amount in kopecks) is rejected here and not sent. ``ValueError`` for more than
        :attr:`price_batch_limit` lines."""
        if len(lines) > self.price_batch_limit:
            raise ValueError(f"a price push carries at most {self.price_batch_limit} lines, not {len(lines)}")
        stamp = self._stamp()
        rejected: dict[str, str] = {}
        sku_of: dict[str, str] = {}  # offer id -> our sku, for the lines sent
        items: list[dict[str, Any]] = []
        for line in lines:
            reason = _local_refusal(line, sku_of)
            if reason is not None:
                rejected[line.sku] = reason
                continue
            sku_of[line.offer_id] = line.sku
            items.append({"sku": line.offer_id, "price": site_prices.wire_price(line.price), "updated_at": stamp})
        if not items:
            return PushOutcome(rejected=rejected)
        answer = await self._call("PUT", "/prices", json={"items": items})
        return _outcome(answer, sku_of, rejected, "price")

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        """The price the site shows for these lines (``GET /prices``), asked as stock is read back. Skus the site
        does not sell, or sells without a price, are left out."""
        skus_of: dict[str, list[str]] = {}
        for line in lines:
            if SITE_SKU.fullmatch(line.offer_id):
                skus_of.setdefault(line.offer_id, []).append(line.sku)
        shown: dict[str, Decimal] = {}
        for chunk in _query_chunks(list(skus_of), self.price_batch_limit):
            answer = await self._call("GET", "/prices", params={"sku": chunk})
            for item in _list(answer.get("items")):
                offer, price = _dict(item).get("sku"), site_prices.read_price(_dict(item).get("price"))
                if isinstance(offer, str) and price is not None:
                    shown[offer] = price
        return {sku: shown[offer] for offer, skus in skus_of.items() if offer in shown for sku in skus}

    async def new_orders(self) -> list[ChannelOrder]:
        """The orders the site has to fulfil. An order that cannot be read is logged and left for the next poll."""
        answer = await self._call("GET", "/orders/new")
        orders: list[ChannelOrder] = []
        for raw in _list(answer.get("orders")):
            order = _order(raw)
            if order is None:
                log.warning("site: an order could not be read (id=%r)", _dict(raw).get("id"))
            else:
                orders.append(order)
        return orders

    async def order_events(self, cursor: str | None, watching: Sequence[str]) -> OrderEventPage:
        """What the site's journal says became of its orders after ``cursor`` (``None``: from the oldest event
        it keeps), :data:`EVENTS_PAGE` a request, reading on while pages come full, at most :data:`EVENT_PAGES`
        of them; the page's cursor is the site's ``next`` after the last one read. ``watching`` is not used: the
        journal is read whole. An event that cannot be read, or of a status we do not know, is logged and passed
        over (the cursor moves past it)."""
        answer = await self._event_page(cursor)
        after = _next_cursor(answer, cursor)
        events = _order_events(answer)
        for _ in range(EVENT_PAGES - 1):
            if len(_list(answer.get("events"))) < EVENTS_PAGE:
                break
            answer = await self._event_page(after)
            after = _next_cursor(answer, after)
            events.extend(_order_events(answer))
        return OrderEventPage(events=tuple(events), cursor=after)

    async def _event_page(self, after: str | None) -> dict[str, Any]:
        params = {"limit": [str(EVENTS_PAGE)]} | ({} if after is None else {"after": [after]})
        return await self._call("GET", "/orders/events", params=params)

    async def _call(
        self, method: str, path: str, *, params: dict[str, list[str]] | None = None, json: Any = None
    ) -> dict[str, Any]:
        await self._gate.wait()
        response = await _WIRE.send(
            self._client, method, self._base + path, gate=self._gate, params=params, json=json, headers=self._headers
        )
        return _WIRE.json_body(response)


def _outcome(answer: dict[str, Any], sku_of: dict[str, str], rejected: dict[str, str], what: str) -> PushOutcome:
    """A push's answer (``accepted`` skus, ``rejected`` ones with a reason) for the items sent, ``sku_of`` (the
    site's sku -> ours); an item in neither list is to be sent again."""
    accepted = {offer for offer in _strings(answer.get("accepted")) if offer in sku_of}
    refused = 0
    for entry in _list(answer.get("rejected")):
        offer, reason = _dict(entry).get("sku"), _dict(entry).get("reason")
        if isinstance(offer, str) and offer in sku_of and offer not in accepted:
            rejected[sku_of[offer]] = str(reason or "rejected, no reason given")[:300]
            refused += 1
    if refused:
        log.warning("site: %d items rejected in a %s push", refused, what)
    return PushOutcome(
        accepted=tuple(sku for offer, sku in sku_of.items() if offer in accepted),
        rejected=rejected,
        retry=tuple(sku for offer, sku in sku_of.items() if offer not in accepted and sku not in rejected),
    )


def _query_chunks(offers: list[str], limit: int) -> list[list[str]]:
    """``offers`` in order, cut so each chunk has at most ``limit`` and its query at most :data:`QUERY_BUDGET`."""
    chunks: list[list[str]] = []
    size = QUERY_BUDGET + 1
    for offer in offers:
        cost = len("&sku=") + len(quote(offer, safe=""))
        if size + cost > QUERY_BUDGET or len(chunks[-1]) >= limit:
            chunks.append([])
            size = 0
        chunks[-1].append(offer)
        size += cost
    return chunks


def _local_refusal(line: StockLine | PriceLine, sent: dict[str, str]) -> str | None:
    offer = line.offer_id
    if not SITE_SKU.fullmatch(offer):
        return f"offer id {offer[:40]!r} is not a site sku (1..255 characters, no control characters)"
    if offer in sent:
        return f"offer id {offer[:40]!r} is already in this push (for {sent[offer][:40]!r})"
    if isinstance(line, PriceLine):
        return site_prices.price_refusal(line.price)
    if not _is_count(line.qty):
        return f"quantity {line.qty!r} is not an integer >= 0"
    return None


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _order(raw: object) -> ChannelOrder | None:
    """An order of ``GET /orders/new`` as a :class:`ChannelOrder`; ``None`` when it lacks what intake needs."""
    order = _dict(raw)
    order_id, created = order.get("id"), order.get("created_at")
    if not isinstance(order_id, str) or not order_id or not isinstance(created, str):
        return None
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        return None
    if created_at.utcoffset() is None:
        return None
    lines: list[ChannelOrderLine] = []
    for item in _list(order.get("lines")):
        sku, qty = _dict(item).get("sku"), _dict(item).get("qty")
        if not isinstance(sku, str) or not _is_count(qty) or qty < 1:
            return None
        lines.append(ChannelOrderLine(offer_id=sku, qty=qty))
    if not lines:
        return None
    return ChannelOrder(external_id=order_id, lines=tuple(lines), created_at=created_at.astimezone(UTC))


def _next_cursor(answer: dict[str, Any], before: str | None) -> str:
    """The ``next`` of an answer of ``GET /orders/events`` read after ``before``; :class:`ChannelUnavailable` when
    it has none, or when it gave events but did not move (reading on would read them again and again)."""
    after = answer.get("next")
    if not isinstance(after, str) or not SITE_CURSOR.fullmatch(after):
        raise ChannelUnavailable("the site answered its order events without a cursor (next) to go on from")
    if after == before and _list(answer.get("events")):
        raise ChannelUnavailable(f"the site's order events did not move past cursor {after[:40]!r}")
    return after


def _order_events(answer: dict[str, Any]) -> list[ChannelOrderEvent]:
    """The events of one page that can be read, in the site's order; the others are logged."""
    events: list[ChannelOrderEvent] = []
    for raw in _list(answer.get("events")):
        event = _order_event(raw)
        if event is None:
            entry = _dict(raw)
            log.warning("site: an order event was passed over (order_id=%r, status=%r)", entry.get("order_id"),
                        str(entry.get("status"))[:40])  # fmt: skip
        else:
            events.append(event)
    return events


def _order_event(raw: object) -> ChannelOrderEvent | None:
    """An event of ``GET /orders/events``; ``None`` when it lacks what we need or its status is not ours."""
    event = _dict(raw)
    order_id, status, at, reason = event.get("order_id"), event.get("status"), event.get("at"), event.get("reason")
    if not isinstance(order_id, str) or not order_id or status not in _KINDS or not isinstance(at, str):
        return None
    try:
        happened = datetime.fromisoformat(at)
    except ValueError:
        return None
    if happened.utcoffset() is None:
        return None
    words = reason[:_REASON_CHARS] if isinstance(reason, str) else ""
    return ChannelOrderEvent(order_id, _KINDS[status], happened.astimezone(UTC), words)


_KINDS = {kind.value: kind for kind in OrderEventKind}
