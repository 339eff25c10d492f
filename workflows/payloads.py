"""What a task or a notice carries, one definition each, written and read through it.

A task's payload is what its message needs to show and what its workflow needs to act on the
answer; a notice's payload says which task or alert a chat message is about. Both are stored as
JSON, so ``to_payload`` gives the exact dict that was always stored (no migration), and
``from_payload`` reads it back, also from rows written before these types existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

Payload = dict[str, object]


class PayloadError(ValueError):
    """A stored payload lacks a field or holds something of the wrong type."""


def _int(payload: Mapping[str, object], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise PayloadError(f"{key} is not a whole number: {value!r}")


def _maybe_int(payload: Mapping[str, object], key: str) -> int | None:
    return None if payload.get(key) is None else _int(payload, key)


def _str(payload: Mapping[str, object], key: str) -> str:
    """A text field; a missing or empty one reads as ``""``."""
    value = payload.get(key)
    return "" if value is None else str(value)


def _decimal(payload: Mapping[str, object], key: str) -> Decimal:
    value = payload.get(key)
    if value is None or isinstance(value, bool):
        raise PayloadError(f"{key} is not a number: {value!r}")
    return Decimal(str(value))


@dataclass(frozen=True)
class StoreQuestion:
    """The store cascade's question: one order line, held at one store until its staff answer."""

    order_id: int
    external_id: str
    channel: str
    line: int
    sku: str
    qty: int
    store: str
    name: str | None = None  # shown instead of the SKU when set
    size: str | None = None  # shown when set

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "channel": self.channel,
            "line": self.line, "sku": self.sku, "qty": self.qty, "store": self.store,
        }  # fmt: skip
        payload.update({k: v for k, v in (("name", self.name), ("size", self.size)) if v})
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> StoreQuestion:
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            channel=_str(payload, "channel"), line=_int(payload, "line"), sku=_str(payload, "sku"),
            qty=_int(payload, "qty"), store=_str(payload, "store"),
            name=_str(payload, "name") or None, size=_str(payload, "size") or None,
        )  # fmt: skip


@dataclass(frozen=True)
class FraudCall:
    """The fraud call check: whom to phone about which order, and why."""

    order_id: int
    external_id: str
    phone: str
    name: str
    email: str
    payer: str
    total: Decimal | None
    currency: str
    reasons: tuple[str, ...]
    failed_attempts: int
    attempt: int = 1
    call_after: datetime | None = None  # a later attempt: when to call again
    escalated: str | None = None  # why the owner is asked: "no_answer" | "timeout"

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "phone": self.phone, "name": self.name,
            "email": self.email, "payer": self.payer, "total": None if self.total is None else str(self.total),
            "currency": self.currency, "reasons": list(self.reasons), "failed_attempts": self.failed_attempts,
            "attempt": self.attempt,
        }  # fmt: skip
        if self.call_after is not None:
            payload["call_after"] = self.call_after.isoformat()
        if self.escalated is not None:
            payload["escalated"] = self.escalated
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> FraudCall:
        reasons = payload.get("reasons")
        total, call_after, escalated = payload.get("total"), payload.get("call_after"), payload.get("escalated")
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            phone=_str(payload, "phone"), name=_str(payload, "name"), email=_str(payload, "email"),
            payer=_str(payload, "payer"), total=Decimal(str(total)) if total else None,
            currency=_str(payload, "currency"),
            reasons=tuple(str(r) for r in reasons) if isinstance(reasons, list) else (),
            failed_attempts=_int(payload, "failed_attempts") if "failed_attempts" in payload else 0,
            attempt=_int(payload, "attempt"),
            call_after=datetime.fromisoformat(str(call_after)) if call_after else None,
            escalated=str(escalated) if escalated else None,
        )  # fmt: skip


@dataclass(frozen=True)
class FxApproval:
    """An obligation held because the rate moved too far: the figures a manager decides on."""

    order_id: int
    external_id: str
    obligation_id: int
    payee: str
    currency: str
    amount: Decimal
    rate_at_payment: Decimal
    rate_now: Decimal
    deviation: Decimal  # relative, 0.0512 for 5.12 %
    difference_rub: Decimal  # what a top-up asks of the client
    escalated: bool = False  # the managers did not decide in time: the owner is asked

    def to_payload(self) -> Payload:
        payload: Payload = {
            "obligation_id": self.obligation_id, "payee": self.payee, "currency": self.currency,
            "amount": str(self.amount), "rate_at_payment": str(self.rate_at_payment), "rate_now": str(self.rate_now),
            "deviation": str(self.deviation), "order_id": self.order_id, "external_id": self.external_id,
            "difference_rub": str(self.difference_rub),
        }  # fmt: skip
        if self.escalated:
            payload["escalated"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> FxApproval:
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            obligation_id=_int(payload, "obligation_id"), payee=_str(payload, "payee"),
            currency=_str(payload, "currency"), amount=_decimal(payload, "amount"),
            rate_at_payment=_decimal(payload, "rate_at_payment"), rate_now=_decimal(payload, "rate_now"),
            deviation=_decimal(payload, "deviation"), difference_rub=_decimal(payload, "difference_rub"),
            escalated=bool(payload.get("escalated")),
        )  # fmt: skip


