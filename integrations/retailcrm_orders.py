"""Our orders in RetailCRM (API v5) and its managers' status changes back: the ``workflows.crm.CrmOrderBook`` port,
on the stock client's wire, rate gate and key (:class:`integrations.retailcrm.RetailCrmClient`).

What RetailCRM documents, and its official clients do:

* ``POST /api/v5/orders/create`` and ``POST /api/v5/orders/{externalId}/edit`` (``by=externalId``) are
  form-encoded: ``order`` is a JSON *string*, ``site`` the shop's code. A create of an ``externalId`` the account
  holds is refused ("already exists"): the order is then edited instead, so a repeat never makes a second one.
* The order names its client by ``customer.id`` (:meth:`RetailCrmOrders.customer_id`, which the workflow calls once
  per client and keeps). ``GET /api/v5/customers`` has no phone filter: ``filter[name]`` searches the name *and the
  phones* (RetailCRM's own shop modules look a buyer up by phone with it), ``filter[email]`` the e-mail. How the CRM
  matches a phone is not documented, so the search is given the number's last ten digits (a Russian number is
  written ``+7…`` or ``8…``) and every customer it returns is checked here: one of its ``phones`` must be the same
  number (:func:`workflows.clients.phone_key`), or its e-mail the same. None found: made by
  ``POST /api/v5/customers/create`` (form ``customer`` JSON + ``site``) with an ``externalId`` from the phone
  (:func:`workflows.clients.client_key`, 1C's ``Ид`` of the client too); a create refused as "already exists" (one
  whose answer was lost, tried again) is read by that ``externalId``.
* Lines are ``items[]`` with ``offer.xmlId`` (our article), ``quantity`` and ``initialPrice`` when known. The
  channel goes in ``source.source`` (free text; ``orderMethod`` codes are the account's own list). Payment is a
  ``payments[]`` entry (``type`` one of the account's payment types, ``status`` ``paid`` / ``not-paid``) sent with
  the create; RetailCRM edits payments through their own methods, not the order's edit, so after an edit the order
  is read (``GET /api/v5/orders/{externalId}?by=externalId``, payments keyed by id) and our entry made
  (``POST /api/v5/orders/payments/create``) or moved to ``paid`` (``POST /api/v5/orders/payments/{id}/edit``).
* ``GET /api/v5/orders/history?filter[sinceId]=<id>&limit=100`` lists changes oldest first, each with its ``id``,
  ``field``, ``oldValue`` / ``newValue`` (``{"code": …}`` for a status), ``order.externalId`` and ``apiKey.current``
  when this key made it; ``pagination.totalPageCount`` says whether more follow after the last id read.

Our order's ``externalId`` is ``storeops-<our id>`` and its ``number`` ``<channel>-<channel's id>``. Our own
status is not pushed as the CRM's ``status`` — that is the managers' workflow — except a cancellation, sent as
``cancel_status``; with ``status_field`` (the code of a custom field made for it in the account) ours goes there.
No personal data is logged.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote

from integrations.retailcrm import RetailCrmClient
from workflows.channels import ChannelRefused
from workflows.clients import client_key, phone_key
from workflows.crm import CrmOrder, CrmStatusChange, order_id_of
from workflows.model import Customer, Delivery

log = logging.getLogger(__name__)

HISTORY_PAGE = 100  # ``limit``: one of 20, 50, 100
HISTORY_PAGES = 20  # pages read in one call at most: the rest comes on the next
CUSTOMER_PAGE = 100  # customers of a search looked at: ``limit`` one of 20, 50, 100


class RetailCrmOrders:
    """``crm`` is the account's stock client (its ``site`` is the shop); ``cancel_status`` the CRM status our
    cancellation is sent as; ``payment_type`` the account's payment type code for the ``payments`` entry;
    ``status_field`` the account's custom field for our own status ("": not sent)."""

    def __init__(
        self,
        crm: RetailCrmClient,
        *,
        cancel_status: str = "cancel-other",
        payment_type: str = "bank-card",
        status_field: str = "",
        history_pages: int = HISTORY_PAGES,
    ) -> None:
        self.name = f"{crm.name}-orders"
        self._crm, self._cancel, self._payment_type, self._pages = crm, cancel_status, payment_type, history_pages
        self._status_field = status_field

    def __repr__(self) -> str:
        return f"RetailCrmOrders(crm={self._crm!r})"

    # -- orders out --------------------------------------------------------------------------------------------

    async def upsert(self, order: CrmOrder) -> None:
        """Create the order, or edit it by ``externalId`` when the account already holds it."""
        body = self._order(order, order.customer_id)
        try:
            await self._crm.call("POST", "/orders/create", data=self._form("order", {**body, **self._payment(order)}))
        except ChannelRefused as refusal:
            if "already exists" not in refusal.reason.lower():
                raise
            path = f"/orders/{quote(order.external_id, safe='')}/edit"
            await self._crm.call("POST", path, data={"by": "externalId", **self._form("order", body)})
            await self._settle_payment(order)

    def _order(self, order: CrmOrder, customer_id: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "externalId": order.external_id,
            "number": order.number[:255],
            "firstName": order.customer.name,
            "phone": order.customer.phone,
            "email": order.customer.email,
            "source": {"source": order.channel},
            "items": [_item(line.sku, line.qty, line.price) for line in order.lines],
        }
        if customer_id is not None:
            body["customer"] = {"id": customer_id}
        if order.cancelled:
            body["status"] = self._cancel
        if self._status_field:
            body["customFields"] = {self._status_field: order.status}
        if order.delivery is not None:
            body["delivery"] = {"address": _address(order.delivery)}
        return {name: value for name, value in body.items() if value not in ("", None)}

    def _payment(self, order: CrmOrder) -> dict[str, Any]:
        payment: dict[str, Any] = {"type": self._payment_type, "status": "paid" if order.paid else "not-paid"}
        if order.total is not None:
            payment["amount"] = float(order.total)
        return {"payments": [payment]}

    async def _settle_payment(self, order: CrmOrder) -> None:
        """After an edit: our payment entry made when the order has none of our type, and moved to ``paid`` once the
        client's money cleared — never back (a manager may have marked it paid on delivery)."""
        path = f"/orders/{quote(order.external_id, safe='')}"
        held = _dict((await self._crm.call("GET", path, params=[("by", "externalId")])).get("order"))
        raw = held.get("payments")
        entries = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
        ours = [p for p in entries if isinstance(p, dict) and p.get("type") == self._payment_type]
        if not ours:
            payment = {**self._payment(order)["payments"][0], "order": {"externalId": order.external_id}}
            await self._crm.call("POST", "/orders/payments/create", data=self._form("payment", payment))
        elif order.paid and ours[0].get("status") != "paid" and isinstance(ours[0].get("id"), int):
            path = f"/orders/payments/{ours[0]['id']}/edit"
            await self._crm.call("POST", path, data={"by": "id", **self._form("payment", {"status": "paid"})})

    def _form(self, field: str, value: dict[str, Any]) -> dict[str, str]:
        return {"site": self._crm.site, field: json.dumps(value, ensure_ascii=False)}

    # -- customers -------------------------------------------------------------------------------------------

    async def customer_id(self, customer: Customer) -> int:
        """The CRM's customer with this phone, else this e-mail (checked, not taken on the search's word); made when
        there is none. ``ChannelRefused`` for a customer with neither."""
        found = await self._found(customer)
        if found is not None:
            return found
        if not customer.phone and not customer.email:
            raise ChannelRefused("a customer needs a phone or an e-mail")
        key = client_key(customer.phone, customer.email)
        made: dict[str, Any] = {"externalId": key, "firstName": customer.name, "email": customer.email}
        if customer.phone:
            made["phones"] = [{"number": customer.phone}]
        try:
            created = await self._crm.call("POST", "/customers/create", data=self._form("customer", _filled(made)))
        except ChannelRefused as refusal:  # made before, its answer lost: read it by its key
            if "already exists" not in refusal.reason.lower():
                raise
            path = f"/customers/{quote(key, safe='')}"
            created = _dict((await self._crm.call("GET", path, params=[("by", "externalId")])).get("customer"))
        if not isinstance(created.get("id"), int):
            raise ChannelRefused("RetailCRM made a customer but did not say its id")
        log.info("retailcrm: a customer was created for an order")
        return int(created["id"])

    async def _found(self, customer: Customer) -> int | None:
        phone = phone_key(customer.phone)
        if phone is not None:
            search = phone[1:] if len(phone) == 11 and phone[0] == "7" else phone
            for held in await self._customers("name", search):
                if phone in {phone_key(str(_dict(entry).get("number") or "")) for entry in _list(held.get("phones"))}:
                    return int(held["id"])
        email = customer.email.strip().lower()
        if email:
            for held in await self._customers("email", email):
                if str(held.get("email") or "").strip().lower() == email:
                    return int(held["id"])
        return None

    async def _customers(self, field: str, value: str) -> list[dict[str, Any]]:
        """The first page (:data:`CUSTOMER_PAGE`) of customers the CRM's ``filter[field]`` search returns."""
        answer = await self._crm.call(
            "GET", "/customers", params=[(f"filter[{field}]", value), ("limit", CUSTOMER_PAGE)]
        )
        found = answer.get("customers")
        return [held for held in _list(found) if isinstance(held, dict) and isinstance(held.get("id"), int)]

    # -- status changes back -----------------------------------------------------------------------------------

    async def status_changes(self, since: int) -> tuple[list[CrmStatusChange], int]:
        """Status changes of our orders made by people (not by this key) after history entry ``since``."""
        changes: list[CrmStatusChange] = []
        cursor = since
        for _ in range(self._pages):
            params: list[tuple[str, str | int | float | bool | None]] = [
                ("filter[sinceId]", cursor), ("limit", HISTORY_PAGE),
            ]  # fmt: skip
            answer = await self._crm.call("GET", "/orders/history", params=params)
            entries = [entry for entry in answer.get("history") or [] if isinstance(entry, dict)]
            for entry in entries:
                if isinstance(entry.get("id"), int) and entry["id"] > cursor:
                    cursor = entry["id"]
                    change = _status_change(entry)
                    if change is not None:
                        changes.append(change)
            pages = _dict(answer.get("pagination")).get("totalPageCount")
            if not entries or not isinstance(pages, int) or pages <= 1:
                break
        return changes, cursor


