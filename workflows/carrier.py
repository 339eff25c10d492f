"""The port of the carrier that takes our parcels (CDEK): register a shipment, learn whether the carrier took it,
find one registered under our number. The shipping workflow talks only to this; ``integrations/cdek_carrier.py``
adapts CDEK's client to it.

Failures are the channels' exceptions (:class:`workflows.channels.ChannelUnavailable`: try again later;
:class:`workflows.channels.ChannelRefused`: the account itself is refused, so no request can pass until someone
fixes it) plus :class:`ShipmentRefused`: the carrier refuses this shipment, and sending it again as it is will not
help.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from workflows.model import Delivery
from workflows.outside import Refused


@dataclass(frozen=True)
class ParcelItem:
    sku: str  # our article (1C's)
    name: str
    qty: int
    unit_cost: Decimal  # declared value of one unit, in roubles
    unit_weight_g: int


@dataclass(frozen=True)
class ShipmentRequest:
    """One parcel to register. ``number`` is our order id: the carrier holds one order per number, so a request
    sent twice (a lost answer, two instances) cannot make two shipments."""

    number: str
    recipient_name: str
    recipient_phone: str
    delivery: Delivery
    items: tuple[ParcelItem, ...]


class Verdict(enum.StrEnum):
    PENDING = "pending"  # taken, not yet validated
    REGISTERED = "registered"
    REFUSED = "refused"


@dataclass(frozen=True)
class CarrierStatus:
    """Where the carrier's registration of one shipment stands."""

    verdict: Verdict
    carrier_id: str  # the carrier's id of the shipment (CDEK's uuid)
    tracking_number: str | None = None  # set once registered
    reason: str | None = None  # the carrier's words when refused


class ShipmentRefused(Refused):
    """The carrier refuses this shipment (an address it cannot find, a tariff not served there, an item it cannot
    take): ``reason`` in its words. People must fix the order; sending it again unchanged will not help."""


class Carrier(Protocol):
    name: str  # "cdek": in alert keys and the order's history

    async def register(self, request: ShipmentRequest) -> str:
        """Send the shipment; the carrier's id of it once the carrier has taken it for validation (or already
        holds it under ``request.number``). Raises :class:`ShipmentRefused`, ``ChannelUnavailable`` or
        ``ChannelRefused``."""
        ...

    async def status(self, carrier_id: str) -> CarrierStatus:
        """The carrier's current verdict on a shipment it took. Raises ``ChannelUnavailable`` or
        ``ChannelRefused``."""
        ...

    async def find(self, number: str) -> CarrierStatus | None:
        """The shipment the carrier holds under our ``number`` (a refused one included), or ``None``: asked before
        sending again a registration whose answer never came back."""
        ...
