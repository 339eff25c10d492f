"""Clients' money over HTTP: an order's money plan and account, its payments out, its customs plan, the obligations
calendar and the owner's liquidity view (workflows/client_money.py, workflows/customs.py, workflows/liquidity.py;
docs/client_money.md)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from typing_extensions import TypedDict

from app.http.bodies import AwareInstant, Code, GatewayId
from app.http.customs_view import customs_view
from app.http.errors import ApiError
from app.http.requests import order_id as path_order_id
from app.http.requests import read_body
from workflows.client_money import AccountView, ClientMoney, PayoutOutcome
from workflows.estimates import Consignment
from workflows.liquidity import LONGEST, Liquidity, LiquidityView, PlannedPayment, WeekOfPayments
from workflows.money_model import (
    ClearanceMode,
    DeliveryMode,
    MoneyAccount,
    MoneyConflict,
    MoneyNotPlanned,
    NoRate,
    Payout,
    PayoutNotFound,
    PayoutRequest,
    Purpose,
    RouteBelowDrawn,
    TransportMode,
    UnknownObligation,
)
from workflows.route_change import RouteOutcome, RouteRequest

Amount = Annotated[Decimal, Field(ge=0, le=10**12, max_digits=18, decimal_places=4)]


class MoneyPlanBody(BaseModel):
    """What the estimate needs: the goods' cost in roubles, how they travel and clear, their size."""

    model_config = ConfigDict(extra="forbid")

    goods_rub: Amount
    transport: TransportMode
    clearance: ClearanceMode
    weight_kg: Amount = Decimal(0)
    volume_m3: Amount = Decimal(0)
    boxes: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = 0
    delivery: DeliveryMode = DeliveryMode.MARKETPLACE  # how the goods go on from the warehouse

    def consignment(self) -> Consignment:
        return Consignment(self.goods_rub, self.transport, self.clearance, self.weight_kg, self.volume_m3, self.boxes,
                           self.delivery)  # fmt: skip


class MoneyRouteBody(MoneyPlanBody):
    """The whole new route and figures after arrival; ``key`` makes a repeat change nothing."""

    key: GatewayId


class PayoutBody(BaseModel):
    """A payment out for the order, drawn from the earmark of ``purpose``; ``key`` makes a repeat change nothing."""

    model_config = ConfigDict(extra="forbid")

    key: GatewayId
    purpose: Purpose
    payee: Code
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # at most 10¹¹ at a rate of at most 10⁴ roubles: the rouble cost fits its column (16 whole digits)
    amount: Annotated[Decimal, Field(gt=0, le=10**11, max_digits=18, decimal_places=4)]
    due_at: AwareInstant
    rate: Annotated[Decimal, Field(gt=0, le=10**4, max_digits=18, decimal_places=6)] | None = None
    obligation_id: Annotated[StrictInt, Field(ge=1, le=2**63 - 1)] | None = None


class EarmarkView(TypedDict):
    purpose: str
    planned: str  # roubles, decimal strings
    reserved: str
    drawn: str
    available: str
    absorbed: str
    released: str  # of drawn, what materialised as the order's boxes moved


class PayoutView(TypedDict):
    key: str
    purpose: str
    payee: str
    currency: str
    amount: str
    rate: str
    amount_rub: str
    due_at: str
    state: str  # drawn | short | awaiting_topup | postponed | paid
    task_id: int | None  # the open shortfall question
    topup_payment_id: str | None  # the payment the client is asked for; its idempotency key is the same string
    absorbed_rub: str


class AccountBodyView(TypedDict):
    order_id: int
    transport: str | None
    clearance: str | None
    delivery: str | None
    credited: str
    unallocated: str
    earmarks: list[EarmarkView]
    payouts: list[PayoutView]


class EstimateChangeView(TypedDict):
    before: str  # the earmark's estimate, roubles
    after: str


class RouteOutcomeView(TypedDict):
    account: AccountBodyView
    duplicate: bool
    changed: dict[str, EstimateChangeView]  # by purpose: only the earmarks whose estimate moved
    given_back: dict[str, str]  # by purpose: surplus moved back to unallocated
    topups: dict[str, str]  # by purpose: the payment request made (its id is also its idempotency key)


