"""Carrier out: an order that is allocated, paid and free to ship is registered with the carrier (CDEK) once, and
followed until the carrier decides.

Rules (docs/shipping.md):

* An order ships when it came with a delivery, every line is reserved (none awaiting a store's confirmation, out
  of stock, unfulfillable or cancelled), it is not cancelled, and its money allows spending
  (:func:`workflows.payments.money_state`: cleared for a new client or a large amount, authorised otherwise, and no
  shipping hold such as an open fraud call check). Until then its shipment waits and is looked at again later.
* Registering is claimed first: the shipment's row is leased, marked ``registering`` and its attempt counted in
  one transaction (``SKIP LOCKED`` on PostgreSQL), and only then is the carrier called; two runs or two instances
  never send one order. The carrier's order number is our order id, and a shipment whose earlier request may have
  reached the carrier (a timeout, a crash: ``attempts`` > 0) is first looked up there by that number — so even a
  lease that ran out cannot make a second parcel.
* CDEK validates asynchronously: the accepted registration is polled until it is registered (a tracking number,
  ``shipment_registered`` in the order's history) or refused (``shipment_refused`` with CDEK's reason, and an
  alert to the owner). A refusal is final; people fix the order.
* CDEK down: the shipment is tried again with exponential backoff and jitter (the carrier's hint when it gives
  one), nothing lost; after a few failures in a row the owner is told, and told again when it answers.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from workflows.alerts import AlertDesk
from workflows.carrier import Carrier, CarrierStatus, ParcelItem, ShipmentRefused, ShipmentRequest, Verdict
from workflows.channels import ChannelRefused, ChannelUnavailable
from workflows.leases import LEASE, HeldLeases
from workflows.model import Delivery, LineStatus, Order, OrderEvent, Shipment, ShipmentState
from workflows.payments import money_state
from workflows.ports import Clock, LeaseKind, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

REFUSED_KIND, FAILING_KIND = "shipment_refused", "carrier_failing"


@dataclass(frozen=True)
class Step:
    """What one claimed shipment needs from the carrier: a poll, a registration (``request``), or — when an
    earlier request may have reached it but the order may not ship now — only a look."""

    shipment: Shipment  # as saved by the claim
    before: Shipment  # as it was before the claim, to give it back untouched
    request: ShipmentRequest | None
    maybe_sent: bool
    cancelled: bool = False


class ShippingDesk:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        carrier: Carrier,
        alerts: AlertDesk,
        threshold_rub: Decimal,
        *,
        owner: str,
        default_weight_g: int = 500,
        recheck_after: timedelta = timedelta(seconds=60),
        poll_after: timedelta = timedelta(seconds=30),
        lease: timedelta = LEASE,  # renewed while the carrier is being asked (``held``)
        first_backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(minutes=10),
        failures_to_alert: int = 3,
        batch: int = 10,
        rng: random.Random | None = None,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock, self._carrier, self._alerts = uow, clock, carrier, alerts
        self._threshold, self._owner, self._default_weight_g = threshold_rub, owner, default_weight_g
        self._recheck_after, self._poll_after, self._lease = recheck_after, poll_after, lease
        self._first_backoff, self._max_backoff = first_backoff, max_backoff
        self._failures_to_alert, self._batch = failures_to_alert, batch
        self._rng = rng or random.Random()
        self._held = held if held is not None else HeldLeases()
        self.name = carrier.name

    async def run_once(self) -> int:
        """One pass: claim the due shipments, then send or poll those that need the carrier. Returns how many the
        carrier answered about. At the first failure of the carrier the rest are given back for the next run."""
        steps = await self._claim()
        answered = 0
        with self._held.holding(LeaseKind.SHIPMENT, [(step.shipment.order_id,) for step in steps]):
            for index, step in enumerate(steps):
                if not await self._advance(step):
                    await self._give_back(steps[index + 1 :])
                    break
                answered += 1
        return answered

    # -- the claim: one transaction ------------------------------------------------------------------------------

    async def _claim(self) -> list[Step]:
        async with self._uow() as uow:
            now = self._clock.now()
            claimed = await uow.shipments.claim(now, now + self._lease, self._owner, self._batch)
            steps = [step for shipment in claimed if (step := await self._decide(uow, shipment, now)) is not None]
            await uow.commit()
        return steps

    async def _decide(self, uow: UnitOfWork, shipment: Shipment, now: datetime) -> Step | None:
        if shipment.state == ShipmentState.ACCEPTED:
            return Step(shipment, shipment, None, maybe_sent=True)
        order = await uow.orders.get(shipment.order_id)
        assert order is not None, "a shipment's order is never deleted"
        blockers = await self._blockers(uow, order)
        maybe_sent = shipment.attempts > 0
        if blockers and maybe_sent:  # it may be at the carrier already: look before deciding anything
            return Step(shipment, shipment, None, maybe_sent=True, cancelled=order.cancelled_at is not None)
        if order.cancelled_at is not None:
            await self._drop(uow, shipment, now)
            return None
        if blockers:
            later = replace(shipment, next_attempt_at=now + self._recheck_after, leased_until=None, lease_owner=None)
            await uow.shipments.save(later, self._owner)
            return None
        sending = replace(shipment, state=ShipmentState.REGISTERING, attempts=shipment.attempts + 1, updated_at=now)
        await uow.shipments.save(sending, self._owner)
        return Step(sending, shipment, self._request(order, shipment.delivery), maybe_sent=maybe_sent)

    async def _blockers(self, uow: UnitOfWork, order: Order) -> list[str]:
        """Why the order may not ship yet; empty when it may."""
        return await shipping_blockers(uow, order, self._threshold)

    def _request(self, order: Order, delivery: Delivery) -> ShipmentRequest:
        """One parcel holding the whole order, our order id as its number. Without a catalogue, an item is named
        by its article, declares an equal share of a rouble total, and weighs an equal share of the delivery's
        weight (or the default weight per unit)."""
        qty: dict[str, int] = {}
        for line in order.lines:  # the same article on two lines goes once: the carrier keys items by article
            qty[line.sku] = qty.get(line.sku, 0) + line.qty
        units = sum(qty.values())
        cost = Decimal(0)
        if order.total is not None and order.currency.upper() == "RUB":
            cost = (order.total / units).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        weight = max(1, delivery.weight_g // units) if delivery.weight_g else self._default_weight_g
        items = tuple(ParcelItem(sku, sku, n, cost, weight) for sku, n in qty.items())
        return ShipmentRequest(str(order.id), order.customer.name, order.customer.phone, delivery, items)

    # -- the carrier: outside any transaction ----------------------------------------------------------------

    async def _advance(self, step: Step) -> bool:
        """Ask the carrier what the step needs and record its answer; ``False`` when the carrier failed."""
        shipment = step.shipment
        try:
            if shipment.state == ShipmentState.ACCEPTED:
                assert shipment.carrier_id is not None
                await self._record(shipment, await self._carrier.status(shipment.carrier_id))
                return True
            if step.maybe_sent and (found := await self._carrier.find(str(shipment.order_id))) is not None:
                await self._record(shipment, found)  # the earlier request got there: that one stands
                return True
            if step.request is None:
                await self._not_sent(shipment, step.cancelled)
                return True
            carrier_id = await self._carrier.register(step.request)
            await self._record(shipment, CarrierStatus(Verdict.PENDING, carrier_id))
        except ShipmentRefused as refused:
            await self._record(
                shipment, CarrierStatus(Verdict.REFUSED, shipment.carrier_id or "", reason=refused.reason)
            )
        except (ChannelUnavailable, ChannelRefused) as error:
            hint = error.retry_after if isinstance(error, ChannelUnavailable) else None
            await self._failed(shipment, error.reason, hint)
            return False
        except Exception as error:  # a bug with this one shipment must not hold up the others
            log.exception("shipping: order %s could not be handled", shipment.order_id)
            await self._failed(shipment, f"internal error: {type(error).__name__}", None, carrier_fault=False)
        return True

    async def _record(self, shipment: Shipment, status: CarrierStatus) -> None:
        """The carrier answered: the shipment moves to what it said, and the order's history says so."""
        async with self._uow() as uow:
            now = self._clock.now()
            detail: dict[str, object] = {"carrier": self.name, "carrier_id": status.carrier_id or None}
            done = replace(
                shipment, carrier_id=status.carrier_id or shipment.carrier_id, failures=0, updated_at=now,
                leased_until=None, lease_owner=None,
            )  # fmt: skip
            if status.verdict == Verdict.PENDING:
                done = replace(done, state=ShipmentState.ACCEPTED, next_attempt_at=now + self._poll_after)
                event = "shipment_accepted" if shipment.state != ShipmentState.ACCEPTED else None
            elif status.verdict == Verdict.REGISTERED:
                done = replace(done, state=ShipmentState.REGISTERED, tracking_number=status.tracking_number)
                event, detail["tracking_number"] = "shipment_registered", status.tracking_number
            else:
                reason = status.reason or "no reason given"
                done, event = replace(done, state=ShipmentState.REFUSED, reason=reason), "shipment_refused"
                detail["reason"] = reason
            if not await uow.shipments.save(done, self._owner):
                log.warning("shipping: order %s was taken over by another run; its answer is left to it", done.order_id)
                return
            if event is not None:
                await uow.orders.add_events(shipment.order_id, [OrderEvent(now, event, detail)])
            if event == "shipment_refused":
                await self._alert_refused(uow, shipment.order_id, str(detail["reason"]))
            await self._carrier_answered(uow)
            await uow.commit()
        log.info("shipping: order %s is %s at %s", done.order_id, done.state.value, self.name)

    async def _alert_refused(self, uow: UnitOfWork, order_id: int, reason: str) -> None:
        order = await uow.orders.get(order_id)
        external_id = order.external_id if order is not None else str(order_id)
        detail: dict[str, object] = {"carrier": self.name, "order_id": order_id, "order": external_id, "reason": reason}
        await self._alerts.raise_alert(uow, f"{REFUSED_KIND}:order:{order_id}", REFUSED_KIND, detail)

    async def _not_sent(self, shipment: Shipment, cancelled: bool) -> None:
        """An earlier request never reached the carrier, and the order may not ship now: it waits, or — cancelled
        meanwhile — is dropped."""
        async with self._uow() as uow:
            now = self._clock.now()
            if cancelled:
                await self._drop(uow, shipment, now)
            else:
                later = replace(
                    shipment, next_attempt_at=now + self._recheck_after, leased_until=None, lease_owner=None
                )
                await uow.shipments.save(later, self._owner)
            await self._carrier_answered(uow)
            await uow.commit()

    async def _drop(self, uow: UnitOfWork, shipment: Shipment, now: datetime) -> None:
        dropped = replace(shipment, state=ShipmentState.DROPPED, updated_at=now, leased_until=None, lease_owner=None)
        if await uow.shipments.save(dropped, self._owner):
            detail: dict[str, object] = {"carrier": self.name, "reason": "order cancelled"}
            await uow.orders.add_events(shipment.order_id, [OrderEvent(now, "shipment_dropped", detail)])

    # -- failures ----------------------------------------------------------------------------------------------

    async def _failed(self, shipment: Shipment, reason: str, hint: float | None, *, carrier_fault: bool = True) -> None:
        """The carrier did not answer (or refused our account): try again later; nothing is lost. A registration
        keeps its counted attempt, so the next try looks at the carrier before sending. Not ``carrier_fault``
        (our own error): backed off the same way, without counting against the carrier."""
        async with self._uow() as uow:
            now = self._clock.now()
            failures = shipment.failures + 1
            backoff = min(self._max_backoff, self._first_backoff * 2 ** min(failures - 1, 16)).total_seconds()
            wait = hint if hint is not None else backoff * (0.5 + self._rng.random() / 2)  # jitter
            state = ShipmentState.WAITING if shipment.state == ShipmentState.REGISTERING else shipment.state
            later = replace(
                shipment, state=state, failures=failures, reason=reason, next_attempt_at=now + timedelta(seconds=wait),
                updated_at=now, leased_until=None, lease_owner=None,
            )  # fmt: skip
            await uow.shipments.save(later, self._owner)
            if carrier_fault:
                await self._count_failure(uow, reason)
            await uow.commit()
        log.warning("shipping: order %s not handled, tried again in %.0f s: %s", shipment.order_id, wait, reason)

    async def _count_failure(self, uow: UnitOfWork, reason: str) -> None:
        in_a_row = await uow.channel_states.count_failure(self.name)  # kept with the channels', under its name
        if in_a_row >= self._failures_to_alert:
            detail: dict[str, object] = {"carrier": self.name, "reason": reason, "failures": in_a_row}
            await self._alerts.raise_alert(uow, f"{FAILING_KIND}:{self.name}", FAILING_KIND, detail)

    async def _carrier_answered(self, uow: UnitOfWork) -> None:
        if await uow.channel_states.reset_failures(self.name):
            await self._alerts.resolve(uow, f"{FAILING_KIND}:{self.name}")

    async def _give_back(self, steps: list[Step]) -> None:
        """Claimed but not tried (the carrier just failed): as they were, for the next run."""
        if not steps:
            return
        async with self._uow() as uow:
            for step in steps:
                await uow.shipments.save(replace(step.before, leased_until=None, lease_owner=None), self._owner)
            await uow.commit()


async def shipping_blockers(
    uow: UnitOfWork, order: Order, threshold_rub: Decimal, *, channel_collects: bool = False
) -> list[str]:
    """Why the order may not ship yet (every line reserved, the money rule of :func:`money_state`); empty when it
    may. ``channel_collects``: a marketplace takes its buyer's money before it hands the order over, so an order of
    one with no payment of ours on record is held only by a shipping hold (the fraud call check)."""
    assert order.id is not None
    if order.cancelled_at is not None:
        return ["cancelled"]
    found = [f"line {line.line_no} {line.status.value}" for line in order.lines if line.status != LineStatus.RESERVED]
    payments = await uow.payments.for_order(order.id)
    new_client = not await uow.payments.paid_before(order.customer.phone, order.customer.email, order.id)
    money = money_state(order, payments, new_client, threshold_rub)
    if money.shipping_hold is not None:
        found.append(f"hold {money.shipping_hold}")
    elif not money.may_spend and not (channel_collects and not payments):
        found.append(f"not {money.requires.value}")
    return found
