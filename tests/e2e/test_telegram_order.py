"""``/order`` end to end: a manager types it in Telegram (the emulator) and the real bot answers from the service's
database — by our id, by the channel's number, several matches, an unknown number, nothing typed."""

from __future__ import annotations

from tests.e2e.test_telegram_office import MANAGER, Office, office

__all__ = ["office"]  # the fixture, shared with the office's other end-to-end tests


async def test_a_manager_finds_an_order_by_our_id_and_by_the_channels_number(office: Office) -> None:
    order_id = await office.order("SO-4401", "150000")
    office.tg.push_text(MANAGER, f"/order {order_id}")
    await office.said_to(MANAGER)
    office.tg.push_text(MANAGER, "/order SO-4401")
    first, second = await office.said_to(MANAGER, 2)
    assert first.text == second.text
    assert first.text is not None and first.text.startswith(f"Заказ № {order_id} — site SO-4401\nСтатус:")
    assert "Деньги: 150\u202f000 ₽; оплата: не было; нужна: списана" in first.text
    assert "Заказ получен из site, строк: 1" in first.text


async def test_an_unknown_or_missing_number_gets_a_clear_answer(office: Office) -> None:
    for n, typed in enumerate(("/order 77-NOPE", "/order", "/order " + "9" * 30), 1):
        office.tg.push_text(MANAGER, typed)
        await office.said_to(MANAGER, n)  # one at a time: the bot answers messages concurrently
    unknown, usage, huge = office.tg.messages(MANAGER)
    assert unknown.text == "Заказа «77-NOPE» нет ни под нашим номером, ни под номером в каналах: site, wildberries."
    assert usage.text is not None and usage.text.startswith("Укажите номер заказа — наш или номер в канале")
    assert huge.text is not None and huge.text.startswith("Заказа «999")


async def test_a_number_that_names_two_orders_lists_both_with_what_to_type(office: Office) -> None:
    first = await office.order("SO-4501", "500")
    second = await office.order(str(first), "500")
    office.tg.push_text(MANAGER, f"/order {first}")
    (reply,) = await office.said_to(MANAGER)
    assert reply.text is not None and reply.text.startswith(f"По «{first}» нашлось несколько заказов:")
    assert f"• № {first} — site SO-4501" in reply.text and f"• № {second} — site {first}" in reply.text
    office.tg.push_text(MANAGER, f"/order site {first}")
    replies = await office.said_to(MANAGER, 2)
    assert replies[1].text is not None and replies[1].text.startswith(f"Заказ № {second} — site {first}")
