"""A client's top-up created at the payment gateway as a payment they can pay (decision 87, docs/payments.md).

``ask_client`` (``workflows/client_topups.py``) writes the request and a ``gateway_payments`` row in one
transaction; this job creates the gateway's payment afterwards, outside any transaction, as the shipments are
pushed:

* **Once, whatever happens.** Our payment id is the request's idempotency key: the gateway answers a repeated
  request with the payment that key made, so a timeout after the gateway took the request, a retry or a second
  instance can never make a second payment. Rows are leased while they are being created (``SKIP LOCKED`` on
  PostgreSQL), so two instances do not even ask at once.
* **What is kept.** The gateway's payment id (the payment watch then reads the payment by it, and a gateway notice
  naming it finds ours) and the ``confirmation_url`` the client's page links to; the order's history says the link
  is there for the client.
* **A gateway that does not answer** leaves the row pending; it is tried again after 1, 2, 4… minutes up to 30 (or
  the gateway's hint), and the rest of that run waits for the next one. One that says no is tried again after 30
  minutes, its reason kept in ``last_error``.
* **The same request every time.** The return address (the client's signed page, whose link expires) is fixed and
  saved before the first attempt; YooKassa refuses a key sent again with another body.
* **No longer needed.** A payment that left ``initiated`` before it was created at the gateway (paid another way,
  failed) is ``dropped``: nothing is created. One still not made 23 hours after its first attempt is ``given_up``:
  the gateway forgets a key after a day, and asking later could make a second payment; the payment watch, hearing
  nothing of it, asks the managers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from workflows.leases import LEASE, HeldLeases
from workflows.model import OrderEvent
from workflows.office_model import Phase
from workflows.outside import OutsideSystemError
from workflows.payment_gateway import CreatedPayment, GatewayPayment, GatewayUnavailable, NewPayment, PaymentCheckout
from workflows.ports import Clock, LeaseKind, UnitOfWorkFactory

log = logging.getLogger(__name__)

# YooKassa keeps an Idempotence-Key for 24 hours: after that the same key could make a second payment, so a top-up
# not made by then is given up (the payment watch then asks the managers about it), with an hour to spare
KEY_KEPT_FOR = timedelta(hours=23)


class TopupCheckout:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        checkout: PaymentCheckout,
        return_url: Callable[[int], str],
        *,
        owner: str,
        first_backoff: timedelta = timedelta(minutes=1),
        max_backoff: timedelta = timedelta(minutes=30),
        lease: timedelta = LEASE,
        batch: int = 20,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock, self._checkout, self._return_url = uow, clock, checkout, return_url
        self._owner, self._first_backoff, self._max_backoff = owner, first_backoff, max_backoff
        self._lease, self._batch = lease, batch
        self._held = held if held is not None else HeldLeases()

    async def run_once(self) -> int:
        """One pass: create the pending top-ups that are due. Returns how many the gateway made (or gave back)."""
        claimed = await self._claim()
        made = 0
        with self._held.holding(LeaseKind.GATEWAY_PAYMENT, [(row.payment_id,) for row in claimed]):
            for index, claimed_row in enumerate(claimed):
                row, request = await self._request(claimed_row)
                if request is None:
                    continue
                try:
                    created = await self._checkout.create(request)
                except GatewayUnavailable as error:
                    await self._failed(row, error, error.retry_after)
                    await self._give_back(claimed[index + 1 :])
                    break
                except OutsideSystemError as error:
                    await self._failed(row, error, self._max_backoff.total_seconds())
                    continue
                await self._created(row, request, created)
                made += 1
        return made

    async def _claim(self) -> list[GatewayPayment]:
        async with self._uow() as uow:
            now = self._clock.now()
            claimed = await uow.gateway_payments.claim(now, now + self._lease, self._owner, self._batch)
            await uow.commit()
        return claimed

    async def _request(self, row: GatewayPayment) -> tuple[GatewayPayment, NewPayment | None]:
        """The request to send for ``row`` — the same one every time: the return address is fixed at the first
        attempt and saved before it is sent (YooKassa refuses a key sent again with another body). ``None`` when
        nothing is to be sent: the payment no longer waits (``dropped``), or the key is too old to trust
        (``given_up``), or the row was taken over meanwhile."""
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(row.payment_id)
        now = self._clock.now()
        if payment is None or payment.phase != Phase.INITIATED:
            await self._save(replace(row, state="dropped"))
            return row, None
        if row.first_tried_at is not None and now - row.first_tried_at >= KEY_KEPT_FOR:
            log.warning("top-up %s: not created at %s within %s; given up", row.payment_id, self._checkout.name,
                        KEY_KEPT_FOR)  # fmt: skip
            await self._save(replace(row, state="given_up"))
            return row, None
        if row.return_url is None or row.first_tried_at is None:
            row = replace(row, return_url=self._return_url(row.order_id), first_tried_at=now)
            async with self._uow() as uow:
                if not await uow.gateway_payments.save(row, self._owner):
                    return row, None  # taken over meanwhile: the other instance sends it
                await uow.commit()
        url = row.return_url or ""
        return row, NewPayment(row.payment_id, row.order_id, payment.amount, payment.currency, row.description, url)

    async def _created(self, row: GatewayPayment, request: NewPayment, created: CreatedPayment) -> None:
        after = replace(
            row, state="created", gateway_id=created.gateway_id, confirmation_url=created.confirmation_url,
            attempts=row.attempts + 1, last_error=None, leased_until=None, lease_owner=None,
        )  # fmt: skip
        async with self._uow() as uow:
            if not await uow.gateway_payments.save(after, self._owner):
                return  # another instance took it over meanwhile: the same payment, by the same key; its word stands
            detail: dict[str, object] = {
                "payment_id": row.payment_id, "gateway_id": created.gateway_id, "amount_rub": str(request.amount),
            }  # fmt: skip
            now = self._clock.now()
            await uow.orders.add_events(row.order_id, [OrderEvent(now, "topup_link_sent", detail)])
            await uow.commit()

    async def _failed(self, row: GatewayPayment, error: OutsideSystemError, hint_s: float | None) -> None:
        attempts = row.attempts + 1
        wait = min(self._first_backoff * 2 ** min(attempts - 1, 20), self._max_backoff)  # no overflow, however long
        if hint_s is not None:
            wait = max(wait, timedelta(seconds=hint_s))
        log.warning("top-up %s: not created at %s (%s), trying again in %s", row.payment_id, self._checkout.name,
                    error.reason, wait)  # fmt: skip
        after = replace(row, attempts=attempts, last_error=error.reason[:300], next_attempt_at=self._clock.now() + wait)
        await self._save(after)

    async def _save(self, row: GatewayPayment) -> None:
        async with self._uow() as uow:
            if await uow.gateway_payments.save(replace(row, leased_until=None, lease_owner=None), self._owner):
                await uow.commit()

    async def _give_back(self, rows: list[GatewayPayment]) -> None:
        for row in rows:
            await self._save(row)


__all__ = ["TopupCheckout"]
