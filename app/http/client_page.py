"""The client's signed order page: ``GET /client/orders/{order_id}?exp=…&sig=…`` (HTML, for a phone first) and
``GET /api/client/orders/{order_id}?exp=…&sig=…`` (the same as JSON), no token needed — the signature
(``workflows/client_links.py``) is the permission, for that one order until ``exp``. ``lang=ru|en`` picks the
language (the service's LOCALE by default). What it shows is ``workflows/client_status.py``'s, nothing else.

A manager gets the link from ``GET /api/orders/{order_id}/client-link`` (bearer token) or the ``/order`` reply in
Telegram. Off (the link route answers 409) until ``CLIENT_LINK_SECRET`` is set."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from typing_extensions import TypedDict

from app.http.client_page_words import WORDS, word
from app.http.errors import error_response
from app.http.requests import order_id as path_order_id
from bot.texts import Locale
from bot.wording import money
from workflows.client_links import API_PATH, PATH, ClientLinks, LinkRefusal
from workflows.client_status import ClientOrderStatus, ClientStatus
from workflows.errors import OrderNotFound

_EPOCH = datetime.fromtimestamp(0, UTC)
# the routes that take the link's signature instead of the bearer token (app/http/server.py)
SIGNED_ROUTES = frozenset({PATH, API_PATH})
HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",  # the signed address never leaves in a Referer
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
PAGE_HEADERS = {**HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
_MESSAGES = {
    LinkRefusal.MISSING: "the link has no signature: send ?exp=<unix time>&sig=<hex HMAC-SHA256> as the manager's "
                         "link has them",
    LinkRefusal.INVALID: "the link's signature is not valid",
    LinkRefusal.EXPIRED: "the link has expired: ask the shop for a new one",
}  # fmt: skip


class ClientLinkView(TypedDict):
    order_id: int
    path: str  # with its query; what follows the shop's address
    url: str | None  # the whole link, when CLIENT_LINK_BASE_URL is set
    expires_at: str


class ClientPaymentView(TypedDict):
    amount: str
    currency: str
    state: str  # initiated | 3ds | authorized | cleared | failed | refunded
    state_text: str
    at: str
    topup_for: str | None  # a top-up's purpose: goods | logistics | customs | warehouse | marketplace
    topup_for_text: str | None
    pay_url: str | None  # an unpaid top-up created at the gateway: where the client pays it


class ClientEarmarkView(TypedDict):
    purpose: str
    title: str
    planned: str  # roubles
    reserved: str
    spent: str


class ClientMoneyView(TypedDict):
    received: str  # roubles, every cleared payment
    left_to_pay: str
    unallocated: str
    earmarks: list[ClientEarmarkView]


class ClientOrderView(TypedDict):
    order_id: int
    number: str
    locale: Literal["ru", "en"]
    created_at: str
    total: str | None
    currency: str
    # cancelled | awaiting_payment | payment_processing | awaiting_topup | partly_paid | paid, then where the goods
    # are: at_moscow_warehouse | on_the_way_to_marketplace | accepted_at_fulfilment
    stage: str
    stage_text: str
    payments: list[ClientPaymentView]
    money: ClientMoneyView | None  # null until the order has an estimate
    expires_at: str  # the link's


def client_page_routes(
    status: ClientStatus, links: ClientLinks | None, locale: Locale, timezone: str
) -> list[web.RouteDef]:
    """The manager's link route always (409 while the page is off); the client's two only when it is on."""

    async def client_link(request: web.Request) -> web.Response:
        if links is None:
            return error_response(409, "client_page_off", "the client's page is off: set CLIENT_LINK_SECRET (at least "
                                  "32 random characters) to send clients links")  # fmt: skip
        order_id = path_order_id(request)
        await status.of(order_id)  # 404 for an order that is not there: no link to nothing
        link = links.link(order_id)
        view = ClientLinkView(order_id=order_id, path=link.path, url=link.url, expires_at=link.expires_at.isoformat())
        return web.json_response(view)

    routes = [web.get("/api/orders/{order_id}/client-link", client_link)]
    if links is None:
        return routes

    async def read(request: web.Request) -> tuple[ClientOrderStatus | LinkRefusal | None, Locale, datetime]:
        """The order the link opens, why it does not (a refusal), or ``None`` for an order no longer there."""
        lang = request.query.get("lang", locale)
        chosen: Locale = "en" if lang == "en" else "ru" if lang == "ru" else locale
        raw, exp = request.match_info["order_id"], request.query.get("exp")
        expires = datetime.fromtimestamp(int(exp), UTC) if exp and exp.isdigit() and len(exp) <= 12 else _EPOCH
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):  # no link was ever made for it
            return LinkRefusal.INVALID, chosen, expires
        refusal = links.refusal(int(raw), exp, request.query.get("sig"))
        if refusal is not None:
            return refusal, chosen, expires
        try:
            return await status.of(int(raw)), chosen, expires
        except OrderNotFound:
            return None, chosen, expires

    async def as_json(request: web.Request) -> web.Response:
        found, chosen, expires = await read(request)
        if isinstance(found, LinkRefusal):
            return error_response(403, found.value, _MESSAGES[found], headers=HEADERS)
        if found is None:
            return error_response(404, "order_not_found", "the order is not there any more", headers=HEADERS)
        return web.json_response(client_order_view(found, chosen, expires), headers=HEADERS)

    async def as_page(request: web.Request) -> web.Response:
        found, chosen, expires = await read(request)
        if isinstance(found, LinkRefusal) or found is None:
            reason = found.value if found is not None else "not_found"
            return web.Response(text=refused_page(chosen, reason), content_type="text/html", headers=PAGE_HEADERS,
                                status=403 if found is not None else 404)  # fmt: skip
        page = order_page(found, chosen, timezone, expires, _other_language(request, chosen))
        return web.Response(text=page, content_type="text/html", headers=PAGE_HEADERS)

    return [*routes, web.get(PATH, as_page), web.get(API_PATH, as_json)]


class SignatureHidingAccessLogger(AccessLogger):
    """aiohttp's access log, with a client link's signature left out of the request line: a signed link is the
    permission to read its order, so it is no more logged than a token."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if "sig" in request.query:
            request = request.clone(rel_url=request.rel_url.update_query(sig="***"))
        super().log(request, response, time)


