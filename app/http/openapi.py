"""The API described for developers: ``GET /api/openapi.json`` (OpenAPI 3.1) and ``GET /api/docs`` (the same,
as one self-contained HTML page).

The schemas are not written by hand: request bodies are the pydantic models that validate them
(``app/http/bodies.py``) and answers are the types the views build (``app/http/views.py``), both turned into
JSON Schema 2020-12 by pydantic. Only what each route is for, and which statuses it answers, is written
here. The document lists the routes this app actually mounts, so an optional one (a chat webhook, 1C's
exchange) appears only where it is switched on; a test fails for a mounted route missing from
:data:`OPERATIONS`.

Neither needs the token: they say what the README says, hold no secret and no data, and a developer needs
them before having a token.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from app.http import views
from app.http.bodies import (
    CancelBody,
    DeductionBody,
    OrderBody,
    PaymentEventBody,
    PriceMessage,
    StockMessage,
    YooKassaNoticeBody,
)
from app.http.box_routes import (
    BoxesBody,
    OrderBoxesView,
    RegistrationView,
    ScanBody,
    ScanOutcomeView,
    UndoBody,
    UndoOutcomeView,
)
from app.http.client_page import ClientLinkView, ClientOrderView
from app.http.customs_view import CustomsBodyView
from app.http.dashboard_views import DashboardView
from app.http.money_routes import (
    AccountBodyView,
    CalendarView,
    LiquidityBodyView,
    MoneyPlanBody,
    MoneyRouteBody,
    PayoutBody,
    PayoutOutcomeView,
    PayoutView,
    RouteOutcomeView,
)
from app.http.order_listing import OrderListView
from app.http.report_page import ReportPageView

SPEC_PATH, DOCS_PATH = "/api/openapi.json", "/api/docs"
PUBLIC_PATHS = frozenset({SPEC_PATH, DOCS_PATH})  # served without the bearer token
REF = "#/components/schemas/{model}"
Auth = Literal["bearer", "payment", "none", "own"]
Answer = tuple[str, Any]  # what it means, and the type of its JSON body (None: no JSON, see ``media``)

ERROR = views.ErrorView
COMMON_API: dict[int, Answer] = {
    401: ("No token, or a wrong one (`Authorization: Bearer <API_TOKEN>`).", ERROR),
    429: ("Too many wrong tokens from this address; `Retry-After` says when to try again.", ERROR),
    503: (
        "The database cannot be reached (`database_unavailable`, with `Retry-After`), or `API_TOKEN` is not "
        "configured on this server (`api_disabled`).",
        ERROR,
    ),
}
WITH_BODY: dict[int, Answer] = {
    400: ("The body is not JSON (`malformed_json`).", ERROR),
    413: ("The body is larger than `HTTP_MAX_BODY_BYTES` (`body_too_large`).", ERROR),
    422: (
        "The body does not match the schema (`invalid_request`, one detail per field) or the business "
        "refused it; `error` says which.",
        ERROR,
    ),
}


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: Mapping[int, Answer]
    body: type[BaseModel] | None = None
    body_required: bool = True
    auth: Auth = "bearer"
    media: str = "application/json"  # of the successful answer
    parameters: tuple[dict[str, Any], ...] = ()
    description: str = ""
    tag: str = "API"


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


ORDER_ID = _path("order_id", {"type": "integer", "minimum": 1}, "The order's id, as `POST /api/orders` answered.")
DAY = _query("date", {"type": "string", "format": "date"}, "A shop-local day, YYYY-MM-DD; yesterday when left out.")
SIGNATURE_HEADERS = (
    {
        "name": "X-Signature",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^sha256="},
        "description": "Instead of the bearer token, when `PAYMENTS_HMAC_SECRET` is set: `sha256=` and the hex "
        "HMAC-SHA256 of `<X-Signature-Timestamp>.` followed by the body, with that secret.",
    },
    {
        "name": "X-Signature-Timestamp",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "description": "Unix seconds of the signature; at most 300 s away from the service's clock.",
    },
)

SIGNED_LINK = (
    _query("exp", {"type": "string", "pattern": "^[0-9]{1,12}$"}, "The link's expiry, unix seconds."),
    _query("sig", {"type": "string", "pattern": "^[0-9a-f]{64}$"},
           "Hex HMAC-SHA256 of `client-order:<order_id>:<exp>` with CLIENT_LINK_SECRET."),
    _query("lang", {"enum": ["ru", "en"]}, "The language (the service's LOCALE by default)."),
)  # fmt: skip

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/1c/stock"): Operation(
        "1C's stock figures, applied in one transaction",
        {200: ("Applied.", views.StockResultView)},
        StockMessage,
        tag="1C",
    ),
    ("POST", "/api/1c/prices"): Operation(
        "1C's prices per price type, to every channel that sells at that type; big drops held for the managers",
        {200: ("Applied: queued, held for a decision, or unchanged.", views.PriceResultView)},
        PriceMessage,
        tag="1C",
    ),
    ("POST", "/api/1c/deductions"): Operation(
        "1C wrote off an order's goods: its reservations end",
        {200: ("Recorded.", views.DeductionView), 404: ("No such order.", ERROR)},
        DeductionBody,
        tag="1C",
    ),
    ("POST", "/api/orders"): Operation(
        "Place an order (idempotent on channel and external_id)",
        {
            201: ("Placed.", views.OrderView),
            200: ("Already placed: the order as it is.", views.OrderView),
            409: ("The same channel and external_id with other lines.", ERROR),
            403: ("The client is blocked.", ERROR),
        },
        OrderBody,
        tag="Orders",
    ),
    ("GET", "/api/orders"): Operation(
        "Find orders: by any number they are known by or the client's phone, channel, status, creation time",
        {200: ("A page, newest first.", OrderListView), 400: ("A parameter is wrong; the error names it.", ERROR)},
        parameters=(
            _query(
                "q",
                {"type": "string", "maxLength": 100},
                "Our order id, a channel's order number (any case) or the client's phone (their newest 100 orders).",
            ),
            _query("channel", {"type": "string"}, "One of the shop's channels."),
            _query(
                "status",
                {
                    "enum": [
                        "reserved",
                        "awaiting_store_confirmation",
                        "partially_reserved",
                        "out_of_stock",
                        "cancelled",
                    ]
                },
                "The order's status.",
            ),
            _query("since", {"type": "string"}, "Created at or after (ISO 8601; without an offset, in 1C's zone)."),
            _query("until", {"type": "string"}, "Created before (ISO 8601; without an offset, in 1C's zone)."),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Orders per page (20 by default)."),
            _query("cursor", {"type": "string"}, "The previous page's `next_cursor`, as it came."),
        ),
        tag="Orders",
        description="Newest first (by id). Paging is by keyset: an order placed meanwhile never shifts or repeats "
        "what the next page shows. Each order says why it waits and what happens next (`waiting`, in `LOCALE`).",
    ),
    ("GET", "/api/orders/{order_id}"): Operation(
        "An order with its history, money and shipment",
        {200: ("The order.", views.OrderDetailView), 404: ("No such order.", ERROR)},
        parameters=(ORDER_ID,),
        tag="Orders",
    ),
    ("POST", "/api/orders/{order_id}/cancel"): Operation(
        "Cancel an order; its reservations are released",
        {
            200: ("Cancelled.", views.OrderRecordView),
            404: ("No such order.", ERROR),
            409: ("The order can no longer be cancelled.", ERROR),
        },
        CancelBody,
        body_required=False,
        parameters=(ORDER_ID,),
        tag="Orders",
    ),
    ("GET", "/api/stock/{sku}"): Operation(
        "What can be sold of an article, by warehouse and by channel",
        {200: ("The stock.", views.AvailabilityView), 400: ("Not an article.", ERROR)},
        parameters=(_path("sku", {"type": "string", "minLength": 1}, "The article, URL-encoded; it may hold `/`."),),
        tag="Stock",
    ),
    ("GET", "/api/offer-ids/conflicts"): Operation(
        "Offer ids two articles claim on one channel", {200: ("The conflicts.", views.ConflictsView)}, tag="Stock"
    ),
    ("GET", "/api/stats/stores"): Operation(
        "How each store answered confirmations",
        {200: ("Per store.", views.StoreStatsView), 400: ("`since` is not an ISO 8601 time.", ERROR)},
        parameters=(
            _query("since", {"type": "string"}, "ISO 8601; without an offset, in 1C's zone; 7 days ago when left out."),
        ),
        tag="Stores",
    ),
    ("POST", "/api/payments/yookassa"): Operation(
        "YooKassa's HTTP notification of a payment or a refund, confirmed at YooKassa",
        {
            200: (
                "Taken: recorded as YooKassa's own read says, or deliberately left (see `applied`).",
                views.GatewayNoticeView,
            ),
            400: ("Not a YooKassa notification; nothing changed.", ERROR),
            403: ("Not from an address in `PAYMENT_GATEWAY_NOTICE_IPS`.", ERROR),
            503: ("YooKassa (or the database) could not be asked now; nothing recorded, send it again.", ERROR),
        },
        YooKassaNoticeBody,
        auth="none",
        tag="Payments",
        description="No token: nothing in the body is believed but the id it names; the payment (or the refund) "
        "is read at YooKassa with the shop's credentials and that read is what is recorded (docs/payments.md). "
        "Mounted when YooKassa is set up.",
    ),
    ("POST", "/api/payments/events"): Operation(
        "A payment gateway's event",
        {
            202: ("Recorded.", views.PaymentOutcomeView),
            200: ("A repeat of an event already recorded.", views.PaymentOutcomeView),
            404: ("No such order.", ERROR),
            409: ("Conflicts with the payment.", ERROR),
        },
        PaymentEventBody,
        auth="payment",
        parameters=SIGNATURE_HEADERS,
        tag="Payments",
        description="Unknown extra fields are kept with the event. Authenticated by the bearer token or, when "
        "the server has `PAYMENTS_HMAC_SECRET`, by the signature headers (README, 'Payment events').",
    ),
    ("POST", "/api/orders/{order_id}/money/plan"): Operation(
        "Plan the order's money: earmarks from the estimate (docs/client_money.md)",
        {
            200: ("Planned (or the same plan again: unchanged); the account.", AccountBodyView),
            404: ("No such order.", ERROR),
            409: ("Planned already with other figures.", ERROR),
        },
        MoneyPlanBody,
        parameters=(ORDER_ID,),
        tag="Money",
    ),
    ("POST", "/api/orders/{order_id}/money/route"): Operation(
        "Change the order's route after arrival: the changed earmarks are estimated again (docs/client_money.md)",
        {
            200: (
                "Changed (or a repeat of the same key: `duplicate`, unchanged); what moved, and the account.",
                RouteOutcomeView,
            ),
            404: ("No such order.", ERROR),
            409: (
                "No money plan yet; the key was used with other figures; or (`route_below_drawn`) an earmark "
                "would be planned below what was drawn from it — nothing changed.",
                ERROR,
            ),
        },
        MoneyRouteBody,
        parameters=(ORDER_ID,),
        tag="Money",
        description="Idempotent on `key`. A decrease moves the surplus back to `unallocated` (never below what is "
        "drawn); an increase is filled from `unallocated` first, the rest asked of the client as a top-up payment "
        "linked to the order (`topups`).",
    ),
    ("GET", "/api/orders/{order_id}/money"): Operation(
        "The order's virtual account: credited, earmarks, payouts",
        {200: ("The account.", AccountBodyView), 404: ("No such order.", ERROR)},
        parameters=(ORDER_ID,),
        tag="Money",
    ),
    ("POST", "/api/orders/{order_id}/payouts"): Operation(
        "A payment out, drawn from one earmark; a shortfall asks the managers instead",
        {
            201: ("Taken: `drawn`, or `short` with the managers' task.", PayoutOutcomeView),
            200: ("A repeat of the same key: what became of it.", PayoutOutcomeView),
            404: ("No such order.", ERROR),
            409: ("The key was used with other figures, or the order has no money plan.", ERROR),
            422: ("A foreign currency with no rate given or held, or an obligation the order lacks.", ERROR),
        },
        PayoutBody,
        parameters=(ORDER_ID,),
        tag="Money",
        description="Idempotent on `key`. Without `rate` the newest CBR rate held is used.",
    ),
    ("POST", "/api/orders/{order_id}/payouts/{key}/paid"): Operation(
        "The bank paid a drawn payout out: it leaves the obligations calendar",
        {
            200: ("Paid (a repeat changes nothing).", PayoutView),
            404: ("No such payout.", ERROR),
            409: ("The payout is not drawn.", ERROR),
        },
        parameters=(ORDER_ID, _path("key", {"type": "string"}, "The payout's key.")),
        tag="Money",
    ),
    ("POST", "/api/orders/{order_id}/purchases/{payout_key}/boxes"): Operation(
        "Register a purchase's boxes and their contents; each gets a barcode (docs/client_money.md, boxes)",
        {
            201: ("Registered: every box `purchased`, the goods earmark released its share.", RegistrationView),
            200: ("A repeat of the same key and boxes: what was registered.", RegistrationView),
            404: ("No such order, or it has no payout of that key.", ERROR),
            409: ("Registered already otherwise, the key used for another purchase, or the purchase not drawn.", ERROR),
            422: ("Bad figures, or the payout is not a purchase (its purpose is not `goods`).", ERROR),
        },
        BoxesBody,
        parameters=(ORDER_ID, _path("payout_key", {"type": "string"}, "The purchase's payout key.")),
        tag="Money",
        description="Idempotent on `key`. A barcode is `BX-<purchase id, 8 digits>-<box, 4 digits>-<check digit>`.",
    ),
    ("GET", "/api/orders/{order_id}/boxes"): Operation(
        "The order's boxes with their statuses and times, and the status the client sees",
        {200: ("The boxes.", OrderBoxesView), 404: ("No such order.", ERROR)},
        parameters=(ORDER_ID,),
        tag="Money",
    ),
    ("POST", "/api/scans"): Operation(
        "A box scanned: it moves on to `status` (its next when left out), moving stock and releasing money",
        {
            201: ("Moved on; `steps` are the statuses it reached, those passed on the way first.", ScanOutcomeView),
            200: (
                "A repeat (the box is there already, or the same key): what it was; nothing changed.",
                ScanOutcomeView,
            ),
            404: ("No box of that barcode.", ERROR),
            409: ("The box is further on already (`scan_backwards`), or the key was used otherwise.", ERROR),
            422: ("Not a box barcode or a wrong check digit (`bad_barcode`), or a time in the future.", ERROR),
        },
        ScanBody,
        tag="Money",
        description="Idempotent on `key`, and on the box and status.",
    ),
    ("POST", "/api/scans/undo"): Operation(
        "A manager's correction of a wrong scan forward: the box goes back to `status`, each status undone taking "
        "back the stock it moved and the money it released",
        {
            201: ("Taken back; `undone` are the scans undone (kept, marked), the last status first.", UndoOutcomeView),
            200: ("A repeat of the same key: what it undid; nothing changed.", UndoOutcomeView),
            404: ("No box of that barcode.", ERROR),
            409: ("The status is not before the box's (`undo_not_back`), or the key was used otherwise.", ERROR),
            422: ("Not a box barcode or a wrong check digit (`bad_barcode`).", ERROR),
        },
        UndoBody,
        tag="Money",
        description="Idempotent on `key`. `reason` and `by` go into the order's history.",
    ),
    ("GET", "/api/money/obligations"): Operation(
        "The obligations calendar: every planned payment out with its due date and currency",
        {200: ("By due date.", CalendarView), 400: ("`weeks` is wrong.", ERROR)},
        parameters=(_query("weeks", {"type": "integer", "minimum": 1, "maximum": 26}, "Weeks ahead (8)."),),
        tag="Money",
    ),
    ("GET", "/api/money/liquidity"): Operation(
        "The owner's liquidity view: obligations against reserves by week",
        {200: ("By week, with the overdue and the reserves.", LiquidityBodyView), 400: ("`weeks` is wrong.", ERROR)},
        parameters=(_query("weeks", {"type": "integer", "minimum": 1, "maximum": 26}, "Weeks ahead (8)."),),
        tag="Money",
    ),
    ("GET", "/api/orders/{order_id}/customs"): Operation(
        "The order's customs plan: the document checklist and the planned FTS payment (full clearance)",
        {
            200: ("The plan; `plan` is null until the goods money is in on full clearance.", CustomsBodyView),
            404: ("No such order.", ERROR),
        },
        parameters=(ORDER_ID,),
        tag="Money",
        description="Made once when the client's goods payment fills the goods earmark (docs/client_money.md, "
        "'Customs plans'). The FTS payment is `covered` once a payout with purpose `customs` is made.",
    ),
    ("GET", "/api/orders/{order_id}/client-link"): Operation(
        "A signed link to the order's page for the client (docs/client_money.md, 'The client's page')",
        {
            200: ("The link; `url` is null without CLIENT_LINK_BASE_URL.", ClientLinkView),
            404: ("No such order.", ERROR),
            409: ("The client's page is off: CLIENT_LINK_SECRET is not set (`client_page_off`).", ERROR),
        },
        parameters=(ORDER_ID,),
        tag="Money",
    ),
    ("GET", "/api/client/orders/{order_id}"): Operation(
        "The client's view of one order, opened by its signed link (no token)",
        {
            200: ("The order's number, stage, payments and what the money is for.", ClientOrderView),
            403: (
                "No signature (`link_signature_missing`), a wrong one (`link_signature_invalid`) or an expired "
                "link (`link_expired`); nothing of the order is told.",
                ERROR,
            ),
            404: ("The link is genuine but the order is not there any more.", ERROR),
        },
        auth="own",
        parameters=(ORDER_ID, *SIGNED_LINK),
        tag="Client",
    ),
    ("GET", "/client/orders/{order_id}"): Operation(
        "The client's order page (HTML, for a phone), opened by its signed link",
        {
            200: ("HTML.", None),
            403: ("The link is not valid or has expired (an HTML page says so).", None),
            404: ("The order is not there any more (HTML).", None),
        },
        auth="own",
        media="text/html",
        parameters=(ORDER_ID, *SIGNED_LINK),
        tag="Client",
    ),
    ("GET", "/api/report/daily"): Operation(
        "The owner's daily report (README, 'Daily report')",
        {200: ("The report.", dict[str, Any]), 400: ("Not a day, or in the future.", ERROR)},
        parameters=(DAY,),
        tag="Dashboard",
    ),
    ("GET", "/api/report/daily.png"): Operation(
        "The daily report's chart",
        {200: ("A PNG.", None), 400: ("Not a day, or an unknown locale.", ERROR)},
        media="image/png",
        parameters=(DAY, _query("locale", {"enum": ["ru", "en"]}, "The chart's language.")),
        tag="Dashboard",
    ),
    ("GET", "/api/report/page"): Operation(
        "The daily report worded for the report page (LOCALE's language)",
        {200: ("The page's figures.", ReportPageView), 400: ("Not a day, or in the future.", ERROR)},
        parameters=(DAY,),
        tag="Dashboard",
    ),
    ("GET", "/report"): Operation(
        "The daily report page (it asks for the token)",
        {200: ("HTML.", None)},
        auth="none",
        media="text/html",
        parameters=(DAY,),
        tag="Operations",
    ),
    ("GET", "/api/dashboard"): Operation(
        "The operator dashboard's data", {200: ("The snapshot.", DashboardView)}, tag="Dashboard"
    ),
    ("GET", SPEC_PATH): Operation("This document", {200: ("OpenAPI 3.1.", dict[str, Any])}, auth="none", tag="Docs"),
    ("GET", DOCS_PATH): Operation(
        "This document as a page", {200: ("HTML.", None)}, auth="none", media="text/html", tag="Docs"
    ),
    ("GET", "/healthz"): Operation(
        "Whether the service and its database answer",
        {200: ("Healthy.", views.HealthView), 503: ("The database is down.", views.HealthView)},
        auth="none",
        tag="Operations",
    ),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics (counts and ages)",
        {200: ("Prometheus text.", None)},
        auth="none",
        media="text/plain",
        tag="Operations",
    ),
    ("GET", "/dashboard"): Operation(
        "The dashboard page (it asks for the token)",
        {200: ("HTML.", None)},
        auth="none",
        media="text/html",
        tag="Operations",
    ),
    ("GET", "/static/{filename}"): Operation(
        "The dashboard's files",
        {200: ("A file.", None), 404: ("No such file.", None)},
        auth="none",
        media="application/octet-stream",
        parameters=(_path("filename", {"type": "string"}, "A file name."),),
        tag="Operations",
    ),
    ("POST", "/slack/events"): Operation(
        "Slack's events and button clicks (signed by Slack)",
        {200: ("Taken.", None)},
        auth="own",
        media="*/*",
        tag="Chats",
    ),
    ("POST", "/telegram/webhook"): Operation(
        "Telegram's updates (with the webhook's secret token)",
        {200: ("Taken.", None)},
        auth="own",
        media="*/*",
        tag="Chats",
    ),
}
EXCHANGE = Operation(
    "1C's CommerceML exchange (its own Basic auth; README, '1C exchange')",
    {200: ("1C's text protocol.", None)},
    auth="own",
    media="text/plain",
    tag="1C",
    parameters=(
        _query("type", {"type": "string"}, "catalog or sale"),
        _query("mode", {"type": "string"}, "checkauth, init, file, import, query or success"),
    ),
)


def spec_path(route: web.AbstractRoute) -> str:
    """The OpenAPI path of a mounted route: its canonical path, a static folder as ``…/{filename}``."""
    resource = route.resource
    assert resource is not None
    if isinstance(resource, web.StaticResource):
        return resource.canonical + "/{filename}"
    return resource.canonical


def mounted(app: web.Application) -> list[tuple[str, str]]:
    """Each (method, OpenAPI path) the app serves, HEAD and catch-alls left out, in the router's order."""
    found = [(r.method, spec_path(r)) for r in app.router.routes() if r.method not in ("HEAD", "*")]
    return list(dict.fromkeys(found))


