"""YooKassa's ``POST /v3/payments``, ``GET /v3/payments/{id}`` and ``GET /v3/refunds/{id}`` over HTTP on 127.0.0.1,
and its HTTP notifications sent to the shop's URL.

As the real API does (see ``integrations/yookassa.py`` for the facts relied on): HTTP Basic auth with the shop's id
and secret key (401 ``invalid_credentials`` otherwise), a POST without ``Idempotence-Key`` refused (400), a POST
repeating a key answered with the payment that key created (no new charge), a payment read by id (404
``not_found`` for an unknown one), the payment object with ``id``, ``status``, ``paid``, ``amount``,
``created_at``, ``metadata`` and, once cancelled, ``cancellation_details``.

:attr:`YooKassaEmulator.charges` counts the payments created — each one a charge started. A checkout (or a test
standing in for it) creates payments, and storeops creates clients' top-ups: the same ``Idempotence-Key`` gives the
payment it made first, the same key with another body is a 400 ``invalid_request`` (``Idempotence key
duplicated``), and a redirect confirmation gets a ``confirmation_url``. :meth:`pay` is the client paying there;
:attr:`create_answer_delay_s` makes a create answered late (done at once, so a client that gives up has had it
made all the same). Tests move a payment's status (:meth:`set_status`) and
steer reads into being slow (:attr:`delay_s`) or held until released (:meth:`hang`, :meth:`release`); every request
is recorded (:attr:`received`), with the ``Idempotence-Key`` it carried if any.

**Notifications.** With :attr:`notify_url` set (the URL a shop gives in YooKassa's "HTTP-уведомления"), a payment
reaching ``waiting_for_capture``, ``succeeded`` or ``canceled`` and a refund made (:meth:`refund`) are told there as
YooKassa tells them: ``POST`` of ``{"type": "notification", "event": "payment.succeeded", "object": {…the object as it
was then…}}``, no signature, no token. Each one sent is kept in :attr:`notices` with the answer's status;
:meth:`delivered` waits for those under way, and :meth:`notify` sends one (again) by hand, as YooKassa repeats a
notice that did not get a 200.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import web

from emulators.local_server import LocalServer

SHOP_ID = "100500"
SECRET_KEY = "test_emulator-secret-key-0001"  # noqa: S105  # the emulator's own; never a real key
STATUSES = ("pending", "waiting_for_capture", "succeeded", "canceled")
NOTIFIED = ("waiting_for_capture", "succeeded", "canceled")  # the statuses a payment.<status> notice is sent for
NOTICE_TIMEOUT_S = 10.0  # how long a notice waits for the shop's answer


@dataclass(frozen=True)
class YooKassaRequest:
    method: str
    path: str
    idempotence_key: str | None


@dataclass(frozen=True)
class YooKassaNotice:
    """A notification sent to the shop: its event, the object's id, and the HTTP status answered (``None``: none)."""

    event: str
    object_id: str
    status: int | None


