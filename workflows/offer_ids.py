"""Channel offer ids: a deterministic mapping from a 1C article to each channel's id.

Each channel limits its ids (Wildberries vendorCode ≤ 72 characters and no ``/`` by the shop's
experience; Ozon offer_id ≤ 50; Yandex Market shopSku ≤ 255 without control characters). The
mapping is a pure function of the article and the channel's rule, stored so an id coming back
on an order can be turned into our SKU again. Two articles that land on one id are a conflict to
report; the second article is not mapped for that channel, never merged into the first.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

_HASH_LEN = 8


class OfferIdRule(BaseModel):
    """How one channel wants its ids. Configurable per channel in the topology file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_length: int = Field(default=255, ge=_HASH_LEN + 2, le=1000)
    forbidden: str = ""  # characters the channel refuses; each is replaced by ``replacement``
    replacement: str = Field(default="-", max_length=1)

    @model_validator(mode="after")
    def _replacement_allowed(self) -> OfferIdRule:
        if self.replacement and self.replacement in self.forbidden:
            raise ValueError(f"replacement {self.replacement!r} is itself forbidden")
        return self


DEFAULT_RULES: dict[str, OfferIdRule] = {
    "wildberries": OfferIdRule(max_length=72, forbidden="/"),
    "ozon": OfferIdRule(max_length=50),
    "yandex_market": OfferIdRule(max_length=255),
    "site": OfferIdRule(max_length=255),
    "retailcrm": OfferIdRule(max_length=255),
}


def offer_id_for(article: str, rule: OfferIdRule) -> str:
    """The channel's id for a 1C article: control and format characters dropped, forbidden
    characters replaced, and an id too long for the channel cut with a short hash of the whole
    article appended, so that two long articles sharing a prefix still get different ids."""
    if (
        len(article) <= rule.max_length
        and article.isascii()
        and article.isprintable()  # ASCII: no control character (category C), and NFC leaves it as it is
        and article.strip() == article
        and not any(map(article.__contains__, rule.forbidden))
    ):
        return article  # most articles: nothing to drop, replace or cut (a 1C snapshot names 100 000 of them)
    cleaned = "".join(
        rule.replacement if ch in rule.forbidden else ch
        for ch in unicodedata.normalize("NFC", article.strip())
        if unicodedata.category(ch)[0] != "C"
    )
    if len(cleaned) <= rule.max_length:
        return cleaned
    digest = hashlib.sha256(article.encode()).hexdigest()[:_HASH_LEN]
    return f"{cleaned[: rule.max_length - _HASH_LEN - 1].rstrip()}~{digest}"


@dataclass(frozen=True)
class OfferIdConflict:
    channel: str
    offer_id: str
    sku: str
    existing_sku: str


@dataclass(frozen=True)
class OfferIdPlan:
    """What to store for one channel: new pairs, and the articles refused as conflicts."""

    channel: str
    new: list[tuple[str, str]]
    conflicts: list[OfferIdConflict]


def plan_offer_ids(
    channel: str,
    rule: OfferIdRule,
    skus: Iterable[str],
    mapped: dict[str, str],
    owners: dict[str, str],
    offer_ids: Mapping[str, str] | None = None,
) -> OfferIdPlan:
    """Decide the ids of ``skus`` not yet in ``mapped`` (sku → id), given ``owners`` (id → sku)
    of the ids they would take. SKUs are taken in sorted order so that the outcome of a conflict
    inside one batch does not depend on the order of the batch. ``offer_ids``: their ids, where the caller has
    worked them out already."""
    taken = dict(owners)
    new: list[tuple[str, str]] = []
    conflicts: list[OfferIdConflict] = []
    for sku in sorted(set(skus) - set(mapped)):
        offer_id = offer_ids[sku] if offer_ids is not None and sku in offer_ids else offer_id_for(sku, rule)
        owner = taken.get(offer_id)
        if owner is None:
            taken[offer_id] = sku
            new.append((sku, offer_id))
        elif owner != sku:
            conflicts.append(OfferIdConflict(channel, offer_id, sku, owner))
    return OfferIdPlan(channel, new, conflicts)