def operation_of(method: str, path: str, exchange_path: str | None) -> Operation | None:
    if path == exchange_path:
        return EXCHANGE
    return OPERATIONS.get((method, path))


def _answer_types(operations: Iterable[Operation]) -> list[Any]:
    found: dict[str, Any] = {}
    for operation in operations:
        for _, kind in operation.answers.values():
            if kind is not None:
                found.setdefault(repr(kind), kind)
    return list(found.values())


def component_schemas(operations: list[Operation]) -> tuple[dict[tuple[Any, JsonSchemaMode], Any], dict[str, Any]]:
    """Each body's and answer's schema (a ``$ref`` for a named one), and the named ones for ``components``."""
    inputs: list[tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = [
        (op.body, "validation", TypeAdapter(op.body)) for op in operations if op.body is not None
    ]
    outputs: list[tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = [
        (kind, "serialization", TypeAdapter(kind)) for kind in _answer_types(operations)
    ]
    unique = list({(repr(key), mode): (key, mode, adapter) for key, mode, adapter in inputs + outputs}.values())
    refs, definitions = TypeAdapter.json_schemas(unique, ref_template=REF)
    return refs, definitions.get("$defs", {})


def _responses(operation: Operation, refs: Mapping[tuple[Any, JsonSchemaMode], Any], path: str) -> dict[str, Any]:
    answers: dict[int, Answer] = dict(operation.answers)
    if path.startswith("/api/") and operation.auth != "none":
        answers = {**COMMON_API, **(WITH_BODY if operation.body else {}), **answers}
    responses: dict[str, Any] = {}
    for status, (meaning, kind) in sorted(answers.items()):
        answer: dict[str, Any] = {"description": meaning}
        if kind is not None:
            answer["content"] = {"application/json": {"schema": refs[(kind, "serialization")]}}
        elif status < 400:
            answer["content"] = {operation.media: {"schema": {"type": "string"}}}
        responses[str(status)] = answer
    if path.startswith("/api/"):
        error = {"application/json": {"schema": refs[(ERROR, "serialization")]}}
        responses["default"] = {"description": "Any other refusal, in the same error shape.", "content": error}
    return responses


def _operation(operation: Operation, refs: Mapping[tuple[Any, JsonSchemaMode], Any], path: str) -> dict[str, Any]:
    described: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": _responses(operation, refs, path),
    }
    if operation.description:
        described["description"] = operation.description
    if operation.parameters:
        described["parameters"] = list(operation.parameters)
    if operation.body is not None:
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": refs[(operation.body, "validation")]}},
        }
    if operation.auth == "payment":
        described["security"] = [{"bearer": []}, {"paymentSignature": []}]
    elif operation.auth != "bearer":
        described["security"] = []  # none of ours: public, or the caller's own scheme (see the summary)
    return described


