"""1C's register pulled as the full truth, through the ledger, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.ledger import Ledger
from workflows.onec_intake import StockIntake
from workflows.onec_pull import FAILING_KEY, OneCPull, SourceUnavailable
from workflows.operations import Operations
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import TaskBoard
from workflows.topology import Topology


def ignoring(topology: Topology, *warehouses: str) -> Topology:
    return topology.model_copy(update={"onec": topology.onec.model_copy(update={"ignore_warehouses": warehouses})})


class Register:
    """The BalanceSource port, scripted."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int]] = []
        self.down: str | None = None

    async def balance(self) -> list[tuple[str, str, int]]:
        if self.down:
            raise SourceUnavailable(self.down)
        return list(self.rows)


async def test_the_register_is_applied_as_the_truth(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    register = Register()
    ledger = Ledger(uow, topology, clock)
    alerts = AlertDesk(clock, TaskBoard(uow, clock))
    operations = Operations(uow, clock, topology, alerts, timedelta(minutes=30))
    pull = OneCPull(uow, clock, StockIntake(uow, topology, ledger, operations, clock), alerts, register)
    online, store = topology.warehouse("online"), topology.warehouse("tverskaya")
    assert online is not None and online.onec_id and store is not None and store.onec_id
    register.rows = [
        ("КР-7/2", online.onec_id, 3), ("КР-7/2", online.onec_id, 2),  # two characteristics of one article
        ("КР-7/2", store.onec_id, 1), ("LAMP", "a-1c-defects-warehouse", 9),
    ]  # fmt: skip
    refused = await pull.run()  # a 1C warehouse the topology neither knows nor ignores: nothing applied
    assert refused.failed is not None and "'a-1c-defects-warehouse'" in refused.failed
    assert (await ledger.stock("КР-7/2")).by_warehouse == {}
    async with uow(read_only=True) as work:
        assert await work.alerts.open_for(FAILING_KEY) is not None
    pull = OneCPull(uow, clock, StockIntake(uow, ignoring(topology, "a-1c-defects-warehouse"), ledger, operations, clock),
                    alerts, register)  # fmt: skip
    result = await pull.run()
    assert (result.applied, result.failed) == (2, None)
    stock = await ledger.stock("КР-7/2")
    assert {code: level.on_hand for code, level in stock.by_warehouse.items()} == {"online": 5, "tverskaya": 1}
    assert (await operations.status()).onec_last_update == clock.now()

    register.down = "wrong 1C login or password"
    clock.advance(hours=1)
    assert (await pull.run()).failed == "wrong 1C login or password"
    async with uow(read_only=True) as work:
        alert = await work.alerts.open_for(FAILING_KEY)
    assert alert is not None and alert.detail == {"reason": "wrong 1C login or password"}
    register.down = None
    clock.advance(hours=1)
    await pull.run()
    async with uow(read_only=True) as work:
        assert await work.alerts.open_for(FAILING_KEY) is None


async def test_a_row_the_register_no_longer_lists_is_zero(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    """1C's balance leaves out what it has none of: stock sold out in 1C must not stay on sale here."""
    register = Register()
    ledger = Ledger(uow, topology, clock)
    alerts = AlertDesk(clock, TaskBoard(uow, clock))
    operations = Operations(uow, clock, topology, alerts, timedelta(minutes=30))
    pull = OneCPull(uow, clock, StockIntake(uow, topology, ledger, operations, clock), alerts, register)
    online, store = topology.warehouse("online"), topology.warehouse("tverskaya")
    assert online is not None and online.onec_id and store is not None and store.onec_id
    register.rows = [("LAMP", online.onec_id, 4), ("LAMP", store.onec_id, 2), ("KETTLE", online.onec_id, 1)]
    await pull.run()
    clock.advance(minutes=5)
    register.rows = [("LAMP", store.onec_id, 2)]  # the online lamps and the kettle were sold in 1C

    result = await pull.run()

    assert result.failed is None
    assert {code: lv.on_hand for code, lv in (await ledger.stock("LAMP")).by_warehouse.items()} == {
        "online": 0, "tverskaya": 2,
    }  # fmt: skip
    assert {code: lv.on_hand for code, lv in (await ledger.stock("KETTLE")).by_warehouse.items()} == {"online": 0}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("LAMP\u200b", "online", 1), "items.1.sku: article 'LAMP\\u200b': must not contain a format character"),
        (("LAMP", "online", 999_999_999_999_999), "items.1.qty: quantity 999999999999999 is not within"),
        (("Я" * 256, "online", 1), "items.1.sku"),
    ],
)
async def test_a_register_row_the_intake_refuses_raises_the_alert_with_its_reason(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, row: tuple[str, str, int], reason: str
) -> None:
    register = Register()
    ledger = Ledger(uow, topology, clock)
    alerts = AlertDesk(clock, TaskBoard(uow, clock))
    operations = Operations(uow, clock, topology, alerts, timedelta(minutes=30))
    pull = OneCPull(uow, clock, StockIntake(uow, topology, ledger, operations, clock), alerts, register)
    online = topology.warehouse("online")
    assert online is not None and online.onec_id
    register.rows = [("IRON", online.onec_id, 2), (row[0], online.onec_id, row[2])]
    refused = await pull.run()
    assert refused.failed is not None and reason in refused.failed and "nothing applied" in refused.failed
    assert (await ledger.stock("IRON")).by_warehouse == {}
    async with uow(read_only=True) as work:
        alert = await work.alerts.open_for(FAILING_KEY)
    assert alert is not None and reason in str(alert.detail["reason"])