@dataclass(frozen=True)
class UnfillableLine:
    line: int
    sku: str
    qty: int


@dataclass(frozen=True)
class UnfillableOrder:
    """A marketplace order with lines nobody could fill: cancel it on the marketplace, or wait for a delivery."""

    order_id: int
    external_id: str
    channel: str
    lines: tuple[UnfillableLine, ...]  # the lines no warehouse or store could fill
    attempt: int = 1  # asked again after a ``wait``: 2, 3, …
    escalated: str | None = None  # why the owner is asked: "timeout", or "ship_by" (the marketplace's deadline is near)
    ship_by: datetime | None = None  # the marketplace's shipping deadline, when it told one
    wait_s: int = 86_400  # how long ``wait`` puts the question off when no date is named

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "channel": self.channel,
            "lines": [{"line": x.line, "sku": x.sku, "qty": x.qty} for x in self.lines], "attempt": self.attempt,
            "wait_s": self.wait_s,
        }  # fmt: skip
        if self.escalated is not None:
            payload["escalated"] = self.escalated
        if self.ship_by is not None:
            payload["ship_by"] = self.ship_by.isoformat()
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> UnfillableOrder:
        found = payload.get("lines")
        rows = [row for row in found if isinstance(row, Mapping)] if isinstance(found, list) else []
        escalated, ship_by = payload.get("escalated"), payload.get("ship_by")
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            channel=_str(payload, "channel"),
            lines=tuple(UnfillableLine(_int(r, "line"), _str(r, "sku"), _int(r, "qty")) for r in rows),
            attempt=_int(payload, "attempt") if "attempt" in payload else 1,
            escalated=str(escalated) if escalated else None,
            ship_by=datetime.fromisoformat(str(ship_by)) if ship_by else None,
            wait_s=_int(payload, "wait_s") if "wait_s" in payload else 86_400,
        )  # fmt: skip


@dataclass(frozen=True)
class PriceSample:
    """One held channel price, shown in the question: what the channel shows and what 1C asks (kopecks)."""

    channel: str
    sku: str
    shown: int | None  # None: the channel has no price from us yet
    new: int
    floor: int | None = None  # set when the new price is below the SKU's floor


@dataclass(frozen=True)
class PriceQuestion:
    """One price type's prices from one 1C upload that the guard held: the managers approve or reject them all."""

    batch_id: int
    price_type: str
    lines: int  # channel prices held
    skus: int
    samples: tuple[PriceSample, ...]  # the largest drops first, a few
    escalated: str | None = None  # "timeout": the managers did not answer, the owner is asked

    def to_payload(self) -> Payload:
        payload: Payload = {
            "batch_id": self.batch_id, "price_type": self.price_type, "lines": self.lines, "skus": self.skus,
            "samples": [
                {"channel": x.channel, "sku": x.sku, "shown": x.shown, "new": x.new, "floor": x.floor}
                for x in self.samples
            ],
        }  # fmt: skip
        if self.escalated is not None:
            payload["escalated"] = self.escalated
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> PriceQuestion:
        found = payload.get("samples")
        rows = [row for row in found if isinstance(row, Mapping)] if isinstance(found, list) else []
        escalated = payload.get("escalated")
        return cls(
            batch_id=_int(payload, "batch_id"), price_type=_str(payload, "price_type"),
            lines=_int(payload, "lines"), skus=_int(payload, "skus"),
            samples=tuple(
                PriceSample(_str(r, "channel"), _str(r, "sku"), _maybe_int(r, "shown"), _int(r, "new"),
                            _maybe_int(r, "floor"))
                for r in rows
            ),
            escalated=str(escalated) if escalated else None,
        )  # fmt: skip


_OWN = ("key", "kind")  # an alert task's own fields, never a detail's


@dataclass(frozen=True)
class AlertTask:
    """The buttons of an alert: which key a mute silences, and the failure's details.

    The details sit beside ``key`` and ``kind``, as always stored; a detail of either name is left out, so
    the alert's own key and kind always stand (the alert's row keeps its whole detail)."""

    key: str
    kind: str
    detail: Mapping[str, object] = field(default_factory=dict)

    def to_payload(self) -> Payload:
        return {"key": self.key, "kind": self.kind, **{k: v for k, v in self.detail.items() if k not in _OWN}}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> AlertTask:
        detail = {k: v for k, v in payload.items() if k not in _OWN}
        return cls(key=_str(payload, "key"), kind=_str(payload, "kind"), detail=detail)


