"""``/stock`` of a kit end to end: the real aiogram bot against the Telegram emulator answers what the kit's
components make and what it is made of."""

from __future__ import annotations

import pytest

from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_telegram_office import MANAGER, Office
from workflows.topology import Topology

KIT = "НАБОР-1"
_OFFICE_SHOP = office_world._shop


def _shop_with_a_kit() -> Topology:
    return Topology.model_validate({**_OFFICE_SHOP().model_dump(), "kits": [{"sku": KIT, "components": {"КР-7/2": 2}}]})


@pytest.fixture(autouse=True)
def _a_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office_world, "_shop", _shop_with_a_kit)  # before the office is built


# the office's world: the service on SQLite (3 of КР-7/2 online), the Telegram and CBR emulators
office = office_world.office


async def test_a_manager_asks_for_a_kits_stock(office: Office) -> None:
    office.tg.push_text(MANAGER, f"/stock {KIT}")
    (reply,) = await office.said_to(MANAGER)
    assert reply.text == "\n".join(
        [
            f"{KIT}: доступно 1, на складах 1, в резерве 0",
            "• набор: КР-7/2 × 2",
            "• Подольск: 1 шт., резерв 0",
            "• Сайт: 1",
            "• Wildberries: 1",
        ]
    )