class YooKassaEmulator(LocalServer):
    """Use ``async with YooKassaEmulator() as gateway:`` and give ``gateway.base_url`` to the client
    (``PAYMENT_GATEWAY_URL``), with :data:`SHOP_ID` and :data:`SECRET_KEY`."""

    name = "YooKassa"
    url_path = "/v3"
    handler_cancellation = True  # a read the client gave up on is dropped, as a real server's would be

    def __init__(self, *, shop_id: str = SHOP_ID, secret_key: str = SECRET_KEY) -> None:
        self._auth = "Basic " + base64.b64encode(f"{shop_id}:{secret_key}".encode()).decode()
        self.payments: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, str] = {}
        self.received: list[YooKassaRequest] = []
        self.delay_s = 0.0  # every read answers this much later
        self.create_answer_delay_s = 0.0  # a create is done at once, and answered this much later (or never seen)
        self._bodies: dict[str, dict[str, Any]] = {}  # by Idempotence-Key: the body that key was first sent with
        self._held: asyncio.Event | None = None
        self.refunds: dict[str, dict[str, Any]] = {}
        self.notify_url: str | None = None  # where notifications go; None: none are sent
        self.notices: list[YooKassaNotice] = []
        self._sending: set[asyncio.Task[int | None]] = set()

    @property
    def charges(self) -> int:
        """How many payments were created: each one a charge started at the payer's card."""
        return len(self.payments)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/payments", self._create)
        app.router.add_get("/v3/payments/{payment_id}", self._read)
        app.router.add_get("/v3/refunds/{payment_id}", self._read)
        return app

    # -- steering ---------------------------------------------------------------------------------------------------

    def create(self, value: str, *, key: str, currency: str = "RUB", metadata: dict[str, str] | None = None) -> str:
        """A payment as the checkout creates it (the same as ``POST /v3/payments``); its id."""
        return self._created(key, {"amount": {"value": value, "currency": currency}, "metadata": metadata or {}})

    def set_status(self, payment_id: str, status: str, *, party: str = "", reason: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"not a YooKassa payment status: {status}")
        payment = self.payments[payment_id]
        before = payment["status"]
        payment["status"], payment["paid"] = status, status in ("waiting_for_capture", "succeeded")
        if status == "canceled":
            payment["cancellation_details"] = {"party": party or "yoo_money", "reason": reason or "general_decline"}
        if status != before and status in NOTIFIED:
            self._tell(f"payment.{status}", payment)

    def refund(self, payment_id: str, value: str | None = None) -> str:
        """The shop refunds ``value`` (all of what is left when ``None``) of a succeeded payment: the refund, made at
        once, is told as ``refund.succeeded``; the payment's ``refunded_amount`` grows. Its id."""
        payment = self.payments[payment_id]
        if payment["status"] != "succeeded":
            raise ValueError(f"payment {payment_id} is {payment['status']}: only a succeeded one is refunded")
        paid, done = Decimal(payment["amount"]["value"]), Decimal(payment.get("refunded_amount", {}).get("value", 0))
        amount = (paid - done if value is None else Decimal(value)).quantize(Decimal("0.01"))
        if not 0 < amount <= paid - done:
            raise ValueError(f"cannot refund {amount} of {paid} with {done} refunded already")
        currency = payment["amount"]["currency"]
        payment["refunded_amount"] = {"value": str(done + amount), "currency": currency}
        refund_id = str(uuid.uuid4())
        self.refunds[refund_id] = {
            "id": refund_id, "payment_id": payment_id, "status": "succeeded",
            "amount": {"value": str(amount), "currency": currency}, "created_at": _now(),
        }  # fmt: skip
        self._tell("refund.succeeded", self.refunds[refund_id])
        return refund_id

    # -- notifications ----------------------------------------------------------------------------------------------

    def _tell(self, event: str, thing: dict[str, Any]) -> None:
        """Send the notice of ``event`` with the object as it is now, in the background."""
        if self.notify_url is None:
            return
        task = asyncio.get_running_loop().create_task(self._send(event, _shown(thing)))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def notify(self, event: str, object_id: str) -> int | None:
        """Send a notice of ``event`` about the payment or refund ``object_id`` as it is now (again, as YooKassa
        repeats one); the HTTP status the shop answered, ``None`` when nothing answered."""
        thing = self.payments.get(object_id) or self.refunds[object_id]
        return await self._send(event, _shown(thing))

    async def delivered(self) -> list[YooKassaNotice]:
        """Once every notice under way was answered (or not): all sent so far."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        return list(self.notices)

    async def _send(self, event: str, thing: dict[str, Any]) -> int | None:
        if self.notify_url is None:
            raise RuntimeError("no notify_url: set where the shop takes YooKassa's notices")
        body = {"type": "notification", "event": event, "object": thing}
        status: int | None = None
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            timeout = aiohttp.ClientTimeout(total=NOTICE_TIMEOUT_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.notify_url, json=body) as answer,
            ):
                status = answer.status
        self.notices.append(YooKassaNotice(event, str(thing["id"]), status))
        return status

    def pay(self, payment_id: str) -> None:
        """The client pays at the confirmation page: a ``capture: true`` payment succeeds, anything else waits for
        capture."""
        payment = self.payments[payment_id]
        self.set_status(payment_id, "succeeded" if payment.get("_capture") else "waiting_for_capture")

    def hang(self) -> None:
        """Reads are held (the connection open, no answer) until :meth:`release`."""
        self._held = asyncio.Event()

    def release(self) -> None:
        if self._held is not None:
            self._held.set()
            self._held = None

    async def _before_stop(self) -> None:
        self.release()
        await self.delivered()

    # -- the API ----------------------------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotence-Key")
        self.received.append(YooKassaRequest("POST", request.path, key))
        if request.headers.get("Authorization") != self._auth:
            return _error(401, "invalid_credentials", "Authentication by given credentials failed")
        if not key:
            return _error(400, "invalid_request", "Idempotence key is missing", parameter="Idempotence-Key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "invalid_request", "The request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("amount"), dict):
            return _error(400, "invalid_request", "Amount is missing", parameter="amount")
        if key in self._bodies and self._bodies[key] != body:  # as YooKassa: a key is for one request only
            return _error(400, "invalid_request", "Idempotence key duplicated", parameter="Idempotence-Key")
        payment = self.payments[self._created(key, body)]
        if self.create_answer_delay_s > 0:  # made already: the client may give up before it hears so
            await asyncio.sleep(self.create_answer_delay_s)
        return web.json_response(_shown(payment))

    async def _read(self, request: web.Request) -> web.Response:
        self.received.append(YooKassaRequest("GET", request.path, request.headers.get("Idempotence-Key")))
        if request.headers.get("Authorization") != self._auth:
            return _error(401, "invalid_credentials", "Authentication by given credentials failed")
        if self._held is not None:
            await self._held.wait()
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        refund = request.path.startswith("/v3/refunds/")
        found = (self.refunds if refund else self.payments).get(request.match_info["payment_id"])
        if found is None:
            return _error(404, "not_found", f"{'Refund' if refund else 'Payment'} doesn't exist or access denied")
        return web.json_response(_shown(found))

    def _created(self, key: str, body: dict[str, Any]) -> str:
        if key in self._by_key:  # the same key: the first request's payment, no new charge
            return self._by_key[key]
        payment_id = str(uuid.uuid4())
        amount = body["amount"]
        self.payments[payment_id] = {
            "id": payment_id, "status": "pending", "paid": False,
            "amount": {"value": str(Decimal(str(amount.get("value", "0"))).quantize(Decimal("0.01"))),
                       "currency": str(amount.get("currency", "RUB"))},
            "created_at": _now(),
            "metadata": dict(body.get("metadata") or {}), "refundable": False, "test": True,
        }  # fmt: skip
        confirmation = body.get("confirmation")
        if isinstance(confirmation, dict) and confirmation.get("type") == "redirect":
            self.payments[payment_id]["confirmation"] = {
                "type": "redirect", "return_url": str(confirmation.get("return_url") or ""),
                "confirmation_url": f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={payment_id}",
            }  # fmt: skip
        if body.get("description"):
            self.payments[payment_id]["description"] = str(body["description"])
        self.payments[payment_id]["_capture"] = bool(body.get("capture"))
        self._by_key[key], self._bodies[key] = payment_id, body
        return payment_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shown(payment: dict[str, Any]) -> dict[str, Any]:
    """The payment as the API shows it, without the emulator's own notes."""
    return {name: value for name, value in payment.items() if not name.startswith("_")}


def _error(status: int, code: str, description: str, parameter: str | None = None) -> web.Response:
    body: dict[str, str] = {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}
    if parameter is not None:
        body["parameter"] = parameter
    return web.json_response(body, status=status)