@dataclass(frozen=True)
class TaskNotice:
    """A notice about a task: its question, reminder or closing (``store``: a store's question)."""

    task_id: int
    store: str | None = None

    def to_payload(self) -> Payload:
        return {"task_id": self.task_id} if self.store is None else {"task_id": self.task_id, "store": self.store}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> TaskNotice:
        return cls(task_id=_int(payload, "task_id"), store=_str(payload, "store") or None)


@dataclass(frozen=True)
class AlertNotice:
    """A notice about an alert: its first message or its recovery."""

    alert_id: int

    def to_payload(self) -> Payload:
        return {"alert_id": self.alert_id}

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> AlertNotice:
        return cls(alert_id=_int(payload, "alert_id"))


@dataclass(frozen=True)
class ReturnReceipt:
    """A return on its way back: which order line's goods, to which warehouse, and who reported it."""

    order_id: int
    external_id: str
    channel: str
    sku: str
    qty: int
    warehouse: str
    source: str  # the channel's name, or "manager:<telegram id>"

    def to_payload(self) -> Payload:
        return {
            "order_id": self.order_id, "external_id": self.external_id, "channel": self.channel, "sku": self.sku,
            "qty": self.qty, "warehouse": self.warehouse, "source": self.source,
        }  # fmt: skip

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> ReturnReceipt:
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            channel=_str(payload, "channel"), sku=_str(payload, "sku"), qty=_int(payload, "qty"),
            warehouse=_str(payload, "warehouse"), source=_str(payload, "source"),
        )  # fmt: skip


@dataclass(frozen=True)
class PaymentUnknown:
    """The managers' question about a payment the gateway has left unknown too long (``workflows.payment_watch``):
    which order and payment, how much, in which of our phases it stands, since when, and what the gateway last said
    (its status, or why it did not answer)."""

    order_id: int
    external_id: str
    payment_id: str
    phase: str
    since: datetime
    amount: Decimal
    currency: str
    gateway_said: str = ""  # the gateway's status at the last answer
    last_error: str = ""  # why the last poll got no answer, when it got none

    def to_payload(self) -> Payload:
        return {
            "order_id": self.order_id, "external_id": self.external_id, "payment_id": self.payment_id,
            "phase": self.phase, "since": self.since.isoformat(), "amount": str(self.amount),
            "currency": self.currency, "gateway_said": self.gateway_said, "last_error": self.last_error,
        }  # fmt: skip

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> PaymentUnknown:
        try:
            since, amount = datetime.fromisoformat(_str(payload, "since")), Decimal(_str(payload, "amount"))
        except (ValueError, ArithmeticError) as error:
            raise PayloadError(f"a payment question with a bad time or amount: {error}") from None
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            payment_id=_str(payload, "payment_id"), phase=_str(payload, "phase"), since=since, amount=amount,
            currency=_str(payload, "currency"), gateway_said=_str(payload, "gateway_said"),
            last_error=_str(payload, "last_error"),
        )  # fmt: skip


@dataclass(frozen=True)
class EarmarkShortfall:
    """A payment out that its earmark cannot cover: the figures a manager decides on (roubles but ``amount``)."""

    order_id: int
    external_id: str
    payout_id: int
    purpose: str  # workflows.money_model.Purpose
    payee: str
    currency: str
    amount: Decimal  # in ``currency``
    amount_rub: Decimal
    available_rub: Decimal  # what the earmark holds
    shortfall_rub: Decimal  # what a top-up asks of the client, or the shop absorbs
    due_at: datetime
    escalated: bool = False  # the managers did not decide in time: the owner is asked

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "payout_id": self.payout_id,
            "purpose": self.purpose, "payee": self.payee, "currency": self.currency, "amount": str(self.amount),
            "amount_rub": str(self.amount_rub), "available_rub": str(self.available_rub),
            "shortfall_rub": str(self.shortfall_rub), "due_at": self.due_at.isoformat(),
        }  # fmt: skip
        if self.escalated:
            payload["escalated"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> EarmarkShortfall:
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            payout_id=_int(payload, "payout_id"), purpose=_str(payload, "purpose"), payee=_str(payload, "payee"),
            currency=_str(payload, "currency"), amount=_decimal(payload, "amount"),
            amount_rub=_decimal(payload, "amount_rub"), available_rub=_decimal(payload, "available_rub"),
            shortfall_rub=_decimal(payload, "shortfall_rub"), due_at=datetime.fromisoformat(_str(payload, "due_at")),
            escalated=bool(payload.get("escalated")),
        )  # fmt: skip


