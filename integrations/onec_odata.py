"""Stock balances from 1C's standard OData interface (``standard.odata``), on an injected ``httpx.AsyncClient``.

What 1C serves (its standard OData interface as 1C documents it):
``{base}/odata/standard.odata/<Entity>?$format=json`` behind HTTP Basic auth, answering
``{"odata.metadata": …, "value": [...]}``, paged with ``$top``/``$skip``. The balance is the virtual
table ``AccumulationRegister_<register>/Balance(Period=datetime'…',Dimensions='Номенклатура,Склад')``, whose
rows carry ``Номенклатура_Key``, ``Склад_Key`` and the resource ``ВНаличииBalance``. Errors come as
``{"odata.error": {"code": …, "message": {"lang": …, "value": …}}}``.

The article is not on the register: it is ``Артикул`` of ``Catalog_Номенклатура``. It is read with a second,
paged request (``$select=Ref_Key,Артикул``) rather than ``$expand``, because the catalog's fields are documented
but ``$expand`` on a register's virtual table is not. Rows of one article in one warehouse are summed (several
characteristics, or two catalog items sharing an article).

Quantities become whole numbers: a fraction is floored and a negative balance counts as 0, each with a warning
in :attr:`StockBalance.warnings`. A row whose item is missing from the catalog or has no article is left out,
with a warning too.

Every failure is :class:`ODataUnavailable` with a short human ``reason``. The password is sent only in the
``Authorization`` header and never appears in a reason or a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from integrations.wire import Wire
from workflows.onec_pull import SourceUnavailable
from workflows.outside import Unavailable

log = logging.getLogger(__name__)

CATALOG = "Catalog_Номенклатура"
MAX_MESSAGE = 200
"""How much of 1C's own error text goes into a reason."""


class ODataUnavailable(Unavailable):
    """1C gave no usable balance: unreachable, too slow, an HTTP error, an ``odata.error``, or malformed JSON.

    ``reason`` is short and human ("wrong 1C login or password"), never a stack trace or a credential.
    """


_WIRE = Wire("1C", unavailable=ODataUnavailable)
"""Only for a request that got no answer: every status of 1C's is read here, each an :class:`ODataUnavailable`
(the pull knows no other failure)."""


@dataclass(frozen=True)
class Balance:
    """On-hand stock of one article in one 1C warehouse (``Склад_Key``), in whole units."""

    article: str
    warehouse_onec_id: str
    qty: int


@dataclass(frozen=True)
class StockBalance:
    """A whole balance: its rows, and what was adjusted or left out on the way (sentences for a person)."""

    balances: list[Balance]
    warnings: list[str] = field(default_factory=list)


