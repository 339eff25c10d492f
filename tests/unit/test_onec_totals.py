"""1C's totals without a warehouse, on memory, SQLite and PostgreSQL: ``[onec] totals_warehouse`` places them;
without it a message of nothing but totals is refused with the setting named, a mixed one has its warehouse lines
applied, and the owner hears of it once per episode."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.telegram.render import alert_title
from bot.texts import Locale
from tests.fakes import FakeClock
from tests.unit.test_onec_intake import Shop
from workflows.errors import TotalsWithoutWarehouse
from workflows.office_model import Alert
from workflows.onec_intake import OneCLine, OneCTotal, StockSource
from workflows.operations import ONEC_TOTALS_UNPLACED, Operations
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology

TOTALS = [OneCTotal("СТОЛ-1", 4), OneCTotal("СТОЛ-1", 1), OneCTotal("СТУЛ-2", 0)]  # two characteristics of СТОЛ-1


def placing_totals(topology: Topology, code: str | None) -> Topology:
    return topology.model_copy(update={"onec": topology.onec.model_copy(update={"totals_warehouse": code})})


async def open_alert(shop: Shop) -> dict[str, object] | None:
    async with shop.uow(read_only=True) as uow:
        alert = await uow.alerts.open_for(ONEC_TOTALS_UNPLACED)
    if alert is None:
        return None
    return {"count": alert.count, **alert.detail}


@pytest.mark.parametrize("source", [StockSource.EXCHANGE, StockSource.FILE])
async def test_totals_go_to_the_configured_warehouse_summed_per_article(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, source: StockSource
) -> None:
    shop = Shop(uow, placing_totals(topology, "tverskaya"), clock, Operations)
    assert shop.intake.totals_warehouse == "tverskaya"
    lines = [OneCLine("СТОЛ-1", "online", 2)]
    result = await shop.intake.apply(source, clock.now(), lines, TOTALS)
    assert result.accepted == 3
    assert await shop.on_hand("СТОЛ-1") == {"online": 2, "tverskaya": 5}
    assert await shop.on_hand("СТУЛ-2") == {"tverskaya": 0}
    assert await open_alert(shop) is None


async def test_a_message_of_totals_only_is_refused_naming_the_setting_and_the_owner_is_alerted(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, placing_totals(topology, None), clock, Operations)
    with pytest.raises(TotalsWithoutWarehouse) as refused:
        await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [], TOTALS)
    assert refused.value.message == (
        "all 3 offer(s) give only a total, no warehouse (e.g. 'СТОЛ-1'): set [onec] totals_warehouse to the code "
        "of our warehouse that holds them; nothing applied"
    )
    assert await shop.on_hand("СТОЛ-1") == {}
    assert (await shop.operations.status()).onec_last_update is None  # refused: 1C is not counted as heard
    assert await open_alert(shop) == {"count": 1, "offers": 3, "example": "СТОЛ-1", "source": "exchange"}

    with pytest.raises(TotalsWithoutWarehouse):  # 1C tries again: the same episode, counted
        await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [], TOTALS[:1])
    assert await open_alert(shop) == {"count": 2, "offers": 1, "example": "СТОЛ-1", "source": "exchange"}

    # the operator sets totals_warehouse (a restart): the next totals are placed and the alert ends
    fixed = Shop(uow, placing_totals(topology, "online"), clock, Operations)
    await fixed.intake.apply(StockSource.EXCHANGE, clock.now(), [], TOTALS)
    assert await fixed.on_hand("СТОЛ-1") == {"online": 5}
    assert await open_alert(fixed) is None


async def test_a_mixed_message_applies_its_warehouse_lines_and_alerts_about_the_totals(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, placing_totals(topology, None), clock, Operations)
    result = await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [OneCLine("ШКАФ-3", "online", 7)], TOTALS)
    assert result.accepted == 1
    assert await shop.on_hand("ШКАФ-3") == {"online": 7}
    assert await shop.on_hand("СТОЛ-1") == {}
    assert await open_alert(shop) == {"count": 1, "offers": 3, "example": "СТОЛ-1", "source": "exchange"}


async def test_a_message_without_totals_leaves_the_alert_as_it_is(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, placing_totals(topology, None), clock, Operations)
    await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [OneCLine("ШКАФ-3", "online", 7)], TOTALS)
    await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [OneCLine("ШКАФ-3", "online", 6)])
    assert await open_alert(shop) == {"count": 1, "offers": 3, "example": "СТОЛ-1", "source": "exchange"}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru", "1С прислала остатки без склада: 3\xa0предложения (например, СТОЛ-1) не разнесены — укажите склад в [onec] "
               "totals_warehouse"),
        ("en", "1C sent stock without a warehouse: 3\xa0offers (e.g. СТОЛ-1) not placed — set the warehouse in [onec] "
               "totals_warehouse"),
    ],
)  # fmt: skip
def test_the_owner_reads_what_to_set(locale: Locale, expected: str) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"offers": 3, "example": "СТОЛ-1", "source": "exchange"}
    alert = Alert(None, ONEC_TOTALS_UNPLACED, ONEC_TOTALS_UNPLACED, detail, "open", 1, 0, now, now)
    assert alert_title(alert, locale, "Europe/Moscow") == expected
