"""CDEK's API v2 over HTTP on 127.0.0.1, for the real ``httpx`` client.

* ``POST /v2/oauth/token`` (form body, or the query string as old examples send it): ``grant_type=client_credentials``
  with the account's ``client_id`` and ``client_secret`` gets a bearer token that expires ``token_lifetime`` seconds
  later on the injected clock; wrong credentials get 401 ``{"error": "invalid_client", …}`` (OAuth2's shape;
  CDEK's exact body is unverified).
* ``POST /v2/orders`` checks the order (:mod:`emulators.cdek.validation`): 400 with
  ``requests[{state: INVALID, errors}]`` when a field is wrong, else 202 with ``entity.uuid`` and
  ``requests[{state: ACCEPTED}]`` (202 is unverified; CDEK's SDKs accept any 2xx).
* Registration settles later, as CDEK's does: ``settle_after`` seconds of the clock after acceptance, or at
  :meth:`CdekEmulator.settle`, the order becomes ``SUCCESSFUL`` with a ``cdek_number`` — or ``INVALID`` with the
  reason a test queued with :meth:`CdekEmulator.reject_next`.
* ``GET /v2/orders/{uuid}`` shows the order: ``entity`` (what was sent, its ``cdek_number``, ``statuses``) and the
  ``CREATE`` request's ``state`` and ``errors``; 404 for an unknown uuid. ``GET /v2/orders?im_number=<number>``
  shows the order registered under the shop's number the same way (404 ``v2_entity_not_found_im_number``).
* A shop's number is taken once: a second order with the number of one not refused is answered 400
  ``v2_im_number_already_used`` (the code is what SDKs map; CDEK's exact wording and whether it answers at once
  or only at validation are unverified — at once here).
* A missing, unknown, revoked or expired token gets 401 (body unverified: ``v2_token_expired``).

Tests steer failures (:meth:`~CdekEmulator.fail_with`, :meth:`~CdekEmulator.hang`, :meth:`~CdekEmulator.hold_answers`,
:meth:`~CdekEmulator.recover`)
and read every call (:meth:`~CdekEmulator.calls`) and order (:meth:`~CdekEmulator.orders`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from aiohttp import web

from emulators.cdek.validation import order_errors
from emulators.local_server import LocalServer

TOKEN_PATH = "/v2/oauth/token"  # noqa: S105  # a path, not a password
ORDERS_PATH = "/v2/orders"
TOKEN_LIFETIME_S = 3599  # what CDEK answers in ``expires_in``
SETTLE_AFTER_S = 5.0
FIRST_CDEK_NUMBER = 1_106_000_001
NUMBER_USED = "v2_im_number_already_used"

Scope = Literal["token", "orders"]
_ORDER_STATUS = {"ACCEPTED": ("ACCEPTED", "Принят"), "SUCCESSFUL": ("CREATED", "Создан")}
_ORDER_STATUS_INVALID = ("INVALID", "Некорректный заказ")


@dataclass(frozen=True)
class CdekCall:
    """One request as received, and the HTTP status it was answered with; ``bearer`` is the token it carried."""

    method: str
    path: str
    status: int
    bearer: str | None = None


@dataclass
class EmulatedOrder:
    """An order CDEK accepted: ``body`` as sent, ``state`` ACCEPTED → SUCCESSFUL | INVALID."""

    uuid: str
    body: dict[str, Any]
    accepted_at: float
    state: str = "ACCEPTED"
    errors: list[dict[str, str]] = field(default_factory=list)
    cdek_number: str | None = None
    rejection: tuple[str, str] | None = None  # (code, message) it will settle INVALID with

    @property
    def number(self) -> str:
        return str(self.body.get("number", ""))


class CdekEmulator(LocalServer):
    """One CDEK account, served on a free port of 127.0.0.1: ``async with CdekEmulator(id, secret) as cdek:``,
    then give ``cdek.base_url`` (it ends in ``/v2``, as CDEK's bases do) to the client.

    ``clock`` gives seconds (monotonic); share a fake one with the client to expire tokens and settle orders
    without waiting."""

    name = "CDEK"
    url_path = "/v2"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_lifetime: int = TOKEN_LIFETIME_S,
        settle_after: float = SETTLE_AFTER_S,
    ) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self._clock = clock
        self.token_lifetime, self.settle_after = token_lifetime, settle_after
        self._tokens: dict[str, float] = {}  # token -> when it expires
        self._orders: dict[str, EmulatedOrder] = {}
        self._rejections: deque[tuple[str, str]] = deque()
        self._calls: list[CdekCall] = []
        self._next_cdek_number = FIRST_CDEK_NUMBER
        self._failure: tuple[int, Scope | None] | None = None
        self._hanging = False
        self._answers_held = False
        self._released = asyncio.Event()
        self._stopping = False

    def __repr__(self) -> str:
        return f"CdekEmulator(client_id={self._client_id!r})"

    # -- serving ---------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_post(ORDERS_PATH, self._register)
        app.router.add_get(ORDERS_PATH, self._by_number)
        app.router.add_get(ORDERS_PATH + "/{uuid}", self._order)
        return app

    async def _after_start(self) -> None:
        self._stopping = False

    async def _before_stop(self) -> None:
        self._stopping = True
        self._released.set()

    # -- what tests steer and read ---------------------------------------------------------------------------

    def reject_next(self, reason: str, *, code: str = "v2_order_invalid") -> None:
        """The next order accepted will settle ``INVALID`` with ``{code, message: reason}`` (queued, in order)."""
        self._rejections.append((code, reason))

    def settle(self) -> None:
        """Decide every order still ``ACCEPTED`` now, whatever the clock says."""
        for order in self._orders.values():
            if order.state == "ACCEPTED":
                self._decide(order)

    def revoke_tokens(self) -> None:
        """Forget every token issued so far: their next use gets 401."""
        self._tokens.clear()

    def fail_with(self, status: int = 503, *, only: Scope | None = None) -> None:
        """Answer HTTP ``status`` to every request (``only="token"``: token requests; ``"orders"``: the rest)
        until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = (status, only)

    def hang(self) -> None:
        """Hold every request without answering until :meth:`recover` or :meth:`stop`: clients time out."""
        self._hanging = True
        self._released.clear()

    def hold_answers(self) -> None:
        """Take registrations as usual but hold their answers until :meth:`recover`: the order exists at CDEK while
        the client times out waiting (the answer is lost)."""
        self._answers_held = True
        self._released.clear()

    def recover(self) -> None:
        """Answer normally again; held requests are answered now."""
        self._failure, self._hanging, self._answers_held = None, False, False
        self._released.set()

    def calls(self) -> list[CdekCall]:
        """Requests received, oldest first."""
        return list(self._calls)

    def token_requests(self) -> int:
        """How many times a token was asked for (answered or not)."""
        return sum(call.path == TOKEN_PATH for call in self._calls)

    def orders(self) -> list[EmulatedOrder]:
        """The orders accepted, oldest first, as they stand now (settling those that are due)."""
        self._settle_due()
        return list(self._orders.values())

    def webhook_body(self, order_uuid: str) -> dict[str, Any]:
        """The ``ORDER_STATUS`` webhook CDEK would send for the order's current status."""
        self._settle_due()
        order = self._orders[order_uuid]
        code, _name = _status_of(order)
        attributes: dict[str, Any] = {"is_return": False, "number": order.number, "code": code}
        attributes["status_date_time"] = _now_text()
        if order.cdek_number is not None:
            attributes["cdek_number"] = order.cdek_number
        return {"type": "ORDER_STATUS", "date_time": _now_text(), "uuid": order.uuid, "attributes": attributes}

    # -- answering -------------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        response = await self._steered(request, "token")
        if response is None:
            form = await request.post()
            params = {**request.query, **{key: value for key, value in form.items() if isinstance(value, str)}}
            response = self._issue(params)
        self._calls.append(CdekCall(request.method, request.path, response.status))
        return response

    def _issue(self, params: dict[str, str]) -> web.Response:
        if params.get("grant_type") != "client_credentials":
            return _json({"error": "unsupported_grant_type"}, 400)
        id_ok = secrets.compare_digest(params.get("client_id", ""), self._client_id)
        secret_ok = secrets.compare_digest(params.get("client_secret", ""), self._client_secret)
        if not (id_ok and secret_ok):
            return _json({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = self._clock() + self.token_lifetime
        body = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "scope": "order:all payment:all",
            "jti": uuid.uuid4().hex,
        }
        return _json(body, 200)

    async def _register(self, request: web.Request) -> web.Response:
        bearer = _bearer(request)
        response = await self._refusal(request, bearer)
        if response is None:
            response = await self._accept(request)
            while self._answers_held and not self._stopping:
                await self._released.wait()
        self._calls.append(CdekCall(request.method, request.path, response.status, bearer))
        return response

    async def _accept(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        errors = order_errors(body)
        if errors or not isinstance(body, dict):
            return _json({"requests": [_request("INVALID", [_error(*error) for error in errors])]}, 400)
        self._settle_due()
        number = str(body.get("number") or "")
        if number and self._holding(number) is not None:
            error = _error(NUMBER_USED, f"Заказ с номером {number} уже существует")
            return _json({"requests": [_request("INVALID", [error])]}, 400)
        order = EmulatedOrder(uuid=str(uuid.uuid4()), body=body, accepted_at=self._clock())
        if self._rejections:
            order.rejection = self._rejections.popleft()
        self._orders[order.uuid] = order
        return _json({"entity": {"uuid": order.uuid}, "requests": [_request("ACCEPTED", [])]}, 202)

    async def _order(self, request: web.Request) -> web.Response:
        bearer = _bearer(request)
        response = await self._refusal(request, bearer)
        if response is None:
            self._settle_due()
            order = self._orders.get(request.match_info["uuid"])
            if order is None:
                error = _error("v2_entity_not_found", "Entity is not found")
                response = _json({"requests": [_request("INVALID", [error], kind="GET")]}, 404)
            else:
                response = _json(_order_answer(order), 200)
        self._calls.append(CdekCall(request.method, request.path, response.status, bearer))
        return response

    async def _by_number(self, request: web.Request) -> web.Response:
        bearer = _bearer(request)
        response = await self._refusal(request, bearer)
        if response is None:
            self._settle_due()
            number = request.query.get("im_number", "")
            order = self._holding(number) or next(
                (order for order in reversed(self._orders.values()) if order.number == number and number), None
            )
            if order is None:
                error = _error("v2_entity_not_found_im_number", f"Entity is not found by im_number {number}")
                response = _json({"requests": [_request("INVALID", [error], kind="GET")]}, 404)
            else:
                response = _json(_order_answer(order), 200)
        self._calls.append(CdekCall(request.method, request.path, response.status, bearer))
        return response

    def _holding(self, number: str) -> EmulatedOrder | None:
        """The order that holds the shop's ``number``: one accepted or registered, not refused."""
        return next((o for o in self._orders.values() if o.number == number and o.state != "INVALID"), None)

    async def _steered(self, request: web.Request, scope: Scope) -> web.Response | None:
        """Hold the request while hanging; the failure's answer when one applies to ``scope``."""
        while self._hanging and not self._stopping:
            await self._released.wait()
        if self._failure is None or self._failure[1] not in (None, scope):
            return None
        status = self._failure[0]
        if status == 401:
            return _auth_refusal()
        error = _error("v2_internal_error" if status >= 500 else "v2_bad_request", _phrase(status))
        return _json({"requests": [_request("INVALID", [error])]}, status)

    async def _refusal(self, request: web.Request, bearer: str | None) -> web.Response | None:
        """What an API call is answered instead of its result: a steered failure, or 401 for its token."""
        steered = await self._steered(request, "orders")
        if steered is not None:
            return steered
        expires = self._tokens.get(bearer or "")
        if expires is None or self._clock() >= expires:
            return _auth_refusal()
        return None

    def _settle_due(self) -> None:
        now = self._clock()
        for order in self._orders.values():
            if order.state == "ACCEPTED" and now - order.accepted_at >= self.settle_after:
                self._decide(order)

    def _decide(self, order: EmulatedOrder) -> None:
        if order.rejection is not None:
            order.state, order.errors = "INVALID", [_error(*order.rejection)]
            return
        order.state, order.cdek_number = "SUCCESSFUL", str(self._next_cdek_number)
        self._next_cdek_number += 1


def _order_answer(order: EmulatedOrder) -> dict[str, Any]:
    code, name = _status_of(order)
    entity = {**order.body, "uuid": order.uuid}
    entity["statuses"] = [{"code": code, "name": name, "date_time": _now_text(), "city": "Москва"}]
    if order.cdek_number is not None:
        entity["cdek_number"] = order.cdek_number
    return {"entity": entity, "requests": [_request(order.state, order.errors)]}


def _status_of(order: EmulatedOrder) -> tuple[str, str]:
    """CDEK's order status (code, Russian name) for a registration state."""
    return _ORDER_STATUS.get(order.state, _ORDER_STATUS_INVALID)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _auth_refusal() -> web.Response:
    error = _error("v2_token_expired", "Access token is missing, invalid or expired")
    return _json({"requests": [_request("INVALID", [error], kind="AUTH")]}, 401)


def _request(state: str, errors: list[dict[str, str]], *, kind: str = "CREATE") -> dict[str, Any]:
    return {
        "request_uuid": str(uuid.uuid4()),
        "type": kind,
        "date_time": _now_text(),
        "state": state,
        "errors": errors,
        "warnings": [],
    }


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
