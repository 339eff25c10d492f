"""The aiohttp application: routes of the JSON API and health, behind the bearer token."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import text

from app.bootstrap import Services
from app.client_address import forwarded_client, proxy_networks
from app.client_links import client_links
from app.http.bodies import CancelBody, DeductionBody, OrderBody, PaymentEventBody, PriceMessage, StockMessage
from app.http.box_routes import box_routes
from app.http.client_page import SIGNED_ROUTES, client_page_routes
from app.http.connections import request_deadlines
from app.http.dashboard import dashboard_routes
from app.http.errors import RETRY_AFTER_SECONDS, ApiError, Handler, error_response, json_errors
from app.http.gateway_notice_routes import YOOKASSA_PATH, gateway_notice_routes
from app.http.money_routes import money_routes
from app.http.onec_exchange import (
    ExchangeLimits,
    ExportedOrders,
    catalogue_on_import,
    intake_on_stock,
    status_on_documents,
)
from app.http.onec_exchange import register as register_onec_exchange
from app.http.openapi import PUBLIC_PATHS
from app.http.openapi import register as register_openapi
from app.http.order_listing import order_listing_routes
from app.http.report_routes import report_routes
from app.http.requests import order_id as path_order_id
from app.http.requests import read_body
from app.http.throttle import FailedLogins, ThrottleLimits
from app.http.views import (
    OrderDetailView,
    availability_view,
    conflict_view,
    money_view,
    order_view,
    payment_outcome_view,
    price_result_view,
    shipment_view,
    stock_result_view,
)
from bot.order_history import history_line
from bot.wording import Names
from storage.database import DatabaseUnavailable, lost_connection
from workflows.articles import MAX_SKU_LENGTH
from workflows.client_status import ClientStatus
from workflows.dashboard import Dashboard
from workflows.errors import WorkflowError
from workflows.liquidity import Liquidity
from workflows.model import Customer, Obligation
from workflows.office_model import Phase
from workflows.onec_intake import OneCLine, StockSource, onec_time
from workflows.onec_order_status import OneCOrderStatus
from workflows.onec_orders import OrderExport
from workflows.order_lookup import OrderLookup
from workflows.order_search import OrderSearch
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import Clock
from workflows.prices import OneCPrice
from workflows.store_stats import store_answer_stats

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
PAYMENTS_PATH = "/api/payments/events"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_TOLERANCE = timedelta(seconds=300)  # how far a signed timestamp may be from our clock, either way
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000


def _add_api_routes(app: web.Application) -> None:
    """The service's own routes: health, metrics and the JSON API."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/1c/stock", post_stock)
    app.router.add_post("/api/1c/prices", post_prices)
    app.router.add_post("/api/1c/deductions", post_deduction)
    app.router.add_post("/api/orders", post_order)
    app.router.add_get("/api/orders/{order_id}", get_order)
    app.router.add_post("/api/orders/{order_id}/cancel", cancel_order)
    app.router.add_get("/api/stock/{sku:.+}", get_stock)
    app.router.add_get("/api/offer-ids/conflicts", get_conflicts)
    app.router.add_get("/api/stats/stores", get_store_stats)


def _add_people_routes(app: web.Application, services: Services) -> None:
    """What people read: the owner's report, the dashboard, the order search, clients' money and the client's page."""
    shop, locale, timezone = services.shop, services.settings.business.locale, services.shop.topology.onec.timezone
    if shop.reports is not None:  # the owner's daily report, for the dashboard
        app.router.add_routes(report_routes(shop.reports, locale, shop.topology))
    dashboard = Dashboard(shop.uow, shop.clock, shop.topology)
    liquidity = Liquidity(shop.uow, shop.clock, timezone) if shop.money is not None else None
    app.router.add_routes(dashboard_routes(dashboard, shop.reports, locale, timezone, liquidity))
    search = OrderSearch(shop.uow, OrderLookup(shop.uow, shop.topology.channels, shop.payments), shop.payments)
    app.router.add_routes(order_listing_routes(search, shop.topology, locale))
    if shop.money is not None and liquidity is not None:  # clients' money per order, the owner's liquidity view
        app.router.add_routes(money_routes(shop.money, liquidity))
    if shop.boxes is not None:  # a purchase's boxes, their scans, and the status the client sees
        app.router.add_routes(box_routes(shop.boxes))
    links = client_links(services.settings.client_page, shop.clock)  # the client's signed page (None: off)
    app.router.add_routes(client_page_routes(ClientStatus(shop.uow), links, locale, timezone))


