"""The payment gateway as the payment watch reads it (one payment's status, by the gateway's payment id) and as the
top-up checkout writes to it (a client's top-up created as a payment, once per our payment id: decision 87).

The status port only reads. Nothing here creates, captures or cancels a payment, so asking again — after a timeout, from
another instance, a minute later — can never start a second charge. ``trace_key`` is the payment session's
idempotency key, which a client may send along as a correlation header of a read; it must never be sent where the
gateway would take it as a request to create something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from workflows.office_model import Phase
from workflows.outside import Refused, Unavailable


class GatewayUnavailable(Unavailable):
    """The gateway did not answer usefully now (a timeout, a 5xx, 429): the payment stays as it was, asked later."""


class GatewayRefused(Refused):
    """The gateway said no (bad credentials, no such payment): asking the same way again will not help."""


class GatewayNotFound(GatewayRefused):
    """The gateway knows no such payment or refund (with our credentials): a notice naming it is not the gateway's."""


@dataclass(frozen=True)
class GatewayStatus:
    """What the gateway says of one payment. ``phase`` is ours (``None``: still pending, nothing to record);
    ``status`` is the gateway's own word, kept with the event."""

    payment_id: str
    status: str
    phase: Phase | None
    amount: Decimal | None = None
    currency: str = ""
    cancelled_by: str = ""  # the gateway's cancellation_details.party
    cancel_reason: str = ""  # and its reason
    metadata: Mapping[str, str] = field(default_factory=dict)  # what the payment was created with (our ids)
    refunded: Decimal | None = None  # how much of it was refunded, by the gateway's own figure


@dataclass(frozen=True)
class GatewayRefund:
    """A refund as the gateway shows it: its id, the gateway's payment it gives money back from, its status
    (``pending``, ``succeeded``, ``canceled``) and amount."""

    refund_id: str
    payment_id: str
    status: str
    amount: Decimal | None = None
    currency: str = ""


class PaymentGateway(Protocol):
    name: str

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        """The payment's status now. Raises :class:`GatewayUnavailable` or :class:`GatewayRefused`; never writes
        anything at the gateway."""
        ...


class NoticeConfirmations(PaymentGateway, Protocol):
    """What a gateway's notice is checked against before anything is recorded: the payment's status (above) and a
    refund's, read at the gateway with the shop's credentials."""

    async def refund(self, refund_id: str) -> GatewayRefund:
        """The refund now. Raises :class:`GatewayUnavailable`, :class:`GatewayNotFound` or :class:`GatewayRefused`;
        never writes anything at the gateway."""
        ...


# -- creating a top-up at the gateway (workflows/topup_checkout.py) ---------------------------------------------------


@dataclass(frozen=True)
class NewPayment:
    """A payment to create at the gateway for the client to pay. ``key`` is our payment id: sent as the request's
    idempotency key, so the gateway gives the same payment back however often it is asked."""

    key: str
    order_id: int
    amount: Decimal
    currency: str
    description: str
    return_url: str


@dataclass(frozen=True)
class CreatedPayment:
    """The gateway's payment made for a :class:`NewPayment`: its own id, its status, and where the client pays."""

    gateway_id: str
    status: str
    confirmation_url: str


class PaymentCheckout(Protocol):
    name: str

    async def create(self, payment: NewPayment) -> CreatedPayment:
        """The gateway's payment for ``payment.key`` — made now, or the one that key made before. Raises
        :class:`GatewayUnavailable` (nobody knows whether it was made: ask again with the same key) or
        :class:`GatewayRefused`."""
        ...


@dataclass
class GatewayPayment:
    """Our top-up payment as it is (to be) created at the gateway: ``pending`` until the gateway made it, then
    ``created`` with its id and the client's ``confirmation_url``; ``dropped`` when the payment no longer waits for
    the client (paid another way, failed) before it was made; ``given_up`` when it could not be made within the
    day the gateway keeps an idempotency key (asking later could make a second payment). Leased while it is being
    created."""

    payment_id: str
    order_id: int
    description: str  # what the client reads at the gateway: the order and what the money is for
    next_attempt_at: datetime
    state: str = "pending"
    gateway_id: str | None = None
    confirmation_url: str | None = None
    return_url: str | None = None  # fixed at the first attempt, so that every retry is the same request
    first_tried_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    leased_until: datetime | None = None
    lease_owner: str | None = None