ACCESS_LOGGER: type[AbstractAccessLogger] = SignatureHidingAccessLogger


def client_order_view(s: ClientOrderStatus, locale: Locale, expires: datetime) -> ClientOrderView:
    def purpose(value: str | None) -> str | None:
        return None if value is None else WORDS[locale][f"purpose.{value}"]

    m = s.money
    return ClientOrderView(
        order_id=s.order_id, number=s.number, locale=locale, created_at=s.created_at.isoformat(),
        total=None if s.total is None else str(s.total), currency=s.currency, stage=s.stage.value,
        stage_text=WORDS[locale][f"stage.{s.stage.value}"],
        payments=[
            ClientPaymentView(amount=str(p.amount), currency=p.currency, state=p.phase.value,
                              state_text=WORDS[locale][f"phase.{p.phase.value}"], at=p.at.isoformat(),
                              topup_for=p.topup_for.value if p.topup_for else None,
                              topup_for_text=purpose(p.topup_for.value if p.topup_for else None),
                              pay_url=p.pay_url)
            for p in s.payments
        ],
        money=None if m is None else ClientMoneyView(
            received=str(m.credited), left_to_pay=str(m.left_to_pay), unallocated=str(m.unallocated),
            earmarks=[ClientEarmarkView(purpose=e.purpose.value, title=WORDS[locale][f"purpose.{e.purpose.value}"],
                                        planned=str(e.planned), reserved=str(e.reserved), spent=str(e.spent))
                      for e in m.earmarks],
        ),
        expires_at=expires.isoformat(),
    )  # fmt: skip


def _other_language(request: web.Request, locale: Locale) -> str:
    query = {k: v for k, v in request.query.items() if k in ("exp", "sig")}
    query["lang"] = "ru" if locale == "en" else "en"
    return str(request.rel_url.with_query(query))


