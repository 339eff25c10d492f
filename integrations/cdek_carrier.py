"""CDEK as the shipping workflow's :class:`workflows.carrier.Carrier`: our shipment request becomes CDEK's order
(the shop as the sender, the parcel handed in at ``shipment_point`` when the tariff starts at a CDEK office), and
CDEK's answers become the port's verdicts and errors.

* CDEK refusing the order (a 400 with its reasons, an order it finds ``INVALID``, items it could not take) is
  :class:`~workflows.carrier.ShipmentRefused`; CDEK refusing the account (``CredentialsRefused``, a 403) stays a
  ``ChannelRefused``: the order is not at fault and is tried again once the account works.
* A registration refused because our number is in use (a first request whose answer was lost did get there) is
  answered with the order CDEK already holds under that number, unless that one was refused.
"""

from __future__ import annotations

from integrations.cdek import (
    INVALID,
    SUCCESSFUL,
    CarrierRefused,
    CdekClient,
    CredentialsRefused,
    RegistrationState,
    Shipment,
    ShipmentItem,
)
from workflows.carrier import CarrierStatus, ShipmentRefused, ShipmentRequest, Verdict

# CDEK's code for a shop number already used (as SDKs map it; unverified against CDEK's own documentation)
NUMBER_USED = "v2_im_number_already_used"
_FORBIDDEN = 403


class CdekCarrier:
    name = "cdek"

    def __init__(
        self, client: CdekClient, *, sender_name: str, sender_phone: str, shipment_point: str | None = None
    ) -> None:
        self._client = client
        self._sender_name, self._sender_phone, self._shipment_point = sender_name, sender_phone, shipment_point

    def __repr__(self) -> str:
        return f"CdekCarrier({self._client!r})"

    async def register(self, request: ShipmentRequest) -> str:
        try:
            return await self._client.register(self.shipment(request))
        except ValueError as error:  # items CDEK could not take (an amount over 999…): the order must change
            raise ShipmentRefused(str(error)) from None
        except CarrierRefused as refused:
            if _account_refused(refused):
                raise
            if NUMBER_USED in refused.codes:
                found = await self._client.find(request.number)
                if found is not None and found.uuid is not None and found.state != INVALID:
                    return found.uuid
            raise ShipmentRefused(refused.reason) from None

    async def status(self, carrier_id: str) -> CarrierStatus:
        return _status(await self._client.status(carrier_id))

    async def find(self, number: str) -> CarrierStatus | None:
        found = await self._client.find(number)
        return None if found is None else _status(found)

    def shipment(self, request: ShipmentRequest) -> Shipment:
        """CDEK's order for ``request``: prepaid, one package, the shop as the sender."""
        delivery = request.delivery
        items = tuple(
            ShipmentItem(article=item.sku, name=item.name, cost=item.unit_cost, weight=item.unit_weight_g,
                         amount=item.qty)
            for item in request.items
        )  # fmt: skip
        return Shipment(
            number=request.number, tariff_code=delivery.tariff_code, sender_name=self._sender_name,
            sender_phone=self._sender_phone, recipient_name=request.recipient_name,
            recipient_phone=request.recipient_phone, address=delivery.address, items=items,
            international=delivery.international, city_code=delivery.city_code, country_code=delivery.country_code,
            shipment_point=self._shipment_point, delivery_point=delivery.pickup_point,
            postal_code=delivery.postal_code or None, city=delivery.city or None,
        )  # fmt: skip


def _account_refused(refused: CarrierRefused) -> bool:
    return isinstance(refused, CredentialsRefused) or refused.status == _FORBIDDEN


def _status(state: RegistrationState) -> CarrierStatus:
    carrier_id = state.uuid or ""
    if state.state == SUCCESSFUL:
        return CarrierStatus(Verdict.REGISTERED, carrier_id, tracking_number=state.cdek_number)
    if state.state == INVALID:
        return CarrierStatus(Verdict.REFUSED, carrier_id, reason="; ".join(state.errors) or "no reason given")
    return CarrierStatus(Verdict.PENDING, carrier_id)