def create_app(services: Services) -> web.Application:
    http = services.settings.http
    limit = http.max_body_bytes
    limits = ThrottleLimits(http.auth_failure_limit, timedelta(seconds=http.auth_failure_window_s))
    api_logins = FailedLogins(services.shop.clock, "API token", limits)
    payments = None
    if http.payments_hmac_secret is not None:
        payments = PaymentSignature(http.payments_hmac_secret.get_secret_value().encode(), services.shop.clock,
                                    legacy=http.payments_signature_legacy)  # fmt: skip
        if http.payments_signature_legacy:
            log.warning("PAYMENTS_SIGNATURE_LEGACY is on: payment events signed without a timestamp are taken and "
                        "a captured one can be replayed; switch it off once the gateway sends one")  # fmt: skip
    app = web.Application(
        client_max_size=limit,
        middlewares=[
            forwarded_client(proxy_networks(http.trusted_proxies)),
            json_errors(limit),
            request_deadlines(services.settings.http.body_timeout_s),
            _bearer_auth(_secret(http.api_token), payments, api_logins),
        ],
    )
    app[SERVICES] = services
    shop = services.shop
    _add_api_routes(app)
    _add_people_routes(app, services)
    app.router.add_post(PAYMENTS_PATH, post_payment_event)
    if shop.gateway_notices is not None:  # YooKassa's own notices: confirmed there, so no token (and none sent)
        app.router.add_routes(gateway_notice_routes(shop.gateway_notices, services.settings.payment_gateway.notice_ips))
    slack_secret = services.settings.slack.signing_secret
    if services.chats.slack_app is not None and slack_secret is not None:
        from bot.slack.app import slack_events_handler  # slack_bolt is loaded where Slack is set up (app/chats.py)

        handler = slack_events_handler(services.chats.slack_app, slack_secret.get_secret_value())
        app.router.add_post("/slack/events", handler)
    exchange = services.settings.onec_exchange
    if exchange.user and exchange.password:  # outside /api/: 1C's module sends Basic auth, not our token
        register_onec_exchange(
            app, path=exchange.path, user=exchange.user, password=exchange.password.get_secret_value(),
            on_stock=intake_on_stock(shop.intake, shop.prices, shop.wake_price_dispatchers), clock=shop.clock,
            limits=ExchangeLimits(file_limit=exchange.file_limit_bytes, session_bytes=exchange.max_bytes),
            orders=ExportedOrders(OrderExport(shop.uow, shop.clock), shop.topology, shop.clock),
            logins=FailedLogins(shop.clock, "1C exchange login", limits),
            on_documents=status_on_documents(OneCOrderStatus(shop.uow, shop.clock, shop.orders,
                                                             shop.topology.channels)),
            on_catalogue=catalogue_on_import(shop.catalogue) if shop.catalogue is not None else None,
        )  # fmt: skip
    register_openapi(app, exchange_path=exchange.path if exchange.user and exchange.password else None)
    telegram = services.settings.telegram
    chats = services.chats
    if chats.telegram_dispatcher and chats.telegram_bot and telegram.mode == "webhook" and telegram.webhook_secret:
        from bot.telegram.app import mount_webhook  # aiogram is loaded where Telegram is set up (app/chats.py)

        mount_webhook(app, chats.telegram_dispatcher, chats.telegram_bot, telegram.webhook_secret.get_secret_value())
    return app


def _bearer_auth(token: str | None, payments: PaymentSignature | None, logins: FailedLogins) -> Any:
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:  # the API's description
            return await handler(request)
        if _route_of(request) in SIGNED_ROUTES:  # the client's page: its link's signature is the permission
            return await handler(request)
        if _route_of(request) == YOOKASSA_PATH:  # YooKassa sends no token: each notice is confirmed at YooKassa
            return await handler(request)
        wait = logins.retry_after(request.remote)
        if wait is not None:  # even a right token: guessing must not learn anything while blocked
            return error_response(429, "too_many_attempts", f"too many wrong tokens from this address: try again "
                                  f"in {wait} s", headers={"Retry-After": str(wait)})  # fmt: skip
        signature = request.headers.get("X-Signature")
        if request.path == PAYMENTS_PATH and payments is not None and signature is not None:
            refusal = payments.refusal(signature, request.headers.get(TIMESTAMP_HEADER), await request.read())
            if refusal is not None:
                return error_response(401, "unauthorized", refusal)
            return await handler(request)
        given = request.headers.get("Authorization", "")
        if expected is None:
            return error_response(503, "api_disabled", "API_TOKEN is not configured on this server")
        if not given:
            return error_response(401, "unauthorized", "send Authorization: Bearer <API_TOKEN>")
        if not hmac.compare_digest(_header_bytes(given), expected):
            logins.failed(request.remote)
            return error_response(401, "unauthorized", "the bearer token is not valid")
        return await handler(request)

    return bearer_auth