def _when(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d.%m.%Y %H:%M")


STYLE = """*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,sans-serif;color:#1d232b;
background:#f4f5f7}main{max-width:36rem;margin:0 auto;padding:1rem}h1{font-size:1.35rem;margin:.2rem 0 .4rem}
h2{font-size:1.05rem;margin:0 0 .5rem}.card{background:#fff;border-radius:10px;padding:.9rem 1rem;margin:.8rem 0;
box-shadow:0 1px 2px #0001}.muted{color:#5f6b7a;font-size:.9rem}.stage{display:inline-block;padding:.25rem .7rem;
border-radius:999px;background:#e6f0ff;color:#123c7c;font-weight:600}.stage-cancelled{background:#eee;color:#555}
.stage-awaiting_topup,.stage-awaiting_payment{background:#fff3d6;color:#6b4b00}.stage-paid{background:#e3f6e8;
color:#185c2c}ul{list-style:none;margin:0;padding:0}li{display:flex;flex-wrap:wrap;justify-content:space-between;
gap:.2rem .8rem;padding:.45rem 0;border-top:1px solid #eef0f3}li:first-child{border-top:0}.sum{font-weight:600;
white-space:nowrap}dl{display:grid;grid-template-columns:1fr auto;gap:.2rem .8rem;margin:0 0 .6rem}dd{margin:0;
text-align:right;font-weight:600;white-space:nowrap}.purpose{width:100%;font-weight:600}.figures{display:grid;
grid-template-columns:1fr auto;gap:.1rem .8rem;width:100%}.figures div{display:contents}.figures span{font-size:.9rem;
color:#5f6b7a}.figures b{white-space:nowrap;text-align:right;font-weight:500}.lang{float:right;font-size:.9rem}
.pay{display:inline-block;margin-top:.4rem;padding:.5rem .9rem;border-radius:.4rem;background:#1f6feb;color:#fff;
text-decoration:none;font-weight:500}"""


def _shell(locale: Locale, title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f'<meta name="referrer" content="no-referrer"><title>{html.escape(title)}</title><style>{STYLE}</style>'
        f'</head><body><main data-testid="client-page">{body}</main></body></html>'
    )


def refused_page(locale: Locale, reason: str) -> str:
    title = word(locale, "refused")
    body = (f'<section class="card" data-testid="client-refused"><h1>{html.escape(title)}</h1>'
            f"<p>{html.escape(word(locale, reason))}</p></section>")  # fmt: skip
    return _shell(locale, title, body)


def order_page(s: ClientOrderStatus, locale: Locale, timezone: str, expires: datetime, other: str) -> str:
    e = html.escape
    head = [
        f'<a class="lang" data-testid="client-lang" href="{e(other)}">{e(word(locale, "other_language"))}</a>',
        f"<h1>{e(word(locale, 'heading', number=s.number))}</h1>",
        f'<p class="muted">{e(word(locale, "created", at=_when(s.created_at, timezone)))}</p>',
        f'<p><span class="stage stage-{s.stage.value}" data-testid="client-stage">'
        f"{e(word(locale, f'stage.{s.stage.value}'))}</span></p>",
    ]
    if s.total is not None:
        head.append(f"<p>{e(word(locale, 'total', total=money(locale, s.total, s.currency)))}</p>")
    parts = [f'<section class="card">{"".join(head)}</section>', _payments(s, locale, timezone), _money(s, locale)]
    parts.append(f'<p class="muted">{e(word(locale, "expires", at=_when(expires, timezone)))}</p>')
    return _shell(locale, word(locale, "title", number=s.number), "".join(parts))


def _payments(s: ClientOrderStatus, locale: Locale, timezone: str) -> str:
    e = html.escape
    if not s.payments:
        rows = f'<p class="muted">{e(word(locale, "payments_none"))}</p>'
    else:
        items = []
        for p in s.payments:
            state = word(locale, f"phase.{p.phase.value}")
            if p.topup_for is not None:
                state += " · " + word(locale, "topup_for", purpose=word(locale, f"purpose.{p.topup_for.value}"))
            pay = ""
            if p.pay_url:  # the gateway's page for this top-up: the only address on the page that leads away
                pay = (f'<a class="pay" data-testid="client-pay-topup" href="{e(p.pay_url)}" rel="noreferrer">'
                       f'{e(word(locale, "pay_topup"))}</a>')  # fmt: skip
            items.append(
                f'<li data-testid="client-payment"><span class="sum">{e(money(locale, p.amount, p.currency))}'
                f'</span><span>{e(state)}</span><span class="muted">{e(_when(p.at, timezone))}</span>{pay}</li>'
            )
        rows = f"<ul>{''.join(items)}</ul>"
    return f'<section class="card" data-testid="client-payments"><h2>{e(word(locale, "payments"))}</h2>{rows}</section>'


def _money(s: ClientOrderStatus, locale: Locale) -> str:
    e = html.escape
    title = f"<h2>{e(word(locale, 'money'))}</h2>"
    if s.money is None:
        return f'<section class="card" data-testid="client-money">{title}<p class="muted">' \
               f"{e(word(locale, 'money_none'))}</p></section>"  # fmt: skip
    m = s.money
    figures = [("received", m.credited), ("left_to_pay", m.left_to_pay)]
    if m.unallocated:
        figures.append(("unallocated", m.unallocated))
    summary = "".join(f"<dt>{e(word(locale, k))}</dt><dd>{e(money(locale, v))}</dd>" for k, v in figures)
    rows = []
    for mark in m.earmarks:
        cells = "".join(
            f"<div><span>{e(word(locale, k))}</span><b>{e(money(locale, v))}</b></div>"
            for k, v in (("planned", mark.planned), ("reserved", mark.reserved), ("spent", mark.spent))
        )
        rows.append(
            f'<li data-testid="client-earmark-{mark.purpose.value}"><span class="purpose">'
            f'{e(word(locale, f"purpose.{mark.purpose.value}"))}</span><div class="figures">{cells}</div></li>'
        )
    note = f'<p class="muted">{e(word(locale, "money_note"))}</p>'
    return f'<section class="card" data-testid="client-money">{title}<dl>{summary}</dl><ul>{"".join(rows)}</ul>' \
           f"{note}</section>"  # fmt: skip
