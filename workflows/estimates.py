"""The estimate calculator: what each earmark of an order sets aside, from rates kept in configuration.

The rates are the topology file's ``[estimates]`` (storeops.example.toml documents every key); every rate is in
roubles. One rate is a sum of parts, each 0 unless given:
``flat_rub + per_kg_rub × kg + per_m3_rub × m³ + per_box_rub × boxes + share_of_goods × goods``. Logistics has
one rate per transport mode, customs one per clearance mode, delivery on from the warehouse one per delivery mode
(``marketplace``, the default, is ``[estimates.marketplace]``); warehouse services one.
The result is rounded to the kopeck, halves up. Goods are earmarked at what the client's order says they cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.money_model import ClearanceMode, DeliveryMode, Purpose, TransportMode, rub


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rate(_Config):
    flat_rub: Decimal = Field(default=Decimal(0), ge=0)
    per_kg_rub: Decimal = Field(default=Decimal(0), ge=0)
    per_m3_rub: Decimal = Field(default=Decimal(0), ge=0)
    per_box_rub: Decimal = Field(default=Decimal(0), ge=0)
    share_of_goods: Decimal = Field(default=Decimal(0), ge=0, le=5)

    def cost(self, consignment: Consignment) -> Decimal:
        c = consignment
        return rub(
            self.flat_rub + self.per_kg_rub * c.weight_kg + self.per_m3_rub * c.volume_m3
            + self.per_box_rub * c.boxes + self.share_of_goods * c.goods_rub
        )  # fmt: skip


# Defaults that make an unconfigured shop's estimates plausible rather than zero; a real shop sets its own.
_LOGISTICS = {
    TransportMode.CONSOLIDATED_TRUCK: Rate(per_kg_rub=Decimal(320), flat_rub=Decimal(15_000)),
    TransportMode.FULL_TRUCK: Rate(flat_rub=Decimal(950_000)),
    TransportMode.RAIL_CONTAINER: Rate(flat_rub=Decimal(700_000)),
    TransportMode.TIR: Rate(flat_rub=Decimal(1_150_000)),
}
_CUSTOMS = {
    ClearanceMode.FULL: Rate(share_of_goods=Decimal("0.32"), flat_rub=Decimal(30_000)),
    ClearanceMode.PARTIAL: Rate(share_of_goods=Decimal("0.12"), flat_rub=Decimal(20_000)),
    ClearanceMode.TRANSPORT_ONLY: Rate(),
}

_DELIVERY = {  # ``marketplace`` is not here: it is ``EstimateRates.marketplace``
    DeliveryMode.OZON: Rate(per_box_rub=Decimal(250)),
    DeliveryMode.WILDBERRIES: Rate(per_box_rub=Decimal(250)),
    DeliveryMode.REGION_SMALL_LOTS: Rate(flat_rub=Decimal(3_000), per_kg_rub=Decimal(45)),
    DeliveryMode.PICKUP: Rate(),
}


class EstimateRates(_Config):
    """The topology's ``[estimates]``: a mode left out keeps its default rate."""

    logistics: dict[TransportMode, Rate] = {}
    customs: dict[ClearanceMode, Rate] = {}
    warehouse: Rate = Rate(per_box_rub=Decimal(150), per_m3_rub=Decimal(1_200))
    marketplace: Rate = Rate(per_box_rub=Decimal(250))
    delivery: dict[DeliveryMode, Rate] = {}  # by delivery mode; ``marketplace`` is the rate above

    @model_validator(mode="after")
    def _defaults(self) -> EstimateRates:
        if DeliveryMode.MARKETPLACE in self.delivery:
            raise ValueError("[estimates.delivery.marketplace]: the marketplace rate is [estimates.marketplace]")
        object.__setattr__(self, "logistics", {**_LOGISTICS, **self.logistics})
        object.__setattr__(self, "customs", {**_CUSTOMS, **self.customs})
        object.__setattr__(self, "delivery", {**_DELIVERY, **self.delivery})
        return self

    def delivery_rate(self, mode: DeliveryMode) -> Rate:
        """The rate of delivery on from the warehouse by ``mode``; ``marketplace`` is :attr:`marketplace`."""
        return self.marketplace if mode == DeliveryMode.MARKETPLACE else self.delivery[mode]


@dataclass(frozen=True)
class Consignment:
    """What an order's goods are, for the estimate: their cost, size and how they travel and clear."""

    goods_rub: Decimal
    transport: TransportMode
    clearance: ClearanceMode
    weight_kg: Decimal = Decimal(0)
    volume_m3: Decimal = Decimal(0)
    boxes: int = 0
    delivery: DeliveryMode = DeliveryMode.MARKETPLACE  # how they go on from the warehouse


def estimate(rates: EstimateRates, consignment: Consignment) -> dict[Purpose, Decimal]:
    """What each earmark sets aside for ``consignment``, in roubles."""
    c = consignment
    return {
        Purpose.GOODS: rub(c.goods_rub),
        Purpose.LOGISTICS: rates.logistics[c.transport].cost(c),
        Purpose.CUSTOMS: rates.customs[c.clearance].cost(c),
        Purpose.WAREHOUSE: rates.warehouse.cost(c),
        Purpose.MARKETPLACE: rates.delivery_rate(c.delivery).cost(c),
    }
