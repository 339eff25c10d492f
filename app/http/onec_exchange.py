"""1C's "exchange with the site" (CommerceML 2, the Bitrix protocol): stock, the catalogue and order documents
in, orders out.

1C starts every exchange; each request names ``type`` and ``mode`` in the query string:

1. ``mode=checkauth`` with HTTP Basic auth → ``success\\n<cookie name>\\n<cookie value>``: a new session, kept in
   memory until ``ExchangeLimits.session_idle`` passes without a request. Wrong credentials → 401 ``failure``.
2. ``mode=init`` → ``zip=no\\nfile_limit=<bytes>``: no archives, and at most that much per upload request (1C
   splits a larger file into several, sent under the same name and appended). It also forgets earlier uploads.
3. ``POST mode=file&filename=<name>`` → ``success``: an ``.xml`` file is kept for the session; anything else
   (the catalogue's pictures) is read and dropped. A name that climbs out (``..``), is absolute or has odd
   characters is refused, as is a session holding more than ``session_bytes``.
4. ``mode=import&filename=<name>`` → the file is parsed (:func:`integrations.commerceml.parse_stock`) and handed
   to ``on_stock``; ``success`` or ``failure\\n<reason>``. A catalogue (``import.xml``, read by
   :func:`integrations.commerceml_catalogue.parse_catalogue`) goes to ``on_catalogue`` (when there is none, or for
   a prices-only file, the answer is ``success`` and nothing is done).

Where the files are kept: on disk, not in memory. Each ``.xml`` a session keeps is an unnamed temporary file
(:func:`tempfile.TemporaryFile`, in the system's temporary folder, ``TMPDIR``): it has no name in any folder, so
nothing is left behind by a crash or a restart. It is closed, and its space freed, once it is imported, when
``init`` starts over, when its session is forgotten (idle, or the least recently used past ``sessions``) and when
the server stops. So the files take at most ``sessions × session_bytes`` of disk (4 × 64 MiB by default), and
memory holds only the upload being received (at most ``file_limit``) and, while a file is imported, the figures
read from it: the parser streams the file and keeps no tree.

``type=sale`` (orders), after the same ``checkauth`` and ``init``:

* ``mode=query`` → our orders ready for 1C (``orders``: :class:`ExportedOrders`, with the client's contacts and
  whether it is paid), or an empty document when no ``orders`` is given; ``mode=success`` → 1C took them.
* ``POST mode=file&filename=<name>`` → 1C's order documents (what it did with our orders), kept in pieces exactly as
  a catalogue file is. Bitrix's module has two ways and 1C uses either: the older applies the file at ``mode=file``
  and expects no import; the newer (an ``init`` with ``version=``) answers ``success`` and applies it at
  ``mode=import``. Both are served without asking which: a piece shorter than ``file_limit`` is the file's last
  (1C sends full pieces before it), so the file is parsed (:func:`integrations.commerceml_orders.parse_order_documents`)
  and handed to ``on_documents`` then, and answered ``success`` or ``failure\\n<reason>``; an ``import`` of it that
  follows is answered ``success``. A file whose size is a whole number of pieces waits for its ``import``.
  Without ``on_documents``, ``file`` is refused.

Every request but ``checkauth`` needs the session cookie; without a known one the answer is ``failure``.
Answers are ``text/plain`` in windows-1251, as Bitrix sends them and 1C reads them; a refusal is ``failure`` on
the first line and one line of reason, with status 200 (1C shows that reason to its operator; a 4xx it shows
only as a code) — except the 401 for wrong credentials.

``on_stock`` is the caller's: it applies the package, returns a summary (logged), and refuses a package by
raising :class:`~integrations.commerceml.CommerceMLError` or a :class:`~workflows.errors.WorkflowError`, whose
message becomes the reason. :func:`intake_on_stock` is the one the service uses: the 1C intake
(:mod:`workflows.onec_intake`). ``on_documents`` is the same for order documents; the service's is
:func:`status_on_documents` (:mod:`workflows.onec_order_status`, the whole package in one transaction).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Protocol, TypeVar

from aiohttp import web

from app.http.throttle import FailedLogins
from app.http.views import price_result_view, stock_result_view
from integrations.commerceml import (
    CommerceMLError,
    NoOffersPackage,
    StockPackage,
    intake_lines,
    intake_prices,
    intake_totals,
    parse_stock,
    render_orders,
    stock_time,
)
from integrations.commerceml_catalogue import CataloguePackage, NoCatalogue, parse_catalogue
from integrations.commerceml_orders import OrderDocuments, parse_order_documents
from workflows.catalogue import OneCCatalogue
from workflows.errors import WorkflowError
from workflows.onec_intake import StockIntake, StockSource
from workflows.onec_order_status import OneCOrderStatus
from workflows.onec_orders import OrderExport
from workflows.ports import Clock
from workflows.prices import PriceIntake, checked_prices
from workflows.topology import Topology

log = logging.getLogger(__name__)

COOKIE_NAME = "storeops_1c"
CHARSET = "windows-1251"
MIB = 1024 * 1024
OnStock = Callable[[StockPackage], Awaitable[Mapping[str, object]]]
OnCatalogue = Callable[[CataloguePackage], Awaitable[Mapping[str, object]]]
OnOrderDocuments = Callable[[OrderDocuments], Awaitable[Mapping[str, object]]]
Parsed = TypeVar("Parsed")


class OrdersForOneC(Protocol):
    """Where ``type=sale`` gets its orders (``OrderExport`` plus the rendering)."""

    async def query(self) -> tuple[bytes, list[int]]:
        """The CommerceML document to send, and the ids of the orders in it."""
        ...

    async def taken(self, order_ids: list[int]) -> None: ...


_UNSAFE_NAME = "the file name is missing, absolute, climbs out with '..' or has odd characters"
_NAME_PART = re.compile(r"[\w.\-]{1,128}")
_EMPTY_ORDERS = (  # the answer to type=sale&mode=query: no orders; {} is the time it was made
    f'<?xml version="1.0" encoding="{CHARSET}"?>\n'
    '<КоммерческаяИнформация ВерсияСхемы="2.05" ДатаФормирования="{}"/>\n'
)


@dataclass(frozen=True)
class ExchangeLimits:
    file_limit: int = 8 * MIB  # the most one upload request may carry (told to 1C in init)
    session_bytes: int = 64 * MIB  # all the files one session keeps, together
    session_idle: timedelta = timedelta(minutes=30)
    sessions: int = 4  # sessions kept at once; opening one more forgets the least recently used


class HeldFile:
    """One file a session keeps: its pieces appended, in order, to an unnamed temporary file on disk."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close(), whoever ends the file's life
        self.size = 0

    def append(self, piece: bytes) -> None:
        self._file.write(piece)
        self.size += len(piece)

    def parse_and_close(self) -> StockPackage | CataloguePackage:
        """The whole file as a stock package, or else as 1C's catalogue (each read as a stream); the file is gone
        afterwards, parsed or not. Neither → :class:`NoOffersPackage`."""
        return self.read_and_close(_stock_or_catalogue)

    def read_and_close(self, parse: Callable[[IO[bytes]], Parsed]) -> Parsed:
        """The whole file read by ``parse`` from its start; the file is gone afterwards, parsed or not."""
        try:
            self._file.seek(0)
            return parse(self._file)
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


