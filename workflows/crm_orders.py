"""Our orders in the managers' CRM, and what the managers decide there.

:meth:`CrmOrderSync.push_changed` sends every order the CRM has not seen in its present form: an order's version
is the number of its own history events, so anything that happened to it (taken, reserved, paid, cancelled…)
makes it due again, and an order nothing happened to is never sent twice. Orders of the CRM's own channels
(``own_channels``) came from it and are never sent. What the CRM took is a row per order
(``crm_exports``); a failure waits with a growing backoff and is tried again.

An order names its client's customer in the CRM, and one client is one customer however the phone is written
(:func:`workflows.crm.crm_client_key`). The CRM's id of each client's customer is kept (``crm_customers``); a client
not known yet is looked up in the CRM and made there only when it has none — under a claim on the client's row
first, so that of two instances pushing the first orders of one new client at once, one finds or makes the customer
and the other's order waits for the next run. The claim runs out after :data:`CUSTOMER_CLAIM` when its instance died.

:meth:`CrmOrderSync.pull_statuses` reads the CRM's history after a stored cursor. A status in the CRM's cancel
group (``cancel_statuses``) cancels our order once — its reservations released by :meth:`OrderDesk.cancel_in`;
any other status is written into the order's history for the people reading it. The effects and the moved cursor
commit together, and each history entry is applied once even when read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import timedelta

from workflows.crm import CrmLine, CrmOrder, CrmOrderBook, CrmStatusChange, crm_client_key
from workflows.model import Customer, Order, OrderEvent
from workflows.office_model import Phase
from workflows.orders import OrderDesk
from workflows.outside import OutsideSystemError, Refused, Unavailable
from workflows.ports import Clock, CrmExport, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

DEFAULT_CANCEL_STATUSES = frozenset({"cancel-other", "cancelled"})
STATUS_EVENT = "crm_status"  # ``crm_*`` events come from the CRM: they never make the order due again
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
CUSTOMER_CLAIM = timedelta(minutes=2)  # an instance finding or making a client's customer: a few requests at most
CUSTOMER_PATIENCE_S = 60.0  # the most that work may take: it gives up well before its claim can run out


@dataclass(frozen=True)
class PushReport:
    sent: int = 0
    failed: int = 0
    waiting: int = 0  # orders whose client's customer another instance is finding or making: the next run sends them


class CrmOrderSync:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        book: CrmOrderBook,
        desk: OrderDesk,
        *,
        cancel_statuses: Collection[str] = DEFAULT_CANCEL_STATUSES,
        own_channels: Collection[str] = (),
        batch: int = 50,
        owner: str = "storeops",
        customer_patience_s: float = CUSTOMER_PATIENCE_S,
    ) -> None:
        if not cancel_statuses:
            raise ValueError("the CRM needs at least one status that means cancelled")
        self._uow, self._clock, self._book, self._desk = uow, clock, book, desk
        self._cancel = frozenset(cancel_statuses)
        self._own_channels = frozenset(own_channels)  # orders taken from the CRM itself: it has them already
        self._batch = batch
        self._owner = owner  # this instance's name on the claims of clients' customers
        self._pushing = asyncio.Lock()  # one push at a time here: the claims tell instances apart, not runs
        self._patience = customer_patience_s

    # -- our orders out ----------------------------------------------------------------------------------------

    async def push_changed(self) -> PushReport:
        """Send each order that is new or changed since the CRM last took it and whose retry (if any) is due."""
        async with self._pushing:
            return await self._push()

    async def _push(self) -> PushReport:
        async with self._uow(read_only=True) as uow:
            due = await uow.crm_exports.due(self._clock.now(), self._batch, self._own_channels)
            orders = [(export, await _crm_order(uow, export.order_id)) for export in due]
        sent = failed = waiting = 0
        for export, order in orders:
            if order is None:
                continue
            try:
                named = await self._named(order)
                if named is None:
                    waiting += 1
                    continue
                await self._book.upsert(named)
            except OutsideSystemError as error:
                failed += 1
                await self._failed(export, error)
                if isinstance(error, Unavailable):
                    break  # the CRM is down or busy: the rest waits for the next run
                continue
            sent += 1
            async with self._uow() as uow:
                await uow.crm_exports.sent(export.order_id, export.version, self._clock.now())
                await uow.commit()
        if sent or failed or waiting:
            log.info("crm: %d orders sent, %d failed, %d wait for their client", sent, failed, waiting)
        return PushReport(sent, failed, waiting)

    async def _named(self, order: CrmOrder) -> CrmOrder | None:
        """The order with its client's customer in the CRM; ``None`` while another instance finds or makes it."""
        client = crm_client_key(order.customer)
        if client is None:
            return order  # no phone, no e-mail: the order names no customer
        async with self._uow(read_only=True) as uow:
            customer_id = await uow.crm_exports.customer_id(client)
        if customer_id is None:
            customer_id = await self._found_or_made(client, order.customer)
        return None if customer_id is None else replace(order, customer_id=customer_id)

    async def _found_or_made(self, client: str, customer: Customer) -> int | None:
        """The client's customer found or made in the CRM under this instance's claim on the client's row; without
        the claim, the one another instance made meanwhile, else ``None``."""
        now = self._clock.now()
        async with self._uow() as uow:
            if not await uow.crm_exports.claim_customer(client, self._owner, now, now + CUSTOMER_CLAIM):
                return await uow.crm_exports.customer_id(client)
            await uow.commit()
        try:
            async with asyncio.timeout(self._patience):  # never past the claim: another may take it over then
                customer_id = await self._book.customer_id(customer)
        except TimeoutError:
            raise Unavailable(f"the CRM did not find or make the customer within {self._patience:g} s") from None
        async with self._uow() as uow:
            await uow.crm_exports.customer_made(client, customer_id, self._clock.now())
            await uow.commit()
        return customer_id

    async def _failed(self, export: CrmExport, error: OutsideSystemError) -> None:
        """Try again after a backoff that doubles up to an hour. The CRM's words may quote the client's data: they
        are kept with the order's export (``last_error``), the log only says what kind of failure it was."""
        attempts = export.attempts + 1
        wait = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LAST_RETRY)
        kind = "refused" if isinstance(error, Refused) else "unavailable"
        log.warning("crm: order %s not sent (%s, attempt %d)", export.order_id, kind, attempts)
        async with self._uow() as uow:
            await uow.crm_exports.failed(export.order_id, attempts, self._clock.now() + wait, error.reason[:500])
            await uow.commit()

    # -- the managers' decisions back --------------------------------------------------------------------------

    async def pull_statuses(self) -> int:
        """Apply the CRM's status changes after the stored cursor; how many were new to us."""
        async with self._uow(read_only=True) as uow:
            since = await uow.crm_exports.cursor()
        try:
            changes, cursor = await self._book.status_changes(since)
        except OutsideSystemError as error:
            kind = "refused" if isinstance(error, Refused) else "unavailable"
            log.warning("crm: the order history could not be read (%s); tried again on the next run", kind)
            return 0
        applied = 0
        async with self._uow() as uow:
            # another instance reading the same entries waits here, then finds them applied
            await uow.locks.hold("crm:history")
            for change in changes:
                applied += await self._apply(uow, change)
            if cursor > await uow.crm_exports.cursor():  # never back: another instance may have read further
                await uow.crm_exports.move_cursor(cursor, self._clock.now())
            await uow.commit()
        if applied:
            log.info("crm: %d status changes applied", applied)
        return applied

    async def _apply(self, uow: UnitOfWork, change: CrmStatusChange) -> bool:
        order = await uow.orders.get(change.order_id)
        if order is None or _seen(order, change.history_id):
            return False
        now = self._clock.now()
        if change.status in self._cancel:
            version = await uow.crm_exports.version(change.order_id)
            reason = f"cancelled in the CRM (status {change.status})"
            if await self._desk.cancel_in(uow, change.order_id, reason):
                await self._already_known(uow, change.order_id, version)
        detail: dict[str, object] = {
            "history_id": change.history_id,
            "status": change.status,
            "was": change.old_status,
            "note": _words(change),
            "note_en": _words_en(change),
        }
        await uow.orders.add_events(change.order_id, [OrderEvent(now, STATUS_EVENT, detail)])
        return True

    async def _already_known(self, uow: UnitOfWork, order_id: int, version_before: int) -> None:
        """The CRM cancelled the order itself: if it had our last version, it has this one too (sending it back
        would only overwrite the manager's cancel status with ours)."""
        export = await uow.crm_exports.get(order_id)
        if export is not None and export.sent_version == version_before:
            await uow.crm_exports.sent(order_id, await uow.crm_exports.version(order_id), self._clock.now())


