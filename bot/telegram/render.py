"""Telegram messages for tasks and alerts: text plus an inline keyboard whose buttons carry
``callback_data = "task:<task_id>:<option>"`` (Telegram allows at most 64 bytes)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.customs_words import document_title
from bot.telegram.alert_texts import alert_title
from bot.telegram.texts import has, tg
from bot.texts import Locale
from bot.wording import Names, clock_time, count, money, percent, rate, time_span
from workflows.office_model import Alert
from workflows.payloads import (
    CustomsChecklist,
    CustomsPayment,
    EarmarkShortfall,
    FraudCall,
    FxApproval,
    PaymentUnknown,
    PriceQuestion,
    PurchaseNotStarted,
    RefundShortfall,
    ReturnReceipt,
    UnfillableOrder,
)
from workflows.tasks import Task, TaskState
from workflows.vocabulary import TaskKind


class TaskButton(CallbackData, prefix="task"):
    task_id: int
    option: str


def keyboard(task: Task, locale: Locale) -> InlineKeyboardMarkup | None:
    if task.state != TaskState.OPEN or task.id is None:
        return None
    if task.kind == TaskKind.CUSTOMS_DOCUMENTS:  # a checklist: one row per document left to tick
        left = [i.option for i in CustomsChecklist.from_payload(task.payload).items if i.ticked_at is None]
        rows = [[_button(task.id, option, "☐ " + option_label(task, option, locale))] for option in left]
        return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    if not task.options:
        return None
    buttons = [_button(task.id, option, option_label(task, option, locale)) for option in task.options]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def _button(task_id: int, option: str, text: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=TaskButton(task_id=task_id, option=option).pack())


def option_label(task: Task, option: str, locale: Locale) -> str:
    """What a button of ``task`` says: a checklist's document by its title, any other option from the catalogue."""
    if task.kind == TaskKind.CUSTOMS_DOCUMENTS:
        item = next((i for i in CustomsChecklist.from_payload(task.payload).items if i.option == option), None)
        return document_title(locale, item.title) if item is not None else option
    return tg(locale, f"option.{option}") if has(locale, f"option.{option}") else option


__all__ = [
    "alert_text", "alert_title", "clock_time", "closed_line", "keyboard", "option_label", "resolved_text", "task_text",
]  # fmt: skip


def alert_text(alert: Alert, task: Task | None, locale: Locale, timezone: str, names: Names | None = None) -> str:
    lines = [tg(locale, "alert.title", title=alert_title(alert, locale, timezone, names))]
    if alert.count > 1:
        span = time_span(alert.first_at, alert.last_at, timezone)
        lines.append(tg(locale, "alert.count", times=count(locale, alert.count, "time"), span=span))
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


def resolved_text(alert: Alert, locale: Locale, timezone: str, names: Names | None = None) -> str:
    """The owner's all-clear: what was wrong, for how long, how often it was said."""
    title = alert_title(alert, locale, timezone, names)
    span = time_span(alert.first_at, alert.resolved_at or alert.last_at, timezone)
    if alert.count > 1:
        return tg(locale, "alert.resolved", title=title, span=span, times=count(locale, alert.count, "time"))
    return tg(locale, "alert.resolved_once", title=title, span=span)


def task_text(task: Task, locale: Locale, timezone: str, names: Names | None = None) -> str:
    """The body of an office task (fraud call check, FX approval, return receipt), open or closed."""
    names = names or Names.of(None, locale)
    deadline = clock_time(task.deadline, timezone)
    if task.kind == TaskKind.FRAUD_CHECK:
        lines = _fraud_lines(FraudCall.from_payload(task.payload), locale, timezone, deadline)
    elif task.kind == TaskKind.FX_APPROVAL:
        lines = _fx_lines(FxApproval.from_payload(task.payload), locale, deadline)
    elif task.kind == TaskKind.EARMARK_SHORTFALL:
        lines = _earmark_lines(EarmarkShortfall.from_payload(task.payload), locale, timezone, deadline)
    elif task.kind == TaskKind.CUSTOMS_DOCUMENTS:
        lines = _checklist_lines(CustomsChecklist.from_payload(task.payload), task, locale, timezone, deadline)
    elif task.kind == TaskKind.CUSTOMS_PAYMENT:
        lines = _customs_payment_lines(CustomsPayment.from_payload(task.payload), task, locale, timezone, deadline)
    elif task.kind == TaskKind.PURCHASE_NOT_STARTED:
        lines = _purchase_lines(PurchaseNotStarted.from_payload(task.payload), locale, timezone, deadline)
    elif task.kind == TaskKind.REFUND_SHORTFALL:
        lines = _refund_lines(RefundShortfall.from_payload(task.payload), locale, deadline)
    elif task.kind == TaskKind.UNFILLABLE_ORDER:
        lines = _unfillable_lines(UnfillableOrder.from_payload(task.payload), task, names, timezone)
    elif task.kind == TaskKind.PRICE_APPROVAL:
        question = PriceQuestion.from_payload(task.payload)
        lines = _price_lines(question, names, deadline, task.state == TaskState.OPEN)
    elif task.kind == TaskKind.PAYMENT_UNKNOWN:
        lines = _payment_unknown_lines(PaymentUnknown.from_payload(task.payload), locale, timezone, deadline)
    elif task.kind == TaskKind.RETURN_RECEIPT:
        r = ReturnReceipt.from_payload(task.payload)
        lines = [
            tg(locale, "return.title", order=r.external_id or r.order_id, sku=r.sku, qty=r.qty),
            tg(locale, "return.body", warehouse=names.place(r.warehouse)),
        ]
    else:
        lines = [tg(locale, "task.other", task=tg(locale, "task.kind.other"), subject=task.subject)]
    lines.append(closed_line(task, locale, timezone))
    return "\n".join(line for line in lines if line)


