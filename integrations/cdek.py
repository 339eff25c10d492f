"""CDEK's API v2 as our carrier, on an injected ``httpx.AsyncClient``: register a shipment, then learn whether
CDEK took it.

What CDEK serves (CDEK publishes no OpenAPI file, so this follows the SDKs that copy its field docs):

* **OAuth2 client credentials.** ``POST {base}/oauth/token`` with a form body ``grant_type=client_credentials``,
  ``client_id``, ``client_secret`` answers ``{"access_token", "token_type": "bearer", "expires_in": 3599, …}``;
  every other call carries ``Authorization: Bearer <access_token>``.
* **Registration is asynchronous.** ``POST {base}/orders`` answers an "entity operation": ``entity.uuid`` and
  ``requests[{state: "ACCEPTED"}]``. CDEK validates the order later: ``GET {base}/orders/{uuid}`` (or an
  ``ORDER_STATUS`` webhook) then shows ``SUCCESSFUL`` with a ``cdek_number``, or ``INVALID`` with
  ``errors[{code, message}]``.

**The token** is fetched on first use (one fetch however many calls wait for it), kept until a minute before
``expires_in`` runs out (a tenth of it for short lifetimes) by the injected ``clock``, and fetched again once when a
call answers 401; a second 401 is :class:`CarrierRefused`. Neither it nor the secret is ever logged, put into an
error or a ``repr``: CDEK's own words are scrubbed of both before they are quoted.

**Ware keys** (:func:`ware_key`): CDEK takes an item's ``ware_key`` of at most 50 characters from
``A-Z a-z А-Я а-я 0-9``, space and ``! @ " # № $ ; % ^ : & ? * ( ) _ - + = < > , . { } [ ] \\ /`` (``ё`` is not in
``А-я``). An article that fits is sent as it is. Any other is cleaned (a character outside the set becomes its
base letter when that is allowed — ``ё`` → ``е`` — else ``_``; outer spaces go), cut to 39 characters and given
``_`` and 10 hex digits of the SHA-256 of the *whole original* article: two articles sharing a long prefix, or
differing only in cleaned characters, get different keys (a clash needs a 40-bit hash collision), and the same
article always gets the same key.

**Latin** (:func:`transliterate`): for an international shipment the sender's and recipient's names, the address
and the item names go out transliterated by ICAO Doc 9303 (the ``iuliia`` library's schema; digits, punctuation
and Latin letters stay as they are); item names also fill ``name_i18n``, which CDEK asks for on international
orders. Domestic shipments go out in Cyrillic.

**Errors.** A 5xx, 429, a timeout, a refused connection or an answer that is not CDEK's JSON is
:class:`CarrierUnavailable`; a 400 (with CDEK's ``requests[].errors`` messages and codes), 403 or 404 is
:class:`CarrierRefused`, and refused credentials or a 401 twice its subclass :class:`CredentialsRefused` (the account,
not the order, is at fault). One request per call, no retries beyond the one after a 401: a timed-out registration
may have reached CDEK, so it is not sent again blindly — :meth:`CdekClient.find` asks CDEK for the order under our
number first (CDEK refuses a second order with a number already in use [unverified code:
``v2_im_number_already_used``]).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import unicodedata
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeGuard

import httpx
import iuliia  # type: ignore[import-untyped]  # the library ships no type information

from integrations.wire import Wire, json_object
from workflows.channels import ChannelRefused, ChannelUnavailable
from workflows.outside import OutsideSystemError

log = logging.getLogger(__name__)

BASE_URL = "https://api.cdek.ru/v2"
TEST_BASE_URL = "https://api.edu.cdek.ru/v2"
ORDER_TYPE_SHOP = 1  # "интернет-магазин": items are listed with ware keys and declared values
WARE_KEY_MAX = 50
NAME_MAX = 255
MAX_AMOUNT = 999
TOKEN_MARGIN_S = 60.0
_HASH_HEX = 10
_WARE_KEY_CHAR = re.compile(r'[A-Za-zА-Яа-я0-9!@"#№$;%^:&?*()_\-+=<>,.{}\[\]\\/ ]')
_LETTERS = re.compile(r"[^\W\d_]+")
_REASON_CHARS = 300

ACCEPTED, WAITING, SUCCESSFUL, INVALID = "ACCEPTED", "WAITING", "SUCCESSFUL", "INVALID"


class CarrierError(OutsideSystemError):
    """Base of the errors of this client."""


class CarrierUnavailable(CarrierError, ChannelUnavailable):
    """CDEK could not be asked now (5xx, 429, timeout, no connection, not its JSON); may work later."""


class CarrierRefused(CarrierError, ChannelRefused):
    """CDEK refused the request and sending it again will not help: ``reason`` has CDEK's own words, ``codes`` its
    error codes (``v2_im_number_already_used``…), ``status`` the HTTP status when there was one."""

    def __init__(self, reason: str, *, status: int | None = None, codes: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.status, self.codes = status, codes


class CredentialsRefused(CarrierRefused):
    """CDEK refused the account itself (its client credentials, or a fresh token): no request of it can pass until
    the operator fixes ``CDEK_CLIENT_ID`` / ``CDEK_CLIENT_SECRET``; the order that was being sent is not at fault."""


@dataclass(frozen=True)
class ShipmentItem:
    article: str  # our article (1C's); its ware key is derived by :func:`ware_key`
    name: str
    cost: Decimal  # declared value of one unit, roubles (CDEK insures it)
    weight: int  # grams, one unit
    amount: int = 1  # 1..999


@dataclass(frozen=True)
class Shipment:
    """One parcel to register. Prepaid: nothing is collected on delivery. ``address`` is where it is delivered
    (``to_location.address``); ``city_code`` is CDEK's code of that city, ``country_code`` its ISO 3166 alpha-2
    code, ``shipment_point`` the CDEK office the parcel is handed in at, when the tariff starts at one.
    ``delivery_point`` (a CDEK pickup point's code) replaces ``to_location`` altogether: CDEK takes one or the
    other."""

    number: str  # our order number
    tariff_code: int
    sender_name: str
    sender_phone: str
    recipient_name: str
    recipient_phone: str
    address: str
    items: tuple[ShipmentItem, ...]
    international: bool = False
    city_code: int | None = None
    country_code: str | None = None
    shipment_point: str | None = None
    delivery_point: str | None = None  # a CDEK pickup point to deliver to, instead of the address
    postal_code: str | None = None
    city: str | None = None


@dataclass(frozen=True)
class RegistrationState:
    """Where CDEK's registration of an order stands: ``state`` is ``ACCEPTED`` (taken, not yet validated),
    ``WAITING``, ``SUCCESSFUL`` (registered: ``cdek_number`` is set) or ``INVALID`` (``errors`` has CDEK's
    reasons). ``order_status`` is CDEK's order status code (``CREATED``, ``DELIVERED``…) when a webhook gave it."""

    state: str
    errors: list[str] = field(default_factory=list)
    cdek_number: str | None = None
    uuid: str | None = None
    order_status: str | None = None

    @property
    def final(self) -> bool:
        """CDEK has decided: registered or refused."""
        return self.state in (SUCCESSFUL, INVALID)


def transliterate(text: str) -> str:
    """``text`` in Latin letters by ICAO Doc 9303 (щ→shch, ю→iu, я→ia, ц→ts, х→kh, й→i, ъ→ie, ь dropped).

    Digits, punctuation and Latin letters are kept. A word written in capitals stays in capitals ("ЖК" → "ZHK");
    the library alone would capitalise only its first letter ("ZhK")."""
    return _LETTERS.sub(_latin_word, text)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    latin = str(iuliia.ICAO_DOC_9303.translate(word))
    return latin.upper() if len(word) > 1 and word.isupper() else latin


def ware_key(article: str) -> str:
    """CDEK's ``ware_key`` for our ``article``: the article itself when it fits CDEK's limits, else a cleaned, cut
    article with a hash of the original (rules in the module's docstring). ``ValueError`` for an empty article."""
    if not article.strip():
        raise ValueError("an item needs an article")
    if len(article) <= WARE_KEY_MAX and article == article.strip() and all(map(_WARE_KEY_CHAR.fullmatch, article)):
        return article
    cleaned = "".join(_allowed(char) for char in article.strip())
    digest = hashlib.sha256(article.encode()).hexdigest()[:_HASH_HEX]
    return f"{cleaned[: WARE_KEY_MAX - _HASH_HEX - 1].rstrip()}_{digest}"


def _allowed(char: str) -> str:
    if _WARE_KEY_CHAR.fullmatch(char):
        return char
    base = unicodedata.normalize("NFD", char)[0]  # "ё" -> "е" + a combining diaeresis
    return base if _WARE_KEY_CHAR.fullmatch(base) else "_"


def order_body(shipment: Shipment) -> dict[str, Any]:
    """The ``POST /v2/orders`` JSON for ``shipment``: one package holding every item.

    ``ValueError`` when CDEK could not take the items: none, an amount outside 1..999, a weight under 1 g, a
    negative cost, or two items with the same ware key (CDEK would rename one at random)."""
    if not shipment.items:
        raise ValueError(f"shipment {shipment.number}: no items")
    text = transliterate if shipment.international else str
    items = [_item(item, text, shipment.international) for item in shipment.items]
    keys = [item["ware_key"] for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError(f"shipment {shipment.number}: an article is listed twice; give it once with its amount")
    body: dict[str, Any] = {
        "type": ORDER_TYPE_SHOP,
        "number": shipment.number,
        "tariff_code": shipment.tariff_code,
        "sender": {"name": text(shipment.sender_name), "phones": [{"number": shipment.sender_phone}]},
        "recipient": {"name": text(shipment.recipient_name), "phones": [{"number": shipment.recipient_phone}]},
        "packages": [
            {
                "number": f"{shipment.number}-1",
                "weight": sum(item.weight * item.amount for item in shipment.items),
                "items": items,
            }
        ],
    }
    if shipment.shipment_point is not None:
        body["shipment_point"] = shipment.shipment_point
    if shipment.delivery_point is not None:
        body["delivery_point"] = shipment.delivery_point
    else:
        body["to_location"] = _to_location(shipment, text)
    return body


def _to_location(shipment: Shipment, text: Callable[[str], str]) -> dict[str, Any]:
    to_location: dict[str, Any] = {"address": text(shipment.address)}
    if shipment.city_code is not None:
        to_location["code"] = shipment.city_code
    if shipment.country_code is not None:
        to_location["country_code"] = shipment.country_code
    if shipment.postal_code:
        to_location["postal_code"] = shipment.postal_code
    if shipment.city:
        to_location["city"] = text(shipment.city)
    return to_location


def _item(item: ShipmentItem, text: Callable[[str], str], international: bool) -> dict[str, Any]:
    if isinstance(item.amount, bool) or not 1 <= item.amount <= MAX_AMOUNT:
        raise ValueError(f"article {item.article[:40]!r}: amount {item.amount!r} is outside 1..{MAX_AMOUNT}")
    if item.weight < 1:
        raise ValueError(f"article {item.article[:40]!r}: a weight is whole grams, at least 1")
    if item.cost < 0:
        raise ValueError(f"article {item.article[:40]!r}: a negative cost")
    name = text(item.name)[:NAME_MAX]
    wire: dict[str, Any] = {
        "name": name,
        "ware_key": ware_key(item.article),
        "payment": {"value": 0},  # prepaid: nothing to collect on delivery
        "cost": float(item.cost.quantize(Decimal("0.01"))),
        "weight": item.weight,
        "amount": item.amount,
    }
    if international:
        wire["name_i18n"] = name
    return wire


def parse_webhook(body: dict[str, Any]) -> RegistrationState | None:
    """An ``ORDER_STATUS`` webhook (``{"type", "uuid", "attributes": {"code", "cdek_number", …}}``) as the
    registration state it implies; ``None`` for other webhook types, return orders, or a body not of that shape.

    ``ACCEPTED`` and ``INVALID`` are themselves; ``CREATED`` and every later status (the parcel moves) mean CDEK
    registered the order: ``SUCCESSFUL``. A webhook carries no reasons: ask :meth:`CdekClient.status` for them."""
    attributes = body.get("attributes")
    order_uuid = body.get("uuid")
    if body.get("type") != "ORDER_STATUS" or not isinstance(attributes, dict) or not isinstance(order_uuid, str):
        return None
    code = attributes.get("code")
    if not isinstance(code, str) or not code or attributes.get("is_return") is True:
        return None
    state = code if code in (ACCEPTED, INVALID) else SUCCESSFUL
    return RegistrationState(
        state=state, cdek_number=_text_or_none(attributes.get("cdek_number")), uuid=order_uuid, order_status=code
    )


class CdekClient:
    """One CDEK account (``client_id`` / ``client_secret``) at ``base`` (:data:`BASE_URL`, :data:`TEST_BASE_URL`
    or an emulator's). ``client`` is the caller's: timeouts and proxies are its configuration. ``clock`` gives
    seconds (monotonic) for the token's lifetime."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base: str = BASE_URL,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._base = base.rstrip("/")
        self._credentials = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self._secret = client_secret
        self._clock = clock
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self._wire = Wire(
            "CDEK", unavailable=CarrierUnavailable, refused=CarrierRefused, words=self._words, refusal=self._refusal
        )
        self._token_wire = Wire(
            "CDEK's token endpoint",
            unavailable=CarrierUnavailable,
            refused=CredentialsRefused,
            words=self._token_words,
            refusal=_credentials_refused,
        )

    def __repr__(self) -> str:
        return f"CdekClient(base={self._base!r})"

    async def register(self, shipment: Shipment) -> str:
        """Send ``shipment`` to CDEK; its uuid once CDEK has accepted it for validation (see :meth:`status`).

        ``ValueError`` for items CDEK could not take (:func:`order_body`); :class:`CarrierRefused` with CDEK's
        reasons when it refuses the order at once; :class:`CarrierUnavailable` when it cannot be asked."""
        body = order_body(shipment)
        answer = await self._call("POST", "/orders", json=body)
        state = _registration_state(answer)
        order_uuid = _text_or_none(_dict(answer.get("entity")).get("uuid"))
        if state is not None and state.state == INVALID:
            reason = self._scrub(f"CDEK refused order {shipment.number}: {_joined(state.errors)}")
            raise CarrierRefused(reason, codes=_codes(answer))
        if order_uuid is None:
            raise CarrierUnavailable("CDEK accepted the order but gave no uuid for it")
        log.info("cdek: order %s accepted for registration as %s", shipment.number, order_uuid)
        return order_uuid

    async def status(self, order_uuid: str) -> RegistrationState:
        """Where the registration of the order ``order_uuid`` stands (``GET /v2/orders/{uuid}``).

        ``ValueError`` for a string that is not a uuid; :class:`CarrierRefused` for an order CDEK does not know."""
        canonical = str(uuid_module.UUID(order_uuid))
        answer = await self._call("GET", f"/orders/{canonical}")
        state = _registration_state(answer)
        if state is None:
            raise CarrierUnavailable("CDEK's answer about the order has no registration state")
        entity = _dict(answer.get("entity"))
        return RegistrationState(
            state=state.state,
            errors=state.errors,
            cdek_number=_text_or_none(entity.get("cdek_number")),
            uuid=_text_or_none(entity.get("uuid")) or canonical,
        )

    async def find(self, number: str) -> RegistrationState | None:
        """The order CDEK holds under our ``number`` (``GET /v2/orders?im_number=``), or ``None`` when it holds
        none: how a registration whose answer was lost (a timeout, a crash) is recognised instead of sent twice."""
        try:
            answer = await self._call("GET", "/orders", params={"im_number": number})
        except CarrierRefused as refused:
            if refused.status == httpx.codes.NOT_FOUND and not isinstance(refused, CredentialsRefused):
                return None
            raise
        state = _registration_state(answer)
        entity = _dict(answer.get("entity"))
        order_uuid = _text_or_none(entity.get("uuid"))
        if state is None or order_uuid is None:
            raise CarrierUnavailable("CDEK's answer about the order has no registration state")
        return replace(state, cdek_number=_text_or_none(entity.get("cdek_number")), uuid=order_uuid)

    # -- the token ---------------------------------------------------------------------------------------------

    async def _valid_token(self, stale: str | None = None) -> str:
        """The cached token unless it has run out or is ``stale`` (CDEK refused it); else a fresh one."""
        async with self._token_lock:
            if self._token is not None and self._token != stale and self._clock() < self._token_until:
                return self._token
            self._token = None
            asked_at = self._clock()
            token, lifetime = await self._fetch_token()
            self._token, self._token_until = token, asked_at + lifetime - min(TOKEN_MARGIN_S, lifetime / 10)
            log.info("cdek: access token fetched, valid for %d s", lifetime)
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        url = self._base + "/oauth/token"
        response = await self._token_wire.send(self._client, "POST", url, data=self._credentials)
        body = json_object(response) or {}
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not _positive_number(lifetime):
            raise CarrierUnavailable("CDEK answered the token request with something other than a token")
        return token, float(lifetime)

    # -- the wire ----------------------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One call with the token; after a 401 once more with a fresh token (a refused request did nothing)."""
        token = await self._valid_token()
        response = await self._send(method, path, token, json, params)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            log.warning("cdek: the access token was refused (HTTP 401); fetching a new one")
            token = await self._valid_token(stale=token)
            response = await self._send(method, path, token, json, params)
            if response.status_code == httpx.codes.UNAUTHORIZED:
                reason = self._wire.reason("refused a fresh access token", response)
                raise CredentialsRefused(reason, status=response.status_code)
        body = self._wire.json_body(response)
        if not body:
            raise self._wire.unusable(response)
        return body

    async def _send(
        self, method: str, path: str, token: str, json: Any, params: dict[str, str] | None
    ) -> httpx.Response:
        """One request with ``token``: the 2xx answer, or a 401 for :meth:`_call` to fetch a fresh token."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        url = self._base + path
        return await self._wire.send(
            self._client, method, url, passing=(httpx.codes.UNAUTHORIZED,), json=json, params=params, headers=headers
        )

    def _words(self, response: httpx.Response) -> str:
        """CDEK's messages in ``requests[].errors[]`` (or ``errors[]``), scrubbed."""
        return self._scrub("; ".join(_messages(json_object(response) or {})))

    def _token_words(self, response: httpx.Response) -> str:
        """The OAuth ``error`` and ``error_description``, scrubbed."""
        body = json_object(response) or {}
        return self._scrub(": ".join(str(body[key]) for key in ("error", "error_description") if body.get(key)))

    def _refusal(self, response: httpx.Response, reason: str) -> CarrierRefused:
        """CDEK's refusal with its status and its error codes (``v2_im_number_already_used``…)."""
        return CarrierRefused(reason, status=response.status_code, codes=_codes(json_object(response) or {}))

    def _scrub(self, text: str) -> str:
        """``text`` without the secret or the token, whatever CDEK chose to quote back."""
        for secret in (self._secret, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text


def _registration_state(answer: dict[str, Any]) -> RegistrationState | None:
    """The state of the order's ``CREATE`` request (the last request when none says ``CREATE``)."""
    requests = [request for request in answer.get("requests") or [] if isinstance(request, dict)]
    creates = [request for request in requests if request.get("type") == "CREATE"] or requests
    if not creates or not isinstance(creates[-1].get("state"), str):
        return None
    request = creates[-1]
    return RegistrationState(state=request["state"], errors=_messages({"requests": [request]}))


def _messages(body: dict[str, Any]) -> list[str]:
    """CDEK's error messages in ``requests[].errors[]`` (or a top-level ``errors[]``), the code when no message."""
    holders = [request for request in body.get("requests") or [] if isinstance(request, dict)] + [body]
    messages: list[str] = []
    for holder in holders:
        for error in holder.get("errors") or []:
            if isinstance(error, dict):
                said = error.get("message") or error.get("code")
                if said:
                    messages.append(str(said))
    return messages


def _codes(body: dict[str, Any]) -> tuple[str, ...]:
    """CDEK's error codes in ``requests[].errors[]`` (or a top-level ``errors[]``)."""
    holders = [request for request in body.get("requests") or [] if isinstance(request, dict)] + [body]
    return tuple(
        str(error["code"])
        for holder in holders
        for error in holder.get("errors") or []
        if isinstance(error, dict) and error.get("code")
    )


def _joined(messages: list[str]) -> str:
    return "; ".join(messages)[:_REASON_CHARS] or "no reason given"


def _credentials_refused(response: httpx.Response, reason: str) -> CredentialsRefused:
    """A token request refused (other than by a 5xx or a 429) is the account's credentials refused."""
    return CredentialsRefused(reason, status=response.status_code)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text_or_none(value: object) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, str | int) else None


def _positive_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
