"""``/order`` end to end: a manager types it in Telegram (the emulator) and the real bot answers from the service's
database — by our id, by the channel's number, several matches, an unknown number, nothing typed."""

from __future__ import annotations

import pytest

from tests.e2e.test_telegram_office import MANAGER, Office, office
from tests.people_words import raw_codes

__all__ = ["office"]  # the fixture, shared with the office's other end-to-end tests


async def test_a_manager_finds_an_order_by_our_id_and_by_the_channels_number(office: Office) -> None:
    order_id = await office.order("SO-4401", "150000")
    office.tg.push_text(MANAGER, f"/order {order_id}")
    await office.said_to(MANAGER)
    office.tg.push_text(MANAGER, "/order SO-4401")
    first, second = await office.said_to(MANAGER, 2)
    assert first.text == second.text
    assert first.text is not None and first.text.startswith(f"Заказ № {order_id} — Сайт SO-4401\nСтатус:")
    assert "Деньги: 150\xa0000,00\xa0₽; оплата: не было; нужна: списана" in first.text
    assert "Заказ получен: Сайт, 1\xa0строка" in first.text
    assert first.text == (
        f"Заказ № {order_id} — Сайт SO-4401\nСтатус: зарезервирован\n• КР-7/2 × 1: зарезервирован, склад Подольск\n"
        "Деньги: 150\xa0000,00\xa0₽; оплата: не было; нужна: списана\nИстория:\n"
        "• 21.11 12:00 Заказ получен: Сайт, 1\xa0строка\n• 21.11 12:00 Строка 1: КР-7/2 × 1 зарезервирован на складе Подольск"
    )


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
    assert f"• № {first} — Сайт SO-4501" in reply.text and f"• № {second} — Сайт {first}" in reply.text
    office.tg.push_text(MANAGER, f"/order site {first}")
    replies = await office.said_to(MANAGER, 2)
    assert replies[1].text is not None and replies[1].text.startswith(f"Заказ № {second} — Сайт {first}")


async def test_an_order_is_found_by_its_channels_number_in_any_case_and_by_the_clients_phone(office: Office) -> None:
    first = await office.order("SO-4601", "500", phone="+79160000001")
    second = await office.order("SO-4602", "700", phone="+79160000001")
    other = await office.order("SO-4603", "900", phone="+79160000002")
    for n, typed in enumerate(("/order so-4601", "/ORDER Site so-4602", "/order 8 (916) 000-00-01",
                               "/order +7 916 000-00-02", "/order +79160000009"), 1):  # fmt: skip
        office.tg.push_text(MANAGER, typed)
        await office.said_to(MANAGER, n)
    by_number, by_channel, by_phone, one_phone, no_phone = (m.text or "" for m in office.tg.messages(MANAGER))
    assert by_number.startswith(f"Заказ № {first} — Сайт SO-4601\n")
    assert by_channel.startswith(f"Заказ № {second} — Сайт SO-4602\n")
    assert by_phone.startswith("По «8 (916) 000-00-01» нашлось несколько заказов:")
    assert by_phone.index(f"• № {second} — Сайт SO-4602") < by_phone.index(f"• № {first} — Сайт SO-4601")
    assert "SO-4603" not in by_phone
    assert one_phone.startswith(f"Заказ № {other} — Сайт SO-4603\n")
    assert no_phone.startswith("Заказа «+79160000009» нет")


@pytest.mark.parametrize("office", ["ru", "en"], indirect=True)
async def test_status_stock_and_order_answer_in_peoples_words_in_both_languages(office: Office) -> None:
    order_id = await office.order("SO-4701", "1200")
    for n, typed in enumerate(("/status", "/stock КР-7/2", f"/order {order_id}"), 1):
        office.tg.push_text(MANAGER, typed)
        await office.said_to(MANAGER, n)
    status, stock, order = office.tg.messages(MANAGER)
    for reply in (status, stock, order):
        assert reply.text is not None and raw_codes(reply.text) == [], reply.text
    assert status.text is not None and status.text.startswith(
        {"ru": "Каналы: ▶️ Сайт, ▶️ Wildberries", "en": "Channels: ▶️ Site, ▶️ Wildberries"}[
            office.services.settings.business.locale
        ]
    )
    assert (
        order.text is not None
        and {"ru": "Деньги: 1\xa0200,00\xa0₽;", "en": "Money: 1,200.00\xa0RUB;"}[
            office.services.settings.business.locale
        ]
        in order.text
    )


@pytest.fixture
def client_links_on(monkeypatch: pytest.MonkeyPatch) -> str:
    """The client's page switched on (asked for before ``office``, which builds the service from the environment)."""
    monkeypatch.setenv("CLIENT_LINK_SECRET", "telegram-order-client-link-secret-0001")
    monkeypatch.setenv("CLIENT_LINK_BASE_URL", "https://shop.example.ru")
    return "https://shop.example.ru"


async def test_the_order_reply_carries_the_clients_signed_link(client_links_on: str, office: Office) -> None:
    order_id = await office.order("SO-4801", "1200")
    office.tg.push_text(MANAGER, f"/order {order_id}")
    (reply,) = await office.said_to(MANAGER)
    assert reply.text is not None
    last = reply.text.splitlines()[-1]
    prefix = f"Ссылка для клиента (до 21.12 12:00): {client_links_on}/client/orders/{order_id}?exp="
    assert last.startswith(prefix), reply.text  # CLIENT_LINK_TTL_S (30 days) from the service's clock
    assert raw_codes(reply.text) == [], reply.text
    path = last.split(client_links_on, 1)[1]
    opened = await office.http.get(path.replace("/client/", "/api/client/", 1))  # the client, with no token
    assert opened.status == 200, await opened.text()
    assert (await opened.json())["number"] == "SO-4801"


async def test_the_order_reply_has_no_link_while_the_page_is_off(office: Office) -> None:
    order_id = await office.order("SO-4802", "1200")
    office.tg.push_text(MANAGER, f"/order {order_id}")
    (reply,) = await office.said_to(MANAGER)
    assert reply.text is not None and "/client/orders/" not in reply.text
