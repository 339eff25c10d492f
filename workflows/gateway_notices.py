"""The gateway's own notices (YooKassa's HTTP notifications): a payment or a refund changed status.

A notice carries no signature, so nothing in it is believed but the id of the object it names (docs/payments.md,
"YooKassa's notifications"). Rules:

* **Confirmed at the gateway.** The payment (or the refund, then its payment) is read there with the shop's
  credentials, and what is recorded is what that read says — not the notice's event, status or amount. A notice
  whose read says something else is acted on by the read; a read that says ``pending`` records nothing.
* **Ours only.** The gateway's payment is ours when our payment has its id (a checkout's payment, told to us under
  the gateway's id), when it is one of our top-ups created there (``gateway_payments``), or when its metadata, as the
  gateway shows it, names our payment (a top-up whose create answer was lost). Anything else is logged and left.
* **The same path as every payment event.** The confirmed status is a :class:`~workflows.payments.PaymentEvent`
  through :class:`~workflows.payments.PaymentDesk`, with a deterministic id (``notice:<gateway payment>:<status>``):
  a repeated notice is a duplicate, one that comes after the payment watch saw the same is recorded and changes
  nothing, and a payment still only moves forward.
* **A refund** is recorded as ``refunded`` only once the gateway's payment is refunded in full (its
  ``refunded_amount`` reaches its amount): our account takes a payment back whole, so a partial refund is logged
  and left to the managers.
* **A gateway that does not answer** raises :class:`~workflows.payment_gateway.GatewayUnavailable` and nothing is
  recorded: the caller answers so that the gateway sends the notice again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from workflows.errors import OrderNotFound
from workflows.office_model import FROM_GATEWAY, Payment, Phase
from workflows.payment_gateway import GatewayNotFound, GatewayStatus, NoticeConfirmations
from workflows.payments import PaymentDesk, PaymentEvent
from workflows.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

PAYMENT_EVENTS = frozenset({"payment.waiting_for_capture", "payment.succeeded", "payment.canceled"})
REFUND_EVENTS = frozenset({"refund.succeeded"})
MAX_ID_PART = 100  # a notice's event id keeps a gateway id up to this long; a longer one is digested


@dataclass(frozen=True)
class GatewayNotice:
    """What a notice says: its event (``payment.succeeded``…) and the id of the payment or refund it names."""

    event: str
    object_id: str


@dataclass(frozen=True)
class NoticeOutcome:
    """What became of a notice. ``applied``: the payment desk's word (``advanced``, ``duplicate``,
    ``ignored_out_of_order``, ``ignored_after_end``) or why nothing was recorded (``pending``, ``not_ours``,
    ``not_at_gateway``, ``partial_refund``, ``refund_not_done``, ``other_event``). ``gateway_status`` is what the
    gateway's read said."""

    applied: str
    payment_id: str | None = None  # ours
    phase: Phase | None = None
    gateway_status: str = ""

    @property
    def recorded(self) -> bool:
        return self.payment_id is not None and self.applied != "duplicate"


def notice_event_id(gateway_payment_id: str, status: str) -> str:
    """The id of the event a notice records: the same for the same payment and status, so a repeat is a duplicate."""
    part = gateway_payment_id
    if len(part) > MAX_ID_PART:
        part = hashlib.sha256(part.encode()).hexdigest()
    return f"notice:{part}:{status[:20]}"