def openapi_document(routes: Iterable[tuple[str, str]], exchange_path: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (method, path); a route with no :class:`Operation` is left out."""
    chosen = [(m, p, op) for m, p in routes if (op := operation_of(m, p, exchange_path)) is not None]
    refs, schemas = component_schemas([op for _, _, op in chosen] + [Operation("", {0: ("", ERROR)})])
    paths: dict[str, dict[str, Any]] = {}
    for method, path, operation in chosen:
        paths.setdefault(path, {})[method.lower()] = _operation(operation, refs, path)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "storeops HTTP API",
            "version": "1",
            "description": "Stock, orders and payments of the shop. Every error is "
            '`{"error", "message", "details"}`. Send `Authorization: Bearer <API_TOKEN>` '
            "to every `/api/` route but this description.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The server's API_TOKEN."},
                "paymentSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Signature",
                    "description": "HMAC-SHA256 with PAYMENTS_HMAC_SECRET; see the route.",
                },
            },
        },
    }


@dataclass
class Described:
    """The document of one app, built on first request (after every route is mounted)."""

    exchange_path: str | None
    cached: dict[str, bytes] = field(default_factory=dict)

    def spec(self, app: web.Application) -> bytes:
        if "json" not in self.cached:
            document = openapi_document(mounted(app), self.exchange_path)
            self.cached["json"] = json.dumps(document, ensure_ascii=False, indent=1).encode()
        return self.cached["json"]

    async def serve_spec(self, request: web.Request) -> web.Response:
        return web.Response(body=self.spec(request.app), content_type="application/json", charset="utf-8")

    async def serve_docs(self, request: web.Request) -> web.Response:
        if "html" not in self.cached:
            self.cached["html"] = render_page(json.loads(self.spec(request.app))).encode()
        return web.Response(
            body=self.cached["html"],
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )


def register(app: web.Application, *, exchange_path: str | None) -> None:
    """Serve the description on ``app``; ``exchange_path`` is where 1C's exchange is mounted, if it is."""
    described = Described(exchange_path)
    app.router.add_get(SPEC_PATH, described.serve_spec)
    app.router.add_get(DOCS_PATH, described.serve_docs)


STYLE = """body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}h3{margin-bottom:.3rem}code,pre{background:#f5f5f5}
pre{padding:.6rem;overflow-x:auto;font-size:13px}.m{font-weight:bold;text-transform:uppercase}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}"""


def render_page(document: dict[str, Any]) -> str:
    """The document as one readable page: every route, then every schema; nothing loaded from elsewhere."""
    e = html.escape
    info = document["info"]
    parts = [
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{e(info['title'])}</title>",
        f"<style>{STYLE}</style><h1>{e(info['title'])}</h1><p>{e(info['description'])}</p>",
        f"<p>The machine-readable description: <a href='{SPEC_PATH}'>{SPEC_PATH}</a> (OpenAPI 3.1).</p>",
        "<h2>Routes</h2>",
    ]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parts.append(_render_operation(path, method, operation))
    parts.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        parts.append(
            f"<h3 id='{e(name)}'>{e(name)}</h3><pre>{e(json.dumps(schema, ensure_ascii=False, indent=2))}</pre>"
        )
    return "\n".join(parts) + "</html>\n"


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    if ref:
        name = html.escape(ref.rsplit("/", 1)[-1])
        return f"<a href='#{name}'>{name}</a>"
    return html.escape(json.dumps(schema, ensure_ascii=False))


def _render_operation(path: str, method: str, operation: dict[str, Any]) -> str:
    e = html.escape
    auth = "no token" if operation.get("security") == [] else "bearer token"
    if len(operation.get("security", [])) > 1:
        auth = "bearer token or the signature headers"
    rows = [
        f"<h3><span class=m>{e(method)}</span> <code>{e(path)}</code></h3><p>{e(operation['summary'])} "
        f"<i>({auth})</i></p>"
    ]
    if "description" in operation:
        rows.append(f"<p>{e(operation['description'])}</p>")
    for parameter in operation.get("parameters", []):
        rows.append(f"<p><code>{e(parameter['name'])}</code> ({e(parameter['in'])}): {e(parameter['description'])}</p>")
    if "requestBody" in operation:
        schema = next(iter(operation["requestBody"]["content"].values()))["schema"]
        rows.append(f"<p>Body (JSON): {_schema_name(schema)}</p>")
    rows.append("<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>")
    for status, answer in operation["responses"].items():
        content = answer.get("content", {})
        body = ", ".join(f"{e(media)} {_schema_name(c['schema'])}" for media, c in content.items())
        rows.append(f"<tr><td>{e(status)}</td><td>{e(answer['description'])}</td><td>{body}</td></tr>")
    rows.append("</table>")
    return "".join(rows)
