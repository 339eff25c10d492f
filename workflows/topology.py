"""The shop's topology: warehouses and stores, channels and the warehouses they serve, people.

Loaded from TOML by ``app/topology.py``; validated here so that a mistake is reported with the
key that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflows.articles import check_sku
from workflows.customs_model import CustomsRules
from workflows.estimates import EstimateRates
from workflows.offer_ids import DEFAULT_RULES, OfferIdRule
from workflows.working_time import WEEKDAYS, Weekday, WorkingTime

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseKind(StrEnum):
    ONLINE = "online"
    STORE = "store"


class Warehouse(_Strict):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    kind: WarehouseKind
    title: str = ""
    onec_id: str | None = None
    slack_channel: str | None = None
    staff: tuple[str, ...] = ()
    priority: int = 100
    opening_hours: str | None = None
    timezone: str = "Europe/Moscow"

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None and not _HOURS.match(value):
            raise ValueError('expected "HH:MM-HH:MM", e.g. "10:00-22:00"')
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Moscow)") from None
        return value

    @property
    def display_name(self) -> str:
        return self.title or self.code

    def opens_at(self, moment: datetime) -> datetime:
        """``moment`` if the store is open then, else the next time it opens (always open without
        ``opening_hours``). Hours like ``22:00-02:00`` run past midnight."""
        if self.opening_hours is None:
            return moment
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        start_text, end_text = self.opening_hours.split("-")
        start, end = time.fromisoformat(start_text), _end_of_day(end_text)
        for days in (-1, 0, 1):
            day = local.date() + timedelta(days=days)
            opens = datetime.combine(day, start, zone)
            closes_day = day + timedelta(days=1) if end is None or end <= start else day
            closes = datetime.combine(closes_day, end or time(0), zone)
            if opens <= local < closes:
                return moment
            if local < opens:
                return opens.astimezone(moment.tzinfo)
        return datetime.combine(local.date() + timedelta(days=1), start, zone).astimezone(moment.tzinfo)


class Channel(_Strict):
    name: str
    kind: str
    serves: tuple[str, ...] = Field(min_length=1)
    safety_stock: int = Field(default=0, ge=0)
    warehouse_id: int | str | None = None  # the channel's own id of our warehouse (WB, Ozon)
    campaign_id: int | None = None  # Yandex Market
    offer_id: OfferIdRule
    # Prices: which of 1C's price types this channel sells at (its name, as 1C's <ТипЦены><Наименование>, or its
    # id); unset, storeops sends this channel no prices. The channel's price is 1C's × (1 + price_markup), rounded
    # to a multiple of price_rounding (halves up): 0.01 kopecks, 1 whole roubles, 10 tens.
    price_type: str | None = Field(default=None, min_length=1)
    price_markup: Decimal = Field(default=Decimal(0), ge=Decimal("-0.9"), le=Decimal(10))
    price_rounding: Decimal = Field(default=Decimal("0.01"), ge=Decimal("0.01"), le=Decimal(1000))


class People(_Strict):
    owner_telegram_id: int | None = None
    manager_telegram_ids: tuple[int, ...] = ()


def _end_of_day(value: str) -> time | None:
    """``24:00`` means midnight at the end of the day (``None``)."""
    return None if value == "24:00" else time.fromisoformat(value)


class StoreQuestions(_Strict):
    # A store outside its opening_hours: "skip" it (asked later stores at once) or "wait" (ask it
    # now, its time to answer counting from when it opens).
    outside_hours: Literal["skip", "wait"] = "skip"


class OneC(_Strict):
    timezone: str = "Europe/Moscow"  # how to read a 1C timestamp that carries no offset
    # 1C warehouses we neither sell from nor track (defects, in transit): their lines are skipped
    # wherever 1C's stock comes from, rather than refusing the whole message as unknown
    ignore_warehouses: tuple[str, ...] = ()
    # our warehouse (its code) that takes an offer's stock when 1C gives only its total, no warehouse
    # (CommerceML ``<Предложение><Количество>`` without ``<Склад>``); unset, such a file is refused
    totals_warehouse: str | None = None
    # SKUs of 1C's characteristics (product#characteristic): "article" sums them into the product's article;
    # "article_size" makes each its own SKU, <article><variant_separator><size>, e.g. "КР-7/42"
    variant_skus: Literal["article", "article_size"] = "article"
    variant_separator: str = Field(default="/", min_length=1, max_length=3, pattern=r"^\S+$")
    # the characteristic that is the size; a characteristic without it is named by all its values
    size_characteristic: str = Field(default="Размер", min_length=1)
    # when 1C is expected to send stock, in its timezone: "HH:MM-HH:MM" (past midnight allowed) on working_days;
    # 1C's silence is counted only over that time. Unset: always expected
    working_hours: str | None = None
    working_days: tuple[Weekday, ...] = Field(default=WEEKDAYS, min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return Warehouse._zone(value)

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        return Warehouse._hours(value)

    @property
    def working_time(self) -> WorkingTime:
        """When 1C is expected to talk."""
        return WorkingTime(self.working_hours, self.working_days, self.timezone)


class Prices(_Strict):
    """What the price guard holds back: a channel price below a floor waits for a manager's decision, as a big drop
    does. A SKU's floor is ``floors[sku]`` (roubles) or, failing that, its price of 1C's ``floor_type`` (a price
    type 1C keeps as the minimum, e.g. "Минимальная"); a SKU with neither has no floor."""

    floor_type: str | None = Field(default=None, min_length=1)
    floors: dict[str, Decimal] = {}

    @field_validator("floors")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = sorted(sku for sku, floor in value.items() if floor <= 0)
        if bad:
            raise ValueError(f"a floor must be above 0: {', '.join(bad)}")
        return value


class Kit(_Strict):
    """One composition of a kit: the SKU sold, and how many of each component SKU make one. A promotional
    composition has ``valid_from`` / ``valid_to``: a date or a datetime (one without offset is in the shop's
    time, ``onec.timezone``); ``valid_from`` is inclusive, a datetime ``valid_to`` exclusive and a date
    ``valid_to`` the last day it holds. See docs/kits.md."""

    sku: str
    components: dict[str, int] = Field(min_length=1)
    valid_from: datetime | date | None = None
    valid_to: datetime | date | None = None

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return check_sku(value)

    @field_validator("components")
    @classmethod
    def _components(cls, value: dict[str, int]) -> dict[str, int]:
        checked = {check_sku(sku): qty for sku, qty in value.items()}
        short = sorted(sku for sku, qty in checked.items() if qty < 1)
        if short:
            raise ValueError(f"a component's quantity per kit must be at least 1: {', '.join(short)}")
        return checked

    def window(self, zone: str) -> tuple[datetime | None, datetime | None]:
        """When this composition holds, as aware datetimes: ``[start, end)``, ``None`` for open-ended."""
        tz = ZoneInfo(zone)
        return _moment(self.valid_from, tz, last_day=False), _moment(self.valid_to, tz, last_day=True)


def _moment(value: datetime | date | None, zone: ZoneInfo, *, last_day: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    day = value + timedelta(days=1) if last_day else value  # a date valid_to holds all that day
    return datetime.combine(day, time(0), zone)


def _check_kits(kits: Sequence[Kit], zone: str) -> None:
    """Compositions of one kit must not overlap in time; a kit is not its own component and no component is a
    kit itself (kits are one level deep)."""
    kit_skus = {kit.sku for kit in kits}
    for n, kit in enumerate(kits):
        start, end = kit.window(zone)
        if start is not None and end is not None and end <= start:
            raise ValueError(f"kits.{n} ({kit.sku}): valid_to must come after valid_from")
        if kit.sku in kit.components:
            raise ValueError(f"kits.{n} ({kit.sku}): a kit cannot be its own component")
        nested = sorted(set(kit.components) & kit_skus)
        if nested:
            raise ValueError(f"kits.{n} ({kit.sku}): {', '.join(nested)} is a kit itself; kits cannot be nested")
        for m, other in enumerate(kits[:n]):
            if other.sku == kit.sku and _overlap((start, end), other.window(zone)):
                raise ValueError(
                    f"kits.{n} ({kit.sku}): its validity overlaps kits.{m}'s; "
                    "one kit has one composition at a time (give valid_from / valid_to)"
                )


def _overlap(a: tuple[datetime | None, datetime | None], b: tuple[datetime | None, datetime | None]) -> bool:
    (a_start, a_end), (b_start, b_end) = a, b
    b_before_a_ends = b_start is None or a_end is None or b_start < a_end
    return b_before_a_ends and (a_start is None or b_end is None or a_start < b_end)


class Boxes(_Strict):
    """Where a purchase's boxes are received (docs/client_money.md, "Boxes and scans")."""

    # the code of our Moscow warehouse, whose stock a box's contents enter when it is scanned there; not given:
    # the first online warehouse (by priority, then code)
    moscow_warehouse: str | None = None


