"""1C's OData interface (``standard.odata``) over HTTP on 127.0.0.1, for the real ``httpx`` client.

Serves what :mod:`integrations.onec_odata` and :mod:`integrations.onec_odata_prices` read, in 1C's shapes: the
balance virtual table ``AccumulationRegister_<register>/Balance(…)`` (``Номенклатура_Key``, ``Склад_Key``,
``ВНаличииBalance``; rows with a zero balance are absent, as in 1C), the price register's slice of last values
``InformationRegister_<price register>/SliceLast(…)`` (``Period``, ``Номенклатура_Key``, ``Характеристика_Key``,
``ВидЦен_Key``, ``Цена``: the newest row of each item, size and price type), ``Catalog_Номенклатура``
(``Ref_Key``, ``Артикул``…) and ``Catalog_ВидыЦен`` (``Ref_Key``, ``Description``), with ``$select``,
``$top``/``$skip`` and HTTP Basic auth. Errors are ``odata.error`` bodies.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from emulators.local_server import LocalServer

ROOT = "/odata/standard.odata/"
_VIRTUAL_TABLE = re.compile(r"^AccumulationRegister_(?P<register>[^/()]+)/Balance(?:\((?P<params>.*)\))?$")
_SLICE_LAST = re.compile(r"^InformationRegister_(?P<register>[^/()]+)/SliceLast(?:\((?P<params>.*)\))?$")
EMPTY_REF = "00000000-0000-0000-0000-000000000000"  # 1C's empty reference: no size, no currency
_FIRST_PERIOD = datetime(2026, 1, 1, 9, 0)
_PARAM = re.compile(r"(\w+)=((?:datetime|guid)?'(?:[^']|'')*'|[^,]*)")

Item = tuple[str, str, str, "int | Decimal"]
"""(article, nomenclature_key, warehouse_key, qty) — one balance row and its catalog item."""


@dataclass(frozen=True)
class ODataCall:
    """One request as received: the entity (``Catalog_Номенклатура`` or ``AccumulationRegister_…/Balance``),
    the virtual-table parameters (``Period``, ``Dimensions``…), the query, the HTTP status answered, and
    whether it carried an ``Authorization`` header."""

    entity: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    status: int
    authorized: bool


def odata_error(message: str, code: str = "-1") -> dict[str, Any]:
    """1C's error body."""
    return {"odata.error": {"code": code, "message": {"lang": "ru", "value": message}}}


