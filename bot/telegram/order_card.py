"""The ``/order`` answer: one order as a manager reads it — channel and number, lines, money, history — or a short
list when what was typed names several orders. Plain text, well under Telegram's 4096 characters."""

from __future__ import annotations

from collections.abc import Sequence

from bot.order_history import history_line
from bot.telegram.texts import has, tg
from bot.texts import Locale
from bot.wording import Names, clock_time, count, money
from workflows.fraud_check import HOLD as FRAUD_HOLD
from workflows.model import Order
from workflows.payments import MoneyState

HISTORY_SHOWN = 15  # the newest events; the count of older ones is said
LINES_SHOWN = 20
MATCHES_SHOWN = 10
DETAIL_LIMIT = 200  # characters of one history line (a channel's reason can be long)


def order_card(order: Order, state: MoneyState, names: Names, timezone: str) -> str:
    locale = names.locale
    lines = [
        tg(locale, "order.line", sku=line.sku, qty=line.qty, status=_status(locale, line.status.value),
           warehouse=tg(locale, "order.warehouse", warehouse=names.place(line.warehouse)) if line.warehouse else "")
        for line in order.lines[:LINES_SHOWN]
    ]  # fmt: skip
    if len(order.lines) > LINES_SHOWN:
        lines.append(tg(locale, "order.found_more", count=len(order.lines) - LINES_SHOWN))
    history = [
        tg(locale, "order.event", at=clock_time(event.at, timezone),
           said=_short(history_line(locale, event.kind, event.detail, names, timezone)))
        for event in order.history[-HISTORY_SHOWN:]
    ]  # fmt: skip
    if len(order.history) > HISTORY_SHOWN:
        history.insert(0, tg(locale, "order.earlier", count=count(locale, len(order.history) - HISTORY_SHOWN, "event")))
    ship_by = ""
    if order.ship_by is not None and order.cancelled_at is None:  # the marketplace's deadline, while it matters
        ship_by = tg(locale, "order.ship_by", ship_by=clock_time(order.ship_by, timezone))
    return tg(locale, "order", id=order.id, channel=names.channel(order.channel), number=order.external_id,
              status=_status(locale, order.status.value), ship_by=ship_by, lines="\n".join(lines),
              money=_money(order, state, locale), history="\n".join(history) or "—")  # fmt: skip


def order_matches(reference: str, found: Sequence[Order], names: Names) -> str:
    locale = names.locale
    shown = [
        tg(locale, "order.found", id=o.id, channel=names.channel(o.channel), name=o.channel, number=o.external_id,
           status=_status(locale, o.status.value))
        for o in found[:MATCHES_SHOWN]
    ]  # fmt: skip
    if len(found) > MATCHES_SHOWN:
        shown.append(tg(locale, "order.found_more", count=len(found) - MATCHES_SHOWN))
    return tg(locale, "order.many", order=reference[:100], found="\n".join(shown))


def _hold(locale: Locale, hold: str) -> str:
    """Why shipping waits, in words: the call check's own, or a plain "held" for a hold this card has no words for."""
    return tg(locale, "order.money_hold_fraud_check") if hold == FRAUD_HOLD else tg(locale, "order.money_hold")


def _money(order: Order, state: MoneyState, locale: Locale) -> str:
    paid = _phase(locale, state.best_phase.value) if state.best_phase else tg(locale, "order.unpaid")
    hold = _hold(locale, state.shipping_hold) if state.shipping_hold else ""
    requires = _phase(locale, state.requires.value)
    if order.total is None:
        return tg(locale, "order.money_no_total", paid=paid, requires=requires, hold=hold)
    total = money(locale, str(order.total), order.currency)
    return tg(locale, "order.money", total=total, paid=paid, requires=requires, hold=hold)


def _status(locale: Locale, value: str) -> str:
    key = f"order.status.{value}"
    return tg(locale, key) if has(locale, key) else tg(locale, "order.status.other")


def _phase(locale: Locale, value: str) -> str:
    key = f"order.phase.{value}"
    return tg(locale, key) if has(locale, key) else tg(locale, "order.phase.other")


def _short(text: str) -> str:
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"