def _seen(order: Order, history_id: int) -> bool:
    return any(event.kind == STATUS_EVENT and event.detail.get("history_id") == history_id for event in order.history)


def _words(change: CrmStatusChange) -> str:
    was = f" (был «{change.old_status}»)" if change.old_status else ""
    return f"Менеджер поставил в CRM статус «{change.status}»{was}"


def _words_en(change: CrmStatusChange) -> str:
    was = f" (was «{change.old_status}»)" if change.old_status else ""
    return f"A manager set the status «{change.status}» in the CRM{was}"


async def _crm_order(uow: UnitOfWork, order_id: int) -> CrmOrder | None:
    """The order as the CRM is told it: lines, whether a payment cleared, the delivery when it has one."""
    order = await uow.orders.get(order_id)
    if order is None or order.id is None:
        return None
    payments = await uow.payments.for_order(order.id)
    shipment = await uow.shipments.get(order.id)
    return CrmOrder(
        order_id=order.id,
        number=f"{order.channel}-{order.external_id}",
        channel=order.channel,
        customer=order.customer,
        lines=tuple(CrmLine(line.sku, line.qty) for line in order.lines),
        total=order.total,
        currency=order.currency,
        paid=any(payment.phase == Phase.CLEARED for payment in payments),
        cancelled=order.cancelled_at is not None,
        status=order.status.value,
        created_at=order.created_at,
        delivery=None if shipment is None else shipment.delivery,
    )
