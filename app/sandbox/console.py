"""The sandbox console's routes: the page at ``/sandbox`` and its JSON under ``/sandbox/api/``.

The state is read from where each person would see it — the Slack and Telegram emulators' chats, the channels'
emulators' stock — plus our own ledger and orders. A page that names the version it shows (``?seen=``) is answered
when the state differs from it: at once, or as soon as something changes (``changes.py``), or after
:data:`HOLD_S` with the same state; so a change reaches an open console without the console asking every second.
Actions are done as those people would do them: a clerk's
click is a signed Slack interaction POSTed to ``/slack/events``, a manager's message or button press is a
Telegram update the bot polls. Only served by ``storeops sandbox`` (on 127.0.0.1), never by ``storeops run``; no
login, so ``local_only.py`` keeps other sites and other machines' names out."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.http.views import availability_view, order_view
from app.sandbox.catalogue import KITS, OZON_WAREHOUSE, PEOPLE, RETAILCRM_STORE, STORES, WB_WAREHOUSE, offered
from app.sandbox.local_only import json_error as _error
from app.sandbox.local_only import local_only
from app.sandbox.scenarios import SCENARIOS, ScenarioError, Scenarios
from app.sandbox.shop import SandboxShop
from app.web import STATIC
from bot.order_history import history_line
from bot.wording import Names
from emulators.slack.interactivity import block_action, buttons, deliver
from storage.read_models import recent_order_ids
from workflows.errors import WorkflowError
from workflows.offer_ids import offer_id_for

B = TypeVar("B", bound=BaseModel)
P = TypeVar("P", bound="_FromPerson")
PEOPLE_IDS = frozenset(p.telegram_id for p in PEOPLE)
HOLD_S = 25.0  # how long a page's ``?seen=`` request waits for a change before it is answered with the same state
SETTLE_S = 0.05  # after a poke, the rest of a burst (a commit, the chats' messages) lands before the state is built
# While an action of the console runs (a scenario, a press), what it changes is shown at most this often: the page
# asks for the state at once when the action is answered, and a state built at every step would slow the action.
ACTING_S = 0.25


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlackPress(_Body):
    channel: str
    ts: str
    action_id: str
    value: str
    user: str


class _FromPerson(_Body):
    user: int  # the person's Telegram id


class TelegramSend(_FromPerson):
    text: str = Field(min_length=1, max_length=4096)


class TelegramPress(_FromPerson):
    message_id: int
    data: str = Field(min_length=1, max_length=64)


class ClockMove(_Body):
    advance_s: int = Field(gt=0, le=7 * 24 * 3600)


async def _body(request: web.Request, model: type[B]) -> B | web.Response:
    try:
        return model.model_validate(await request.json())
    except ValueError as error:  # not JSON, or not the right shape (ValidationError is a ValueError)
        details = error.errors(include_url=False) if isinstance(error, ValidationError) else []
        return _error(400, "bad_request", "the body is not what this action takes", details)


async def _from_person(request: web.Request, model: type[P]) -> P | web.Response:
    """A body on behalf of someone: one of the sandbox's people, or 404."""
    body = await _body(request, model)
    if not isinstance(body, web.Response) and body.user not in PEOPLE_IDS:
        return _error(404, "not_found", f"no person {body.user} in the sandbox")
    return body


def install(sandbox: SandboxShop, scenarios: Scenarios) -> Callable[[web.Application], None]:
    console = Console(sandbox, scenarios)

    def add(app: web.Application) -> None:
        # outermost, on every route of the service: the API token must not reach a page of another site either
        app.middlewares.insert(0, local_only(sandbox.services.settings.http.host))
        app.router.add_get("/sandbox", console.page)
        app.router.add_get("/sandbox/api/state", console.state)
        app.router.add_post("/sandbox/api/slack/press", console.acting(console.slack_press))
        app.router.add_post("/sandbox/api/telegram/send", console.acting(console.telegram_send))
        app.router.add_post("/sandbox/api/telegram/press", console.acting(console.telegram_press))
        app.router.add_get("/sandbox/api/telegram/photo/{chat}/{message}", console.telegram_photo)
        app.router.add_post("/sandbox/api/scenario/{name}", console.acting(console.scenario))
        app.router.add_post("/sandbox/api/clock", console.acting(console.move_clock))
        app.on_shutdown.append(console.close)  # before aiohttp waits for the requests in flight: the held ones end

    return add