def _fraud_lines(call: FraudCall, locale: Locale, timezone: str, deadline: str) -> list[str]:
    total = money(locale, str(call.total), call.currency or "RUB") if call.total is not None else "?"
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
        lines.append(tg(locale, "fraud.escalated", why=_why(locale, call.escalated)))
    return lines


def _payment_unknown_lines(question: PaymentUnknown, locale: Locale, timezone: str, deadline: str) -> list[str]:
    phase_key = f"order.phase.{question.phase}"
    phase = tg(locale, phase_key if has(locale, phase_key) else "order.phase.other")
    lines = [
        tg(locale, "payment_unknown.title", order=question.external_id or question.order_id,
           amount=money(locale, str(question.amount), question.currency or "RUB")),
        tg(locale, "payment_unknown.body", payment=question.payment_id, phase=phase,
           since=clock_time(question.since, timezone), deadline=deadline),
    ]  # fmt: skip
    if question.gateway_said:
        status_key = f"gateway_status.{question.gateway_said}"
        status = tg(locale, status_key if has(locale, status_key) else "gateway_status.other")
        lines.append(tg(locale, "payment_unknown.said", status=status))
    elif question.last_error:
        lines.append(tg(locale, "payment_unknown.silent"))
    return lines


def _fx_lines(fx: FxApproval, locale: Locale, deadline: str) -> list[str]:
    deviation = percent(locale, Decimal(str(fx.deviation)) * 100)
    return [
        tg(locale, "fx.title", currency=fx.currency, deviation=deviation, order=fx.external_id or fx.order_id),
        tg(locale, "fx.body", payee=fx.payee, amount=money(locale, str(fx.amount), fx.currency),
           paid=_rate(locale, fx.rate_at_payment), now=_rate(locale, fx.rate_now),
           difference=money(locale, str(fx.difference_rub), "RUB"),
           deadline=deadline),
    ]  # fmt: skip


def _earmark_lines(short: EarmarkShortfall, locale: Locale, timezone: str, deadline: str) -> list[str]:
    purpose = tg(locale, f"earmark.purpose.{short.purpose}")
    lines = [
        tg(locale, "earmark.title", purpose=purpose, order=short.external_id or short.order_id),
        tg(locale, "earmark.body", payee=short.payee, amount=money(locale, str(short.amount), short.currency),
           amount_rub=money(locale, str(short.amount_rub), "RUB"), due=clock_time(short.due_at, timezone),
           available=money(locale, str(short.available_rub), "RUB"),
           shortfall=money(locale, str(short.shortfall_rub), "RUB"), deadline=deadline),
    ]  # fmt: skip
    if short.escalated:
        lines.append(tg(locale, "earmark.escalated"))
    return lines


def _checklist_lines(
    checklist: CustomsChecklist, task: Task, locale: Locale, timezone: str, deadline: str
) -> list[str]:
    order = checklist.external_id or checklist.order_id
    lines = [tg(locale, "customs.docs.title", order=order)]
    if task.state == TaskState.OPEN:
        lines.append(tg(locale, "customs.docs.body", order=order, deadline=deadline))
    for item in checklist.items:
        title = document_title(locale, item.title)
        if item.ticked_at is not None:
            at = clock_time(item.ticked_at, timezone)
            lines.append(tg(locale, "customs.docs.ticked", title=title, by=item.ticked_by or "—", at=at))
        else:
            lines.append(tg(locale, "customs.docs.left", title=title))
    ticked = sum(1 for item in checklist.items if item.ticked_at is not None)
    lines.append(tg(locale, "customs.docs.count", ticked=ticked, total=len(checklist.items)))
    if checklist.reminded and task.state == TaskState.OPEN:
        lines.append(tg(locale, "customs.reminder", deadline=deadline))
    if checklist.escalated:
        lines.append(tg(locale, "customs.docs.escalated"))
    return lines


