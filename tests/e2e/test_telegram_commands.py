"""The office's commands as people type them, end to end against the Telegram emulator: commands and their
arguments in any case, and an unknown command said to be unknown rather than answered with the help."""

from __future__ import annotations

import pytest

from tests.e2e.test_telegram_office import MANAGER, Office, office
from workflows.model import StockFigure

__all__ = ["office"]  # the fixture, shared with the office's other end-to-end tests


async def _ask(office: Office, *typed: str) -> list[str]:
    """What the bot answers to each of ``typed``, sent one at a time (it answers messages concurrently)."""
    before = len(office.tg.messages(MANAGER))
    for n, text in enumerate(typed, before + 1):
        office.tg.push_text(MANAGER, text)
        await office.said_to(MANAGER, n)
    return [message.text or "" for message in office.tg.messages(MANAGER)[before:]]


async def test_an_article_is_found_whatever_its_case(office: Office) -> None:
    exact, lower, mixed, command = await _ask(
        office, "/stock КР-7/2", "/stock кр-7/2", "/stock Кр-7/2", "/STOCK кр-7/2"
    )
    assert exact.startswith("КР-7/2: доступно 3, на складах 3, в резерве 0")
    assert lower == mixed == command == exact
    (missing,) = await _ask(office, "/stock кр-7/3")
    assert missing == "Артикул кр-7/3 не найден в остатках 1С."


async def test_a_long_latin_article_in_another_case_and_two_that_differ_only_in_case(office: Office) -> None:
    shop = office.services.shop
    figures = [StockFigure("Bag-Leather-Black", "online", 2), StockFigure("ab-1", "online", 1),
               StockFigure("AB-1", "online", 4)]  # fmt: skip
    await shop.ledger.apply_stock(office.clock.now(), figures)
    bag, exact, several = await _ask(office, "/stock BAG-LEATHER-BLACK", "/stock AB-1", "/stock Ab-1")
    assert bag.startswith("Bag-Leather-Black: доступно 2")
    assert exact.startswith("AB-1: доступно 4")
    assert several == "«Ab-1» — это несколько артикулов: AB-1, ab-1. Наберите один точно."


async def test_channels_are_named_in_any_case(office: Office) -> None:
    paused, resumed, synced, refused = await _ask(
        office, "/pause Wildberries", "/Resume WILDBERRIES", "/sync Site", "/pause Ozon"
    )
    assert paused == "Выгрузка в канал «Wildberries» остановлена. Изменения копятся и уйдут после /resume wildberries."
    assert resumed == "Выгрузка в канал «Wildberries» возобновлена."
    assert synced == "Полная сверка запрошена: Сайт."
    assert refused == "Канала «Ozon» нет. Каналы: site, wildberries"
    async with office.services.shop.uow(read_only=True) as work:
        states = await work.channel_states.all()
    assert not any(state.paused for state in states.values()) and states["site"].sync_requested_at is not None


async def test_an_unknown_command_is_said_to_be_unknown(office: Office) -> None:
    unknown, named, text, slash, help_ = await _ask(office, "/foo", "/Foo@office_bot bar", "привет", "/", "/HELP")
    assert unknown == "Команды /foo нет. Список команд: /help"
    assert named == "Команды /foo нет. Список команд: /help"
    assert text.startswith("Команды:\n/status") and slash == help_ == text


@pytest.mark.parametrize("office", ["en"], indirect=True)
async def test_an_unknown_command_in_english(office: Office) -> None:
    unknown, several = await _ask(office, "/foo", "/stock кр-7/2")
    assert unknown == "There is no command /foo. The commands: /help"
    assert several.startswith("КР-7/2: available 3")
