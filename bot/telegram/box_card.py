"""The ``/scan`` answer: the box, its order and contents, the status it reached and what that did to stock and to
the client's money (workflows/boxes.py). Plain text."""

from __future__ import annotations

from decimal import Decimal

from bot.telegram.texts import tg
from bot.wording import Names, clock_time, money
from workflows.box_model import RELEASES
from workflows.boxes import ScanOutcome

LINES_SHOWN = 20


def box_card(outcome: ScanOutcome, names: Names, timezone: str) -> str:
    locale, box = names.locale, outcome.box
    lines = [tg(locale, "scan.title", order=outcome.order, box=box.number, boxes=box.boxes, barcode=box.barcode)]
    lines += [tg(locale, "scan.line", sku=line.sku, qty=line.qty) for line in box.contents[:LINES_SHOWN]]
    status = tg(locale, f"box.status.{box.status.value}")
    if outcome.duplicate:
        lines.append(tg(locale, "scan.repeat", status=status, at=clock_time(outcome.scan.at, timezone)))
    else:
        passed = [tg(locale, f"box.status.{s.status.value}") for s in outcome.steps if s.skipped]
        skipped = tg(locale, "scan.skipped", statuses=", ".join(passed)) if passed else ""
        lines.append(tg(locale, "scan.status", status=status) + skipped)
        stock = next((s.stock for s in outcome.steps if s.stock), None)
        if stock is not None:
            lines.append(tg(locale, f"scan.stock.{stock}", warehouse=names.place(_warehouse(outcome))))
        lines.append(tg(locale, "scan.money", money=_money_words(outcome, names)))
    if outcome.last:
        lines.append(tg(locale, "scan.last"))
    return "\n".join(lines)


def _warehouse(outcome: ScanOutcome) -> str:
    return outcome.warehouse or "—"


def _money_words(outcome: ScanOutcome, names: Names) -> str:
    locale = names.locale
    said = []
    for step in outcome.steps:
        purpose = RELEASES.get(step.status)
        if purpose is None:
            continue
        amount = step.released.get(purpose.value, Decimal(0))
        words = tg(locale, f"earmark.purpose.{purpose.value}")
        key = "scan.money.released" if amount > 0 else "scan.money.nothing_drawn"
        said.append(tg(locale, key, purpose=words, rub=money(locale, str(amount), "RUB")))
    return "; ".join(said) or tg(locale, "scan.money.none")
