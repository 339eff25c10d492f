"""YooKassa (API v3) as the payment gateway the payment watch reads: one payment's status (and, to confirm YooKassa's
own notices, one refund's), on an injected ``httpx.AsyncClient``.

What this relies on, from YooKassa's public API documentation (yookassa.ru/developers: "Формат взаимодействия с
API", "Коды ответа HTTP", "Неуспешные платежи"):

* the API lives at ``https://api.yookassa.ru/v3/``; ``GET /payments/{payment_id}`` returns the payment object;
* authentication is HTTP Basic: the shop's id (``shopId``) as the user name, the secret key as the password;
* a payment's ``status`` is ``pending`` (created, waiting for the payer), ``waiting_for_capture`` (paid, the money
  authorised and held for a two-stage payment), ``succeeded`` (done) or ``canceled``, with
  ``cancellation_details.party`` (``merchant``, ``yoo_money``, ``payment_network``) and ``.reason``
  (``3d_secure_failed``, ``card_expired``, ``expired_on_confirmation``…); ``amount`` is ``{"value", "currency"}``;
* an error answer is a JSON object ``{"type": "error", "id", "code", "description", "parameter"}``: 400
  ``invalid_request``, 401 ``invalid_credentials``, 403 ``forbidden``, 404 ``not_found``, 429
  ``too_many_requests``, 500 ``internal_server_error`` ("the result is unknown");
* ``GET /refunds/{refund_id}`` returns the refund object: ``id``, ``payment_id``, ``status`` (``pending``,
  ``succeeded``, ``canceled``), ``amount``; a payment refunded shows ``refunded_amount``; a payment's ``metadata``
  is what it was created with (ours: our payment id and order id);
* HTTP notifications carry no signature: YooKassa advises checking the sender's address against its published
  ranges and/or reading the object's status with the shop's credentials before acting (storeops always reads it;
  the address check is an option: docs/payments.md);
* POST requests (creating a payment, capturing, cancelling) carry an ``Idempotence-Key`` header: the same key
  within a day gives the first request's result instead of doing it again.

One POST: :meth:`YooKassaPayments.create` makes a client's top-up a payment (decision 87), with our payment id as
its ``Idempotence-Key`` — a retry after a timeout, or a second instance, gets the payment that key made, never a
second one; the same key with another body is a 400 (YooKassa refuses to reuse a key). It asks ``capture: true``
(one stage: the client's money is taken when they pay) and ``confirmation: redirect`` back to the client's page;
the answer's ``id`` and ``confirmation.confirmation_url`` are kept. Reads send no ``Idempotence-Key`` (a GET needs
none, and a proxy or a future gateway must not mistake our read for a payment session's request); ``trace_key`` is
accepted for the port and not sent.

Mapped to our phases: ``waiting_for_capture`` → authorized, ``succeeded`` → cleared, ``canceled`` → failed;
``pending`` says nothing new. Any 2xx other than 200 (YooKassa answers some requests "still being processed") and
any 5xx, 429, timeout or unreadable answer is :class:`~workflows.payment_gateway.GatewayUnavailable`; 401 and 403
are :class:`~workflows.payment_gateway.GatewayRefused`, 404 its :class:`~workflows.payment_gateway.GatewayNotFound`.
The secret key goes only into the Authorization header: never into a URL, a reason or a log line.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from integrations.wire import Wire, json_object
from workflows.office_model import Phase
from workflows.payment_gateway import (
    CreatedPayment,
    GatewayNotFound,
    GatewayRefund,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NewPayment,
)

DEFAULT_BASE = "https://api.yookassa.ru/v3"
DEFAULT_DEADLINE_S = 10.0
PHASES: dict[str, Phase | None] = {
    "pending": None,
    "waiting_for_capture": Phase.AUTHORIZED,
    "succeeded": Phase.CLEARED,
    "canceled": Phase.FAILED,
}


def _words(response: httpx.Response) -> str:
    """YooKassa's own words in an error answer: its ``code`` and ``description``."""
    body = json_object(response) or {}
    code, description = body.get("code"), body.get("description")
    said = " ".join(str(part).strip() for part in (code, description) if isinstance(part, str) and part.strip())
    return said or response.reason_phrase


def _refusal(response: httpx.Response, reason: str) -> GatewayRefused | None:
    """404: no such payment or refund for this shop (a notice naming one is not YooKassa's)."""
    return GatewayNotFound(reason) if response.status_code == httpx.codes.NOT_FOUND else None


_WIRE = Wire("YooKassa", unavailable=GatewayUnavailable, refused=GatewayRefused, words=_words, refusal=_refusal)
METADATA_KEYS, METADATA_CHARS = 16, 128  # what of a payment's metadata is kept: ours is two short ids


