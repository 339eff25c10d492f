"""Request bodies of the JSON API, validated before anything is applied."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic_core import PydanticSerializationError

from workflows.articles import MAX_SKU_LENGTH, check_sku
from workflows.model import Delivery
from workflows.onec_intake import MAX_QTY

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EARLIEST_YEAR = 1970  # before it a time read in 1C's zone may fall before year 1 in UTC


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if value != value.strip():
        raise ValueError("must not start or end with white space")
    return value


def _no_control(value: str) -> str:
    """Personal and free text: a control character is never meant, and PostgreSQL refuses NUL."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


def _in_calendar(value: datetime) -> datetime:
    """A time is stored in UTC: it must be one UTC can hold, and nothing this service keeps is before 1970."""
    if value.year < EARLIEST_YEAR:
        raise ValueError(f"must not be before the year {EARLIEST_YEAR}")
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is after the last time UTC can hold (the end of the year 9999)") from None
    return value


Instant = Annotated[datetime, AfterValidator(_in_calendar)]


def _with_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-12-01T12:00:00+03:00")
    return value


AwareInstant = Annotated[Instant, AfterValidator(_with_offset)]  # a moment with its UTC offset: never guessed

# an article: the one rule every entrance applies (workflows/articles.py), and no white space at its ends
Sku = Annotated[
    str, Field(min_length=1, max_length=MAX_SKU_LENGTH), AfterValidator(check_sku), AfterValidator(_printable)
]
Code = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]
# Each limit is its column's (storage/schema.py): PostgreSQL refuses a longer value where SQLite keeps it.
ShortCode = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]  # channel, warehouse
GatewayId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]  # payment_events


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class StockItem(_Body):
    sku: Sku
    warehouse: ShortCode
    qty: Annotated[StrictInt, Field(ge=0, le=MAX_QTY)]


class StockMessage(_Body):
    as_of: Instant
    items: list[StockItem] = Field(max_length=100_000)


class PriceItem(_Body):
    sku: Sku
    # the price type's name as 1C names it (e.g. "Розничная"); at most the column's 255 characters
    price_type: Code
    price: Decimal = Field(gt=0, le=100_000_000, max_digits=13, decimal_places=2)  # roubles per unit


class PriceMessage(_Body):
    items: list[PriceItem] = Field(min_length=1, max_length=100_000)


class CustomerBody(_Body):
    name: Annotated[str, Field(max_length=255), AfterValidator(_no_control)] = ""
    phone: Annotated[str, Field(max_length=64), AfterValidator(_no_control)] = ""
    email: Annotated[str, Field(max_length=255), AfterValidator(_no_control)] = ""


class LineBody(_Body):
    sku: Sku
    qty: Annotated[StrictInt, Field(ge=1, le=10_000)]


class ObligationBody(_Body):
    payee: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_control)]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: Decimal = Field(gt=0, max_digits=18, decimal_places=4)
    due_at: Instant


Text = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]


class AddressBody(_Body):
    country_code: str = Field(default="RU", pattern=r"^[A-Z]{2}$")
    city: Text
    city_code: Annotated[StrictInt, Field(ge=1)] | None = None  # CDEK's code of the city
    postal_code: str = Field(default="", pattern=r"^[0-9A-Za-z -]{0,12}$")
    line: Annotated[str, Field(max_length=255), AfterValidator(_printable)] = ""  # street, house, flat


class DeliveryBody(_Body):
    """Where the carrier (CDEK) takes the order: a door address, or a pickup point's code."""

    carrier: Literal["cdek"] = "cdek"
    tariff_code: Annotated[StrictInt, Field(ge=1, le=100_000)]
    address: AddressBody | None = None
    pickup_point: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    weight_g: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None  # the parcel

    @model_validator(mode="after")
    def _somewhere(self) -> DeliveryBody:
        if self.pickup_point is None and (self.address is None or not self.address.line):
            raise ValueError("give address.line (street, house, flat) or a pickup_point")
        return self

    def to_delivery(self) -> Delivery:
        a = self.address
        if a is None:  # to a pickup point, which CDEK knows the place of
            return Delivery(self.tariff_code, "RU", "", "", pickup_point=self.pickup_point, weight_g=self.weight_g)
        return Delivery(
            self.tariff_code, a.country_code, a.city, a.line, a.postal_code, a.city_code, self.pickup_point,
            self.weight_g,
        )  # fmt: skip


class OrderBody(_Body):
    channel: ShortCode
    external_id: Code
    lines: list[LineBody] = Field(min_length=1, max_length=500)
    customer: CustomerBody = CustomerBody()
    total: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")
    obligations: list[ObligationBody] = Field(default_factory=list, max_length=50)
    delivery: DeliveryBody | None = None


class CancelBody(_Body):
    reason: Annotated[str, Field(max_length=500), AfterValidator(_no_control)] = ""


OrderId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]  # the column is a signed 64-bit integer


class DeductionBody(_Body):
    order_id: OrderId
    deducted_at: Instant


class PaymentEventBody(BaseModel):
    """A gateway event. Unknown extra fields are kept with the event, not refused: gateways add them."""

    model_config = ConfigDict(extra="allow")

    event_id: GatewayId
    payment_id: GatewayId
    order_id: OrderId
    idempotency_key: GatewayId
    phase: Literal["initiated", "3ds", "authorized", "cleared", "failed", "refunded"]
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="RUB", pattern=r"^[A-Z]{3}$")
    payer_name: Annotated[str, Field(max_length=255), AfterValidator(_no_control)] = ""
    ip_country: Annotated[str, Field(max_length=2), AfterValidator(_no_control)] = ""
    card_country: Annotated[str, Field(max_length=2), AfterValidator(_no_control)] = ""

    @model_validator(mode="after")
    def _extras_are_text(self) -> PaymentEventBody:
        """The extra fields are kept as JSON: one holding a lone surrogate (``"\\ud800"``) cannot be written."""
        try:
            self.model_dump_json()
        except PydanticSerializationError:
            raise ValueError("an extra field holds text that is not valid Unicode (a lone surrogate)") from None
        return self


class YooKassaObject(BaseModel):
    """The payment or refund a YooKassa notice names: only its id is read, the rest is asked of YooKassa."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")


class YooKassaNoticeBody(BaseModel):
    """YooKassa's HTTP notification: ``{"type": "notification", "event": "payment.succeeded", "object": {…}}``."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["notification"]
    event: str = Field(pattern=r"^[a-z_]{1,40}\.[a-z_]{1,40}$")
    object: YooKassaObject
