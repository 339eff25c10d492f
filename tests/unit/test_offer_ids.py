"""Channel offer ids: deterministic, within each channel's limits, reversible, collisions reported."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import StockFigure
from workflows.offer_ids import DEFAULT_RULES, OfferIdRule, offer_id_for, plan_offer_ids
from workflows.ports import UnitOfWorkFactory

WB, OZON, YM = DEFAULT_RULES["wildberries"], DEFAULT_RULES["ozon"], DEFAULT_RULES["yandex_market"]
YM_PATTERN = re.compile(r"^(?=.*\S.*)[^\x00-\x08\x0A-\x1f\x7f]{1,255}$")


def test_the_slash_wildberries_refuses_is_replaced() -> None:
    assert offer_id_for("КР-7/2", WB) == "КР-7-2"
    assert offer_id_for("КР-7/2", OZON) == "КР-7/2"
    assert offer_id_for("КР-7/2", OfferIdRule(max_length=72, forbidden="/", replacement="_")) == "КР-7_2"


def test_a_long_article_is_cut_with_a_hash_of_the_whole() -> None:
    a = "Платье летнее льняное с вышивкой ручной работы, размер 44-46, цвет молочный, арт. 1"
    b = a[:-1] + "2"
    assert len(offer_id_for(a, OZON)) == 50
    assert offer_id_for(a, OZON) != offer_id_for(b, OZON)
    assert offer_id_for(a, OZON) == offer_id_for(a, OZON)
    assert offer_id_for(a, DEFAULT_RULES["site"]) == a


def _spelled_out(article: str, rule: OfferIdRule) -> str:
    """The rule applied character by character, as offer_id_for does for an article its shortcut does not take
    (one that fits the channel)."""
    cleaned = "".join(
        rule.replacement if ch in rule.forbidden else ch
        for ch in unicodedata.normalize("NFC", article.strip())
        if unicodedata.category(ch)[0] != "C"
    )
    assert len(cleaned) <= rule.max_length, "only for articles that fit"
    return cleaned


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=1, max_size=60))
def test_an_ascii_article_short_enough_gets_the_id_the_rule_spells_out(article: str) -> None:
    """Most articles are plain ASCII within the channel's length: they are answered as they are, without the
    character-by-character pass — which must give the same id."""
    for rule in (WB, OZON, YM, OfferIdRule(max_length=40, forbidden="-. ", replacement="_")):
        if len(article.strip()) <= rule.max_length:
            assert offer_id_for(article, rule) == _spelled_out(article, rule), (article, rule)


@given(st.text(min_size=1, max_size=400).filter(lambda s: s.strip() and any(c.isalnum() for c in s)))
def test_ids_always_fit_their_channel(article: str) -> None:
    wb, ozon, ym = offer_id_for(article, WB), offer_id_for(article, OZON), offer_id_for(article, YM)
    assert len(wb) <= 72 and "/" not in wb
    assert len(ozon) <= 50
    assert YM_PATTERN.match(ym), repr(ym)


def test_a_collision_inside_one_batch_keeps_the_first_in_sorted_order() -> None:
    plan = plan_offer_ids("wildberries", WB, ["КР-7/2", "КР-7-2"], mapped={}, owners={})
    assert plan.new == [("КР-7-2", "КР-7-2")]
    assert [(c.offer_id, c.sku, c.existing_sku) for c in plan.conflicts] == [("КР-7-2", "КР-7/2", "КР-7-2")]


async def test_offer_ids_are_stored_reversible_and_conflicts_are_never_merged(
    ledger: Ledger, uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await ledger.apply_stock(clock.now(), [StockFigure("КР-7/2", "online", 1)])
    result = await ledger.apply_stock(clock.now(), [StockFigure("КР-7-2", "online", 1)])
    again = await ledger.apply_stock(clock.now(), [StockFigure("КР-7-2", "online", 2)])

    assert [(c.channel, c.offer_id, c.sku, c.existing_sku) for c in result.offer_id_conflicts] == [
        ("wildberries", "КР-7-2", "КР-7-2", "КР-7/2")
    ]
    assert len(again.offer_id_conflicts) == 1  # still reported, still not merged
    async with uow(read_only=True) as work:
        assert await work.offer_ids.owners("wildberries", ["КР-7-2"]) == {"КР-7-2": "КР-7/2"}
        assert await work.offer_ids.for_skus("wildberries", ["КР-7-2", "КР-7/2"]) == {"КР-7/2": "КР-7-2"}
        assert await work.offer_ids.for_skus("ozon", ["КР-7-2", "КР-7/2"]) == {"КР-7/2": "КР-7/2", "КР-7-2": "КР-7-2"}
    assert len(await ledger.offer_id_conflicts()) == 1
