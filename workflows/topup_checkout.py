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
* **No longer needed.** A payment that left ``initiated`` before it was created at the gateway (paid another way,
  failed) is ``dropped``: nothing is created.
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
            for index, row in enumerate(claimed):
                request = await self._request(row)
                if request is None:
                    await self._save(replace(row, state="dropped"))
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

    async def _request(self, row: GatewayPayment) -> NewPayment | None:
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(row.payment_id)
        if payment is None or payment.phase != Phase.INITIATED:
            return None
        url = self._return_url(row.order_id)
        return NewPayment(row.payment_id, row.order_id, payment.amount, payment.currency, row.description, url)

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
        wait = min(self._first_backoff * 2 ** (attempts - 1), self._max_backoff)
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
