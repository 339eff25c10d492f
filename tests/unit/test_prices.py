"""1C's prices to the channels, on memory, SQLite and PostgreSQL, wired as production wires them: a channel's price
from its price type, markup and rounding; queued and sent by the price dispatcher within the channel's batch; the
guard holding a batch of big drops (or prices below a floor) for one decision of the managers, then the owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fakes import FakeClock, assembled
from workflows.channels import ChannelOrder, ChannelUnavailable, PriceLine, PushOutcome, StockLine
from workflows.ports import UnitOfWorkFactory
from workflows.prices import InvalidPrice, OneCPrice, PriceResult, channel_price, to_minor
from workflows.shop import Rules, Shop
from workflows.tasks import TaskState
from workflows.topology import Channel, Prices, Topology
from workflows.vocabulary import Assignee, Role, TaskKind

RETAIL, MINIMUM = "Розничная", "Минимальная"


@dataclass
class PriceChannel:
    """A channel client that takes prices, scripted: what it was sent and what it shows."""

    name: str
    price_batch_limit: int = 2
    batch_limit: int = 100
    sent: list[list[PriceLine]] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)
    fail: list[Exception] = field(default_factory=list)

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        if self.fail:
            raise self.fail.pop(0)
        assert len(lines) <= self.price_batch_limit
        self.sent.append(list(lines))
        rejected = {line.sku: self.reject[line.sku] for line in lines if line.sku in self.reject}
        return PushOutcome(tuple(line.sku for line in lines if line.sku not in rejected), rejected)

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        shown = self.shown()
        return {line.sku: shown[line.sku] for line in lines if line.sku in shown}

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        return PushOutcome(tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {}

    async def new_orders(self) -> list[ChannelOrder]:
        return []

    def shown(self) -> dict[str, Decimal]:
        return {line.sku: line.price for batch in self.sent for line in batch if line.sku not in self.reject}


def priced(topology: Topology, **rules: dict[str, object]) -> Topology:
    """The example topology with Wildberries at retail +10 % in whole roubles, Ozon at retail, the rest at none."""
    channels: dict[str, Channel] = dict(topology.channels)
    channels["wildberries"] = channels["wildberries"].model_copy(
        update={"price_type": RETAIL, "price_markup": Decimal("0.1"), "price_rounding": Decimal(1)}
    )
    channels["ozon"] = channels["ozon"].model_copy(
        update={"price_type": RETAIL, "price_markup": Decimal(0), "price_rounding": Decimal("0.01")}
    )
    for name in ("site", "yandex_market"):
        channels[name] = channels[name].model_copy(update={"price_type": None})
    prices = Prices(floor_type=MINIMUM, floors={"LAMP": Decimal(500)})
    return topology.model_copy(update={"channels": channels, "prices": prices, **rules})


class Office:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        self.wb, self.ozon, self.site = PriceChannel("wildberries"), PriceChannel("ozon"), PriceChannel("site")
        channels = {"wildberries": self.wb, "ozon": self.ozon, "site": self.site}
        rules = Rules(price_drop_approval=Decimal("0.2"), price_approval=timedelta(hours=4))
        self.shop: Shop = assembled(uow, priced(topology), clock, channels=channels, rules=rules)

    async def upload(self, *prices: tuple[str, str], price_type: str = RETAIL) -> PriceResult:
        assert self.shop.prices is not None
        lines = [OneCPrice(sku, price_type, Decimal(value)) for sku, value in prices]
        return await self.shop.prices.apply("api", lines)

    async def send(self) -> None:
        for dispatcher in self.shop.price_dispatchers:
            await dispatcher.scheduled()

    async def questions(self) -> list[tuple[int, str, dict[str, object]]]:
        async with self.uow(read_only=True) as work:
            tasks = await work.tasks.open_about("price_batch:")
        return [(t.id or 0, t.assignee, dict(t.payload)) for t in tasks if t.kind == TaskKind.PRICE_APPROVAL]


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    return Office(uow, topology, clock)


def test_a_channel_price_is_marked_up_and_rounded_halves_up(topology: Topology) -> None:
    wb = priced(topology).channels["wildberries"]
    assert channel_price(to_minor(Decimal("999.50")), wb) == 109_900  # 1099.45 → 1099
    assert channel_price(to_minor(Decimal("1000.50")), wb) == 110_100  # 1100.55 → 1101
    ozon = priced(topology).channels["ozon"]
    assert channel_price(to_minor(Decimal("1259.125")), ozon) == 125_913  # kopecks, halves up
    assert channel_price(1, wb) == 100  # never below one step


async def test_prices_reach_the_channels_that_sell_at_their_type_in_batches(office: Office) -> None:
    await office.upload(("IRON", "1000"), ("KETTLE", "2500.40"), ("LAMP", "700"))
    assert office.shop.price_dispatchers and {d.name for d in office.shop.price_dispatchers} == {"wildberries", "ozon"}
    await office.send()
    assert office.wb.shown() == {"IRON": Decimal("1100.00"), "KETTLE": Decimal("2750.00"), "LAMP": Decimal("770.00")}
    assert office.ozon.shown() == {"IRON": Decimal("1000.00"), "KETTLE": Decimal("2500.40"), "LAMP": Decimal("700.00")}
    assert [len(batch) for batch in office.ozon.sent] == [2, 1]  # within the channel's price batch
    assert office.site.sent == []  # the site has no price type: no prices
    await office.upload(("IRON", "1000"))  # nothing changed: nothing sent
    await office.send()
    assert sum(len(b) for b in office.ozon.sent) == 3


async def test_a_price_type_no_channel_sells_at_is_kept_and_sends_nothing(office: Office) -> None:
    result = await office.upload(("IRON", "900"), price_type="Оптовая")
    assert result.unused_types == ["Оптовая"]
    await office.send()
    assert office.wb.sent == [] and office.ozon.sent == []


async def test_a_big_drop_is_held_as_one_batch_and_sent_when_a_manager_approves(office: Office) -> None:
    await office.upload(("IRON", "1000"), ("KETTLE", "2000"), ("LAMP", "900"))
    await office.send()
    sent_before = (len(office.wb.sent), len(office.ozon.sent))
    # IRON falls 50 %, KETTLE 10 % (goes at once), LAMP 30 %: two SKUs on two channels held in one batch
    result = await office.upload(("IRON", "500"), ("KETTLE", "1800"), ("LAMP", "630"))
    assert result.held == {"wildberries": 2, "ozon": 2} and len(result.batches) == 1
    await office.send()
    assert office.ozon.shown()["KETTLE"] == Decimal("1800.00") and office.ozon.shown()["IRON"] == Decimal("1000.00")
    questions = await office.questions()
    assert len(questions) == 1
    task_id, who, payload = questions[0]
    assert who == Assignee.MANAGERS and payload["lines"] == 4 and payload["skus"] == 2
    samples = payload["samples"]
    assert isinstance(samples, list) and samples[0]["sku"] == "IRON"  # the largest drop first

    decision = await office.shop.office.answer(task_id, "approve", Role.MANAGER, "tg:1002")
    assert decision.accepted
    await office.send()
    assert office.wb.shown()["IRON"] == Decimal("550.00") and office.ozon.shown()["LAMP"] == Decimal("630.00")
    assert (len(office.wb.sent), len(office.ozon.sent)) > sent_before
    async with office.uow(read_only=True) as work:
        batch = await work.prices.batch(int(str(payload["batch_id"])))
    assert batch is not None and batch.state == "approved" and batch.decided_by == "tg:1002"
    again = await office.shop.office.answer(task_id, "reject", Role.MANAGER, "tg:1003")
    assert not again.accepted and again.refusal == "answered"  # the first decision stands


async def test_a_rejected_batch_keeps_the_channels_prices_and_is_not_asked_again_until_1c_changes(
    office: Office,
) -> None:
    await office.upload(("IRON", "1000"))
    await office.send()
    await office.upload(("IRON", "100"))  # a typo in 1C: 90 % off
    [(task_id, _, _)] = await office.questions()
    assert (await office.shop.office.answer(task_id, "reject", Role.MANAGER, "tg:1002")).accepted
    await office.send()
    assert office.ozon.shown()["IRON"] == Decimal("1000.00") and office.wb.shown()["IRON"] == Decimal("1100.00")
    await office.upload(("IRON", "100"))  # 1C still says so: not asked again
    assert await office.questions() == []
    await office.upload(("IRON", "990"))  # fixed in 1C: a small change goes
    await office.send()
    assert office.ozon.shown()["IRON"] == Decimal("990.00")


async def test_below_the_floor_is_held_even_for_a_new_price(office: Office) -> None:
    await office.upload(("KETTLE", "700"), price_type=MINIMUM)  # 1C's minimum price type is the floor
    result = await office.upload(("KETTLE", "650"), ("LAMP", "450"), ("IRON", "300"))  # LAMP's floor: 500
    assert result.held == {"wildberries": 1, "ozon": 2}  # WB's KETTLE is 715 after its markup
    await office.send()
    assert set(office.ozon.shown()) == {"IRON"} and set(office.wb.shown()) == {"IRON", "KETTLE"}
    [(_, _, payload)] = await office.questions()
    samples = payload["samples"]
    assert isinstance(samples, list)
    floors = {(s["channel"], s["sku"]): s["floor"] for s in samples}
    assert floors[("ozon", "KETTLE")] == 70_000 and floors[("ozon", "LAMP")] == 50_000


async def test_no_answer_hands_the_batch_to_the_owner_with_an_alert(office: Office, clock: FakeClock) -> None:
    await office.upload(("IRON", "1000"))
    await office.send()
    await office.upload(("IRON", "100"))
    [(first, _, _)] = await office.questions()
    clock.advance(hours=4, seconds=1)
    await office.shop.pump.run_once()
    [(task_id, who, payload)] = await office.questions()
    assert who == Assignee.OWNER and payload["escalated"] == "timeout" and task_id != first
    async with office.uow(read_only=True) as work:
        expired = await work.tasks.get(first)
        alerts = await work.alerts.recent(5)
    assert expired is not None and expired.state == TaskState.EXPIRED
    assert any(a.kind == "task_escalated" for a in alerts)
    await office.send()
    assert office.ozon.shown()["IRON"] == Decimal("1000.00")  # still held while the owner decides
    assert (await office.shop.office.answer(task_id, "approve", Role.OWNER, "tg:1001")).accepted
    await office.send()
    assert office.ozon.shown()["IRON"] == Decimal("100.00")


async def test_a_newer_price_takes_a_line_out_of_its_held_batch(office: Office) -> None:
    await office.upload(("IRON", "1000"), ("LAMP", "1000"))
    await office.send()
    await office.upload(("IRON", "100"), ("LAMP", "100"))
    [(task_id, _, _)] = await office.questions()
    await office.upload(("IRON", "950"))  # 1C fixed IRON before anyone answered: it goes at once
    await office.send()
    assert office.ozon.shown()["IRON"] == Decimal("950.00")
    assert (await office.shop.office.answer(task_id, "approve", Role.MANAGER, "tg:1002")).accepted
    await office.send()
    assert office.ozon.shown() == {"IRON": Decimal("950.00"), "LAMP": Decimal("100.00")}


async def test_a_bad_price_refuses_the_whole_upload(office: Office) -> None:
    with pytest.raises(InvalidPrice) as refused:
        await office.upload(("IRON", "1000"), ("KETTLE", "0"), ("LAMP", "NaN"))
    assert [p["field"] for p in refused.value.details] == ["prices.1.price", "prices.2.price"]
    await office.send()
    assert office.ozon.sent == []


async def test_a_failing_price_api_opens_its_own_circuit_and_leaves_stock_alone(office: Office) -> None:
    office.ozon.fail = [ChannelUnavailable("Ozon answered HTTP 503") for _ in range(5)]
    await office.upload(("IRON", "1000"))
    for _ in range(5):
        await office.send()
        office.clock.advance(minutes=6)
    async with office.uow(read_only=True) as work:
        states = await work.channel_states.all()
        alerts = await work.alerts.recent(5)
    assert states["ozon:prices"].failures_in_a_row == 5 and "ozon" not in states
    assert [a.kind for a in alerts if a.key == "price_sync_failing:ozon"] == ["price_sync_failing"]
    office.clock.advance(minutes=6)
    await office.send()
    assert office.ozon.shown() == {"IRON": Decimal("1000.00")}
