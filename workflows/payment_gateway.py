"""The payment gateway as the payment watch reads it: one payment's status, by the gateway's payment id.

The port only reads. Nothing here creates, captures or cancels a payment, so asking again — after a timeout, from
another instance, a minute later — can never start a second charge. ``trace_key`` is the payment session's
idempotency key, which a client may send along as a correlation header of a read; it must never be sent where the
gateway would take it as a request to create something.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from workflows.office_model import Phase
from workflows.outside import Refused, Unavailable


class GatewayUnavailable(Unavailable):
    """The gateway did not answer usefully now (a timeout, a 5xx, 429): the payment stays as it was, asked later."""


class GatewayRefused(Refused):
    """The gateway said no (bad credentials, no such payment): asking the same way again will not help."""


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


class PaymentGateway(Protocol):
    name: str

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        """The payment's status now. Raises :class:`GatewayUnavailable` or :class:`GatewayRefused`; never writes
        anything at the gateway."""
        ...