@dataclass
class ExchangeSession:
    last_seen: datetime
    files: dict[str, HeldFile] = field(default_factory=dict)
    orders_sent: list[int] = field(default_factory=list)  # ids in the last query, until 1C says success
    documents_applied: set[str] = field(default_factory=set)  # order files applied at their last piece
    ended: bool = False  # forgotten by the sessions: an upload still arriving for it is not kept

    @property
    def size(self) -> int:
        return sum(held.size for held in self.files.values())

    def forget_files(self, name: str | None = None) -> None:
        """Close and forget one file (by name), or all of them."""
        for key in list(self.files) if name is None else [name]:
            held = self.files.pop(key, None)
            if held is not None:
                held.close()

    def end(self) -> None:
        self.forget_files()
        self.ended = True


class ExchangeSessions:
    """The sessions that ``checkauth`` opened, by cookie value, in memory (a restart ends them: 1C begins again)."""

    def __init__(self, clock: Clock, limits: ExchangeLimits) -> None:
        self._clock, self._limits = clock, limits
        self._sessions: dict[str, ExchangeSession] = {}

    def open(self) -> str:
        now = self._clock.now()
        self._forget_idle(now)
        while len(self._sessions) >= self._limits.sessions:
            oldest = min(self._sessions, key=lambda token: self._sessions[token].last_seen)
            self._sessions.pop(oldest).end()
        token = secrets.token_urlsafe(32)
        self._sessions[token] = ExchangeSession(last_seen=now)
        return token

    def find(self, token: str | None) -> ExchangeSession | None:
        """The live session of ``token``, marked as used now; ``None`` for an unknown or idle-expired one."""
        now = self._clock.now()
        self._forget_idle(now)
        session = self._sessions.get(token or "")
        if session is not None:
            session.last_seen = now
        return session

    def _forget_idle(self, now: datetime) -> None:
        for token in [t for t, s in self._sessions.items() if now - s.last_seen > self._limits.session_idle]:
            self._sessions.pop(token).end()

    def close(self) -> None:
        """Forget every session and its files (the server is stopping)."""
        for session in self._sessions.values():
            session.end()
        self._sessions.clear()