@dataclass(frozen=True)
class ChecklistItem:
    """One document of a customs checklist as its message shows it."""

    option: str  # doc<n>, the button
    title: str  # a code of workflows.customs_model.DEFAULT_DOCUMENTS or a configured title
    ticked_by: str | None = None
    ticked_at: datetime | None = None


@dataclass(frozen=True)
class CustomsChecklist:
    """The documents the managers collect for an order's full clearance, each ticked once."""

    order_id: int
    external_id: str
    items: tuple[ChecklistItem, ...]
    escalated: bool = False  # the managers did not finish in time: the owner's
    reminded: bool = False

    def to_payload(self) -> Payload:
        items: list[object] = [
            {"option": i.option, "title": i.title, "ticked_by": i.ticked_by,
             "ticked_at": i.ticked_at.isoformat() if i.ticked_at else None}
            for i in self.items
        ]  # fmt: skip
        payload: Payload = {"order_id": self.order_id, "external_id": self.external_id, "items": items}
        if self.escalated:
            payload["escalated"] = True
        if self.reminded:
            payload["reminded"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> CustomsChecklist:
        raw = payload.get("items")
        if not isinstance(raw, list):
            raise PayloadError(f"items is not a list: {raw!r}")
        items = tuple(
            ChecklistItem(
                _str(item, "option"),
                _str(item, "title"),
                _str(item, "ticked_by") or None,
                datetime.fromisoformat(_str(item, "ticked_at")) if item.get("ticked_at") else None,
            )
            for item in raw
            if isinstance(item, Mapping)
        )
        return cls(
            _int(payload, "order_id"), _str(payload, "external_id"), items, bool(payload.get("escalated")),
            bool(payload.get("reminded")),
        )  # fmt: skip


@dataclass(frozen=True)
class CustomsPayment:
    """The planned payment to customs (FTS) from an order's customs earmark: the managers are reminded to make it."""

    order_id: int
    external_id: str
    payee: str
    amount_rub: Decimal
    due_at: datetime
    escalated: bool = False  # it fell due unpaid: the owner's
    reminded: bool = False

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "payee": self.payee,
            "amount_rub": str(self.amount_rub), "due_at": self.due_at.isoformat(),
        }  # fmt: skip
        if self.escalated:
            payload["escalated"] = True
        if self.reminded:
            payload["reminded"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> CustomsPayment:
        return cls(
            _int(payload, "order_id"), _str(payload, "external_id"), _str(payload, "payee"),
            _decimal(payload, "amount_rub"), datetime.fromisoformat(_str(payload, "due_at")),
            bool(payload.get("escalated")), bool(payload.get("reminded")),
        )  # fmt: skip


@dataclass(frozen=True)
class PurchaseNotStarted:
    """The client's money on an order cleared and no goods were bought within the watch's time."""

    order_id: int
    external_id: str
    credited_rub: Decimal  # the client's money on the account
    cleared_at: datetime  # since when (the first payment credited)
    escalated: bool = False  # the managers did not answer in time: the owner is asked

    def to_payload(self) -> Payload:
        payload: Payload = {
            "order_id": self.order_id, "external_id": self.external_id, "credited_rub": str(self.credited_rub),
            "cleared_at": self.cleared_at.isoformat(),
        }  # fmt: skip
        if self.escalated:
            payload["escalated"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> PurchaseNotStarted:
        try:
            cleared_at = datetime.fromisoformat(_str(payload, "cleared_at"))
        except ValueError as error:
            raise PayloadError(f"a purchase question with a bad time: {error}") from None
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            credited_rub=_decimal(payload, "credited_rub"), cleared_at=cleared_at,
            escalated=bool(payload.get("escalated")),
        )  # fmt: skip


@dataclass(frozen=True)
class RefundShortfall:
    """A refunded client payment the account could not take back in full: ``shortfall_rub`` had been paid out."""

    order_id: int
    external_id: str
    payment_id: str
    refunded_rub: Decimal  # what the client got back
    taken_rub: Decimal  # what came out of unallocated money and undrawn earmarks
    shortfall_rub: Decimal  # the rest: already drawn for a supplier or a carrier

    def to_payload(self) -> Payload:
        return {
            "order_id": self.order_id, "external_id": self.external_id, "payment_id": self.payment_id,
            "refunded_rub": str(self.refunded_rub), "taken_rub": str(self.taken_rub),
            "shortfall_rub": str(self.shortfall_rub),
        }  # fmt: skip

    @classmethod
    def from_payload(cls, payload: Mapping[str, object]) -> RefundShortfall:
        return cls(
            order_id=_int(payload, "order_id"), external_id=_str(payload, "external_id"),
            payment_id=_str(payload, "payment_id"), refunded_rub=_decimal(payload, "refunded_rub"),
            taken_rub=_decimal(payload, "taken_rub"), shortfall_rub=_decimal(payload, "shortfall_rub"),
        )  # fmt: skip