class YooKassaPayments:
    """Reads payments (and creates clients' top-ups) at ``base`` (``PAYMENT_GATEWAY_URL``) as the shop ``shop_id``
    with ``secret_key``. One request per call, no retries (the watch or the checkout decides when to ask again); the
    whole request must end within ``deadline_s`` (``PAYMENT_GATEWAY_TIMEOUT_S``), however slowly the answer trickles
    in."""

    name = "YooKassa"

    def __init__(
        self, client: httpx.AsyncClient, *, base: str = DEFAULT_BASE, shop_id: str, secret_key: str,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> None:  # fmt: skip
        if deadline_s <= 0:
            raise ValueError(f"the deadline must be positive, not {deadline_s}")
        self._client, self._base, self._deadline_s = client, base.rstrip("/"), deadline_s
        self._auth = httpx.BasicAuth(shop_id, secret_key)

    def __repr__(self) -> str:  # the secret stays out of any repr a traceback or a debugger shows
        return f"YooKassaPayments(base={self._base!r})"

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        return read_payment(await self._read("payments", payment_id), payment_id)

    async def refund(self, refund_id: str) -> GatewayRefund:
        """``GET /refunds/{id}``: a refund's payment, status and amount (a notice's ``refund.succeeded`` checked)."""
        return read_refund(await self._read("refunds", refund_id), refund_id)

    async def _read(self, kind: str, object_id: str) -> dict[str, Any]:
        url = f"{self._base}/{kind}/{quote(object_id, safe='')}"
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await _WIRE.send(self._client, "GET", url, auth=self._auth)
        except TimeoutError:
            raise GatewayUnavailable(f"YooKassa did not answer within {self._deadline_s:g} s") from None
        if response.status_code != httpx.codes.OK:  # "accepted, still processing": ask again later
            raise GatewayUnavailable(f"YooKassa answered HTTP {response.status_code}: not ready yet")
        return _WIRE.json_body(response)

    async def create(self, payment: NewPayment) -> CreatedPayment:
        body = {
            "amount": {"value": f"{payment.amount:.2f}", "currency": payment.currency},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": payment.return_url},
            "description": payment.description[:128],
            "metadata": {"payment_id": payment.key, "order_id": str(payment.order_id)},
        }
        headers = {"Idempotence-Key": payment.key}
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await _WIRE.send(
                    self._client, "POST", f"{self._base}/payments", auth=self._auth, json=body, headers=headers
                )
        except TimeoutError:
            raise GatewayUnavailable(f"YooKassa did not answer within {self._deadline_s:g} s") from None
        if response.status_code != httpx.codes.OK:
            raise GatewayUnavailable(f"YooKassa answered HTTP {response.status_code}: not ready yet")
        return read_created(_WIRE.json_body(response))


def read_created(body: dict[str, Any]) -> CreatedPayment:
    """A created payment's id, status and the address the payer confirms it at."""
    payment_id, status = body.get("id"), body.get("status")
    confirmation = body.get("confirmation")
    url = confirmation.get("confirmation_url") if isinstance(confirmation, dict) else None
    if not isinstance(payment_id, str) or not payment_id or status not in PHASES:
        raise GatewayUnavailable("YooKassa answered a payment we cannot read")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise GatewayUnavailable("YooKassa gave no confirmation_url for the payment")
    return CreatedPayment(payment_id, str(status), url)


def read_payment(body: dict[str, Any], payment_id: str) -> GatewayStatus:
    """A payment object as our status; :class:`GatewayUnavailable` when it is not the payment asked about or its
    status is not one of the four."""
    if body.get("id") != payment_id:
        raise GatewayUnavailable("YooKassa answered about another payment than the one asked")
    status = body.get("status")
    if not isinstance(status, str) or status not in PHASES:
        raise GatewayUnavailable(f"YooKassa gave a payment status we do not know: {str(status)[:40]!r}")
    amount, currency = _amount(body.get("amount"))
    details = body.get("cancellation_details")
    party = reason = ""
    if isinstance(details, dict):
        party, reason = str(details.get("party") or "")[:40], str(details.get("reason") or "")[:60]
    refunded, _ = _amount(body.get("refunded_amount"))
    return GatewayStatus(
        payment_id, status, PHASES[status], amount, currency, party, reason, _metadata(body.get("metadata")), refunded
    )


def read_refund(body: dict[str, Any], refund_id: str) -> GatewayRefund:
    """A refund object; :class:`GatewayUnavailable` when it is not the refund asked about or names no payment."""
    payment_id, status = body.get("payment_id"), body.get("status")
    if body.get("id") != refund_id or not isinstance(payment_id, str) or not payment_id:
        raise GatewayUnavailable("YooKassa answered a refund we cannot read")
    if status not in ("pending", "succeeded", "canceled"):
        raise GatewayUnavailable(f"YooKassa gave a refund status we do not know: {str(status)[:40]!r}")
    amount, currency = _amount(body.get("amount"))
    return GatewayRefund(refund_id, payment_id, str(status), amount, currency)


def _metadata(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    kept = [(str(k)[:METADATA_CHARS], str(v)[:METADATA_CHARS]) for k, v in raw.items() if isinstance(v, str | int)]
    return dict(kept[:METADATA_KEYS])


def _amount(raw: object) -> tuple[Decimal | None, str]:
    if not isinstance(raw, dict):
        return None, ""
    try:
        value = Decimal(str(raw.get("value")))
    except InvalidOperation:
        return None, ""
    return (value if value.is_finite() else None), str(raw.get("currency") or "")[:3]
