"""The Central Bank's ``GET /scripts/XML_daily.asp`` over HTTP on 127.0.0.1, for the real ``httpx`` client.

Answers as the bank does: HTTP 200, ``application/xml; charset=windows-1251``, the sheet in force
on the day asked (``?date_req=DD/MM/YYYY``, else today). Tests steer it into the ways the bank fails: an HTTP
error status, an HTML page instead of XML, or no answer at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Literal

from aiohttp import web

from emulators.cbr.sheet import DEFAULT_QUOTES, ERROR_IN_PARAMETERS, Quote, RateBook, rates_date, render_sheet
from emulators.local_server import LocalServer

PATH = "/scripts/XML_daily.asp"
XML_CONTENT_TYPE = "application/xml; charset=windows-1251"

Answer = Literal["sheet", "error in parameters", "http error", "garbage", "hang"]

GARBAGE_PAGE = """<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>Банк России</title></head>
<body><h1>Сервис временно недоступен</h1><p>Попробуйте повторить запрос позже.<br></body></html>
"""
"""An HTML error page, as a proxy or the bank's front end shows during maintenance (not well-formed XML)."""


@dataclass(frozen=True)
class CbrRequest:
    """One request as the emulator received it, and what it was answered (``hang``: held, maybe never)."""

    path: str
    query: Mapping[str, str]
    answer: Answer

    @property
    def date_req(self) -> str | None:
        """The ``date_req`` parameter as sent (decoded), e.g. ``"31/12/2025"``."""
        return self.query.get("date_req")


class CbrEmulator(LocalServer):
    """The bank's daily rates, served on a free port of 127.0.0.1.

    Use ``async with CbrEmulator() as cbr:`` and give ``cbr.daily_url`` to the client (``CBR_DAILY_URL``).
    ``today`` is the day a request without ``date_req`` asks about (the real date when ``None``). Rates start from
    :data:`~emulators.cbr.sheet.DEFAULT_QUOTES`, or ``quotes``; change them with :meth:`set_rate`. Every request
    is recorded (:attr:`received`).
    """

    name = "CBR"
    url_path = "/"

    def __init__(self, *, today: dt.date | None = None, quotes: Mapping[str, Quote] | None = None) -> None:
        self.today = today
        self.book = RateBook(DEFAULT_QUOTES if quotes is None else quotes)
        self.received: list[CbrRequest] = []
        self._failure: Literal["http error", "garbage", "hang"] | None = None
        self._failure_status = 503
        self._released = asyncio.Event()
        self._stopping = False

    # -- serving ---------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        """The aiohttp application answering ``GET /scripts/XML_daily.asp``."""
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        return app

    async def _after_start(self) -> None:
        self._stopping = False

    async def _before_stop(self) -> None:
        self._stopping = True  # held requests are let go first
        self._released.set()

    @property
    def daily_url(self) -> str:
        """The full URL of the daily sheet, for ``CBR_DAILY_URL``."""
        return self.base_url.removesuffix("/") + PATH

    # -- what tests and the sandbox steer --------------------------------------------------------------------

    def set_rate(self, code: str, value: Decimal, *, nominal: int | None = None, on: dt.date | None = None) -> None:
        """List ``value`` roubles per ``nominal`` units of ``code`` (``Value`` on the wire, 4 decimals at most).

        ``on=None`` changes the standing rate, served for every day; ``on=<day>`` sets it for sheets dated that
        day only (mind :func:`~emulators.cbr.sheet.rates_date`: a Sunday is served Saturday's sheet). Without
        ``nominal`` the currency keeps its nominal (JPY and KZT per 100).
        """
        self.book.set(code, value, nominal=nominal, on=on)

    def fail_with(self, status: int = 503) -> None:
        """Answer every request with HTTP ``status`` (and a small HTML body) until :meth:`recover`."""
        if not 400 <= status <= 599:
            raise ValueError(f"a failure is an HTTP 4xx or 5xx status, not {status}")
        self._enter_failure("http error")
        self._failure_status = status

    def serve_garbage(self) -> None:
        """Answer HTTP 200 with an HTML error page instead of the XML until :meth:`recover`."""
        self._enter_failure("garbage")

    def hang(self) -> None:
        """Hold every request without answering until :meth:`recover` (or :meth:`stop`): clients time out."""
        self._enter_failure("hang")
        self._released.clear()

    def recover(self) -> None:
        """Answer normally again; requests held by :meth:`hang` get their sheet now."""
        self._failure = None
        self._released.set()

    def requests(self) -> list[CbrRequest]:
        """Requests received, oldest first."""
        return list(self.received)

    # -- answering -------------------------------------------------------------------------------------------

    def _enter_failure(self, failure: Literal["http error", "garbage", "hang"]) -> None:
        self._released.set()  # requests already held are let go, into the new failure
        self._failure = failure

    async def _handle(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        answer = self._answer_kind(query)
        self.received.append(CbrRequest(path=request.path, query=query, answer=answer))
        while self._failure == "hang" and not self._stopping:
            await self._released.wait()
            if self._failure == "hang" and not self._stopping:  # let go by a change of mode that is again a hang
                self._released.clear()
        return self._respond(query)

    def _answer_kind(self, query: Mapping[str, str]) -> Answer:
        if self._failure is not None:
            return self._failure
        return "sheet" if self._asked_day(query) is not None else "error in parameters"

    def _respond(self, query: Mapping[str, str]) -> web.Response:
        if self._failure == "http error":
            status = self._failure_status
            page = f"<html><body><h1>{status} {_reason(status)}</h1></body></html>"
            return web.Response(status=status, text=page, content_type="text/html")
        if self._failure == "garbage":
            return web.Response(text=GARBAGE_PAGE, content_type="text/html")
        asked = self._asked_day(query)
        if asked is None:
            return web.Response(body=ERROR_IN_PARAMETERS, headers={"Content-Type": XML_CONTENT_TYPE})
        sheet_date = rates_date(asked)
        body = render_sheet(sheet_date, self.book.quotes(sheet_date))
        return web.Response(body=body, headers={"Content-Type": XML_CONTENT_TYPE})

    def _asked_day(self, query: Mapping[str, str]) -> dt.date | None:
        """The day asked about; ``None`` when ``date_req`` is not a ``DD/MM/YYYY`` date."""
        raw = query.get("date_req")
        if raw is None:
            return self.today if self.today is not None else dt.date.today()
        try:
            return dt.datetime.strptime(raw, "%d/%m/%Y").date()
        except ValueError:
            return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
