"""The office finds an order by our id or by the channel's order number, on memory, SQLite and PostgreSQL; the
``/order`` answer shows its lines, money and a history a manager reads, the channel's cancellation included."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.order_history import history_line, kinds
from bot.telegram.order_card import order_card, order_matches
from bot.texts import Locale
from bot.wording import Names
from tests.fakes import FakeClock, assembled
from tests.people_words import raw_codes
from tests.unit.test_order_events import QuietChannel, ReportingChannel, order, page, said
from workflows.channel_verdicts import HISTORY_KINDS
from workflows.crm_orders import STATUS_EVENT
from workflows.fraud_check import HOLD as FRAUD_HOLD
from workflows.fulfilment import REFUSED_EVENT, SENT_EVENT
from workflows.model import Order, StockFigure
from workflows.office_model import Phase
from workflows.onec_order_status import PAID_EVENT, SHIPPED_EVENT
from workflows.order_lookup import OrderLookup
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import MoneyState
from workflows.ports import UnitOfWorkFactory
from workflows.return_model import ReturnState
from workflows.shop import Shop
from workflows.topology import Topology

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


async def _shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> tuple[Shop, ReportingChannel]:
    ozon = ReportingChannel("ozon")
    shop = assembled(uow, topology, clock, channels={"ozon": ozon, "yandex_market": QuietChannel("yandex_market")})
    uow.hooks.after.clear()
    await shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "online", 5)])
    return shop, ozon


def _lookup(shop: Shop) -> OrderLookup:
    return OrderLookup(shop.uow, shop.topology.channels, shop.payments)


async def _site_order(shop: Shop, number: str) -> Order:
    return (await shop.orders.place(PlaceOrder("site", number, [LineRequest("LAMP", 1)]))).order


async def test_an_order_is_found_by_our_id_by_its_channel_number_and_by_channel_and_number(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await _shop(uow, topology, clock)
    ozon.orders = [order("0123456789-0001-1", 1)]
    await shop.upkeep[0].pull_orders()
    lookup = _lookup(shop)

    (by_number,) = await lookup.find("0123456789-0001-1")
    assert (by_number.channel, by_number.external_id) == ("ozon", "0123456789-0001-1")
    assert [o.id for o in await lookup.find(f"#{by_number.id}")] == [by_number.id]
    assert [o.id for o in await lookup.find(" 0123456789-0001-1 ", "ozon")] == [by_number.id]
    assert await lookup.find("0123456789-0001-1", "site") == []
    assert await lookup.find("0123456789-0001-1", "no-such-channel") == []
    assert await lookup.find("   ") == []
    assert by_number.lines[0].warehouse == "online" and by_number.history  # the whole order, not a stub


async def test_a_number_that_is_our_id_and_another_orders_channel_number_finds_both(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, _ = await _shop(uow, topology, clock)
    first = await _site_order(shop, "S-100")
    second = await _site_order(shop, str(first.id))  # the site numbers its orders too

    found = await _lookup(shop).find(str(first.id))

    assert [o.id for o in found] == [first.id, second.id]  # ours first
    listed = order_matches(str(first.id), found, Names.of(topology, "ru"))
    assert f"/order site {first.id}" in listed and "/order site S-100" in listed
    assert [o.id for o in await _lookup(shop).find(str(first.id), "site")] == [second.id]


async def test_a_number_too_long_to_be_our_id_is_looked_up_as_a_channel_number_only(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, _ = await _shop(uow, topology, clock)
    huge = "9" * 25  # a Market order number, or a typo: no id of ours is that large
    assert await _lookup(shop).find(huge) == []
    theirs = await _site_order(shop, huge)
    assert [o.id for o in await _lookup(shop).find(huge)] == [theirs.id]


async def test_the_answer_shows_lines_money_and_the_channels_cancellation_in_both_languages(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await _shop(uow, topology, clock)
    ozon.orders = [order("OZ-7", 2)]
    await shop.upkeep[0].pull_orders()
    ozon.pages = [page("c1", said("OZ-7", reason="Покупатель передумал"))]
    await shop.order_feeds[0].pull()
    lookup = _lookup(shop)
    (found,) = await lookup.find("OZ-7")
    state = await lookup.money(found.id or 0)

    ru = order_card(found, state, Names.of(topology, "ru"), "Europe/Moscow")
    en = order_card(found, state, Names.of(topology, "en"), "Europe/Moscow")

    assert ru.startswith(
        f"Заказ № {found.id} — Ozon OZ-7\nСтатус: отменён\n• LAMP × 2: отменён, склад Интернет-склад\n"
    )
    assert "Деньги: сумма не указана; оплата: не было; нужна: списана" in ru
    assert "Строка 1: LAMP × 2 зарезервирован на складе Интернет-склад" in ru
    assert "Отменён покупателем или площадкой Ozon: Покупатель передумал" in ru
    assert "Cancelled by the buyer or by Ozon: Покупатель передумал" in en
    assert "Money: no total given; paid: nothing yet; needs: cleared" in en
    assert re.search(r"• \d\d\.\d\d \d\d:\d\d Заказ отменён; снято: 1\xa0резерв\n", ru)  # the reason once, below
    assert "cancelled_by_channel" not in ru + en  # no raw kind reaches the manager

    held = MoneyState(Phase.CLEARED, Phase.AUTHORIZED, False, FRAUD_HOLD)
    ru, en = (order_card(found, held, Names.of(topology, locale), "Europe/Moscow") for locale in ("ru", "en"))
    assert "оплата: авторизована; нужна: списана; отгрузка задержана до проверки звонком" in ru
    assert "shipping held until the call check" in en and raw_codes(ru) == raw_codes(en) == []


def test_every_history_kind_the_workflows_write_has_a_wording_in_both_languages() -> None:
    written = {
        kind
        for source in WORKFLOWS.glob("*.py")
        for kind in re.findall(r'OrderEvent\(\s*[\w.()]+,\s*"(\w+)"', source.read_text(encoding="utf-8"))
    }
    written |= set(HISTORY_KINDS.values()) | {f"payment_{phase.value}" for phase in Phase}
    written |= {f"return_{state.value}" for state in ReturnState} | {STATUS_EVENT}
    written |= set(SENT_EVENT.values()) | set(REFUSED_EVENT.values())
    written |= {"shipment_accepted", "shipment_registered", "shipment_refused"}  # chosen in a branch of shipping
    written |= {"reserved", "held_for_store_confirmation"}  # chosen in a branch of routing
    written |= {PAID_EVENT, SHIPPED_EVENT}  # what 1C said of the order (workflows.onec_order_status)
    assert {"received", "cancelled", "out_of_stock", "store_asked", "unfillable_asked"} <= written  # the scan works
    assert written - kinds("ru") == set()
    assert written - kinds("en") == set()


@pytest.mark.parametrize(
    ("kind", "detail", "ru", "en"),
    [
        ("delivered_to_buyer", {"channel": "ozon", "reason": ""}, "Ozon: доставлен покупателю",
         "Ozon: delivered to the buyer"),
        ("returned_by_buyer", {"channel": "wb", "reason": "брак"}, "Wildberries: покупатель вернул заказ: брак",
         "Wildberries: the buyer returned it: брак"),
        ("store_confirmed", {"line": 1, "store": "arbat"}, "Строка 1: магазин Арбат ответил — —",
         "Line 1: store Арбат answered — —"),
        ("store_confirmed", {"line": 1, "store": "arbat", "outcome": "available", "by": "U1"},
         "Строка 1: магазин Арбат ответил — есть, в порядке (U1)", "Line 1: store Арбат answered — there, in good condition (U1)"),
        ("store_declined", {"line": 1, "store": "arbat", "outcome": "missing", "by": "U1", "by_name": "Анна"},
         "Строка 1: магазин Арбат не подтвердил — нет на месте (Анна)", "Line 1: store Арбат did not confirm — not there (Анна)"),
        ("return_sellable", {"sku": "A", "qty": 1, "warehouse": "arbat", "by": "U1", "by_name": "Анна"},
         "Возврат A × 1 пришёл на склад Арбат, годен (Анна); ждём в остатке 1С",
         "Return of A × 1 arrived at Арбат, sellable (Анна); awaiting 1C's stock"),
        ("store_declined", {"line": 2, "store": "arbat", "outcome": "timeout"},
         "Строка 2: магазин Арбат не подтвердил — не ответил вовремя", "Line 2: store Арбат did not confirm — no answer in time"),
        ("store_asked", {"line": 1, "store": "arbat", "task_id": 4, "answer_by": "2026-12-03T11:21:52.284396+00:00"},
         "Строка 1: спросили магазин Арбат, ответ до 03.12 14:21", "Line 1: store Арбат asked, answer by 03.12 14:21"),
        ("unfulfillable", {"line": 1, "sku": "A", "qty": 1, "asked": ["arbat", "tverskaya"]},
         "Строка 1: A × 1 — ни один магазин не подтвердил (спросили: Арбат, Тверская)",
         "Line 1: A × 1 — no store confirmed it (asked: Арбат, Тверская)"),
        ("received", {"channel": "site", "lines": 22}, "Заказ получен: Сайт, 22\xa0строки",
         "Order received: Site, 22\xa0lines"),
        ("cancelled", {"reason": "клиент позвонил", "released": 2}, "Заказ отменён: клиент позвонил; снято: 2\xa0резерва",
         "Order cancelled: клиент позвонил; released: 2\xa0reservations"),
        ("something_new", {"x": 1, "y": ""}, "Событие заказа без описания", "An order event with no wording"),
    ],
)  # fmt: skip
def test_a_history_line_reads_whatever_detail_the_event_kept(
    kind: str, detail: dict[str, object], ru: str, en: str
) -> None:
    locales: tuple[tuple[Locale, str], ...] = (("ru", ru), ("en", en))
    for locale, expected in locales:
        names = Names(locale, {"wb": "wildberries"}, {"arbat": "Арбат", "tverskaya": "Тверская"})
        assert history_line(locale, kind, detail, names, "Europe/Moscow") == expected


def test_the_offices_cancellation_reasons_read_in_the_readers_language() -> None:
    """The fraud check and the unfillable question store a code and who decided; each reader sees words."""
    unfillable = {"reason": "unfillable: Мария (1002)", "released": 0}
    assert (
        history_line("ru", "cancelled", unfillable)
        == "Заказ отменён: товара нет, отменил(а) Мария (1002); снято: 0\xa0резервов"
    )
    assert history_line("en", "cancelled", unfillable) == (
        "Order cancelled: nobody can fill it, cancelled by Мария (1002); released: 0\xa0reservations"
    )
    fraud = {"reason": "fraud_confirmed: Олег (7)", "released": 1}
    assert "мошенничество подтвердил(а) Олег (7)" in history_line("ru", "cancelled", fraud)
    assert history_line("en", "cancelled", {"reason": "the client called", "released": 1}).startswith(
        "Order cancelled: the client called;"
    )  # a reason in someone's own words is shown as written


async def test_an_open_marketplace_order_shows_its_ship_by_in_the_shops_time(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, ozon = await _shop(uow, topology, clock)
    ship_by = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
    ozon.orders = [replace(order("OZ-8", 1), ship_by=ship_by)]
    await shop.upkeep[0].pull_orders()
    lookup = _lookup(shop)
    (found,) = await lookup.find("OZ-8")
    state = await lookup.money(found.id or 0)

    assert "Статус: зарезервирован\nОтгрузить до 22.11 12:00 (срок маркетплейса)\n" in order_card(
        found, state, Names.of(topology, "ru"), "Europe/Moscow"
    )
    assert "Ship by 22.11 12:00 (the marketplace's deadline)" in order_card(
        found, state, Names.of(topology, "en"), "Europe/Moscow"
    )
    await shop.orders.cancel(found.id or 0, "test")
    (cancelled,) = await lookup.find("OZ-8")
    assert "Отгрузить до" not in order_card(
        cancelled, state, Names.of(topology, "ru"), "Europe/Moscow"
    )  # no longer a deadline


async def test_a_channel_number_in_another_case_and_a_clients_phone_find_the_order(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """Cyrillic letters included, which SQLite's ``lower()`` leaves as they are."""
    from workflows.model import Customer

    shop, _ = await _shop(uow, topology, clock)
    lookup = _lookup(shop)
    placed = []
    for number, phone in (("САЙТ-7-Ab", "+7 (916) 000-00-01"), ("SO-2", "89160000001"), ("SO-3", "+79160000002")):
        request = PlaceOrder("site", number, [LineRequest("LAMP", 1)], Customer("Иван", phone))
        placed.append((await shop.orders.place(request)).order)
        clock.advance(minutes=1)
    first, second, third = (o.id for o in placed)

    assert [o.id for o in await lookup.find("сайт-7-aB")] == [first]
    assert [o.id for o in await lookup.find("САЙТ-7-AB", "site")] == [first]
    assert await lookup.find("сайт-7-ab", "ozon") == []
    assert [o.id for o in await lookup.find("+79160000001")] == [second, first]  # the newest first
    assert [o.id for o in await lookup.find("8 916 000 00 02")] == [third]
    assert await lookup.find("+79160000001", by_phone=False) == []
    assert (await lookup.one("so-3")) is not None and await lookup.one("+79160000002") is None
    assert await lookup.ids("+79160000001") == [second, first]  # a listing's ids: the same orders, same order
    assert await lookup.ids("+79160000001", phone_orders=1) == [second]
    assert await lookup.ids("сайт-7-aB") == [first]
    assert await lookup.ids(str(third)) == [third]
    assert [o.id for o in await lookup.find("8-916-000-0002")] == [third]  # a way of writing it nobody listed


async def test_a_long_number_in_any_mix_of_cases_is_found(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop, _ = await _shop(uow, topology, clock)
    placed = await _site_order(shop, "ЗаКаЗ-СаЙт-AbCdEf-0001")
    assert [o.id for o in await _lookup(shop).find("заказ-сайт-abcdef-0001")] == [placed.id]
    assert [o.id for o in await _lookup(shop).find("зАкАз-сАйТ-aBcDeF-0001")] == [placed.id]


async def test_an_article_is_named_in_any_case(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
    shop, _ = await _shop(uow, topology, clock)
    figures = [StockFigure("КР-7/2", "online", 1), StockFigure("Ab-1", "online", 1), StockFigure("aB-1", "online", 1)]
    await shop.ledger.apply_stock(clock.now(), figures)
    assert await shop.ledger.skus_named("кр-7/2") == ["КР-7/2"]
    assert await shop.ledger.skus_named("lamp") == ["LAMP"]
    assert await shop.ledger.skus_named("ab-1") == ["Ab-1", "aB-1"]
    assert await shop.ledger.skus_named("aB-1") == ["aB-1"]
    assert await shop.ledger.skus_named("кр-7/3") == []