class GatewayNotices:
    def __init__(self, uow: UnitOfWorkFactory, gateway: NoticeConfirmations, desk: PaymentDesk) -> None:
        self._uow, self._gateway, self._desk = uow, gateway, desk

    async def receive(self, notice: GatewayNotice) -> NoticeOutcome:
        """Confirm ``notice`` at the gateway and record what the gateway says. Raises
        :class:`~workflows.payment_gateway.GatewayUnavailable` (nothing recorded: send it again later) and
        :class:`~workflows.payment_gateway.GatewayRefused` when the gateway refuses our credentials."""
        try:
            if notice.event in PAYMENT_EVENTS:
                return await self._payment(notice, await self._gateway.status(notice.object_id))
            if notice.event in REFUND_EVENTS:
                return await self._refund(notice)
        except GatewayNotFound:
            log.warning("%s notice %s names %s, which %s does not know: ignored", self._gateway.name, notice.event,
                        notice.object_id, self._gateway.name)  # fmt: skip
            return NoticeOutcome("not_at_gateway")
        log.info("%s notice %s of %s: not an event we follow, ignored", self._gateway.name, notice.event,
                 notice.object_id)  # fmt: skip
        return NoticeOutcome("other_event")

    async def _payment(self, notice: GatewayNotice, status: GatewayStatus) -> NoticeOutcome:
        if status.phase is None:
            log.info("%s notice %s of payment %s: the gateway says %s, nothing recorded", self._gateway.name,
                     notice.event, status.payment_id, status.status)  # fmt: skip
            return NoticeOutcome("pending", gateway_status=status.status)
        event_id = notice_event_id(status.payment_id, status.status)
        return await self._record(notice, status, status.phase, event_id)

    async def _refund(self, notice: GatewayNotice) -> NoticeOutcome:
        refund = await self._gateway.refund(notice.object_id)
        if refund.status != "succeeded":
            log.info("%s notice %s of refund %s: the gateway says %s, nothing recorded", self._gateway.name,
                     notice.event, refund.refund_id, refund.status)  # fmt: skip
            return NoticeOutcome("refund_not_done", gateway_status=refund.status)
        status = await self._gateway.status(refund.payment_id)
        if status.amount is None or status.refunded is None or status.refunded < status.amount:
            log.warning("%s refund %s gives back %s of payment %s's %s: not all of it, so not recorded as refunded; "
                        "the managers settle it", self._gateway.name, refund.refund_id, status.refunded,
                        status.payment_id, status.amount)  # fmt: skip
            return NoticeOutcome("partial_refund", gateway_status=status.status)
        return await self._record(notice, status, Phase.REFUNDED, notice_event_id(status.payment_id, "refunded"))

    async def _record(self, notice: GatewayNotice, status: GatewayStatus, phase: Phase, event_id: str) -> NoticeOutcome:
        payment = await self._ours(status)
        if payment is None:
            log.warning("%s notice %s of payment %s (%s): no payment of ours, ignored", self._gateway.name,
                        notice.event, status.payment_id, status.status)  # fmt: skip
            return NoticeOutcome("not_ours", gateway_status=status.status)
        event = PaymentEvent(
            event_id, payment.payment_id, payment.order_id, payment.idempotency_key, phase, payment.amount,
            payment.currency, raw=_raw(notice, status), source=FROM_GATEWAY,
        )  # fmt: skip
        try:
            outcome = await self._desk.record(event)
        except OrderNotFound:  # the order was deleted meanwhile: nothing to tell
            return NoticeOutcome("not_ours", gateway_status=status.status)
        return NoticeOutcome(outcome.applied, payment.payment_id, outcome.phase, status.status)

    async def _ours(self, status: GatewayStatus) -> Payment | None:
        """Our payment the gateway's is: by its id, by our top-up made there, or by the metadata it was made with."""
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(status.payment_id)
            if payment is not None:
                return payment
            made = await uow.gateway_payments.by_gateway_id(status.payment_id)
            named = made.payment_id if made is not None else status.metadata.get("payment_id")
            payment = await uow.payments.get(named) if named else None
        order = status.metadata.get("order_id")
        if payment is not None and made is None and order is not None and order != str(payment.order_id):
            return None  # metadata naming our payment on another order: not ours
        return payment


def _raw(notice: GatewayNotice, status: GatewayStatus) -> dict[str, object]:
    raw: dict[str, object] = {"source": "gateway_notice", "notice_event": notice.event[:40],
                              "gateway_payment_id": status.payment_id, "gateway_status": status.status}  # fmt: skip
    if notice.object_id != status.payment_id:
        raw["gateway_refund_id"] = notice.object_id
    if status.amount is not None:  # the gateway's own figures, kept beside ours for whoever reconciles them
        raw["gateway_amount"], raw["gateway_currency"] = str(status.amount), status.currency
    if status.refunded is not None:
        raw["gateway_refunded"] = str(status.refunded)
    if status.cancelled_by or status.cancel_reason:
        raw["cancellation_details"] = {"party": status.cancelled_by, "reason": status.cancel_reason}
    return raw


__all__ = ["GatewayNotice", "GatewayNotices", "NoticeOutcome", "notice_event_id"]
