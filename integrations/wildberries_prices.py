"""Prices on Wildberries (``workflows.channels.SetsPrices``), on WB's prices API (host
``discounts-prices-api.wildberries.ru``). Used by :class:`integrations.wildberries.WildberriesClient`.

**What is sent.** Our price is what a buyer pays before the marketplace's own promotions. WB keeps a *price* and a
seller's *discount* (%) per card (``nmID``); the buyer pays the price less that discount, before WB's own. So this
client sends ``price`` = our price rounded to whole roubles (WB's prices are integers in this API, and it refuses a
fraction: "Price should be a whole number") and ``discount`` = 0, so that the price shown is ours and a discount
someone set in WB's cabinet is undone. Rounding is half up: 999.50 → 1000.

**Cards and sizes.** WB prices a card as a whole (``POST /api/v2/upload/task``, items by ``nmID``), except in
categories where each size may have its own (``"editableSizePrice": true``; ``POST /api/v2/upload/task/size``, items
by ``nmID`` and ``sizeID`` = ``chrtID``). Whether a card's category allows that is read once per card from
``POST /api/v2/list/goods/filter`` and remembered. A card that allows it always gets its sizes priced one by one
(its discount is set to 0 by a card item that carries no price); for one that does not, the lines of its sizes in one
push must agree on the price, else they are all rejected (WB would give every size the one price).

**Asynchronous.** An upload is a *task*: WB answers with its id at once and applies it later; per-item errors (a
price in quarantine, a deleted card) appear only in the upload's history. *Accepted* here means WB accepted the
upload, not that the price is on the shop window: reconciliation reads the prices back (:meth:`read_prices`) and
sends again what differs. A 208 ("this task already exists") is accepted too. WB refuses an upload whose prices are
all already set (HTTP 400 "The specified prices and discounts are already set"): accepted, that is what was asked.
Its answer "All item Nos. are specified incorrectly, or the specified prices and discounts are already set" does
not say which: the prices are read back, and a line that WB shows at the price sent is accepted, the others are
rejected with WB's words. Any other 400 refuses the whole request (:class:`ChannelRefused`: our request is wrong).

**Reading back** is ``discountedPrice`` of each size from ``POST /api/v2/list/goods/filter`` (up to 1000 cards a
request): the price less the seller's discount, before WB's own promotions. The prices we set are whole roubles, so a
price of ours with kopecks reads back rounded; compare :func:`whole_roubles` of ours.

**Limits.** Every method of the prices API shares one bucket per seller: 10 requests in 6 s (100 a minute), burst 5.
The gate (:func:`price_gate`) is a bucket inside WB's: 96 a minute with a burst of 4, so it lets through at most
``4 + 1.6 t`` requests in any ``t`` seconds where WB's allows ``5 + 1.67 t`` — a full upload of every price goes at 96 %
of WB's rate, and the token kept in hand absorbs a request that reaches WB sooner after the one before than it left
here (0.6 s of such jitter). One push is one request per endpoint used (size prices first, then card prices), plus
one read the first time a card is seen. When the second request fails, the push fails as a
whole and its lines go again later, those of the first too: setting a price twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field, ValidationError

from integrations.rate_gate import RateGate, Sleep
from integrations.wildberries_fulfilment import Call
from workflows.channels import ChannelUnavailable, PriceLine, PushOutcome
from workflows.outside import OutsideSystemError

log = logging.getLogger(__name__)

PRICES_HOST = "https://discounts-prices-api.wildberries.ru"
UPLOAD_PATH = "/api/v2/upload/task"
SIZE_UPLOAD_PATH = "/api/v2/upload/task/size"
LIST_PATH = "/api/v2/list/goods/filter"
PRICE_BATCH = 1000  # items of one upload, cards of one list read
GATE_PER_MINUTE = 96  # WB: 10 in 6 s (100 a minute)
GATE_BURST = 4  # WB: 5; one in hand for jitter
ALREADY_SET = "already set"
ONE_PRICE_A_CARD = "Wildberries sets one price for all sizes of this card (its category has no prices per size)"
ALL_WRONG_OR_SET = "All item Nos. are specified incorrectly"
_REASON_CHARS = 300
_KOPECKS = Decimal("0.01")
_PATHS = (UPLOAD_PATH, SIZE_UPLOAD_PATH, LIST_PATH)


def price_gate(*, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> RateGate:
    """The gate of one seller account's prices API (see the module's docstring)."""
    return RateGate(GATE_PER_MINUTE, GATE_BURST, clock=clock, sleep=sleep)


def whole_roubles(price: Decimal) -> int:
    """Our price as WB takes it: whole roubles, half up."""
    return int(price.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Sizes(Protocol):
    """The client's map of our offers to WB's sizes and cards."""

    def chrt_id(self, offer: str) -> int | str: ...

    def nm_id(self, chrt_id: int) -> int | None: ...


class _Size(BaseModel):
    sizeID: int
    discountedPrice: Decimal | None = None


class _Good(BaseModel):
    nmID: int
    discount: int = 0
    editableSizePrice: bool = False
    sizes: list[_Size] = Field(default_factory=list)


class _Goods(BaseModel):
    listGoods: list[dict[str, Any]] | None = None  # each read alone: one odd card hides none


class _GoodsAnswer(BaseModel):
    data: _Goods | None = None


class _Task(BaseModel):
    error: bool = False
    errorText: str = ""


@dataclass(frozen=True)
class _Want:
    sku: str
    chrt_id: int
    roubles: int


class WildberriesPrices:
    """Price pushes and read-backs of one seller (see the module's docstring)."""

    def __init__(
        self,
        *,
        call: Call,
        refuse: Callable[[httpx.Response], OutsideSystemError],
        sizes: Callable[[], Awaitable[Sizes]],
        base: str,
        gate: RateGate,
    ) -> None:
        self._call, self._refuse, self._sizes = call, refuse, sizes
        base = base.rstrip("/")
        self._upload_url, self._size_url, self._list_url = (f"{base}{path}" for path in _PATHS)
        self.gate = gate
        self._per_size: dict[int, bool] = {}  # nmID -> whether its category prices sizes one by one

    async def push(self, lines: Sequence[PriceLine]) -> PushOutcome:
        if len(lines) > PRICE_BATCH:
            raise ValueError(f"Wildberries takes at most {PRICE_BATCH} prices a request, not {len(lines)}")
        rejected: dict[str, str] = {}
        cards = await self._wanted(lines, rejected)
        await self._learn_cards([nm for nm in cards if nm not in self._per_size])
        card_items: list[dict[str, Any]] = []
        card_lines: list[_Want] = []
        size_items: list[dict[str, Any]] = []
        size_lines: list[_Want] = []
        for nm, wants in cards.items():
            if self._per_size.get(nm, False):
                card_items.append({"nmID": nm, "discount": 0})
                size_items += [{"nmID": nm, "sizeID": w.chrt_id, "price": w.roubles} for w in wants]
                size_lines += wants
            elif len({w.roubles for w in wants}) > 1:
                asked = ", ".join(f"{w.roubles} for {w.sku}" for w in wants)
                reason = f"{ONE_PRICE_A_CARD}: {asked}"
                rejected.update(dict.fromkeys((w.sku for w in wants), reason[:_REASON_CHARS]))
            else:
                card_items.append({"nmID": nm, "price": wants[0].roubles, "discount": 0})
                card_lines += wants
        accepted: list[str] = []
        if size_items:
            accepted += await self._upload(self._size_url, size_items, size_lines, rejected)
        if card_items:
            accepted += await self._upload(self._upload_url, card_items, card_lines, rejected)
        if rejected:
            log.warning("wildberries: prices rejected=%d, e.g. %s", len(rejected), list(rejected.items())[:5])
        return PushOutcome(accepted=tuple(accepted), rejected=rejected)

    async def _wanted(self, lines: Sequence[PriceLine], rejected: dict[str, str]) -> dict[int, list[_Want]]:
        """The lines to send, by card; the others go into ``rejected``."""
        sizes = await self._sizes()
        cards: dict[int, dict[int, _Want]] = {}
        for line in lines:
            chrt_id = sizes.chrt_id(line.offer_id)
            roubles = whole_roubles(line.price)
            nm = sizes.nm_id(chrt_id) if isinstance(chrt_id, int) else None
            earlier = cards.get(nm, {}).get(chrt_id) if nm is not None and isinstance(chrt_id, int) else None
            if isinstance(chrt_id, str):
                rejected[line.sku] = chrt_id
            elif roubles < 1:
                rejected[line.sku] = f"{line.price} is not a Wildberries price (whole roubles, at least 1)"
            elif nm is None:
                rejected[line.sku] = "the Wildberries card's nmID is not known"
            elif earlier is not None and earlier.sku != line.sku:
                rejected[line.sku] = f"the same Wildberries size as {earlier.sku}"
            else:
                cards.setdefault(nm, {})[chrt_id] = _Want(line.sku, chrt_id, roubles)
        return {nm: list(wants.values()) for nm, wants in cards.items()}

    async def _upload(
        self, url: str, items: list[dict[str, Any]], wants: list[_Want], rejected: dict[str, str]
    ) -> list[str]:
        """One upload; the skus WB took (see the module's docstring); moves those it refused into ``rejected``."""
        response = await self._call(self.gate, "POST", url, {"data": items}, passing=(httpx.codes.BAD_REQUEST,))
        task = _task(response)
        if httpx.codes.is_success(response.status_code):
            if task is None:
                raise ChannelUnavailable("Wildberries answered a price upload in an unknown shape")
            if not task.error:
                return [w.sku for w in wants]
        if task is None or response.status_code != httpx.codes.BAD_REQUEST:
            raise self._refuse(response)
        if ALL_WRONG_OR_SET in task.errorText:
            shown = await self._shown({w.chrt_id for w in wants}, {int(item["nmID"]) for item in items})
            words = f"Wildberries refused the prices: {task.errorText}"[:_REASON_CHARS]
            rejected.update({w.sku: words for w in wants if shown.get(w.chrt_id) != w.roubles})
            return [w.sku for w in wants if shown.get(w.chrt_id) == w.roubles]  # Decimal(500) == 500
        if ALREADY_SET in task.errorText:
            return [w.sku for w in wants]
        raise self._refuse(response)

    async def read(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        sizes = await self._sizes()
        skus_of: dict[int, list[str]] = {}
        cards: set[int] = set()
        for line in lines:
            chrt_id = sizes.chrt_id(line.offer_id)
            nm = sizes.nm_id(chrt_id) if isinstance(chrt_id, int) else None
            if isinstance(chrt_id, int) and nm is not None:
                skus_of.setdefault(chrt_id, []).append(line.sku)
                cards.add(nm)
        shown = await self._shown(set(skus_of), cards)
        return {sku: price for chrt_id, price in shown.items() for sku in skus_of.get(chrt_id, [])}

    async def _shown(self, chrt_ids: set[int], cards: Iterable[int]) -> dict[int, Decimal]:
        """What WB shows a buyer for these sizes (to the kopeck), ``chrtID -> price``; a size without one is left
        out."""
        shown: dict[int, Decimal] = {}
        for good in await self._goods(list(cards)):
            for size in good.sizes:
                price = size.discountedPrice
                if size.sizeID in chrt_ids and price is not None and price > 0:
                    shown[size.sizeID] = price.quantize(_KOPECKS, rounding=ROUND_HALF_UP)
        return shown

    async def _learn_cards(self, cards: list[int]) -> None:
        """Remember whether each card's category prices sizes one by one. A card WB does not list (gone since the
        cards were learned) is priced as a whole this time, and WB's answer says what became of it."""
        if cards:
            self._per_size.update({good.nmID: good.editableSizePrice for good in await self._goods(cards)})

    async def _goods(self, cards: list[int]) -> list[_Good]:
        goods: list[_Good] = []
        for start in range(0, len(cards), PRICE_BATCH):
            body = {"nmList": cards[start : start + PRICE_BATCH]}
            response = await self._call(self.gate, "POST", self._list_url, body, passing=())
            try:
                answer = _GoodsAnswer.model_validate_json(response.content)
            except ValidationError:
                raise ChannelUnavailable("Wildberries answered its price list in an unknown shape") from None
            for raw in (answer.data.listGoods if answer.data else None) or []:
                try:
                    goods.append(_Good.model_validate(raw))
                except ValidationError:
                    log.warning("wildberries: the prices of card nmID=%r cannot be read; skipped", raw.get("nmID"))
        return goods


def _task(response: httpx.Response) -> _Task | None:
    """The answer to an upload, in WB's shape; ``None`` when it is not in it."""
    try:
        return _Task.model_validate_json(response.content)
    except ValidationError:
        return None