class OneCODataEmulator(LocalServer):
    """An infobase published at :attr:`base` (``http://127.0.0.1:<port>/trade``) with one user.

    ``items`` give the catalog (one entry per ``nomenclature_key``, first article wins) and the balance rows.
    Steer it with :meth:`set_qty`, :meth:`fail_with` and :meth:`recover`; every request is in :attr:`calls`.
    """

    name = "1C OData"
    url_path = "/trade"

    def __init__(
        self, user: str, password: str, *, items: Iterable[Item] = (), register: str = "ТоварыНаСкладах",
        price_register: str = "ЦеныНоменклатуры",
    ) -> None:  # fmt: skip
        self._credentials = (user, password)
        self.register, self.price_register = register, price_register
        self.price_types: dict[str, str] = {}  # Ref_Key -> Description
        self.price_rows: list[tuple[datetime, str, str, str, Decimal]] = []  # period, item, size, type, price
        self.catalog: dict[str, str] = {}
        self.stock: dict[tuple[str, str], Decimal] = {}
        for article, key, warehouse, qty in items:
            self.catalog.setdefault(key, article)
            self.stock[key, warehouse] = self.stock.get((key, warehouse), Decimal(0)) + Decimal(qty)
        self.calls: list[ODataCall] = []
        self._failure: tuple[int, str] | None = None

    @property
    def base(self) -> str:
        """The publication's address, for ``ODataStock(base=…)``."""
        return self.base_url

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get(self.url_path + ROOT + "{entity:.+}", self._handle)
        return app

    # -- what tests steer ------------------------------------------------------------------------------------

    def set_qty(self, article: str, warehouse_key: str, qty: int | Decimal) -> None:
        """Set the balance of ``article`` in ``warehouse_key``; an unknown article gets a new catalog item."""
        key = next((k for k, a in self.catalog.items() if a == article), None)
        if key is None:
            key = str(uuid.uuid4())
            self.catalog[key] = article
        self.stock[key, warehouse_key] = Decimal(qty)

    def set_price(
        self, article: str, price_type: str, price: int | Decimal | str, *, characteristic: str = EMPTY_REF
    ) -> None:
        """Record a new price of ``article`` (of its size ``characteristic``) for the price type named
        ``price_type``, newer than every earlier row; an unknown article or type gets a new catalog item."""
        key = next((k for k, a in self.catalog.items() if a == article), None)
        if key is None:
            key = str(uuid.uuid4())
            self.catalog[key] = article
        type_key = next((k for k, name in self.price_types.items() if name == price_type), None)
        if type_key is None:
            type_key = str(uuid.uuid4())
            self.price_types[type_key] = price_type
        period = _FIRST_PERIOD + timedelta(seconds=len(self.price_rows))
        self.price_rows.append((period, key, characteristic, type_key, Decimal(price)))

    def fail_with(self, status: int = 500, message: str = "Ошибка СУБД: база данных недоступна") -> None:
        """Answer every request with HTTP ``status`` and an ``odata.error`` of ``message`` until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._failure = (status, message)

    def recover(self) -> None:
        self._failure = None

    # -- answering -------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        entity = request.match_info["entity"]
        query = dict(request.query)
        authorized = "Authorization" in request.headers
        params: dict[str, str] = {}
        if not self._logged_in(request.headers.get("Authorization", "")):
            status, response = 401, web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="1C"'})
        elif self._failure is not None:
            status, response = (
                self._failure[0],
                web.json_response(odata_error(self._failure[1]), status=self._failure[0]),
            )
        else:
            status, response, params = self._answer(entity, query)
        self.calls.append(ODataCall(entity, params, query, status, authorized))
        return response

    def _logged_in(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == self._credentials

    def _answer(self, entity: str, query: Mapping[str, str]) -> tuple[int, web.Response, dict[str, str]]:
        if query.get("$format") != "json":
            return 400, web.json_response(odata_error("Формат не поддерживается эмулятором"), status=400), {}
        table, last = _VIRTUAL_TABLE.match(entity), _SLICE_LAST.match(entity)
        params: dict[str, str]
        if entity == "Catalog_Номенклатура":
            rows, params = self._catalog_rows(), {}
        elif entity == "Catalog_ВидыЦен":
            rows, params = self._price_type_rows(), {}
        elif table is not None and table["register"] == self.register:
            params = dict(_PARAM.findall(table["params"] or ""))
            rows = self._balance_rows()
        elif last is not None and last["register"] == self.price_register:
            params = dict(_PARAM.findall(last["params"] or ""))
            rows = self._last_price_rows()
        else:
            return 404, web.json_response(odata_error(f"Не найден ресурс: {entity}", code="6"), status=404), {}
        try:
            skip, top = int(query.get("$skip", 0)), int(query["$top"]) if "$top" in query else None
        except ValueError:
            return 400, web.json_response(odata_error("Неверное значение $top или $skip"), status=400), params
        page = rows[skip:] if top is None else rows[skip : skip + top]
        if "$select" in query:
            fields = query["$select"].split(",")
            page = [{name: row[name] for name in fields if name in row} for row in page]
        body = {"odata.metadata": f"{self.base_url}{ROOT}$metadata#{entity.split('(')[0]}", "value": page}
        return 200, web.json_response(body, dumps=_dumps), params

    def _catalog_rows(self) -> list[dict[str, Any]]:
        return [
            {"Ref_Key": key, "DeletionMark": False, "Code": f"{n:09d}", "Description": article, "Артикул": article}
            for n, (key, article) in enumerate(self.catalog.items(), start=1)
        ]

    def _price_type_rows(self) -> list[dict[str, Any]]:
        return [
            {"Ref_Key": key, "DeletionMark": False, "Code": f"{n:09d}", "Description": name}
            for n, (key, name) in enumerate(self.price_types.items(), start=1)
        ]

    def _last_price_rows(self) -> list[dict[str, Any]]:
        """The newest row of each item, size and price type (a slice of last values as of now)."""
        newest: dict[tuple[str, str, str], tuple[datetime, Decimal]] = {}
        for period, key, size, type_key, price in self.price_rows:
            newest[key, size, type_key] = (period, price)  # rows are kept oldest first
        return [
            {"Period": period.isoformat(), "Номенклатура_Key": key, "Характеристика_Key": size,
             "ВидЦен_Key": type_key, "Валюта_Key": EMPTY_REF, "Цена": price}
            for (key, size, type_key), (period, price) in newest.items()
        ]  # fmt: skip

    def _balance_rows(self) -> list[dict[str, Any]]:
        return [
            {"Номенклатура_Key": key, "Склад_Key": warehouse, "ВНаличииBalance": qty}
            for (key, warehouse), qty in self.stock.items()
            if qty != 0
        ]


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, default=_number)


def _number(value: object) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