class _UtcClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OneCExchange:
    """The protocol's state and answers for one endpoint; :meth:`handle` serves every request to it."""

    def __init__(
        self,
        *,
        user: str,
        password: str,
        on_stock: OnStock,
        clock: Clock | None = None,
        limits: ExchangeLimits | None = None,
        orders: OrdersForOneC | None = None,
        logins: FailedLogins | None = None,
        on_documents: OnOrderDocuments | None = None,
        on_catalogue: OnCatalogue | None = None,
    ) -> None:
        if not user or not password:
            raise ValueError("the 1C exchange needs a login and a password")
        # 1C may encode a non-ASCII login in either: both are accepted.
        pair = f"{user}:{password}"
        self._credentials = [pair.encode()]
        if _encodable(pair):
            self._credentials.append(pair.encode(CHARSET))
        self._on_stock, self._on_catalogue = on_stock, on_catalogue
        self._orders = orders
        self._on_documents = on_documents
        self._clock = clock or _UtcClock()
        self.limits = limits or ExchangeLimits()
        self.sessions = ExchangeSessions(self._clock, self.limits)
        self.logins = logins or FailedLogins(self._clock, "1C exchange login")

    async def handle(self, request: web.Request) -> web.Response:
        kind, mode = request.query.get("type", ""), request.query.get("mode", "")
        if kind not in ("catalog", "sale"):
            return _answer("failure", f"unknown exchange type {kind[:20]!r}: expected catalog or sale")
        if mode == "checkauth":
            return self._checkauth(request)
        session = self.sessions.find(request.cookies.get(COOKIE_NAME))
        if session is None:
            return _answer("failure", "no exchange session (or it expired): start again with mode=checkauth")
        if mode == "init":
            session.forget_files()
            session.documents_applied.clear()
            return _answer("zip=no", f"file_limit={self.limits.file_limit}")
        if kind == "sale":
            return await self._sale(request, mode, session)
        if mode == "file":
            return await self._file(request, session)
        if mode == "import":
            return await self._import(request, session)
        return _answer("failure", f"unknown mode {mode[:20]!r} for type=catalog")

    def _checkauth(self, request: web.Request) -> web.Response:
        """A new session for the right login; an address with too many wrong ones in a short time is refused
        with 429 ``failure`` and ``Retry-After`` until its block runs out, whatever it sends."""
        wait = self.logins.retry_after(request.remote)
        if wait is not None:
            response = _answer("failure", f"too many wrong logins from this address: try again in {wait} s", status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        if not self._authorized(request.headers.get("Authorization", "")):
            log.warning("1C exchange: wrong or missing credentials from %s", request.remote)
            self.logins.failed(request.remote)
            response = _answer("failure", "wrong login or password for the exchange", status=401)
            response.headers["WWW-Authenticate"] = 'Basic realm="storeops 1C exchange"'
            return response
        return _answer("success", COOKIE_NAME, self.sessions.open())

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        matches = [hmac.compare_digest(given, expected) for expected in self._credentials]
        return any(matches)

    async def _sale(self, request: web.Request, mode: str, session: ExchangeSession) -> web.Response:
        if mode == "query":
            if self._orders is None:
                document = _EMPTY_ORDERS.format(self._clock.now().strftime("%Y-%m-%dT%H:%M:%S")).encode(CHARSET)
            else:
                document, session.orders_sent = await self._orders.query()
            return web.Response(body=document, content_type="application/xml", charset=CHARSET)
        if mode == "success":  # 1C loaded what the last query sent: those orders are its now
            if self._orders is not None and session.orders_sent:
                await self._orders.taken(session.orders_sent)
                log.info("1C exchange: 1C took %d orders", len(session.orders_sent))
                session.orders_sent = []
            return _answer("success")
        if mode not in ("file", "import"):
            return _answer("failure", f"unknown mode {mode[:20]!r} for type=sale")
        if self._on_documents is None:
            return _answer("failure", "this site takes stock from 1C, not order documents")
        if mode == "file":
            return await self._sale_file(request, session)
        return await self._sale_import(request, session)

    async def _sale_file(self, request: web.Request, session: ExchangeSession) -> web.Response:
        """A piece of 1C's order file, kept as a catalogue file is. A piece shorter than ``file_limit`` is the
        file's last (1C sends full pieces before it): the file is applied at once, as Bitrix's older protocol
        does, and an ``import`` of it that may follow is answered ``success``."""
        response = await self._file(request, session)
        name = _filename(request) or ""
        held = session.files.get(name)
        if response.body != b"success" or held is None or held.size % self.limits.file_limit == 0:
            return response  # refused, not kept (a picture), or more pieces may come: import applies it
        del session.files[name]
        return await self._apply_documents(name, held, session)

    async def _sale_import(self, request: web.Request, session: ExchangeSession) -> web.Response:
        name = _filename(request)
        if name is None:
            return _answer("failure", _UNSAFE_NAME)
        held = session.files.pop(name, None)
        if held is None:
            if name in session.documents_applied:
                return _answer("success")  # applied when its last piece came
            return _answer("failure", f"no file {name!r} was uploaded in this session (after init)")
        return await self._apply_documents(name, held, session)

    async def _apply_documents(self, name: str, held: HeldFile, session: ExchangeSession) -> web.Response:
        """Parse 1C's order file and hand its documents over: ``success``, or ``failure`` with the reason."""
        assert self._on_documents is not None
        try:
            package = await asyncio.to_thread(held.read_and_close, parse_order_documents)
            summary = await self._on_documents(package)
        except CommerceMLError as error:
            reason = error.reason
        except WorkflowError as error:
            reason = error.message
        except OSError:
            log.exception("1C exchange: could not read %s back from disk", name)
            reason = "the site could not read the file back (an error on its side, logged)"
        except Exception:  # the exchange answers; the details go to the log
            log.exception("1C exchange: applying the order documents of %s failed", name)
            reason = "the site could not apply the order documents (an error on its side, logged); try again"
        else:
            session.documents_applied.add(name)
            log.info("1C exchange: order documents %s applied: %s", name, dict(summary))
            return _answer("success")
        log.warning("1C exchange: order documents %s not applied: %s", name, reason)
        return _answer("failure", f"{name}: {reason}")

    async def _file(self, request: web.Request, session: ExchangeSession) -> web.Response:
        name = _filename(request)
        if name is None:
            return _answer("failure", _UNSAFE_NAME)
        if name.lower().endswith(".zip"):
            return _answer("failure", "archives are not taken: switch compression off (init says zip=no)")
        body = await _read_limited(request, self.limits.file_limit)
        if body is None:
            return _answer("failure", f"one upload may carry at most {self.limits.file_limit} bytes (file_limit)")
        if not name.lower().endswith(".xml"):
            return _answer("success")  # pictures and the like: nothing here uses them
        return self._keep(session, name, body)

    def _keep(self, session: ExchangeSession, name: str, piece: bytes) -> web.Response:
        """Append ``piece`` to the session's file ``name``; past ``session_bytes`` the whole file is forgotten."""
        if session.ended:  # forgotten while the piece was arriving
            return _answer("failure", "no exchange session (or it expired): start again with mode=checkauth")
        if session.size + len(piece) > self.limits.session_bytes:
            session.forget_files(name)
            return _answer("failure", f"the files of one exchange may total at most {self.limits.session_bytes} bytes")
        try:
            held = session.files.get(name)
            if held is None:
                held = session.files[name] = HeldFile()
            held.append(piece)
        except OSError:
            log.exception("1C exchange: could not keep a piece of %s on disk", name)
            session.forget_files(name)
            return _answer("failure", f"{name}: the site could not keep the file (an error on its side, logged)")
        return _answer("success")

    async def _import(self, request: web.Request, session: ExchangeSession) -> web.Response:
        name = _filename(request)
        if name is None:
            return _answer("failure", _UNSAFE_NAME)
        held = session.files.pop(name, None)
        if held is None:
            return _answer("failure", f"no file {name!r} was uploaded in this session (after init)")
        try:
            package = await asyncio.to_thread(held.parse_and_close)
        except NoOffersPackage:
            log.info("1C exchange: %s holds neither stock nor a catalogue: nothing to import", name)
            return _answer("success")
        except CommerceMLError as error:
            log.warning("1C exchange: %s refused: %s", name, error.reason)
            return _answer("failure", f"{name}: {error.reason}")
        except OSError:
            log.exception("1C exchange: could not read %s back from disk", name)
            return _answer("failure", f"{name}: the site could not read the file back (an error on its side, logged)")
        if isinstance(package, CataloguePackage):
            if self._on_catalogue is None:
                log.info("1C exchange: %s is a catalogue, which this exchange does not take", name)
                return _answer("success")
            return await self._hand_over(name, package)
        if not package.has_stock and not package.prices:
            log.info("1C exchange: %s has neither stock figures nor prices: nothing to import", name)
            return _answer("success")
        return await self._hand_over(name, package)

    async def _hand_over(self, name: str, package: StockPackage | CataloguePackage) -> web.Response:
        try:
            if isinstance(package, CataloguePackage):
                assert self._on_catalogue is not None
                summary = await self._on_catalogue(package)
            else:
                summary = await self._on_stock(package)
        except CommerceMLError as error:
            reason = error.reason
        except WorkflowError as error:
            reason = error.message
        except Exception:  # the exchange answers; the details go to the log
            log.exception("1C exchange: applying %s failed", name)
            reason = "the site could not apply the stock (an error on its side, logged); try the exchange again"
        else:
            log.info("1C exchange: %s applied: %s", name, dict(summary))
            return _answer("success")
        log.warning("1C exchange: %s not applied: %s", name, reason)
        return _answer("failure", f"{name}: {reason}")


def register(
    app: web.Application,
    *,
    path: str,
    user: str,
    password: str,
    on_stock: OnStock,
    clock: Clock | None = None,
    limits: ExchangeLimits | None = None,
    orders: OrdersForOneC | None = None,
    logins: FailedLogins | None = None,
    on_documents: OnOrderDocuments | None = None,
    on_catalogue: OnCatalogue | None = None,
) -> OneCExchange:
    """Serve the exchange at ``path`` (GET and POST) on ``app``; the returned object holds its sessions."""
    exchange = OneCExchange(user=user, password=password, on_stock=on_stock, clock=clock, limits=limits, orders=orders,
                            logins=logins, on_documents=on_documents,
                            on_catalogue=on_catalogue)  # fmt: skip
    app.router.add_get(path, exchange.handle)
    app.router.add_post(path, exchange.handle)

    async def forget_sessions(_: web.Application) -> None:
        exchange.sessions.close()

    app.on_cleanup.append(forget_sessions)
    return exchange


def intake_on_stock(
    intake: StockIntake, prices: PriceIntake | None = None, prices_queued: Callable[[], None] | None = None
) -> OnStock:
    """``on_stock`` that hands a package's lines to the 1C intake, as ``POST /api/1c/stock`` hands a message:
    all lines or none, by the same rules. One without ``ДатаФормирования`` is refused. Offers with only a
    total go to ``[onec] totals_warehouse``; without it a file of nothing else is refused (the intake's
    reason says to set it) and in a mixed one they are counted in the summary, not applied.

    The package's prices (an ``offers.xml`` with ``<Цены>``, or a ``prices.xml``) go to ``prices``, the price
    intake (:mod:`workflows.prices`), after the stock: checked before the stock is applied, so a bad price refuses
    the file before anything of it is written; ``prices_queued`` then wakes the price dispatchers, so the new prices
    go at once rather than at their next scheduled run."""

    async def on_stock(package: StockPackage) -> Mapping[str, object]:
        offered = checked_prices(intake_prices(package)) if prices is not None else []
        summary: dict[str, object] = {"changes_only": package.changes_only, "warnings": package.warnings[:5]}
        if package.has_stock:
            totals = intake_totals(package)
            result = await intake.apply(StockSource.EXCHANGE, stock_time(package), intake_lines(package), totals)
            summary |= {
                **stock_result_view(result),
                "totals_without_warehouse": len(totals),
                "totals_placed_in": intake.totals_warehouse if totals else None,
                "held_for_catalogue": result.held_for_catalogue,
            }
        if prices is not None and offered:
            priced = await prices.apply(StockSource.EXCHANGE.value, offered)
            summary["prices"] = price_result_view(priced)
            if prices_queued is not None and priced.queued:
                prices_queued()
        return summary

    return on_stock


def catalogue_on_import(catalogue: OneCCatalogue) -> OnCatalogue:
    """``on_catalogue`` that keeps what 1C's catalogue says of its products (:mod:`workflows.catalogue`) and
    applies the stock that waited for it. Products without an article are counted in the summary; ``storeops
    catalogue --unmapped`` lists them."""

    async def on_catalogue(package: CataloguePackage) -> Mapping[str, object]:
        result = await catalogue.learn(package.products)
        return {
            "products": result.products,
            "without_article": len(result.without_article),
            "released": stock_result_view(result.released),
            "still_held": result.still_held,
            "changes_only": package.changes_only,
        }

    return on_catalogue


def status_on_documents(status: OneCOrderStatus) -> OnOrderDocuments:
    """``on_documents`` that hands 1C's order documents to :class:`~workflows.onec_order_status.OneCOrderStatus`
    (the whole package in one transaction); the summary is what is logged."""

    async def on_documents(package: OrderDocuments) -> Mapping[str, object]:
        summary = await status.apply(package.documents)
        return {
            "documents": summary.documents,
            "paid": summary.paid,
            "shipped": summary.shipped,
            "cancelled": summary.cancelled,
            "unchanged": summary.unchanged,
            "unknown_orders": len(summary.unknown_orders),
            "other_operations": summary.other_operations,
        }

    return on_documents


def _stock_or_catalogue(file: IO[bytes]) -> StockPackage | CataloguePackage:
    """A stock package, or else 1C's catalogue; neither → :class:`NoOffersPackage`."""
    try:
        return parse_stock(file)
    except NoOffersPackage:
        file.seek(0)
        try:
            return parse_catalogue(file)
        except NoCatalogue:
            raise NoOffersPackage("the file holds neither stock nor a catalogue") from None


def _answer(*lines: str, status: int = 200) -> web.Response:
    # One reason per line: 1C reads the answer line by line.
    text = "\n".join(" ".join(line.split()) for line in lines)
    return web.Response(
        body=text.encode(CHARSET, errors="replace"), status=status, content_type="text/plain", charset=CHARSET
    )


def _encodable(text: str) -> bool:
    try:
        text.encode(CHARSET)
    except UnicodeEncodeError:
        return False
    return True


def _filename(request: web.Request) -> str | None:
    """The upload's name as 1C gives it (``offers0_1.xml``, ``import_files/ab/ab12.jpg``), or ``None`` if unsafe."""
    name = request.query.get("filename", "")
    if len(name) > 255 or name.startswith("/"):
        return None
    parts = name.split("/")
    if not all(_NAME_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        return None
    return name


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The request body, or ``None`` once it is over ``limit`` bytes (the rest is not read)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class ExportedOrders:
    """``OrdersForOneC`` of the service: the orders ``OrderExport`` says are ready, in CommerceML."""

    def __init__(self, export: OrderExport, topology: Topology, clock: Clock) -> None:
        self._export, self._clock = export, clock
        self._onec_ids = {w.code: w.onec_id for w in topology.warehouses if w.onec_id}

    async def query(self) -> tuple[bytes, list[int]]:
        orders = await self._export.pending()
        document = render_orders(orders, self._clock.now(), self._onec_ids)
        return document, [sent.order.id for sent in orders if sent.order.id is not None]

    async def taken(self, order_ids: list[int]) -> None:
        await self._export.taken(order_ids)
