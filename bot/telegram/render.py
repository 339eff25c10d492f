"""Telegram messages for tasks and alerts: text plus an inline keyboard whose buttons carry
``callback_data = "task:<task_id>:<option>"`` (Telegram allows at most 64 bytes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.texts import has, tg
from bot.texts import Locale
from workflows.office_model import Alert
from workflows.payloads import FraudCall, FxApproval, PriceQuestion, ReturnReceipt, UnfillableOrder
from workflows.tasks import Task, TaskState
from workflows.unfillable import SHIP_BY_NEAR
from workflows.vocabulary import TaskKind


class TaskButton(CallbackData, prefix="task"):
    task_id: int
    option: str


def clock_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d.%m %H:%M")


def keyboard(task: Task, locale: Locale) -> InlineKeyboardMarkup | None:
    if task.state != TaskState.OPEN or task.id is None:
        return None
    buttons = [
        InlineKeyboardButton(
            text=tg(locale, f"option.{option}"), callback_data=TaskButton(task_id=task.id, option=option).pack()
        )
        for option in task.options
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def alert_title(alert: Alert, locale: Locale, timezone: str) -> str:
    key = f"alert.{alert.kind}"
    d = alert.detail
    if alert.kind == "store_cascade_exhausted":
        return tg(locale, key, sku=d.get("sku"), qty=d.get("qty"), order=d.get("external_id") or d.get("order_id"))
    if alert.kind == SHIP_BY_NEAR:
        ship_by = clock_time(datetime.fromisoformat(str(d["ship_by"])), timezone) if d.get("ship_by") else "?"
        return tg(locale, key, order=d.get("order") or d.get("order_id"), channel=d.get("channel"), ship_by=ship_by)
    if alert.kind == "onec_silent":
        last = datetime.fromisoformat(str(d["last_update"])) if d.get("last_update") else alert.first_at
        if d.get("working_hours"):  # minutes of 1C's working time, not of the clock
            key, hours = "alert.onec_silent_hours", d["working_hours"]
            return tg(locale, key, minutes=d.get("minutes"), hours=hours, last_update=clock_time(last, timezone))
        return tg(locale, key, minutes=d.get("minutes"), last_update=clock_time(last, timezone))
    if has(locale, key):
        try:
            return tg(locale, key, **d)
        except KeyError:
            pass
    shown = ", ".join(f"{k}={v}" for k, v in sorted(d.items()))
    return tg(locale, "alert.other", kind=alert.kind, detail=shown)


def alert_text(alert: Alert, task: Task | None, locale: Locale, timezone: str) -> str:
    lines = [tg(locale, "alert.title", title=alert_title(alert, locale, timezone))]
    if alert.count > 1:
        first, last = clock_time(alert.first_at, timezone), clock_time(alert.last_at, timezone)
        lines.append(tg(locale, "alert.count", count=alert.count, first=first, last=last))
    if task is not None and task.state == TaskState.ANSWERED and task.answer in ("ack", "mute"):
        lines.append(
            tg(
                locale,
                f"closed.{task.answer}",
                by=task.answered_by,
                at=clock_time(task.closed_at or alert.last_at, timezone),
            )
        )
    return "\n".join(lines)


def resolved_text(alert: Alert, locale: Locale, timezone: str) -> str:
    return tg(
        locale, "alert.resolved", title=alert_title(alert, locale, timezone), count=alert.count,
        first=clock_time(alert.first_at, timezone), at=clock_time(alert.resolved_at or alert.last_at, timezone),
    )  # fmt: skip


def task_text(task: Task, locale: Locale, timezone: str) -> str:
    """The body of an office task (fraud call check, FX approval, return receipt), open or closed."""
    deadline = clock_time(task.deadline, timezone)
    if task.kind == TaskKind.FRAUD_CHECK:
        lines = _fraud_lines(FraudCall.from_payload(task.payload), locale, timezone, deadline)
    elif task.kind == TaskKind.FX_APPROVAL:
        lines = _fx_lines(FxApproval.from_payload(task.payload), locale, deadline)
    elif task.kind == TaskKind.UNFILLABLE_ORDER:
        lines = _unfillable_lines(UnfillableOrder.from_payload(task.payload), task, locale, timezone)
    elif task.kind == TaskKind.PRICE_APPROVAL:
        lines = _price_lines(PriceQuestion.from_payload(task.payload), locale, deadline, task.state == TaskState.OPEN)
    elif task.kind == TaskKind.RETURN_RECEIPT:
        r = ReturnReceipt.from_payload(task.payload)
        lines = [
            tg(locale, "return.title", order=r.external_id or r.order_id, sku=r.sku, qty=r.qty),
            tg(locale, "return.body", warehouse=r.warehouse),
        ]
    else:
        lines = [f"{task.kind}: {task.subject}"]
    lines.append(closed_line(task, locale, timezone))
    return "\n".join(line for line in lines if line)


def _fraud_lines(call: FraudCall, locale: Locale, timezone: str, deadline: str) -> list[str]:
    total = money(str(call.total), call.currency or "RUB") if call.total is not None else "?"
    reasons = ", ".join(_reason(locale, code) for code in call.reasons)
    lines = [
        tg(locale, "fraud.title", order=call.external_id or call.order_id, total=total),
        tg(locale, "fraud.body", name=call.name or "—", phone=call.phone or "—", payer=call.payer or "—",
           reasons=reasons, deadline=deadline),
    ]  # fmt: skip
    if call.call_after is not None:
        call_after = clock_time(call.call_after, timezone)
        lines.append(tg(locale, "fraud.again", attempt=call.attempt, call_after=call_after))
    if call.escalated:
        lines.append(tg(locale, "fraud.escalated", why=call.escalated))
    return lines


def _fx_lines(fx: FxApproval, locale: Locale, deadline: str) -> list[str]:
    deviation = f"{float(fx.deviation) * 100:.1f} %"
    return [
        tg(locale, "fx.title", currency=fx.currency, deviation=deviation, order=fx.external_id or fx.order_id),
        tg(locale, "fx.body", payee=fx.payee, amount=money(str(fx.amount), fx.currency),
           paid=_rate(fx.rate_at_payment), now=_rate(fx.rate_now), difference=money(str(fx.difference_rub), "RUB"),
           deadline=deadline),
    ]  # fmt: skip


def _unfillable_lines(question: UnfillableOrder, task: Task, locale: Locale, timezone: str) -> list[str]:
    lines = [tg(locale, "unfillable.title", order=question.external_id or question.order_id, channel=question.channel)]
    lines += [tg(locale, "unfillable.line", sku=line.sku, qty=line.qty) for line in question.lines]
    lines.append(tg(locale, "unfillable.body", deadline=clock_time(task.deadline, timezone)))
    wait_ends = task.created_at + timedelta(seconds=question.wait_s)
    order = question.external_id or question.order_id
    lines.append(tg(locale, "unfillable.wait", again=clock_time(wait_ends, timezone), order=order))
    if question.ship_by is not None:  # the marketplace's own deadline, and whether a wait runs past it
        lines.append(tg(locale, "unfillable.ship_by", ship_by=clock_time(question.ship_by, timezone)))
        if wait_ends > question.ship_by:
            lines.append(tg(locale, "unfillable.wait_past"))
    if question.attempt > 1:
        lines.append(tg(locale, "unfillable.again", attempt=question.attempt))
    if question.escalated:
        why = f"unfillable.why.{question.escalated}"
        lines.append(
            tg(locale, "unfillable.escalated", why=tg(locale, why) if has(locale, why) else question.escalated)
        )
    return lines


def _price_lines(question: PriceQuestion, locale: Locale, deadline: str, open_: bool) -> list[str]:
    lines = [tg(locale, "price.title", price_type=question.price_type, lines=question.lines, skus=question.skus)]
    for x in question.samples:
        new = _kopecks(x.new)
        line = (
            tg(locale, "price.line", sku=x.sku, channel=x.channel, shown=_kopecks(x.shown), new=new,
               drop=round(100 * (x.shown - x.new) / x.shown))
            if x.shown
            else tg(locale, "price.line_new", sku=x.sku, channel=x.channel, new=new)
        )  # fmt: skip
        lines.append(line + (tg(locale, "price.floor", floor=_kopecks(x.floor)) if x.floor is not None else ""))
    if question.skus > len(question.samples):
        lines.append(tg(locale, "price.more", more=question.skus - len(question.samples)))
    if open_:  # once decided, the closing line says what became of them
        lines.append(tg(locale, "price.body", deadline=deadline))
    if question.escalated:
        why = f"price.why.{question.escalated}"
        lines.append(tg(locale, "price.escalated", why=tg(locale, why) if has(locale, why) else question.escalated))
    return lines


def _kopecks(value: int) -> str:
    return money(str(Decimal(value) / 100), "RUB")


def money(amount: str, currency: str) -> str:
    """``150 000 ₽``, ``1 200.50 CNY``: grouped thousands, kopecks only when there are some."""
    value = Decimal(amount)
    shown = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    shown = shown.replace(",", "\u202f")
    return f"{shown} ₽" if currency.upper() == "RUB" else f"{shown} {currency.upper()}"


def _rate(value: object) -> str:
    return f"{Decimal(str(value)):.4f}" if value is not None else "?"


def _reason(locale: Locale, code: str) -> str:
    key = f"fraud.reason.{code}"
    return tg(locale, key) if has(locale, key) else code


def closed_line(task: Task, locale: Locale, timezone: str) -> str:
    at = clock_time(task.closed_at, timezone) if task.closed_at else ""
    if task.state == TaskState.ANSWERED:
        return tg(locale, "closed.answered", option=tg(locale, f"option.{task.answer}"), by=task.answered_by, at=at)
    if task.state == TaskState.EXPIRED:
        return tg(locale, "closed.expired", at=at)
    if task.state == TaskState.CANCELLED:
        reason_key = f"reason.{task.end_reason}"
        reason = tg(locale, reason_key) if has(locale, reason_key) else task.end_reason
        return tg(locale, "closed.cancelled", reason=reason, at=at)
    return ""