class PayoutOutcomeView(TypedDict):
    payout: PayoutView
    duplicate: bool
    task_id: int | None


class PlannedPaymentView(TypedDict):
    source: str  # payout | obligation | customs_plan
    order_id: int
    reference: str
    payee: str
    purpose: str | None
    currency: str
    amount: str
    amount_rub: str | None
    due_at: str
    state: str
    covered: bool


class CalendarView(TypedDict):
    payments: list[PlannedPaymentView]


class WeekView(TypedDict):
    starts: str | None  # the Monday, in the shop's zone; null for the overdue bucket
    payments: int
    due_rub: str
    covered_rub: str
    waiting_rub: str
    planned_rub: str
    unpriced: int
    by_currency: dict[str, str]


class ReservesView(TypedDict):
    planned: str
    reserved: str
    drawn: str
    available: str
    absorbed: str
    unfunded: str
    unallocated: str


class LiquidityBodyView(TypedDict):
    as_of: str
    overdue: WeekView
    weeks: list[WeekView]
    reserves: ReservesView


def money_routes(money: ClientMoney, liquidity: Liquidity) -> list[web.RouteDef]:
    async def plan(request: web.Request) -> web.Response:
        body = await read_body(request, MoneyPlanBody)
        with _refusals():
            await money.plan(path_order_id(request), body.consignment())
        return web.json_response(account_view(await money.account_of(path_order_id(request))))

    async def route(request: web.Request) -> web.Response:
        body = await read_body(request, MoneyRouteBody)
        with _refusals():
            outcome = await money.routes.change(RouteRequest(body.key, path_order_id(request), body.consignment()))
        return web.json_response(route_view(outcome, await money.account_of(path_order_id(request))))

    async def account(request: web.Request) -> web.Response:
        return web.json_response(account_view(await money.account_of(path_order_id(request))))

    async def draw(request: web.Request) -> web.Response:
        b = await read_body(request, PayoutBody)
        asked = PayoutRequest(b.key, path_order_id(request), b.purpose, b.payee, b.currency, b.amount, b.due_at, b.rate,
                              b.obligation_id)  # fmt: skip
        with _refusals():
            outcome = await money.draw(asked)
        return web.json_response(outcome_view(outcome), status=200 if outcome.duplicate else 201)

    async def paid(request: web.Request) -> web.Response:
        with _refusals():
            payout = await money.mark_paid(path_order_id(request), _key(request))
        return web.json_response(payout_view(payout))

    async def calendar(request: web.Request) -> web.Response:
        payments = await liquidity.calendar(_weeks(request))
        return web.json_response(CalendarView(payments=[planned_view(p) for p in payments]))

    async def owner_view(request: web.Request) -> web.Response:
        return web.json_response(liquidity_view(await liquidity.view(_weeks(request))))

    async def customs(request: web.Request) -> web.Response:
        if money.customs is None:
            raise ApiError(404, "not_found", "customs plans are not kept by this server")
        return web.json_response(customs_view(await money.customs.view(path_order_id(request))))

    return [
        web.post("/api/orders/{order_id}/money/plan", plan),
        web.post("/api/orders/{order_id}/money/route", route),
        web.get("/api/orders/{order_id}/money", account),
        web.post("/api/orders/{order_id}/payouts", draw),
        web.post("/api/orders/{order_id}/payouts/{key}/paid", paid),
        web.get("/api/money/obligations", calendar),
        web.get("/api/money/liquidity", owner_view),
        web.get("/api/orders/{order_id}/customs", customs),
    ]


@contextmanager
def _refusals() -> Iterator[None]:
    """The money desk's refusals as API errors: 409 for a conflict or a missing plan, 422 without a rate."""
    try:
        yield
    except (MoneyConflict, MoneyNotPlanned, RouteBelowDrawn) as error:
        raise ApiError(409, error.code, error.message) from error
    except (NoRate, UnknownObligation) as error:
        raise ApiError(422, error.code, error.message) from error
    except PayoutNotFound as error:
        raise ApiError(404, error.code, error.message) from error