def _route_of(request: web.Request) -> str | None:
    """The route the request was matched to, as it was added (``/api/client/orders/{order_id}``): told by the router,
    so no spelling of the path (``..``, encoded slashes) reaches another route without the token."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


@dataclass(frozen=True)
class PaymentSignature:
    """The gateway's signature of a payment event: ``X-Signature: sha256=<hex HMAC-SHA256>`` of the bytes
    ``b"<X-Signature-Timestamp>." + body`` with ``PAYMENTS_HMAC_SECRET``, the timestamp in unix seconds and
    within :data:`SIGNATURE_TOLERANCE` of our clock, so a captured event cannot be sent again later. With
    ``legacy``, a signature of the body alone (no timestamp header) is taken too."""

    secret: bytes
    clock: Clock
    legacy: bool = False

    def refusal(self, signature: str, timestamp: str | None, body: bytes) -> str | None:
        """Why the event is refused, or ``None`` when the signature holds."""
        if timestamp is None:
            if not self.legacy:
                return (f"send {TIMESTAMP_HEADER}: <unix seconds> and X-Signature: sha256=<hex HMAC-SHA256 of "
                        "'<timestamp>.' followed by the body>")  # fmt: skip
            return None if self._matches(signature, body) else "the X-Signature does not match the body"
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return f"{TIMESTAMP_HEADER} must be unix seconds (digits only)"
        if not self._matches(signature, timestamp.encode() + b"." + body):
            return f"the X-Signature does not match the {TIMESTAMP_HEADER} and the body"
        skew = abs(self.clock.now().timestamp() - int(timestamp))
        if skew > SIGNATURE_TOLERANCE.total_seconds():
            return (f"{TIMESTAMP_HEADER} is {skew:.0f} s away from our clock (at most "
                    f"{SIGNATURE_TOLERANCE.total_seconds():.0f} s): an old event is not taken again")  # fmt: skip
        return None

    def _matches(self, signature: str, signed: bytes) -> bool:
        digest = "sha256=" + hmac.new(self.secret, signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(_header_bytes(signature), digest.encode())


def _header_bytes(value: str) -> bytes:
    """A header's bytes as sent: aiohttp keeps bytes that are not UTF-8 as surrogates, which match no secret."""
    return value.encode("utf-8", "surrogateescape")


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        async with services.database.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # a health check reports, it does not crash
        log.warning("health check: the database cannot be reached", exc_info=True)
        return web.json_response({"status": "unavailable", "database": "unavailable"}, status=503,
                                 headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
    return web.json_response({"status": "ok", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; counts and ages only, nothing secret, so it needs no token (like /healthz)."""
    found = request.app[SERVICES].metrics
    return web.Response(body=await found.render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip


async def post_stock(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    message = await read_body(request, StockMessage)
    lines = [OneCLine(item.sku, item.warehouse, item.qty) for item in message.items]
    try:
        result = await services.shop.intake.apply(StockSource.API, message.as_of, lines)
    except (WorkflowError, DatabaseUnavailable):
        raise
    except Exception as error:  # the intake is one transaction: it rolled back whole
        if lost_connection(error):
            raise
        log.exception("1C stock message failed; nothing applied")
        raise ApiError(500, "internal_error", "something went wrong on our side; nothing of this message was "
                       "applied (send it again); it has been logged") from error  # fmt: skip
    return web.json_response(stock_result_view(result))


async def post_prices(request: web.Request) -> web.Response:
    """1C's prices, per price type and SKU, applied as one upload (:mod:`workflows.prices`)."""
    services = request.app[SERVICES]
    message = await read_body(request, PriceMessage)
    prices = services.shop.prices
    if prices is None:  # pragma: no cover - assemble always builds it
        raise ApiError(503, "prices_unavailable", "prices are not set up in this service")
    lines = [OneCPrice(item.sku, item.price_type, item.price) for item in message.items]
    result = await prices.apply("api", lines)
    services.shop.wake_price_dispatchers()
    return web.json_response(price_result_view(result))


async def post_deduction(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_body(request, DeductionBody)
    await services.shop.orders.get(body.order_id)  # 404 for an unknown order
    deducted_at = onec_time(body.deducted_at, services.shop.topology)
    absorbed = await services.shop.ledger.record_deduction(body.order_id, deducted_at)
    return web.json_response({"order_id": body.order_id, "absorbed": absorbed})


async def post_order(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_body(request, OrderBody)
    intake = await services.shop.orders.place(
        PlaceOrder(
            channel=body.channel,
            external_id=body.external_id,
            lines=[LineRequest(line.sku, line.qty) for line in body.lines],
            customer=Customer(body.customer.name, body.customer.phone, body.customer.email),
            total=body.total,
            currency=body.currency,
            obligations=[Obligation(o.payee, o.currency, o.amount, _aware(o.due_at)) for o in body.obligations],
            delivery=body.delivery.to_delivery() if body.delivery is not None else None,
        )
    )
    return web.json_response(order_view(intake.order, history=False), status=201 if intake.created else 200)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ApiError(422, "invalid_request", "due_at needs a UTC offset, e.g. 2026-12-01T12:00:00+03:00")
    return value


async def get_order(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    order = await services.shop.orders.get(path_order_id(request))
    view: OrderDetailView = {
        **order_view(order, history=True),
        "money": money_view(await services.shop.payments.money_state(order.id or 0)),
        "shipment": shipment_view(await services.shop.orders.shipment(order.id or 0)),
    }
    topology = services.shop.topology
    names = Names.of(topology, services.settings.business.locale)
    for entry, event in zip(view["history"], order.history, strict=True):  # as the office's /order words it
        entry["text"] = history_line(names.locale, event.kind, event.detail, names, topology.onec.timezone)
    return web.json_response(view)


async def post_payment_event(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_body(request, PaymentEventBody)
    event = PaymentEvent(
        body.event_id, body.payment_id, body.order_id, body.idempotency_key, Phase(body.phase), body.amount,
        body.currency, body.payer_name, body.ip_country.upper(), body.card_country.upper(),
        raw=json.loads(body.model_dump_json()),
    )  # fmt: skip
    outcome = await services.shop.payments.record(event)
    return web.json_response(payment_outcome_view(outcome), status=200 if outcome.duplicate else 202)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


async def cancel_order(request: web.Request) -> web.Response:
    order_id = path_order_id(request)
    body = await read_body(request, CancelBody) if request.can_read_body else CancelBody()
    order = await request.app[SERVICES].shop.orders.cancel(order_id, body.reason)
    return web.json_response(order_view(order, history=True))


async def get_stock(request: web.Request) -> web.Response:
    sku = request.match_info["sku"]
    if len(sku) > MAX_SKU_LENGTH or any(unicodedata.category(c) == "Cc" for c in sku):
        message = f"sku {sku[:MAX_SKU_LENGTH]!r} is not a SKU: at most {MAX_SKU_LENGTH} characters, no control ones"
        raise ApiError(400, "invalid_request", message)
    return web.json_response(availability_view(await request.app[SERVICES].shop.ledger.stock(sku)))


async def get_conflicts(request: web.Request) -> web.Response:
    conflicts = await request.app[SERVICES].shop.ledger.offer_id_conflicts()
    return web.json_response({"conflicts": [conflict_view(c) for c in conflicts]})


async def get_store_stats(request: web.Request) -> web.Response:
    """How each store answered confirmations since ``?since=`` (ISO 8601; default: 7 days ago)."""
    services = request.app[SERVICES]
    raw = request.query.get("since")
    try:
        since = datetime.fromisoformat(raw) if raw else services.shop.clock.now() - timedelta(days=7)
    except ValueError:
        raise ApiError(400, "invalid_request", f"since={raw!r} is not an ISO 8601 time") from None
    if not EARLIEST_YEAR <= since.year <= LATEST_YEAR:  # beyond these a UTC offset leaves the calendar
        raise ApiError(400, "invalid_request", f"since={raw!r} must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    if since.tzinfo is None:
        since = since.replace(tzinfo=ZoneInfo(services.shop.topology.onec.timezone))
    rows = await store_answer_stats(services.shop.uow, since)
    stores = [
        {"store": r.store, "asked": r.asked, "answered": r.answered, "answer_rate": round(r.answer_rate, 3),
         "median_seconds_to_answer": r.median_seconds}
        for r in rows
    ]  # fmt: skip
    return web.json_response({"since": since.isoformat(), "stores": stores})
