"""A purchase's boxes over HTTP: registering them, scanning them on, and the order's boxes with the status the client
sees (workflows/boxes.py; docs/client_money.md, "Boxes and scans")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from typing_extensions import TypedDict

from app.http.bodies import AwareInstant, Code, GatewayId
from app.http.errors import ApiError
from app.http.money_routes import _key as path_payout_key
from app.http.requests import order_id as path_order_id
from app.http.requests import read_body
from workflows.box_model import (
    MOST_BOXES,
    BadBarcode,
    Box,
    BoxesConflict,
    BoxLine,
    BoxNotFound,
    BoxScan,
    BoxStatus,
    InvalidBoxes,
    InvalidScanTime,
    NotAPurchase,
    PurchaseNotDrawn,
    ScanBackwards,
    ScanConflict,
    UndoConflict,
    UndoNotBack,
)
from workflows.boxes import BoxDesk, OrderBoxes, Registration, ScanOutcome, UndoOutcome
from workflows.money_model import PayoutNotFound


class BoxLineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Code
    qty: Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class BoxBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contents: Annotated[list[BoxLineBody], Field(min_length=1, max_length=100)]


class BoxesBody(BaseModel):
    """The boxes of a purchase, in the order they are numbered; ``key`` makes a repeat change nothing."""

    model_config = ConfigDict(extra="forbid")

    key: GatewayId
    boxes: Annotated[list[BoxBody], Field(min_length=1, max_length=MOST_BOXES)]


class ScanBody(BaseModel):
    """A box scanned: to ``status``, or its next status when left out; ``at`` when the scan was made (now)."""

    model_config = ConfigDict(extra="forbid")

    barcode: Annotated[str, Field(min_length=1, max_length=64)]
    status: BoxStatus | None = None
    key: GatewayId | None = None
    at: AwareInstant | None = None


class UndoBody(BaseModel):
    """A manager's correction of a wrong scan forward: the box goes back to ``status``, an earlier one; ``reason``
    and ``by`` (who; the office's API token when left out) go into the order's history."""

    model_config = ConfigDict(extra="forbid")

    barcode: Annotated[str, Field(min_length=1, max_length=64)]
    status: BoxStatus
    key: GatewayId
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    by: Annotated[str, Field(min_length=1, max_length=128)] | None = None


class BoxLineView(TypedDict):
    sku: str
    qty: int


class ScanView(TypedDict):
    status: str
    at: str
    skipped: bool  # passed on the way to a status further on
    released: dict[str, str]  # purpose -> roubles released as materialised
    stock: str | None  # received | written_off, at the Moscow warehouse
    round: int  # how many times the box's reaching this status was undone before
    undone_at: str | None  # a manager's correction took it back (kept for the history)


class BoxView(TypedDict):
    barcode: str
    purchase_id: int  # the goods payout's id
    number: int
    boxes: int  # of its purchase
    contents: list[BoxLineView]
    value_rub: str
    status: str
    status_at: str


class RegistrationView(TypedDict):
    duplicate: bool
    boxes: list[BoxView]


class ScanOutcomeView(TypedDict):
    duplicate: bool
    order: str
    box: BoxView
    scan: ScanView  # of the box's status now (a duplicate: as recorded before)
    steps: list[ScanView]  # the statuses reached now, in order; empty for a duplicate
    released: dict[str, str]


class UndoOutcomeView(TypedDict):
    duplicate: bool
    order: str
    box: BoxView
    undone: list[ScanView]  # the scans taken back, the last status first
    released: dict[str, str]  # purpose -> roubles taken back (negative)


class BoxWithScansView(BoxView):
    scans: list[ScanView]


class OrderBoxesView(TypedDict):
    order_id: int
    client_status: str | None  # paid | at_moscow_warehouse | on_the_way_to_marketplace | accepted_at_fulfilment
    least_status: str | None  # the least advanced box's
    counts: dict[str, int]  # boxes per status
    boxes: list[BoxWithScansView]


def box_routes(desk: BoxDesk) -> list[web.RouteDef]:
    async def register(request: web.Request) -> web.Response:
        body = await read_body(request, BoxesBody)
        boxes = [[BoxLine(line.sku, line.qty) for line in box.contents] for box in body.boxes]
        with _refusals():
            done = await desk.register(path_order_id(request), path_payout_key(request, "payout_key"), body.key, boxes)
        return web.json_response(registration_view(done), status=200 if done.duplicate else 201)

    async def scan(request: web.Request) -> web.Response:
        body = await read_body(request, ScanBody)
        with _refusals():
            outcome = await desk.scan(body.barcode, body.status, body.key, body.at)
        return web.json_response(scan_outcome_view(outcome), status=200 if outcome.duplicate else 201)

    async def undo(request: web.Request) -> web.Response:
        body = await read_body(request, UndoBody)
        with _refusals():
            outcome = await desk.undo(body.barcode, body.status, body.key, body.reason.strip(), body.by or "API")
        return web.json_response(undo_outcome_view(outcome), status=200 if outcome.duplicate else 201)

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(order_boxes_view(await desk.of_order(path_order_id(request))))

    return [
        web.post("/api/orders/{order_id}/purchases/{payout_key}/boxes", register),
        web.get("/api/orders/{order_id}/boxes", listing),
        web.post("/api/scans", scan),
        web.post("/api/scans/undo", undo),
    ]


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (BoxNotFound, PayoutNotFound) as error:
        raise ApiError(404, error.code, error.message) from error
    except (BoxesConflict, ScanBackwards, ScanConflict, PurchaseNotDrawn, UndoNotBack, UndoConflict) as error:
        raise ApiError(409, error.code, error.message) from error
    except (BadBarcode, InvalidBoxes, InvalidScanTime, NotAPurchase) as error:
        raise ApiError(422, error.code, error.message) from error


def box_view(box: Box) -> BoxView:
    return BoxView(
        barcode=box.barcode, purchase_id=box.payout_id, number=box.number, boxes=box.boxes,
        contents=[BoxLineView(sku=line.sku, qty=line.qty) for line in box.contents], value_rub=str(box.value_rub),
        status=box.status.value, status_at=box.status_at.isoformat(),
    )  # fmt: skip


def scan_view(scan: BoxScan) -> ScanView:
    return ScanView(status=scan.status.value, at=scan.at.isoformat(), skipped=scan.skipped,
                    released={p: str(v) for p, v in scan.released.items()}, stock=scan.stock, round=scan.round,
                    undone_at=None if scan.undone_at is None else scan.undone_at.isoformat())  # fmt: skip


def registration_view(done: Registration) -> RegistrationView:
    return RegistrationView(duplicate=done.duplicate, boxes=[box_view(box) for box in done.boxes])


def scan_outcome_view(outcome: ScanOutcome) -> ScanOutcomeView:
    return ScanOutcomeView(
        duplicate=outcome.duplicate, order=outcome.order, box=box_view(outcome.box), scan=scan_view(outcome.scan),
        steps=[scan_view(s) for s in outcome.steps], released={p: str(v) for p, v in outcome.released.items()},
    )  # fmt: skip


def undo_outcome_view(outcome: UndoOutcome) -> UndoOutcomeView:
    return UndoOutcomeView(
        duplicate=outcome.duplicate, order=outcome.order, box=box_view(outcome.box),
        undone=[scan_view(s) for s in outcome.undone], released={p: str(v) for p, v in outcome.released.items()},
    )  # fmt: skip


def order_boxes_view(found: OrderBoxes) -> OrderBoxesView:
    least, client = found.least, found.client_status
    return OrderBoxesView(
        order_id=found.order_id, client_status=None if client is None else client.value,
        least_status=None if least is None else least.value,
        counts={status.value: n for status, n in found.counts.items()},
        boxes=[BoxWithScansView(**box_view(box), scans=[scan_view(s) for s in scans]) for box, scans in found.boxes],
    )  # fmt: skip