def _status_change(entry: dict[str, Any]) -> CrmStatusChange | None:
    if entry.get("field") != "status" or _dict(entry.get("apiKey")).get("current") is True:
        return None  # another field, or our own change
    order_id = order_id_of(str(_dict(entry.get("order")).get("externalId") or ""))
    status = _code(entry.get("newValue"))
    if order_id is None or status is None:
        return None
    return CrmStatusChange(int(entry["id"]), order_id, status, _code(entry.get("oldValue")), _when(entry))


def _item(sku: str, qty: int, price: object) -> dict[str, Any]:
    item: dict[str, Any] = {"offer": {"xmlId": sku}, "quantity": qty}
    if price is not None:
        item["initialPrice"] = float(str(price))
    return item


def _address(delivery: Delivery) -> dict[str, Any]:
    text = delivery.address or (f"pickup point {delivery.pickup_point}" if delivery.pickup_point else "")
    address = {"countryIso": delivery.country_code.upper(), "index": delivery.postal_code, "city": delivery.city}
    return _filled({**address, "text": text})


def _filled(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in ("", None)}


def _code(value: object) -> str | None:
    code = value.get("code") if isinstance(value, dict) else value
    return code if isinstance(code, str) and code else None


def _when(entry: dict[str, Any]) -> datetime | None:
    """``createdAt`` (``Y-m-d H:i:s`` in the account's zone): kept as read, without a zone."""
    raw = entry.get("createdAt")
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S") if isinstance(raw, str) else None
    except ValueError:
        return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
