"""The «price drop» scenario's figures and words: 1C uploads its retail prices with a slip — a few articles 60 %
cheaper, far past the price guard's threshold — and one ordinary markdown of 10 % that goes out at once. The
scenario (``scenarios.py``) sends the upload over our API and waits for the managers' question; these are the
prices it sends and the narration it gives."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.sandbox.catalogue import article

SLIPPED = ("TV-LG-55", "FRIDGE-LG-509", "RUN-42")  # 60 % cheaper: held for the managers
MARKED_DOWN = "BLENDER-3"  # 10 % cheaper: within the threshold, sent at once
SLIP, MARKDOWN = Decimal("0.6"), Decimal("0.1")


def slipped_prices(current: Mapping[str, int]) -> dict[str, Decimal]:
    """The upload (roubles) from 1C's current prices (kopecks): whole roubles, halves up. An article 1C has no price
    for yet is left out."""

    def cut(sku: str, share: Decimal) -> Decimal:
        return (Decimal(current[sku]) / 100 * (1 - share)).quantize(Decimal(1), rounding=ROUND_HALF_UP)

    upload = {sku: cut(sku, SLIP) for sku in SLIPPED if sku in current}
    if MARKED_DOWN in current:
        upload[MARKED_DOWN] = cut(MARKED_DOWN, MARKDOWN)
    return upload


def rub(value: Decimal | int) -> str:
    """``64990`` → ``64 990 ₽`` (a no-break space between thousands, kopecks only when there are some)."""
    amount = Decimal(value)
    text = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return text.replace(",", "\u00a0").replace(".", ",") + "\u00a0₽"


def _change(sku: str, before: Mapping[str, int], after: Mapping[str, Decimal]) -> str:
    old, new = Decimal(before[sku]) / 100, after[sku]
    percent = ((new - old) / old * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    sign = "−" if percent < 0 else "+"
    return f"{article(sku).name} {rub(old)} → {rub(new)} ({sign}{abs(percent)} %)"


def narration(before: Mapping[str, int], upload: Mapping[str, Decimal], answer: Mapping[str, Any]) -> str:
    """What happened, for the console: ``answer`` is ``POST /api/1c/prices``'s."""
    slipped = [_change(sku, before, upload) for sku in SLIPPED if sku in upload]
    held = sum(answer.get("held", {}).values())
    said = f"1С выгрузила цены «Розничная» с ошибкой: {'; '.join(slipped)}. "
    if held:
        said += (f"Цена упала больше чем на 20 % — такие цены ни на один канал не ушли: {held} цен ждут решения, "
                 "менеджерам (Мария и Павел) задан один вопрос в Telegram с самыми большими падениями. ")  # fmt: skip
    else:
        said += "Вопроса нет: каналы ещё не показывали прежних цен, сравнивать было не с чем — цены ушли сразу. "
    if MARKED_DOWN in upload:
        said += f"Обычная уценка — {_change(MARKED_DOWN, before, upload)} — в пределах порога и уже ушла на каналы. "
    if held:
        said += ("Нажмите в чате Марии «Выгрузить новые цены» — каналы покажут новые цены (каждый со своей наценкой "
                 "и округлением); «Оставить старые» — на каналах останутся прежние.")  # fmt: skip
    return said.strip()
