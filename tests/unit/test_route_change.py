"""A route change after arrival on memory, SQLite and PostgreSQL: the changed earmarks are estimated again, a
decrease gives its surplus back to unallocated (never below what was drawn), an increase is filled from unallocated
and the rest asked of the client as a linked top-up, and the caller's key makes a repeat change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.order_history import history_line
from tests.fakes import FakeClock
from tests.unit.test_client_money import PLANNED, TIR_FULL, MoneyOffice
from workflows.estimates import EstimateRates, estimate
from workflows.money_model import (
    DeliveryMode,
    MoneyConflict,
    MoneyNotPlanned,
    PayoutRequest,
    PayoutState,
    Purpose,
    RouteBelowDrawn,
    TransportMode,
)
from workflows.office_model import Phase
from workflows.ports import UnitOfWorkFactory
from workflows.route_change import RouteRequest
from workflows.topology import Topology

TO_REGION = replace(TIR_FULL, delivery=DeliveryMode.REGION_SMALL_LOTS)  # small lots to a region instead of Ozon
REGION_RUB = Decimal("183000.00")  # 3 000 + 45 × 4 000 kg


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


def test_each_delivery_mode_has_a_rate_and_the_marketplace_keeps_its_own() -> None:
    assert estimate(EstimateRates(), TO_REGION)[Purpose.MARKETPLACE] == REGION_RUB
    assert estimate(EstimateRates(), TIR_FULL)[Purpose.MARKETPLACE] == PLANNED[Purpose.MARKETPLACE]
    rates = EstimateRates.model_validate({"marketplace": {"per_box_rub": "300"},
                                          "delivery": {"pickup": {"flat_rub": "500"}}})  # fmt: skip
    assert estimate(rates, TIR_FULL)[Purpose.MARKETPLACE] == Decimal("6000.00")
    assert estimate(rates, replace(TIR_FULL, delivery=DeliveryMode.PICKUP))[Purpose.MARKETPLACE] == Decimal(500)
    with pytest.raises(ValueError, match="marketplace"):
        EstimateRates.model_validate({"delivery": {"marketplace": {"flat_rub": "1"}}})
    assert EstimateRates.model_validate(rates.model_dump(mode="json")) == rates  # read back as written


async def test_an_increase_asks_the_client_for_a_linked_top_up(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    outcome = await office.money.routes.change(RouteRequest("route-1", order_id, TO_REGION))
    assert outcome.changed == {Purpose.MARKETPLACE: (PLANNED[Purpose.MARKETPLACE], REGION_RUB)}  # only that one
    assert outcome.given_back == {}
    payment_id = outcome.topups[Purpose.MARKETPLACE]
    async with office.uow(read_only=True) as work:
        request = await work.payments.get(payment_id)
        to_create = await work.gateway_payments.get(payment_id)
    assert request is not None
    assert (request.order_id, request.phase, request.amount, request.currency, request.idempotency_key) == (
        order_id, Phase.INITIATED, Decimal(178_000), "RUB", payment_id,
    )  # fmt: skip
    assert to_create is not None and (to_create.state, to_create.order_id) == ("pending", order_id)  # for YooKassa
    assert "доставка на маркетплейс" in to_create.description
    account = await office.account(order_id)
    marketplace = account.earmark(Purpose.MARKETPLACE)
    assert (marketplace.planned, marketplace.reserved, marketplace.estimated) == (REGION_RUB, Decimal(5000), REGION_RUB)
    assert account.delivery == DeliveryMode.REGION_SMALL_LOTS

    again = await office.money.routes.change(RouteRequest("route-1", order_id, TO_REGION))
    assert again.duplicate and again.topups == {}
    with pytest.raises(MoneyConflict):  # the same key, other figures
        await office.money.routes.change(RouteRequest("route-1", order_id, replace(TO_REGION, boxes=21)))
    async with office.uow(read_only=True) as work:
        assert len(await work.payments.for_order(order_id)) == 2  # p-all and the one top-up

    await office.pay(order_id, payment_id, Decimal(178_000), key=payment_id)
    assert (await office.account(order_id)).earmark(Purpose.MARKETPLACE).reserved == REGION_RUB
    entries = (await office.money.account_of(order_id)).entries
    assert [e.kind for e in entries].count("route") == 1 and f"topup:{payment_id}" in {e.key for e in entries}
    history = [e for e in (await office.orders.get(order_id)).history if e.kind == "money_route_changed"]
    assert len(history) == 1
    assert history_line("ru", "money_route_changed", history[0].detail).replace("\xa0", " ") == (
        "Маршрут изменён, смета: доставка на маркетплейс 5 000,00 ₽ → 183 000,00 ₽"
    )
    english = history_line("en", "money_route_changed", history[0].detail)
    assert english.startswith("Route changed, estimate: marketplace delivery")


async def test_a_decrease_gives_its_surplus_back_and_fills_an_increase_first(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    await office.money.draw(office.carrier_invoice(order_id, eur="5000"))  # 500 000 of logistics drawn
    rail = replace(TO_REGION, transport=TransportMode.RAIL_CONTAINER)  # 700 000 instead of 1 150 000
    outcome = await office.money.routes.change(RouteRequest("rail-and-region", order_id, rail))
    assert outcome.given_back == {Purpose.LOGISTICS: Decimal(450_000)}
    assert outcome.topups == {}  # the surplus paid for the region
    account = await office.account(order_id)
    logistics = account.earmark(Purpose.LOGISTICS)
    assert (logistics.planned, logistics.reserved, logistics.drawn) == (Decimal(700_000),) * 2 + (Decimal(500_000),)
    assert account.earmark(Purpose.MARKETPLACE).reserved == REGION_RUB
    assert account.unallocated == Decimal(450_000 - 178_000)
    assert account.credited == Decimal(1_994_400)  # nothing came in or went out: it moved
    kinds = [e.kind for e in (await office.money.account_of(order_id)).entries]
    assert kinds.count("give_back") == 1 and "topup_requested" not in kinds


async def test_a_route_that_leaves_an_earmark_below_what_was_drawn_is_refused_and_changes_nothing(
    office: MoneyOffice,
) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    await office.money.draw(office.carrier_invoice(order_id, eur="10000"))  # 1 000 000 drawn
    before = await office.money.account_of(order_id)
    rail = replace(TO_REGION, transport=TransportMode.RAIL_CONTAINER)
    with pytest.raises(RouteBelowDrawn, match="logistics"):
        await office.money.routes.change(RouteRequest("rail", order_id, rail))
    after = await office.money.account_of(order_id)
    assert (after.account, after.entries) == (before.account, before.entries)
    with pytest.raises(MoneyNotPlanned):
        await office.money.routes.change(RouteRequest("rail", await office.order("CN-2"), rail))


async def test_part_of_an_increase_comes_from_unallocated_money(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(2_044_400))  # 50 000 more than the plan
    outcome = await office.money.routes.change(RouteRequest("r", order_id, TO_REGION))
    async with office.uow(read_only=True) as work:
        request = await work.payments.get(outcome.topups[Purpose.MARKETPLACE])
    assert request is not None and request.amount == Decimal(128_000)
    account = await office.account(order_id)
    assert (account.unallocated, account.earmark(Purpose.MARKETPLACE).reserved) == (Decimal(0), Decimal(55_000))


async def test_a_payout_waiting_on_an_earmark_the_route_filled_is_drawn_at_once(office: MoneyOffice) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    due = office.clock.now() + timedelta(days=4)
    courier = PayoutRequest("sdek-1", order_id, Purpose.MARKETPLACE, "СДЭК", "RUB", Decimal(150_000), due)
    assert (await office.money.draw(courier)).payout.state == PayoutState.SHORT
    rail = replace(TO_REGION, transport=TransportMode.RAIL_CONTAINER)
    await office.money.routes.change(RouteRequest("rail", order_id, rail))
    assert (await office.payout("sdek-1")).state == PayoutState.DRAWN
    assert await office.questions(order_id) == []  # the shortfall question closed: covered