def _key(request: web.Request, name: str = "key") -> str:
    """A payout's key from the path: what ``POST …/payouts`` would have taken as one, else no such payout."""
    raw = request.match_info[name]
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (kept as surrogates by aiohttp)
        raise ApiError(404, "payout_not_found", "no such payout: its key is not text") from None
    if not 1 <= len(raw) <= 128 or any(unicodedata.category(c) == "Cc" for c in raw) or raw != raw.strip():
        raise ApiError(404, "payout_not_found", "no such payout: a key is 1 to 128 printable characters")
    return raw


def _weeks(request: web.Request) -> int:
    raw = request.query.get("weeks", "8")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LONGEST:
        raise ApiError(400, "invalid_weeks", f"weeks must be a whole number from 1 to {LONGEST}")
    return int(raw)


def account_view(view: AccountView) -> AccountBodyView:
    a: MoneyAccount = view.account
    return AccountBodyView(
        order_id=a.order_id, transport=a.transport.value if a.transport else None,
        clearance=a.clearance.value if a.clearance else None,
        delivery=(a.delivery or DeliveryMode.MARKETPLACE).value if a.planned else None, credited=str(a.credited),
        unallocated=str(a.unallocated),
        earmarks=[
            EarmarkView(purpose=e.purpose.value, planned=str(e.planned), reserved=str(e.reserved),
                        drawn=str(e.drawn), available=str(e.available), absorbed=str(e.absorbed),
                        released=str(e.released))
            for e in a.earmarks
        ],
        payouts=[payout_view(p) for p in view.payouts],
    )  # fmt: skip


def route_view(outcome: RouteOutcome, view: AccountView) -> RouteOutcomeView:
    return RouteOutcomeView(
        account=account_view(view), duplicate=outcome.duplicate,
        changed={p.value: EstimateChangeView(before=str(b), after=str(a)) for p, (b, a) in outcome.changed.items()},
        given_back={p.value: str(x) for p, x in outcome.given_back.items()},
        topups={p.value: payment_id for p, payment_id in outcome.topups.items()},
    )  # fmt: skip


def payout_view(p: Payout) -> PayoutView:
    return PayoutView(
        key=p.key, purpose=p.purpose.value, payee=p.payee, currency=p.currency, amount=str(p.amount),
        rate=str(p.rate), amount_rub=str(p.amount_rub), due_at=p.due_at.isoformat(), state=p.state.value,
        task_id=p.task_id, topup_payment_id=p.topup_payment_id, absorbed_rub=str(p.absorbed_rub),
    )  # fmt: skip


def outcome_view(outcome: PayoutOutcome) -> PayoutOutcomeView:
    task = outcome.task_id if outcome.task_id is not None else outcome.payout.task_id
    return PayoutOutcomeView(payout=payout_view(outcome.payout), duplicate=outcome.duplicate, task_id=task)


def planned_view(p: PlannedPayment) -> PlannedPaymentView:
    return PlannedPaymentView(
        source=p.source, order_id=p.order_id, reference=p.reference, payee=p.payee, purpose=p.purpose,
        currency=p.currency, amount=str(p.amount), amount_rub=None if p.amount_rub is None else str(p.amount_rub),
        due_at=p.due_at.isoformat(), state=p.state, covered=p.covered,
    )  # fmt: skip


def week_view(w: WeekOfPayments) -> WeekView:
    return WeekView(
        starts=w.starts.isoformat() if w.starts else None, payments=w.payments, due_rub=str(w.due_rub),
        covered_rub=str(w.covered_rub), waiting_rub=str(w.waiting_rub), planned_rub=str(w.planned_rub),
        unpriced=w.unpriced, by_currency={c: str(v) for c, v in sorted(w.by_currency.items())},
    )  # fmt: skip


def liquidity_view(view: LiquidityView) -> LiquidityBodyView:
    r = view.reserves
    reserves = ReservesView(
        planned=str(r.planned), reserved=str(r.reserved), drawn=str(r.drawn), available=str(r.available),
        absorbed=str(r.absorbed), unfunded=str(r.unfunded), unallocated=str(r.unallocated),
    )  # fmt: skip
    return LiquidityBodyView(as_of=view.as_of.isoformat(), overdue=week_view(view.overdue),
                             weeks=[week_view(w) for w in view.weeks], reserves=reserves)  # fmt: skip