class Topology(_Strict):
    warehouses: tuple[Warehouse, ...] = Field(min_length=1)
    channels: dict[str, Channel] = Field(min_length=1)
    people: People = People()
    onec: OneC = OneC()
    store_questions: StoreQuestions = StoreQuestions()
    kits: tuple[Kit, ...] = ()
    prices: Prices = Prices()
    estimates: EstimateRates = EstimateRates()  # the rates of clients' money plans (workflows/estimates.py)
    customs: CustomsRules = CustomsRules()  # full clearance's documents and FTS payment (workflows/customs.py)
    boxes: Boxes = Boxes()

    @model_validator(mode="before")
    @classmethod
    def _channel_names(cls, data: object) -> object:
        """``[channels.wildberries]`` names the channel; ``kind`` defaults to that name."""
        if isinstance(data, dict) and isinstance(data.get("channels"), dict):
            channels = {}
            for name, body in data["channels"].items():
                if isinstance(body, dict):
                    body = {"name": name, **body}
                    body.setdefault("kind", name)
                    body["offer_id"] = _offer_rule(body["kind"], body.get("offer_id"))
                channels[name] = body
            data = {**data, "channels": channels}
        return data

    @model_validator(mode="after")
    def _references(self) -> Self:
        codes = [w.code for w in self.warehouses]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"warehouses: code used twice: {', '.join(duplicates)}")
        onec_ids = [w.onec_id for w in self.warehouses if w.onec_id]
        if len(set(onec_ids)) != len(onec_ids):
            raise ValueError("warehouses: the same onec_id is given to two warehouses")
        for channel in self.channels.values():
            for code in channel.serves:
                if code not in codes:
                    raise ValueError(
                        f"channels.{channel.name}.serves: unknown warehouse {code!r} (known: {', '.join(codes)})"
                    )
        totals = self.onec.totals_warehouse
        if totals is not None and totals not in codes:
            raise ValueError(
                f"onec.totals_warehouse: unknown warehouse {totals!r}: give the code of one of ours "
                f"(known: {', '.join(codes)})"
            )
        moscow = self.boxes.moscow_warehouse
        if moscow is not None and moscow not in codes:
            raise ValueError(
                f"boxes.moscow_warehouse: unknown warehouse {moscow!r}: give the code of one of ours "
                f"(known: {', '.join(codes)})"
            )
        _check_kits(self.kits, self.onec.timezone)
        return self

    def moscow_warehouse(self) -> str:
        """The warehouse a purchase's boxes are received into: ``boxes.moscow_warehouse``, else the first online
        warehouse, else the first warehouse of all."""
        if self.boxes.moscow_warehouse is not None:
            return self.boxes.moscow_warehouse
        ranked = sorted(self.warehouses, key=lambda w: (w.kind != WarehouseKind.ONLINE, w.priority, w.code))
        return ranked[0].code

    def warehouse(self, code_or_onec_id: str) -> Warehouse | None:
        """Our warehouse for our code or for 1C's id of it."""
        for warehouse in self.warehouses:
            if code_or_onec_id in (warehouse.code, warehouse.onec_id):
                return warehouse
        return None

    def channel_named(self, typed: str) -> str | None:
        """The channel a person named by ``typed``, whatever its case: its name, else its kind when one channel
        alone is of that kind (``Wildberries`` for a channel named ``wb``); ``None`` when it names none."""
        wanted = typed.strip().casefold()
        by_name = [name for name in self.channels if name.casefold() == wanted]
        by_kind = [name for name, channel in self.channels.items() if channel.kind.casefold() == wanted]
        found = by_name or by_kind
        return found[0] if len(found) == 1 else None

    def routing_order(self, channel: Channel) -> list[Warehouse]:
        """Where a channel's order line is looked for: online warehouses first, then stores by
        priority. The order is global, so concurrent orders lock stock rows in the same order."""
        served = [w for w in self.warehouses if w.code in channel.serves]
        return sorted(served, key=lambda w: (w.kind != WarehouseKind.ONLINE, w.priority, w.code))


def _offer_rule(kind: object, given: object) -> object:
    base = DEFAULT_RULES.get(str(kind), OfferIdRule())
    if isinstance(given, dict):
        return {**base.model_dump(), **given}  # validated (and unknown keys named) by OfferIdRule
    return base if given is None else given
