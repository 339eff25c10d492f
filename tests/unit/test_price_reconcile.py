"""Price reconciliation on memory, SQLite and PostgreSQL, wired as production wires it (with the channel's stock
reconciliation): a price changed in the channel's cabinet is sent again and reported to the owner; a price held
for the managers is never sent by it; Wildberries' whole roubles are no drift; the read goes page by page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.fakes import FakeClock, assembled
from workflows.channel_upkeep import ChannelUpkeep
from workflows.channels import ChannelOrder, ChannelUnavailable, PriceLine, PushOutcome, StockLine
from workflows.office_model import Alert
from workflows.ports import UnitOfWorkFactory
from workflows.prices import OneCPrice
from workflows.shop import Rules, Shop
from workflows.topology import Channel, Topology

RETAIL = "Розничная"


@dataclass
class CabinetChannel:
    """A channel that shows what it was last given, or what someone typed in its cabinet (``shown``); with
    ``price_read_step`` it shows prices rounded to it, as Wildberries shows whole roubles."""

    name: str
    price_batch_limit: int = 2
    batch_limit: int = 100
    shown: dict[str, Decimal] = field(default_factory=dict)
    reads: list[list[str]] = field(default_factory=list)
    fail_read: ChannelUnavailable | None = None

    async def push_prices(self, lines: Sequence[PriceLine]) -> PushOutcome:
        assert len(lines) <= self.price_batch_limit
        self.shown.update({line.sku: self._rounded(line.price) for line in lines})
        return PushOutcome(tuple(line.sku for line in lines))

    async def read_prices(self, lines: Sequence[PriceLine]) -> dict[str, Decimal]:
        assert len(lines) <= self.price_batch_limit
        if self.fail_read is not None:
            raise self.fail_read
        self.reads.append([line.sku for line in lines])
        return {line.sku: self.shown[line.sku] for line in lines if line.sku in self.shown}

    def _rounded(self, price: Decimal) -> Decimal:
        return price

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        return PushOutcome(tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return {line.sku: line.qty for line in lines}

    async def new_orders(self) -> list[ChannelOrder]:
        return []


@dataclass
class WholeRoubles(CabinetChannel):
    price_read_step: Decimal = Decimal(1)

    def _rounded(self, price: Decimal) -> Decimal:
        return price.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def retail(topology: Topology) -> Topology:
    """Wildberries and Ozon at retail, in kopecks, with no markup; the site at no price type."""
    channels: dict[str, Channel] = dict(topology.channels)
    for name in ("wildberries", "ozon"):
        channels[name] = channels[name].model_copy(
            update={"price_type": RETAIL, "price_markup": Decimal(0), "price_rounding": Decimal("0.01")}
        )
    channels["site"] = channels["site"].model_copy(update={"price_type": None})
    return topology.model_copy(update={"channels": channels})


class Shopfront:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        self.wb, self.ozon, self.site = WholeRoubles("wildberries"), CabinetChannel("ozon"), CabinetChannel("site")
        channels = {"wildberries": self.wb, "ozon": self.ozon, "site": self.site}
        rules = Rules(price_drop_approval=Decimal("0.2"), price_approval=timedelta(hours=4))
        self.shop: Shop = assembled(uow, retail(topology), clock, channels=channels, rules=rules)
        uow.hooks.after.clear()  # the dispatchers are driven by hand

    async def upload(self, *prices: tuple[str, str]) -> None:
        assert self.shop.prices is not None
        await self.shop.prices.apply("api", [OneCPrice(sku, RETAIL, Decimal(value)) for sku, value in prices])

    async def send(self) -> None:
        for dispatcher in self.shop.price_dispatchers:
            await dispatcher.drain()

    def upkeep(self, name: str) -> ChannelUpkeep:
        return next(upkeep for upkeep in self.shop.upkeep if upkeep.name == name)

    async def alert(self, channel: str) -> Alert | None:
        async with self.uow(read_only=True) as work:
            return await work.alerts.open_for(f"price_drift:{channel}")

    async def queued(self, channel: str) -> dict[str, str]:
        async with self.uow(read_only=True) as work:
            return await work.prices.waiting(channel, ["IRON", "KETTLE", "LAMP", "MUG", "TOASTER"])


@pytest.fixture
def front(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shopfront:
    return Shopfront(uow, topology, clock)


async def test_a_price_changed_in_the_cabinet_is_sent_again_and_the_owner_told_until_it_is_right(
    front: Shopfront,
) -> None:
    await front.upload(("IRON", "1000"), ("KETTLE", "2500.40"), ("LAMP", "700"))
    await front.send()
    front.ozon.shown["KETTLE"] = Decimal("1999.00")  # typed by hand in Ozon's cabinet

    report = await front.upkeep("ozon").reconcile()

    assert report.prices is not None
    assert report.prices.checked == 3 and report.prices.drifted == {"KETTLE": (Decimal("1999.00"), Decimal("2500.40"))}
    assert report.prices.resent == 1 and await front.queued("ozon") == {"KETTLE": "pending"}
    alert = await front.alert("ozon")
    assert alert is not None and alert.kind == "price_drift"
    assert alert.detail == {"channel": "ozon", "count": 1, "sku": "KETTLE", "shown": "1999.00", "ours": "2500.40"}
    async with front.uow(read_only=True) as work:
        state = await work.channel_states.get("ozon")
    assert state.reconciled is not None and "price_drift=1" in state.reconciled
    await front.send()
    assert front.ozon.shown["KETTLE"] == Decimal("2500.40")

    again = await front.upkeep("ozon").reconcile()

    assert again.prices is not None and again.prices.drifted == {} and again.prices.resent == 0
    assert await front.alert("ozon") is None  # resolved
    assert await front.alert("wildberries") is None


async def test_wildberries_whole_roubles_are_no_drift_but_a_wrong_rouble_is(front: Shopfront) -> None:
    await front.upload(("IRON", "999.50"), ("LAMP", "700.40"))
    await front.send()
    assert front.wb.shown == {"IRON": Decimal(1000), "LAMP": Decimal(700)}

    report = await front.upkeep("wildberries").reconcile()
    assert report.prices is not None and report.prices.checked == 2 and report.prices.drifted == {}

    front.wb.shown["LAMP"] = Decimal(701)
    report = await front.upkeep("wildberries").reconcile()
    assert report.prices is not None and report.prices.drifted == {"LAMP": (Decimal(701), Decimal("700.40"))}
    assert await front.queued("wildberries") == {"LAMP": "pending"}


async def test_a_held_price_is_never_sent_by_reconciliation(front: Shopfront) -> None:
    await front.upload(("IRON", "1000"), ("LAMP", "1000"))
    await front.send()
    await front.upload(("IRON", "100"))  # 90 % off: held for the managers
    front.ozon.shown["IRON"] = Decimal("1500.00")  # and someone changed it in the cabinet as well
    assert await front.queued("ozon") == {"IRON": "held"}

    report = await front.upkeep("ozon").reconcile()

    assert report.prices is not None
    assert report.prices.drifted == {"IRON": (Decimal("1500.00"), Decimal("1000.00"))}  # vs what it accepted
    assert report.prices.resent == 0
    assert await front.queued("ozon") == {"IRON": "held"}
    await front.send()
    assert front.ozon.shown["IRON"] == Decimal("1500.00")  # nothing went: a person decides
    alert = await front.alert("ozon")
    assert alert is not None and alert.detail["count"] == 1


async def test_a_pending_price_is_on_its_way_and_not_judged(front: Shopfront) -> None:
    await front.upload(("IRON", "1000"))
    await front.send()
    await front.upload(("IRON", "1100"))  # queued, not sent yet

    report = await front.upkeep("ozon").reconcile()

    assert report.prices is not None and report.prices.checked == 0 and report.prices.drifted == {}
    assert front.ozon.reads == []  # nothing to judge on that page


async def test_the_read_goes_page_by_page_within_the_clients_limit(front: Shopfront) -> None:
    await front.upload(("IRON", "100"), ("KETTLE", "200"), ("LAMP", "300"), ("MUG", "400"), ("TOASTER", "500"))
    await front.send()
    front.ozon.shown["TOASTER"] = Decimal("1.00")

    report = await front.upkeep("ozon").reconcile()

    assert front.ozon.reads == [["IRON", "KETTLE"], ["LAMP", "MUG"], ["TOASTER"]]
    assert report.prices is not None and report.prices.checked == 5 and set(report.prices.drifted) == {"TOASTER"}


async def test_a_read_that_fails_keeps_the_alert_as_it_was(front: Shopfront) -> None:
    await front.upload(("IRON", "1000"))
    await front.send()
    front.ozon.shown["IRON"] = Decimal("1.00")
    await front.upkeep("ozon").reconcile()
    assert await front.alert("ozon") is not None
    await front.send()  # the correction went
    front.ozon.fail_read = ChannelUnavailable("Ozon answered HTTP 503")

    report = await front.upkeep("ozon").reconcile()

    assert report.prices is not None and report.prices.failed == "Ozon answered HTTP 503"
    assert await front.alert("ozon") is not None  # not known to be over


async def test_a_channel_without_a_price_type_has_no_price_reconciliation(front: Shopfront) -> None:
    report = await front.upkeep("site").reconcile()
    assert report.prices is None


async def test_resend_leaves_a_pending_or_held_line_alone_and_brings_a_dead_one_back(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    now = clock.now()
    async with uow() as work:
        await work.price_outbox.enqueue("ozon", {"IRON": 100_000, "LAMP": 70_000}, now)
        batch = await work.prices.open_batch(RETAIL, "api", now, 1)
        await work.prices.hold("ozon", {"KETTLE": 10_000}, now, batch)
        [lamp] = [p for p in await work.price_outbox.claim("ozon", now, now, "test", 10) if p.sku == "LAMP"]
        await work.price_outbox.rejected([lamp], {"LAMP": "no"}, now, 1)
        await work.prices.resend("ozon", {"IRON": 1, "KETTLE": 2, "LAMP": 3, "MUG": 4}, now)
        await work.commit()
    async with uow(read_only=True) as work:
        known = await work.price_outbox.known("ozon", ["IRON", "KETTLE", "LAMP", "MUG"])
        states = await work.prices.waiting("ozon", ["IRON", "KETTLE", "LAMP", "MUG"])
        held = await work.prices.held(batch)
    assert known == {"IRON": 100_000, "KETTLE": 10_000, "LAMP": 3, "MUG": 4}
    assert states == {"IRON": "pending", "KETTLE": "held", "LAMP": "pending", "MUG": "pending"}
    assert [h.sku for h in held] == ["KETTLE"]


async def test_sync_asked_in_the_chat_reconciles_the_prices_too(front: Shopfront) -> None:
    await front.upload(("IRON", "1000"))
    await front.send()
    front.ozon.shown["IRON"] = Decimal("10.00")
    assert await front.upkeep("ozon").reconcile_if_asked() is None  # nobody asked

    await front.shop.operations.request_sync("ozon", "tg:1001")
    report = await front.upkeep("ozon").reconcile_if_asked()

    assert report is not None and report.prices is not None and set(report.prices.drifted) == {"IRON"}