def _customs_payment_lines(
    payment: CustomsPayment, task: Task, locale: Locale, timezone: str, deadline: str
) -> list[str]:
    order = payment.external_id or payment.order_id
    due = clock_time(payment.due_at, timezone)
    lines = [
        tg(locale, "customs.fts.title", order=order),
        tg(locale, "customs.fts.body", payee=payment.payee, amount=money(locale, str(payment.amount_rub), "RUB"),
           due=due, order=order),
    ]  # fmt: skip
    if task.state == TaskState.OPEN:
        lines.append(tg(locale, "customs.fts.how", deadline=deadline))
    if payment.reminded and task.state == TaskState.OPEN:
        lines.append(tg(locale, "customs.reminder", deadline=deadline))
    if payment.escalated:
        lines.append(tg(locale, "customs.fts.escalated", due=due))
    return lines


def _purchase_lines(question: PurchaseNotStarted, locale: Locale, timezone: str, deadline: str) -> list[str]:
    lines = [
        tg(locale, "purchase.title", order=question.external_id or question.order_id),
        tg(locale, "purchase.body", credited=money(locale, str(question.credited_rub), "RUB"),
           since=clock_time(question.cleared_at, timezone), deadline=deadline),
    ]  # fmt: skip
    if question.escalated:
        lines.append(tg(locale, "purchase.escalated"))
    return lines


def _refund_lines(question: RefundShortfall, locale: Locale, deadline: str) -> list[str]:
    shortfall = money(locale, str(question.shortfall_rub), "RUB")
    return [
        tg(locale, "refund_short.title", order=question.external_id or question.order_id, shortfall=shortfall),
        tg(locale, "refund_short.body", refunded=money(locale, str(question.refunded_rub), "RUB"),
           taken=money(locale, str(question.taken_rub), "RUB"), shortfall=shortfall, deadline=deadline),
    ]  # fmt: skip


def _unfillable_lines(question: UnfillableOrder, task: Task, names: Names, timezone: str) -> list[str]:
    locale = names.locale
    order_ = question.external_id or question.order_id
    lines = [tg(locale, "unfillable.title", order=order_, channel=names.channel(question.channel))]
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
        lines.append(tg(locale, "unfillable.escalated", why=_why(locale, question.escalated)))
    return lines


def _price_lines(question: PriceQuestion, names: Names, deadline: str, open_: bool) -> list[str]:
    locale = names.locale
    lines = [tg(locale, "price.title", price_type=question.price_type, lines=count(locale, question.lines, "price"),
                skus=count(locale, question.skus, "article"))]  # fmt: skip
    for x in question.samples:
        new, channel = _kopecks(locale, x.new), names.channel(x.channel)
        line = (
            tg(locale, "price.line", sku=x.sku, channel=channel, shown=_kopecks(locale, x.shown), new=new,
               drop=percent(locale, round(100 * (x.shown - x.new) / x.shown)))
            if x.shown
            else tg(locale, "price.line_new", sku=x.sku, channel=channel, new=new)
        )  # fmt: skip
        floor = tg(locale, "price.floor", floor=_kopecks(locale, x.floor)) if x.floor is not None else ""
        lines.append(line + floor)
    if question.skus > len(question.samples):
        lines.append(tg(locale, "price.more", more=count(locale, question.skus - len(question.samples), "article")))
    if open_:  # once decided, the closing line says what became of them
        lines.append(tg(locale, "price.body", deadline=deadline))
    if question.escalated:
        lines.append(tg(locale, "price.escalated", why=_why(locale, question.escalated)))
    return lines


def _kopecks(locale: Locale, value: int) -> str:
    return money(locale, Decimal(value) / 100, "RUB")


def _rate(locale: Locale, value: object) -> str:
    return rate(locale, str(value)) if value is not None else "?"


def _why(locale: Locale, code: str) -> str:
    """Why a question went to the owner, in words (a code with no wording reads as the managers' indecision)."""
    return tg(locale, f"why.{code}") if has(locale, f"why.{code}") else tg(locale, "why.other")


def _reason(locale: Locale, code: str) -> str:
    key = f"fraud.reason.{code}"
    return tg(locale, key) if has(locale, key) else code


def closed_line(task: Task, locale: Locale, timezone: str) -> str:
    at = clock_time(task.closed_at, timezone) if task.closed_at else ""
    if task.state == TaskState.ANSWERED and task.kind == TaskKind.CUSTOMS_DOCUMENTS:
        return tg(locale, "customs.docs.done", at=at)
    if task.state == TaskState.ANSWERED:
        option = option_label(task, task.answer or "", locale)
        return tg(locale, "closed.answered", option=option, by=task.answered_by, at=at)
    if task.state == TaskState.EXPIRED:
        return tg(locale, "closed.expired", at=at)
    if task.state == TaskState.CANCELLED:
        reason_key = f"reason.{task.end_reason}"
        reason = tg(locale, reason_key) if has(locale, reason_key) else task.end_reason
        return tg(locale, "closed.cancelled", reason=reason, at=at)
    return ""
