"""``/unscan <barcode>``: a manager undoes a box's last scan — a wrong ``/scan`` — after confirming it with a button.

The command only asks: it shows the box, the status it is at and the one it goes back to (a scan that passed
statuses on the way is undone whole), with «Отменить скан». The press undoes it through the same correction as
``POST /api/scans/undo`` (:meth:`workflows.boxes.BoxDesk.undo`), keyed by the question's message, so a second press
— a double click, another copy — changes nothing and is told «Уже отменено…». A box that moved meanwhile is not
touched. Who may press is the office's rule (anyone else: «Нет доступа.», as for every button)."""

from __future__ import annotations

from decimal import Decimal

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.telegram.texts import tg
from bot.texts import Locale
from bot.wording import Names, money
from workflows.box_model import STATUSES, BadBarcode, BoxMovedOn, BoxNotFound, BoxStatus, UndoNotBack
from workflows.boxes import BoxDesk, UndoOutcome
from workflows.errors import WorkflowError


class UnscanButton(CallbackData, prefix="unscan"):
    """``unscan:<barcode>:<status undone from>:<status back to>`` (statuses by their place: within 64 bytes)."""

    barcode: str
    undo: int
    to: int


def unscan_command(router: Router, boxes: BoxDesk, names: Names) -> None:
    """Register ``/unscan`` and its button on ``router`` (before its catch-all handler)."""
    locale = names.locale

    @router.message(Command("unscan", ignore_case=True))
    async def unscan(message: Message, command: CommandObject) -> None:
        typed = (command.args or "").strip()
        if not typed:
            await message.answer(tg(locale, "usage.unscan"))
            return
        try:
            last = await boxes.last_scan(typed)
        except BadBarcode:
            await message.answer(tg(locale, "scan.bad_barcode", barcode=typed[:60]))
            return
        except BoxNotFound:
            await message.answer(tg(locale, "scan.unknown", barcode=typed[:60]))
            return
        box = last.box
        if last.back_to is None:
            await message.answer(tg(locale, "unscan.nothing", barcode=box.barcode, status=_status(locale, box.status)))
            return
        text = tg(locale, "unscan.ask", order=last.order, box=box.number, boxes=box.boxes, barcode=box.barcode,
                  status=_status(locale, box.status), back=_status(locale, last.back_to))  # fmt: skip
        data = UnscanButton(barcode=box.barcode, undo=STATUSES.index(box.status), to=STATUSES.index(last.back_to))
        button = InlineKeyboardButton(text=tg(locale, "unscan.button"), callback_data=data.pack())
        await message.answer(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))

    @router.callback_query(UnscanButton.filter())
    async def confirm(callback: CallbackQuery, callback_data: UnscanButton) -> None:
        question = callback.message
        if not isinstance(question, Message) or not 0 <= callback_data.to < callback_data.undo < len(STATUSES):
            await callback.answer(tg(locale, "refused.unknown_task"), show_alert=True)
            return
        who = f"{callback.from_user.full_name or callback.from_user.id} ({callback.from_user.id})"
        key = f"telegram:unscan:{question.chat.id}:{question.message_id}"  # one question, one undo
        back_to = STATUSES[callback_data.to]
        try:
            outcome = await boxes.undo(callback_data.barcode, back_to, key, tg(locale, "unscan.reason"), who,
                                       expect=STATUSES[callback_data.undo])  # fmt: skip
        except UndoNotBack:  # taken back already, by another question or the API
            now = (await boxes.last_scan(callback_data.barcode)).box.status
            await callback.answer(_already(locale, callback_data.barcode, now), show_alert=True)
            return
        except BoxMovedOn:
            now = (await boxes.last_scan(callback_data.barcode)).box.status
            moved = tg(locale, "unscan.moved", barcode=callback_data.barcode, status=_status(locale, now))
            await callback.answer(moved, show_alert=True)
            return
        except WorkflowError as error:
            refused = tg(locale, "scan.refused", barcode=callback_data.barcode, reason=error.message)
            await callback.answer(refused[:200], show_alert=True)
            return
        if outcome.duplicate:
            await callback.answer(_already(locale, callback_data.barcode, back_to), show_alert=True)
            return
        await callback.answer(tg(locale, "unscan.accepted"))
        await question.edit_text(undone_card(outcome, names, who), reply_markup=None)


def undone_card(outcome: UndoOutcome, names: Names, who: str) -> str:
    """What the question becomes once the scan is undone: the box, its status again, the stock and money taken back."""
    locale, box = names.locale, outcome.box
    undone = ", ".join(_status(locale, scan.status) for scan in outcome.undone)
    lines = [
        tg(locale, "unscan.done", order=outcome.order, box=box.number, boxes=box.boxes, barcode=box.barcode),
        tg(locale, "unscan.status", status=_status(locale, box.status), undone=undone),
    ]
    stock = next((scan.stock for scan in outcome.undone if scan.stock), None)
    if stock is not None:  # what the undo did is the reverse of what the scan did
        back = "written_off" if stock == "received" else "received"
        lines.append(tg(locale, f"scan.stock.{back}", warehouse=names.place(outcome.warehouse or "—")))
    returned = [
        tg(locale, "unscan.money.returned", purpose=tg(locale, f"earmark.purpose.{purpose}"),
           rub=money(locale, str(-amount), "RUB"))
        for purpose, amount in outcome.released.items()
        if amount != Decimal(0)
    ]  # fmt: skip
    lines.append(tg(locale, "scan.money", money="; ".join(returned) or tg(locale, "scan.money.none")))
    lines.append(tg(locale, "unscan.by", by=who))
    return "\n".join(lines)


def _status(locale: Locale, status: BoxStatus) -> str:
    return tg(locale, f"box.status.{status.value}")


def _already(locale: Locale, barcode: str, status: BoxStatus) -> str:
    return tg(locale, "unscan.already", barcode=barcode, status=_status(locale, status))
