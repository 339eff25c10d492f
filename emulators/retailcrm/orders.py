"""RetailCRM's orders, customers and order history for the emulator (:class:`emulators.retailcrm.server.
RetailCrmEmulator` mixes this in).

Serves ``POST orders/create`` and ``orders/{externalId}/edit?by=externalId`` (form ``order`` JSON + ``site``; a
second create of an ``externalId`` → 400 "Order already exists."), ``GET orders/{externalId}?by=externalId``
(payments keyed by id), ``POST orders/payments/create`` and ``orders/payments/{id}/edit`` (``by=id``),
``GET customers`` (``filter[name]``: a part of the name, of the e-mail, or of a phone's digits; ``filter[email]``: a
part of the e-mail; ``limit`` 20/50/100; a filter the API does not have, ``filter[phone]`` say, → 400 — unverified:
the real API's matching rules and its answer to an unknown filter are not documented), ``POST customers/create`` (a
second create of an ``externalId`` → 400 "Customer already exists."), ``GET customers/{externalId}?by=externalId`` and
``GET orders/history`` (``filter[sinceId]``, ``limit`` 20/50/100, ``pagination``, ``generatedAt``). Every create,
every field an edit changes and every status change is a history entry with an increasing id; the API's own carry
``apiKey.current``. :meth:`CrmOrdersState.set_status` changes a status as a manager would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

HISTORY_LIMITS = (20, 50, 100)
CUSTOMER_LIMITS = (20, 50, 100)
# the customer list's filters, as RetailCRM's official API clients name them (``filter[<name>]``, ``[]`` for lists)
CUSTOMER_FILTERS = frozenset({
    "ids", "externalIds", "city", "region", "name", "email", "notes", "minOrdersCount", "maxOrdersCount",
    "minAverageSumm", "maxAverageSumm", "minTotalSumm", "maxTotalSumm", "minCostSumm", "maxCostSumm", "classSegment",
    "vip", "bad", "attachments", "online", "emailMarketingUnsubscribed", "sex", "segment", "discountCardNumber",
    "contragentName", "contragentInn", "contragentKpp", "contragentBik", "contragentCorrAccount",
    "contragentBankAccount", "contragentTypes", "sites", "managers", "managerGroups", "dateFrom", "dateTo",
    "firstWebVisitFrom", "firstWebVisitTo", "lastWebVisitFrom", "lastWebVisitTo", "firstOrderFrom", "firstOrderTo",
    "lastOrderFrom", "lastOrderTo", "browserId", "commentary", "sourceName", "mediumName", "campaignName",
    "keywordName", "adContentName", "mgCustomerId", "customFields", "tags", "attachedTags", "countries", "isContact",
})  # fmt: skip


class OrderRefusal(Exception):
    def __init__(self, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, dict(errors or {})


class CrmOrdersState:
    """Orders by ``externalId``, customers, and the order history. Needs ``site`` from the emulator."""

    site: str

    def _init_orders(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}  # externalId -> the order as held
        self.customers: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self._order_ids = 0
        self._payment_ids = 0

    # -- what tests steer and read -----------------------------------------------------------------------------

    def order(self, external_id: str) -> dict[str, Any] | None:
        return self.orders.get(external_id)

    def set_status(self, external_id: str, status: str) -> None:
        """A manager moves the order to ``status`` in the CRM's interface."""
        order = self.orders[external_id]
        old, order["status"] = order.get("status"), status
        self._record(order, "status", {"code": old}, {"code": status}, by_api=False)

    # -- answering ---------------------------------------------------------------------------------------------

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await self._order_form(request)
        external_id = str(body.get("externalId") or "")
        if external_id and external_id in self.orders:
            raise OrderRefusal(400, "Order already exists.", {"externalId": "Order with this externalId exists"})
        self._order_ids += 1
        order = {"id": self._order_ids, "site": self.site, "status": "new", **body}
        order["payments"] = {}
        for payment in body.get("payments") or []:
            self._add_payment(order, payment)
        if external_id:
            self.orders[external_id] = order
        else:
            self.orders[f"#{order['id']}"] = order
        self._record(order, "status", None, {"code": order["status"]}, by_api=True, created=True)
        return web.json_response({"success": True, "id": order["id"], "order": order}, status=201)

    async def _edit_order(self, request: web.Request) -> web.Response:
        if request.query.get("by", (await request.post()).get("by")) != "externalId":
            raise OrderRefusal(400, "Errors in the input parameters", {"by": "only externalId here"})
        order = self._held(request.match_info["external_id"])
        body = await self._order_form(request)
        for field, value in body.items():
            if field not in ("id", "externalId") and order.get(field) != value:
                old = order.get(field)
                order[field] = value
                wrap = field == "status"
                self._record(order, field, {"code": old} if wrap else old, {"code": value} if wrap else value, True)
        return web.json_response({"success": True, "id": order["id"], "order": order})

    async def _get_order(self, request: web.Request) -> web.Response:
        if request.query.get("by") != "externalId":
            raise OrderRefusal(400, "Errors in the input parameters", {"by": "only externalId here"})
        return web.json_response({"success": True, "order": self._held(request.match_info["external_id"])})

    async def _create_payment(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._check_site(form.get("site"))
        payment = _json_field(form.get("payment"), "payment")
        order = self._held(str(_dict(payment.pop("order", None)).get("externalId") or ""))
        return web.json_response({"success": True, "id": self._add_payment(order, payment)}, status=201)

    async def _edit_payment(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._check_site(form.get("site"))
        if form.get("by") != "id":
            raise OrderRefusal(400, "Errors in the input parameters", {"by": "only id here"})
        changes = _json_field(form.get("payment"), "payment")
        for order in self.orders.values():
            payment = order.get("payments", {}).get(request.match_info["payment_id"])
            if payment is not None:
                old = dict(payment)
                payment.update({k: v for k, v in changes.items() if k != "id"})
                self._record(order, "payments.status", old.get("status"), payment.get("status"), True)
                return web.json_response({"success": True, "id": payment["id"]})
        raise OrderRefusal(404, "Not found")

    def _add_payment(self, order: dict[str, Any], payment: object) -> int:
        if not isinstance(payment, dict) or not payment.get("type"):
            raise OrderRefusal(400, "Errors in the input parameters", {"payments.type": "required"})
        self._payment_ids += 1
        order.setdefault("payments", {})[str(self._payment_ids)] = {"id": self._payment_ids, **payment}
        return self._payment_ids

    async def _find_customers(self, request: web.Request) -> web.Response:
        query = request.query
        for name in query:
            field = name.removeprefix("filter[").split("]", 1)[0] if name.startswith("filter[") else None
            if field is not None and field not in CUSTOMER_FILTERS:
                raise OrderRefusal(400, "Errors in the input parameters", {name: "This filter does not exist."})
        limit = query.get("limit", "20")
        if not limit.isdigit() or int(limit) not in CUSTOMER_LIMITS:
            raise OrderRefusal(400, "Errors in the input parameters", {"limit": f"one of {CUSTOMER_LIMITS}"})
        name, email = query.get("filter[name]", "").strip().lower(), query.get("filter[email]", "").strip().lower()
        found = [
            customer
            for customer in self.customers
            if (not name or _named_by(customer, name))
            and (not email or email in str(customer.get("email", "")).lower())
        ]
        pages = max(1, -(-len(found) // int(limit)))
        pagination = {"limit": int(limit), "totalCount": len(found), "currentPage": 1, "totalPageCount": pages}
        return web.json_response({"success": True, "pagination": pagination, "customers": found[: int(limit)]})

    async def _create_customer(self, request: web.Request) -> web.Response:
        form = await request.post()
        customer = _json_field(form.get("customer"), "customer")
        self._check_site(form.get("site"))
        external_id = customer.get("externalId")
        if external_id and any(held.get("externalId") == external_id for held in self.customers):
            raise OrderRefusal(400, "Customer already exists.", {"externalId": "Customer with this externalId exists"})
        customer["id"] = len(self.customers) + 1
        self.customers.append(customer)
        return web.json_response({"success": True, "id": customer["id"]}, status=201)

    async def _get_customer(self, request: web.Request) -> web.Response:
        if request.query.get("by") != "externalId":
            raise OrderRefusal(400, "Errors in the input parameters", {"by": "only externalId here"})
        external_id = request.match_info["external_id"]
        found = next((held for held in self.customers if held.get("externalId") == external_id), None)
        if found is None:
            raise OrderRefusal(404, "Not found")
        return web.json_response({"success": True, "customer": found})

    async def _history(self, request: web.Request) -> web.Response:
        since = request.query.get("filter[sinceId]", "0")
        limit = request.query.get("limit", "20")
        if not since.isdigit() or not limit.isdigit() or int(limit) not in HISTORY_LIMITS:
            raise OrderRefusal(400, "Errors in the input parameters", {"limit": f"one of {HISTORY_LIMITS}"})
        after = [entry for entry in self.history if entry["id"] > int(since)]
        pages = max(1, -(-len(after) // int(limit)))
        pagination = {"limit": int(limit), "totalCount": len(after), "currentPage": 1, "totalPageCount": pages}
        generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        body = {"success": True, "generatedAt": generated, "history": after[: int(limit)], "pagination": pagination}
        return web.json_response(body)

    # -- helpers -----------------------------------------------------------------------------------------------

    async def _order_form(self, request: web.Request) -> dict[str, Any]:
        form = await request.post()
        self._check_site(form.get("site"))
        order = _json_field(form.get("order"), "order")
        for index, item in enumerate(order.get("items") or []):
            offer = item.get("offer") if isinstance(item, dict) else None
            quantity = item.get("quantity") if isinstance(item, dict) else None
            if not isinstance(offer, dict) or not any(offer.get(k) for k in ("id", "externalId", "xmlId")):
                raise OrderRefusal(400, "Errors in the input parameters", {f"items[{index}].offer": "required"})
            if not isinstance(quantity, int | float) or quantity <= 0:
                raise OrderRefusal(400, "Errors in the input parameters", {f"items[{index}].quantity": "> 0"})
        return order

    def _check_site(self, site: object) -> None:
        if site is not None and site != self.site:
            raise OrderRefusal(400, f"Site with code '{site}' not found")

    def _held(self, external_id: str) -> dict[str, Any]:
        order = self.orders.get(external_id)
        if order is None:
            raise OrderRefusal(404, "Not found")
        return order

    def _record(
        self, order: dict[str, Any], field: str, old: object, new: object, by_api: bool, *, created: bool = False
    ) -> None:
        entry: dict[str, Any] = {
            "id": len(self.history) + 1,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "source": "api" if by_api else "user",
            "field": field,
            "oldValue": old,
            "newValue": new,
            "order": {"id": order["id"], "externalId": order.get("externalId"), "site": order["site"]},
        }
        if created:
            entry["created"] = True
        if by_api:
            entry["apiKey"] = {"current": True}
        else:
            entry["user"] = {"id": 1}
        self.history.append(entry)


def _json_field(raw: object, name: str) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise OrderRefusal(400, f"Parameter '{name}' is missing")
    try:
        value = json.loads(raw)
    except ValueError:
        raise OrderRefusal(400, "Errors in the input parameters", {name: "is not valid JSON"}) from None
    if not isinstance(value, dict):
        raise OrderRefusal(400, "Errors in the input parameters", {name: "must be an object"})
    return value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _named_by(customer: dict[str, Any], text: str) -> bool:
    """``filter[name]``: ``text`` in the customer's full name or e-mail, or, when it is a number, in a phone's
    digits."""
    words = " ".join(str(customer.get(k) or "") for k in ("lastName", "firstName", "patronymic", "email")).lower()
    digits = _digits(text)
    phones = [_digits(str(phone.get("number", ""))) for phone in customer.get("phones") or []]
    return text in words or (len(digits) >= 5 and any(digits in phone for phone in phones))


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())