@dataclass(frozen=True)
class _Snapshot:
    """The state as built after ``pokes`` pokes (the clock's moment left out: it changes all the time), the
    ``serial``-th build: a page keeps the later of two answers that cross on the way."""

    pokes: int
    serial: int
    version: str
    offset_s: int
    state: dict[str, Any]


class Console:
    def __init__(self, sandbox: SandboxShop, scenarios: Scenarios) -> None:
        self.sandbox, self.scenarios = sandbox, scenarios
        self.changes = sandbox.changes
        self._building = asyncio.Lock()  # one build at a time: the pages waiting share it
        self._last: _Snapshot | None = None
        self._builds = 0
        self._acting = 0  # the console's actions under way

    def acting(self, action: Handler) -> Handler:
        """``action`` as a route: while it runs the state is built less often; once it is done, a poke."""

        async def route(request: web.Request) -> web.StreamResponse:
            self._acting += 1
            try:
                return await action(request)
            finally:
                self._acting -= 1
                self.changes.poke()

        return route

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "sandbox.html")

    async def close(self, _app: web.Application) -> None:
        self.changes.close()

    # -- state -------------------------------------------------------------------------------------------------

    async def state(self, request: web.Request) -> web.Response:
        """The state, with its ``version``; with ``?seen=<version>``, once it is another (or :data:`HOLD_S` passed)."""
        seen = request.query.get("seen")
        loop = asyncio.get_running_loop()
        until = loop.time() + HOLD_S
        snapshot = await self._snapshot(fresh=seen is None)
        while snapshot.version == seen and not self.changes.closed:
            if not await self.changes.after(snapshot.pokes, until - loop.time()):
                break
            await asyncio.sleep(ACTING_S if self._acting else SETTLE_S)
            snapshot = await self._snapshot(fresh=False)
        now = self.sandbox.clock.now().isoformat()
        clock = {"now": now, "offset_s": snapshot.offset_s}
        answer = {"version": snapshot.version, "serial": snapshot.serial, "clock": clock, **snapshot.state}
        return web.json_response(answer)

    async def _snapshot(self, *, fresh: bool) -> _Snapshot:
        """The state now: built again unless nothing was poked since the last build (``fresh``: built again)."""
        async with self._building:
            pokes, last = self.changes.count, self._last
            if last is not None and last.pokes == pokes and not fresh:
                return last
            sandbox = self.sandbox
            offset_s = int(sandbox.clock.offset.total_seconds())
            state = {
                "stores": self._stores(),
                "people": self._people(),
                "stock": await self._stock(),
                "orders": await self._orders(),
                "scenarios": [{"name": s.name, "title": s.title, "description": s.description} for s in SCENARIOS],
                "dashboard_url": f"/dashboard#token={sandbox.api_token}",
                "api_token": sandbox.api_token,  # the order pane reads the service's own API with it
            }
            text = json.dumps([offset_s, state], ensure_ascii=False)
            version = hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
            self._builds += 1
            self._last = _Snapshot(pokes, self._builds, version, offset_s, state)
            return self._last

    def _stores(self) -> list[dict[str, Any]]:
        slack = self.sandbox.emulators.slack
        return [
            {
                "code": store.code, "title": store.title, "channel": store.slack_channel,
                "staff": [{"id": user, "name": name} for user, name in store.staff],
                "messages": [
                    {"ts": m.ts, "text": m.text, "blocks": m.blocks, "buttons": buttons(m), "edited": bool(m.history),
                     "edited_ts": m.edited_ts}
                    for m in slack.messages(store.slack_channel)
                ],
            }
            for store in STORES
        ]  # fmt: skip

    def _people(self) -> list[dict[str, Any]]:
        telegram = self.sandbox.emulators.telegram
        people = []
        for person in PEOPLE:
            messages = []
            for m in telegram.transcript(person.telegram_id):  # the person's own commands too
                if m.deleted:
                    continue
                photo = f"/sandbox/api/telegram/photo/{person.telegram_id}/{m.message_id}" if m.photo else None
                messages.append({
                    "message_id": m.message_id, "from": "bot" if m.outgoing else "user",
                    "text": m.text if m.text is not None else (m.caption or ""),
                    "buttons": [[{"text": b.get("text", ""), "data": b.get("callback_data", "")} for b in row]
                                for row in m.buttons],
                    "photo": photo, "date": _iso(m.date), "edited": m.edit_date is not None,
                })  # fmt: skip
            people.append({"id": person.telegram_id, "name": person.name, "role": person.role, "messages": messages})
        return people

    async def _stock(self) -> dict[str, Any]:
        sandbox = self.sandbox
        topology = sandbox.topology
        rows = []
        kits = {kit.sku: components for kit, components in KITS}
        for item in offered():
            view: dict[str, Any] = dict(availability_view(await sandbox.services.shop.ledger.stock(item.sku)))
            shows, prices = self._shown(item.sku)
            by_warehouse = {
                w.code: {k: view["by_warehouse"].get(w.code, {}).get(k, 0) for k in ("on_hand", "reserved")}
                for w in topology.warehouses
            }
            rows.append({
                "sku": item.sku, "name": item.name, "by_warehouse": by_warehouse, "available": view["available"],
                "should_show": view["by_channel"], "shows": shows, "prices_shown": prices,
                "kit": kits.get(item.sku),
            })  # fmt: skip
        return {
            "warehouses": [{"code": w.code, "title": w.title or w.code} for w in topology.warehouses],
            "channels": list(topology.channels),
            "rows": rows,
        }

    def _shown(self, sku: str) -> tuple[dict[str, int | None], dict[str, str | None]]:
        """What each channel's emulator shows of ``sku``: its stock, and its price (roubles) as a buyer sees it
        (the marketplaces' before their promotions)."""
        sandbox, e = self.sandbox, self.sandbox.emulators
        offer = {name: offer_id_for(sku, channel.offer_id) for name, channel in sandbox.topology.channels.items()}
        chrt = sandbox.wb_chrt[sku]
        ym, crm = e.yandex_market.stock(offer["yandex_market"]), e.retailcrm.stock(offer["retailcrm"], RETAILCRM_STORE)
        shows = {
            "site": e.site.stock(sku),
            "wildberries": e.wildberries.stock(WB_WAREHOUSE, chrt),
            "ozon": e.ozon.stock(OZON_WAREHOUSE, offer["ozon"]),
            "yandex_market": None if ym is None else ym.count,
            "retailcrm": None if crm is None else int(crm),
        }
        ym_price = e.yandex_market.price(offer["yandex_market"])
        prices = _roubles({
            "site": e.site.price(sku),
            "wildberries": e.wildberries.price(chrt),
            "ozon": e.ozon.price(offer["ozon"]),
            "yandex_market": None if ym_price is None else ym_price.value,
            "retailcrm": e.retailcrm.price(offer["retailcrm"]),
        })  # fmt: skip
        return shows, prices

    async def _orders(self) -> list[dict[str, Any]]:
        services = self.sandbox.services
        locale = services.settings.business.locale
        names, tz = Names.of(self.sandbox.topology, locale), self.sandbox.topology.onec.timezone
        views = []
        async with services.shop.uow(read_only=True) as uow:  # one transaction for all: a state built often
            orders = [await uow.orders.get(order_id) for order_id in await recent_order_ids(services.database, 30)]
        for order in orders:
            if order is None:
                continue
            view: dict[str, Any] = dict(order_view(order, history=True))
            view["history"] = [_history_entry(dict(h), names, tz) for h in view["history"]]
            views.append(view)
        return views

    # -- acting as people --------------------------------------------------------------------------------------

    async def slack_press(self, request: web.Request) -> web.Response:
        body = await _body(request, SlackPress)
        if isinstance(body, web.Response):
            return body
        store = next((s for s in STORES if s.slack_channel == body.channel), None)
        if store is None:
            return _error(404, "not_found", f"no store channel {body.channel}")
        message = next((m for m in self.sandbox.emulators.slack.messages(body.channel) if m.ts == body.ts), None)
        if message is None:
            return _error(404, "not_found", f"no message {body.ts} in {body.channel}")
        try:
            payload = block_action(message, body.action_id, body.value, body.user)
        except LookupError as error:
            return _error(409, "gone", str(error))
        secret = self.sandbox.services.settings.slack.signing_secret
        if secret is None:
            return _error(409, "no_slack", "the sandbox's Slack app has no signing secret")
        url = f"{self.sandbox.url}/slack/events"
        status = await deliver(self.sandbox.http, url, secret.get_secret_value(), payload)
        if status >= 400:
            return _error(502, "app_refused", f"the app answered Slack's interaction with HTTP {status}")
        await self.sandbox.deliver()  # what the click changed, posted now, not at the delivery jobs' next second
        return web.json_response({"ok": True})

    async def telegram_send(self, request: web.Request) -> web.Response:
        body = await _from_person(request, TelegramSend)
        if isinstance(body, web.Response):
            return body
        self.sandbox.emulators.telegram.push_text(body.user, body.text)
        return web.json_response({"ok": True})

    async def telegram_press(self, request: web.Request) -> web.Response:
        body = await _from_person(request, TelegramPress)
        if isinstance(body, web.Response):
            return body
        try:
            self.sandbox.emulators.telegram.push_callback(body.user, (body.user, body.message_id), body.data)
        except (ValueError, LookupError) as error:
            return _error(409, "gone", str(error))
        return web.json_response({"ok": True})

    async def telegram_photo(self, request: web.Request) -> web.Response:
        try:
            chat, message = int(request.match_info["chat"]), int(request.match_info["message"])
        except ValueError:
            return _error(404, "not_found", "no such photo")
        data = self.sandbox.emulators.telegram.photo(chat, message)
        if data is None:
            return _error(404, "not_found", "no such photo")
        return web.Response(body=data, content_type="image/png")

    async def scenario(self, request: web.Request) -> web.Response:
        try:
            summary = await self.scenarios.run(request.match_info["name"])
        except ScenarioError as error:
            return _error(409, "scenario_failed", str(error))
        except WorkflowError as error:
            return _error(409, "scenario_failed", str(error))
        return web.json_response({"ok": True, "summary": summary})

    async def move_clock(self, request: web.Request) -> web.Response:
        body = await _body(request, ClockMove)
        if isinstance(body, web.Response):
            return body
        await self.sandbox.advance(body.advance_s)
        clock = self.sandbox.clock
        return web.json_response({"now": clock.now().isoformat(), "offset_s": int(clock.offset.total_seconds())})


def _history_entry(event: dict[str, Any], names: Names, timezone: str) -> dict[str, Any]:
    """One history event for the console: its time, kind, details, and the line the office reads in Telegram."""
    at, kind = event.pop("at"), event.pop("event")
    said = history_line(names.locale, kind, event, names, timezone)
    return {"at": at, "event": kind, "said": said, "detail": ", ".join(f"{k}: {v}" for k, v in event.items())}


def _roubles(prices: dict[str, Decimal | int | None]) -> dict[str, str | None]:
    """Prices in roubles as text with kopecks (``None``: the channel shows no price)."""
    return {channel: None if p is None else f"{Decimal(p):.2f}" for channel, p in prices.items()}


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat()