class ODataStock:
    """Reads the stock balance register of the infobase published at ``base`` (``http://host/<infobase>``).

    ``register`` is the accumulation register's name (``ТоварыНаСкладах`` in УТ 11 / КА 2 / ERP); ``page`` is
    the ``$top`` of each request. A naive ``at`` is 1C's own wall-clock time; an aware one is converted to
    ``timezone`` (the infobase's, ``Topology.onec.timezone``). Timeouts are the client's; nothing is retried.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base: str,
        user: str,
        password: str,
        register: str = "ТоварыНаСкладах",
        page: int = 5000,
        timezone: str = "Europe/Moscow",
    ) -> None:
        if page < 1:
            raise ValueError("page must be at least 1")
        self._client = client
        self._root = base.rstrip("/") + "/odata/standard.odata/"
        self._auth = httpx.BasicAuth(user, password)
        self._register = register
        self._page = page
        self._zone = ZoneInfo(timezone)

    async def balance(self, at: datetime | None = None) -> StockBalance:
        """Every row of the register's balance at ``at`` (now when ``None``), articles resolved, all pages read."""
        rows = await self.read_all(self._balance_entity(at), "Номенклатура_Key,Склад_Key,ВНаличииBalance")
        articles = await self.articles()
        warnings: list[str] = []
        totals: dict[tuple[str, str], Decimal] = {}
        for row in rows:
            key, warehouse = _text(row, "Номенклатура_Key"), _text(row, "Склад_Key")
            qty = _quantity(row.get("ВНаличииBalance"))
            article = articles.get(key.lower())
            if article is None:
                warnings.append(f"item {key} is not in {CATALOG}; its stock in {warehouse} is left out")
                continue
            if not article:
                warnings.append(f"item {key} has no article (Артикул); its stock in {warehouse} is left out")
                continue
            totals[article, warehouse] = totals.get((article, warehouse), Decimal(0)) + qty
        balances = [
            Balance(article, warehouse, _whole(qty, article, warehouse, warnings))
            for (article, warehouse), qty in totals.items()
        ]
        log.info("1C balance read: %d rows, %d warnings", len(balances), len(warnings))
        return StockBalance(balances, warnings)

    def _balance_entity(self, at: datetime | None) -> str:
        params = "Dimensions='Номенклатура,Склад'"
        if at is not None:
            local = at.astimezone(self._zone).replace(tzinfo=None) if at.tzinfo is not None else at
            params = f"Period=datetime'{local.replace(microsecond=0).isoformat()}',{params}"
        return f"AccumulationRegister_{self._register}/Balance({params})"

    async def articles(self) -> dict[str, str]:
        """``Ref_Key`` (lower case: GUIDs compare so) → ``Артикул`` for the whole catalog."""
        items = await self.read_all(CATALOG, "Ref_Key,Артикул")
        return {_text(item, "Ref_Key").lower(): _article(item) for item in items}

    async def read_all(self, entity: str, select: str) -> list[Mapping[str, Any]]:
        """Every row of ``entity`` (its ``$select``ed fields), page by page. Raises :class:`ODataUnavailable`."""
        rows: list[Mapping[str, Any]] = []
        skip = 0
        while True:
            page = await self._get(entity, {"$select": select, "$top": self._page, "$skip": skip})
            rows.extend(page)
            if len(page) < self._page:
                return rows
            skip += self._page

    async def _get(self, entity: str, params: Mapping[str, str | int]) -> list[Mapping[str, Any]]:
        query = {"$format": "json", **params}
        response = await _WIRE.request(self._client, "GET", self._root + entity, params=query, auth=self._auth)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            raise ODataUnavailable("wrong 1C login or password")
        if response.status_code != httpx.codes.OK:
            try:
                message = _odata_error(_json(response.content))
            except ODataUnavailable:  # an HTML page from the web server in front of 1C
                message = None
            suffix = f": {message}" if message else ""
            raise ODataUnavailable(f"1C answered HTTP {response.status_code}{suffix}")
        body = _json(response.content)
        message = _odata_error(body)
        if message is not None:
            raise ODataUnavailable(f"1C answered an error: {message or 'no message'}")
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ODataUnavailable(f"1C's answer for {entity.split('/')[0]} has no list of rows")
        return value


def _json(content: bytes) -> Any:
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise ODataUnavailable("1C's answer is not JSON") from None


def _odata_error(body: Any) -> str | None:
    """1C's own message from an ``odata.error`` body (``""`` when it has none), ``None`` when not an error."""
    if not isinstance(body, dict) or "odata.error" not in body:
        return None
    error = body["odata.error"]
    message = error.get("message") if isinstance(error, dict) else None
    text = message.get("value") if isinstance(message, dict) else message
    return " ".join(str(text).split())[:MAX_MESSAGE] if text else ""


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise ODataUnavailable(f"a row of 1C's answer has no {name}")
    return value


def _article(item: Mapping[str, Any]) -> str:
    value = item.get("Артикул", "")
    if not isinstance(value, str):
        raise ODataUnavailable(f"{CATALOG} has a non-text Артикул")
    return value.strip()


def _quantity(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ODataUnavailable("a row of 1C's balance has no number in ВНаличииBalance")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ODataUnavailable("a row of 1C's balance has no number in ВНаличииBalance") from None
    if not number.is_finite():
        raise ODataUnavailable("a row of 1C's balance has no number in ВНаличииBalance")
    return number


def _whole(qty: Decimal, article: str, warehouse: str, warnings: list[str]) -> int:
    if qty < 0:
        warnings.append(f"{article} in {warehouse}: 1C's balance is negative ({qty}); counted as 0")
        return 0
    whole = int(qty)  # towards zero, which is the floor for a non-negative number
    if whole != qty:
        warnings.append(f"{article} in {warehouse}: 1C's balance {qty} is not whole; counted as {whole}")
    return whole


class ODataBalanceSource:
    """The pull's port (``workflows.onec_pull.BalanceSource``) on 1C's OData."""

    def __init__(self, stock: ODataStock) -> None:
        self._stock = stock

    async def balance(self) -> list[tuple[str, str, int]]:
        try:
            found = await self._stock.balance()
        except ODataUnavailable as error:
            raise SourceUnavailable(error.reason) from None
        for warning in found.warnings[:20]:
            log.warning("1C OData: %s", warning)
        return [(row.article, row.warehouse_onec_id, row.qty) for row in found.balances]
