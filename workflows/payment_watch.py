"""The payment watch: a payment whose phase has stood still too long is asked about at the gateway, by its id.

Why: the gateway's own notice can come late or never, and a payment that went through would stay "initiated" here
while the client waits for the goods. Rules (docs/architecture.md, "Payments"):

* **Only read.** A payment not in a final phase (initiated, 3ds, authorized) whose phase has not changed for
  ``poll_after`` is polled with its payment id (``workflows.payment_gateway``: a read, never a create). The
  payment session's idempotency key goes along only as a trace of the read, if the client sends it at all.
* **The same path as the gateway's notice.** The answer becomes a :class:`~workflows.payments.PaymentEvent` with a
  deterministic id (``poll:<payment>:<gateway status>``) fed through :class:`~workflows.payments.PaymentDesk`:
  a repeated poll is a duplicate, the gateway's own late notice finds the payment moved already and changes
  nothing, and the phase still only moves forward. "pending" records nothing.
* **Not an attempt.** The event is marked as ours (``FROM_STATUS_POLL``): the fraud check's "repeated failed
  attempts" counts only failures the gateway itself reported, and a poll that got no answer records no event at all.
* **A gateway that does not answer** leaves the payment as it was; it is asked again later, with backoff doubling
  from ``first_backoff`` up to ``max_backoff`` (or the gateway's own hint). The rest of the run is given back.
* **Unknown too long.** Once a payment has been unknown for ``task_after`` the managers get one task in Telegram
  naming the order, the payment and since when (a new one only if the payment moves and then sticks again). A poll
  that settles the payment (cleared or failed) closes that task.
* **Our top-ups** created at the gateway (``workflows/topup_checkout.py``) are read by the gateway's payment id; one
  not created yet is not asked about, and one the gateway says is still ``pending`` waits for the client, not the
  managers.
* **Leased**, like the shipments: two runs or two instances never poll one payment at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import replace
from datetime import timedelta

from workflows.errors import OrderNotFound
from workflows.leases import LEASE, HeldLeases
from workflows.model import OrderEvent
from workflows.office_model import FROM_STATUS_POLL, PHASE_ORDER, Payment, PaymentWatch, Phase
from workflows.outside import OutsideSystemError
from workflows.payloads import PaymentUnknown
from workflows.payment_gateway import GatewayPayment, GatewayStatus, GatewayUnavailable, PaymentGateway
from workflows.payments import PaymentDesk, PaymentEvent
from workflows.ports import Clock, LeaseKind, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import Deadline, Decision, Task, TaskBoard, TaskState, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

log = logging.getLogger(__name__)

KIND = TaskKind.PAYMENT_UNKNOWN
OPTIONS = ("checked",)
SETTLED = (Phase.CLEARED, Phase.FAILED, Phase.REFUNDED)
MAX_ID_PART = 100  # a poll's event id keeps a payment id up to this long; a longer one is digested


def poll_event_id(payment_id: str, gateway_status: str) -> str:
    """The id of the event a poll records: the same for the same payment and gateway status, so a repeated poll is
    a duplicate. Within the 128 characters of ``payment_events.event_id``."""
    part = payment_id if len(payment_id) <= MAX_ID_PART else hashlib.sha256(payment_id.encode()).hexdigest()
    return f"poll:{part}:{gateway_status[:20]}"


class PaymentStatusWatch:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        gateway: PaymentGateway,
        desk: PaymentDesk,
        board: TaskBoard,
        *,
        owner: str,
        poll_after: timedelta = timedelta(minutes=15),
        task_after: timedelta = timedelta(hours=2),
        answer_within: timedelta = timedelta(hours=4),
        first_backoff: timedelta = timedelta(minutes=1),
        max_backoff: timedelta = timedelta(minutes=30),
        lease: timedelta = LEASE,
        batch: int = 20,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock, self._gateway, self._desk, self._board = uow, clock, gateway, desk, board
        self._owner, self._poll_after, self._task_after = owner, poll_after, task_after
        self._answer_within = answer_within
        self._first_backoff, self._max_backoff, self._lease, self._batch = first_backoff, max_backoff, lease, batch
        self._held = held if held is not None else HeldLeases()

    async def run_once(self) -> int:
        """One pass: poll the stuck payments that are due. Returns how many the gateway answered about. At the first
        poll the gateway leaves unanswered, the rest are given back untouched for the next run."""
        claimed, at_gateway = await self._claim()
        answered = 0
        with self._held.holding(LeaseKind.PAYMENT_WATCH, [(payment.payment_id,) for payment, _ in claimed]):
            for index, (payment, watch) in enumerate(claimed):
                row = at_gateway.get(payment.payment_id)
                if row is not None and row.state == "pending":  # our top-up, not made at the gateway yet
                    not_yet = GatewayUnavailable("not created at the gateway yet")
                    await self._unanswered(payment, watch, not_yet, None)
                    continue
                asked = row.gateway_id if row is not None and row.gateway_id else payment.payment_id
                try:
                    status = await self._gateway.status(asked, trace_key=payment.idempotency_key)
                except GatewayUnavailable as error:
                    await self._unanswered(payment, watch, error, error.retry_after)
                    await self._give_back([w for _, w in claimed[index + 1 :]])
                    break
                except OutsideSystemError as error:  # refused: asking the same way again will not help soon
                    await self._unanswered(payment, watch, error, self._max_backoff.total_seconds())
                    continue
                await self._answered(payment, watch, status, awaiting_client=row is not None)
                answered += 1
        return answered

    async def _claim(self) -> tuple[list[tuple[Payment, PaymentWatch]], dict[str, GatewayPayment]]:
        """The payments due, and those of them that are our top-ups created (or to be created) at the gateway: those
        are read by the gateway's id."""
        async with self._uow() as uow:
            now = self._clock.now()
            claimed = await uow.payment_watches.claim(
                now - self._poll_after, now, now + self._lease, self._owner, self._batch
            )
            at_gateway: dict[str, GatewayPayment] = {}
            for payment, _ in claimed:
                row = await uow.gateway_payments.get(payment.payment_id)
                if row is not None and row.state != "dropped":
                    at_gateway[payment.payment_id] = row
            await uow.commit()
        return claimed, at_gateway

    async def _answered(
        self, payment: Payment, watch: PaymentWatch, status: GatewayStatus, *, awaiting_client: bool = False
    ) -> None:
        """``awaiting_client``: our own top-up, which the gateway says is ``pending`` — the client has not paid it
        yet, which is no question for the managers."""
        if status.phase is not None:
            event = PaymentEvent(
                poll_event_id(payment.payment_id, status.status), payment.payment_id, payment.order_id,
                payment.idempotency_key, status.phase, payment.amount, payment.currency,
                raw=_raw(status), source=FROM_STATUS_POLL,
            )  # fmt: skip
            with contextlib.suppress(OrderNotFound):  # the order was deleted meanwhile: nothing to tell
                await self._desk.record(event)
        now = self._clock.now()
        after = replace(watch, polls=watch.polls + 1, failures=0, last_error=None, next_poll_at=now + self._poll_after)
        await self._settle(after, status.status, quiet=awaiting_client and status.status == "pending")

    async def _unanswered(
        self, payment: Payment, watch: PaymentWatch, error: OutsideSystemError, hint_s: float | None
    ) -> None:
        failures = watch.failures + 1
        wait = min(self._first_backoff * 2 ** min(failures - 1, 20), self._max_backoff)  # no overflow, however long
        if hint_s is not None:
            wait = max(wait, timedelta(seconds=hint_s))
        log.warning("payment %s: no status from %s (%s), asking again in %s", payment.payment_id,
                    self._gateway.name, error.reason, wait)  # fmt: skip
        after = replace(watch, failures=failures, last_error=error.reason[:300], next_poll_at=self._clock.now() + wait)
        await self._settle(after, "")

    async def _settle(self, watch: PaymentWatch, gateway_said: str, *, quiet: bool = False) -> None:
        """Save the watch, lease released, and open or close the managers' task, in one transaction (``quiet``: the
        payment waits for the client, known to the gateway, so no task is opened)."""
        async with self._uow() as uow:
            payment = await uow.payments.get(watch.payment_id)
            watch = replace(watch, leased_until=None, lease_owner=None)
            if payment is not None and not quiet:
                watch = await self._task(uow, payment, watch, gateway_said)
            if not await uow.payment_watches.save(watch, self._owner):
                return  # another instance took it over meanwhile: its word stands
            await uow.commit()

    async def _task(self, uow: UnitOfWork, payment: Payment, watch: PaymentWatch, gateway_said: str) -> PaymentWatch:
        now = self._clock.now()
        if payment.phase in SETTLED:
            if watch.task_id is not None:
                task = await uow.tasks.get(watch.task_id)
                if task is not None and await uow.tasks.close(task.id or 0, TaskState.CANCELLED, now, reason="settled"):
                    await notify_closed(uow, task, now)
            return watch
        since = payment.updated_at
        if watch.task_for == since:
            return watch
        if now - since < self._task_after:  # looked at again by then at the latest, whatever the backoff
            return replace(watch, next_poll_at=min(watch.next_poll_at, since + self._task_after))
        order = await uow.orders.get(payment.order_id)
        question = PaymentUnknown(
            payment.order_id, order.external_id if order is not None else "", payment.payment_id, payment.phase.value,
            since, payment.amount, payment.currency, gateway_said, watch.last_error or "",
        )  # fmt: skip
        subject = f"payment:{payment.payment_id}:unknown"
        task = Task(
            None, KIND, subject, Assignee.MANAGERS, OPTIONS, now + self._answer_within, now,
            payload=question.to_payload(),
        )  # fmt: skip
        await self._board.open_for_office(uow, task)
        detail: dict[str, object] = {"task_id": task.id, "payment_id": payment.payment_id, "since": since.isoformat()}
        await uow.orders.add_events(payment.order_id, [OrderEvent(now, "payment_unknown_asked", detail)])
        return replace(watch, task_id=task.id, task_for=since)

    async def _give_back(self, watches: list[PaymentWatch]) -> None:
        if not watches:
            return
        async with self._uow() as uow:
            for watch in watches:
                await uow.payment_watches.save(replace(watch, leased_until=None, lease_owner=None), self._owner)
            await uow.commit()

    # -- the managers' answer ---------------------------------------------------------------------------------------

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        """``checked``: a manager looked at the payment in the gateway's cabinet; the watch goes on polling."""
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        question = PaymentUnknown.from_payload(task.payload)
        await notify_closed(uow, task, now)
        detail: dict[str, object] = {"task_id": task.id, "payment_id": question.payment_id, "by": by}
        await uow.orders.add_events(question.order_id, [OrderEvent(now, "payment_unknown_checked", detail)])

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """Nobody pressed the button: the buttons go; the watch keeps polling, the order keeps its history."""
        now = self._clock.now()
        if await expire(uow, task, deadline, now):
            await notify_closed(uow, task, now)


def _raw(status: GatewayStatus) -> dict[str, object]:
    raw: dict[str, object] = {"source": FROM_STATUS_POLL, "gateway_status": status.status}
    if status.amount is not None:  # the gateway's own figure, kept beside ours for whoever reconciles them
        raw["gateway_amount"], raw["gateway_currency"] = str(status.amount), status.currency
    if status.cancelled_by or status.cancel_reason:
        raw["cancellation_details"] = {"party": status.cancelled_by, "reason": status.cancel_reason}
    return raw


def is_live(phase: Phase) -> bool:
    """A phase the watch still asks about: not yet cleared, failed or refunded."""
    return phase in PHASE_ORDER and phase != Phase.CLEARED


__all__ = ["KIND", "OPTIONS", "PaymentStatusWatch", "is_live", "poll_event_id"]
