"""The price guard's question end to end: the real aiogram bot against the Telegram emulator shows the managers one
question for a batch of big drops, a press decides it for the whole batch, and the message is edited in place."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_telegram_office import MANAGER, OTHER_MANAGER, Office
from workflows.prices import OneCPrice
from workflows.topology import Topology

RETAIL = "Розничная"
_OFFICE_SHOP = office_world._shop


def _shop_selling_at_retail() -> Topology:
    shop = _OFFICE_SHOP().model_dump()
    shop["channels"]["wildberries"]["price_type"] = RETAIL
    shop["channels"]["site"]["price_type"] = RETAIL
    return Topology.model_validate(shop)


@pytest.fixture(autouse=True)
def _retail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office_world, "_shop", _shop_selling_at_retail)  # before the office is built


office = office_world.office


async def _shown(office: Office, prices: dict[str, int]) -> None:
    """As if the channels had accepted these prices (kopecks) before: what the guard compares with."""
    async with office.services.shop.uow() as work:
        for channel in ("wildberries", "site"):
            await work.price_outbox.enqueue(channel, prices, office.clock.now())
            claimed = await work.price_outbox.claim(channel, office.clock.now(), office.clock.now(), "test", 100)
            await work.price_outbox.accepted(claimed, office.clock.now())
        await work.commit()


async def test_a_batch_of_big_drops_is_one_question_and_one_press_sends_it(office: Office) -> None:
    await _shown(office, {"КР-7/2": 1_000_00, "ВАЗА": 2_000_00})
    intake = office.services.shop.prices
    assert intake is not None
    result = await intake.apply(
        "api", [OneCPrice("КР-7/2", RETAIL, Decimal(500)), OneCPrice("ВАЗА", RETAIL, Decimal(1500))]
    )
    assert result.held == {"wildberries": 2, "site": 2}
    await office.deliver()

    (question,) = await office.said_to(MANAGER)
    assert question.text is not None
    lines = question.text.splitlines()
    assert lines[0] == "🏷 Цены «Розничная» из 1С упали сильнее порога: 4\xa0цены на 2\xa0артикула"
    assert lines[1:3] == [  # each SKU once, where it falls most, the largest drop first
        "• КР-7/2 в канале «Сайт»: 1\xa0000,00\xa0₽ → 500,00\xa0₽ (−50\xa0%)",
        "• ВАЗА в канале «Сайт»: 2\xa0000,00\xa0₽ → 1\xa0500,00\xa0₽ (−25\xa0%)",
    ]
    assert [b["text"] for b in question.buttons[0]] == ["Выгрузить новые цены", "Оставить старые"]
    assert [b["callback_data"].rsplit(":", 1)[1] for b in question.buttons[0]] == ["approve", "reject"]
    (to_dmitry,) = await office.said_to(OTHER_MANAGER)  # every manager sees it; the first press decides
    dmitrys_button = to_dmitry.buttons[0][1]["callback_data"]  # as his app shows it before the edit reaches it

    pressed = office.tg.push_callback(MANAGER, question, question.buttons[0][0]["callback_data"])
    assert await office.answered(pressed) == "Готово: Выгрузить новые цены"
    late = office.tg.push_callback(OTHER_MANAGER, to_dmitry, dmitrys_button)
    assert (await office.answered(late)).startswith("Уже решено: Выгрузить новые цены")
    await office.edited(2)
    edited = office.tg.messages(MANAGER)[0]
    assert edited.text is not None and "Решение: Выгрузить новые цены" in edited.text and not edited.buttons

    async with office.services.shop.uow(read_only=True) as work:
        waiting = await work.price_outbox.known("wildberries", ["КР-7/2", "ВАЗА"])
        batch = await work.prices.batch(result.batches[0])
    assert waiting == {"КР-7/2": 500_00, "ВАЗА": 1500_00}  # released: pending for the channel
    assert batch is not None and batch.state == "approved" and batch.decided_by is not None
