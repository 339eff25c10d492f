"""``/return`` end to end: the real aiogram bot against the Telegram emulator. A manager announces a return of a
line the online warehouse shipped (it has no Slack channel, so the managers get the receipt), answers it, and
reads the expected-back stock and the order's history; wrong orders and articles change nothing."""

from __future__ import annotations

from bot.telegram.pacing import FloodWait
from emulators.telegram import TelegramLimits, Window
from emulators.telegram.rate_limit import FloodControl
from tests.e2e import test_telegram_office as office_world
from tests.e2e.test_telegram_office import MANAGER, Office

# the office's world: the service on SQLite, the Telegram and CBR emulators, the real HTTP API
office = office_world.office


async def _open_tasks(o: Office) -> int:
    async with o.services.shop.uow(read_only=True) as work:
        return sum((await work.tasks.open_counts()).values())


async def test_a_manager_announces_a_return_and_answers_it(office: Office) -> None:
    order_id = await office.order("SO-9001", "1000")
    office.tg.push_text(MANAGER, "/return")
    office.tg.push_text(MANAGER, "/return SO-404 КР-7/2")
    office.tg.push_text(MANAGER, "/return SO-9001 LAMP")
    replies = await office.said_to(MANAGER, 3)
    assert sorted(m.text or "" for m in replies) == [  # answered in any order
        "В заказе SO-9001 нет артикула LAMP. Ничего не изменено.",
        "Заказа SO-404 нет.",
        "Укажите заказ и артикул: /return SO-1001 КР-7/2",
    ]
    assert await _open_tasks(office) == 0

    office.tg.push_text(MANAGER, "/return SO-9001 КР-7/2")
    said = (await office.said_to(MANAGER, 4))[3].text or ""
    assert "Возврат КР-7/2 × 1 по заказу SO-9001" in said and "задача у менеджеров" in said
    await office.deliver()
    receipt = next(m for m in office.tg.messages(MANAGER) if (m.text or "").startswith("📦 Возврат"))
    assert [b["text"] for b in receipt.buttons[0]] == ["Пришёл, можно продавать", "Пришёл, брак", "Не пришёл"]

    office.clock.advance(hours=1)  # the parcel arrives after 1C's last figure
    sellable = next(b["callback_data"] for b in receipt.buttons[0] if b["callback_data"].endswith(":sellable"))
    pressed = office.tg.push_callback(MANAGER, receipt, sellable)
    assert (await office.answered(pressed)) == "Готово: Пришёл, можно продавать"
    # a second press on the copy the manager still sees: the first press now edits the buttons away at once
    again = office.tg.push_callback(MANAGER, receipt, sellable.replace(":sellable", ":defective"), require_button=False)
    assert (await office.answered(again)).startswith("Уже решено: Пришёл, можно продавать")

    count = len(office.tg.messages(MANAGER))
    office.tg.push_text(MANAGER, f"/return {order_id} КР-7/2")  # our id this time; announced already
    office.tg.push_text(MANAGER, "/stock КР-7/2")
    office.tg.push_text(MANAGER, f"/order {order_id}")
    texts = [m.text or "" for m in (await office.said_to(MANAGER, count + 3))[count:]]  # answered in any order
    said_again, stock, history = (next(t for t in texts if t.startswith(head)) for head in ("Возврат", "КР", "Заказ"))
    assert "Состояние: пришёл, можно продавать" in said_again
    assert "• Подольск: 3 шт., резерв 1, ожидается возврат 1" in stock
    assert "Возврат КР-7/2 × 1 заявлен, спросили склад Подольск" in history
    assert "Возврат КР-7/2 × 1 пришёл на склад Подольск, годен (Мария (1002)); ждём в остатке 1С" in history
    assert await _open_tasks(office) == 0


async def test_a_reply_refused_for_flood_is_sent_again_once_telegram_allows(office: Office) -> None:
    """Two commands at once in one chat with Telegram's one-message-per-stretch limit: the second reply is refused
    (429 with ``retry_after``), waited out and sent again — before, it was lost and the manager saw no answer to a
    ``/return`` that had been recorded. The emulator's clock is moved by the wait; nothing sleeps."""
    await office.order("SO-9002", "1000")
    now = [0.0]
    limits = TelegramLimits(per_chat=Window(1, 10.0), per_group=None, overall=None)
    office.tg.api.flood = FloodControl(limits, lambda: now[0])
    assert office.services.chats.telegram_bot is not None
    (flood_wait,) = [m for m in office.services.chats.telegram_bot.session.middleware if isinstance(m, FloodWait)]
    waits: list[float] = []

    async def moved(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    flood_wait.sleep = moved
    office.tg.push_text(MANAGER, "/return SO-9002 КР-7/2")
    office.tg.push_text(MANAGER, "/stock КР-7/2")
    texts = sorted(m.text or "" for m in await office.said_to(MANAGER, 2))
    assert texts[0].startswith("Возврат КР-7/2 × 1 по заказу SO-9002") and texts[1].startswith("КР-7/2")
    assert waits == [10.0] and [c.status for c in office.tg.received if c.status == 429] == [429]


async def test_a_return_names_its_order_and_article_in_any_case(office: Office) -> None:
    await office.order("SO-9003", "1000")
    office.tg.push_text(MANAGER, "/RETURN so-9003 кр-7/2")
    (said,) = await office.said_to(MANAGER)
    assert (said.text or "").startswith("Возврат КР-7/2 × 1 по заказу SO-9003")
    async with office.services.shop.uow(read_only=True) as work:
        order = await work.orders.find("site", "SO-9003")
        assert order is not None and order.id is not None
        assert await work.returns.get(order.id, "КР-7/2") is not None
