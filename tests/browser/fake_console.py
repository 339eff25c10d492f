"""A fake of the JSON API behind the sandbox console and the dashboard, over a canned world.

It answers the contract the pages rely on (``GET /sandbox/api/state``, the action posts,
``GET /api/dashboard`` behind a bearer token), behind the real sandbox's request rules
(``app/sandbox/local_only.py``), and changes its world the way the real service would (a
pressed Slack question is updated, a Telegram command gets a reply, the clock moves), so a test
sees the page re-render after each action. The static files are the real ones from
``app/web/static``, served the way the service serves them.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from app.http.dashboard_words import dashboard_shell
from app.sandbox.local_only import local_only
from app.web import STATIC
from bot.texts import Locale

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TOKEN = "s3cret-token"
STORE_TS = "1795251600.000100"
EDITED_TS = "1795252140.000200"  # nine minutes after STORE_TS: 12:09 in Moscow
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QUESTION: list[dict[str, Any]] = [
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Заказ WB-1001*: есть ли *Утюг Philips* (`КР-7/2`), 1 шт.?"},
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "ответить до 12:20, потом спросим <#C0ARBAT|арбат>"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "В наличии"},
                "action_id": "task:available",
                "value": "17",
                "style": "primary",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Нет"},
                "action_id": "task:missing",
                "value": "17",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Брак"},
                "action_id": "task:defective",
                "value": "17",
                "style": "danger",
            },
        ],
    },
]


def chart_png(width: int = 360, height: int = 180) -> bytes:
    """A greyscale bar chart, enough to see that the picture arrived and is laid out."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    bars = [0.35, 0.6, 0.45, 0.8, 0.55, 0.9, 0.7]
    slot = width // len(bars)

    def shade(x: int, y: int) -> int:
        bar = min(x // slot, len(bars) - 1)
        inside = slot // 6 < x % slot < slot - slot // 6 and y > height * (1 - bars[bar])
        return 90 if inside else 245

    rows = b"".join(b"\x00" + bytes(shade(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def canned_state() -> dict[str, Any]:
    buttons = [
        {"text": e["text"]["text"], "action_id": e["action_id"], "value": e["value"]} for e in QUESTION[2]["elements"]
    ]
    return {
        "clock": {"now": NOW.isoformat(), "offset_s": 0},
        "stores": [
            {
                "code": "tverskaya",
                "title": "Тверская",
                "channel": "C0TVERSKAYA",
                "staff": [{"id": "U0ANNA", "name": "Анна"}, {"id": "U0BORIS", "name": "Борис"}],
                "messages": [
                    {
                        "ts": "1795251000.000100",
                        "text": "Утро: 2 вопроса за ночь",
                        "blocks": [],
                        "buttons": [],
                        "edited": True,
                    },
                    {"ts": STORE_TS, "text": "Заказ WB-1001", "blocks": QUESTION, "buttons": buttons, "edited": False},
                ],
            }
        ],
        "people": [
            {
                "id": 1001,
                "name": "Ольга Петрова",
                "role": "owner",
                "messages": [
                    {
                        "message_id": 5,
                        "from": "bot",
                        "text": "Отчёт за 20.11",
                        "buttons": [],
                        "photo": "/fake/chart.png",
                        "date": NOW.isoformat(),
                    }
                ],
            },
            {
                "id": 1002,
                "name": "Иван",
                "role": "manager",
                "messages": [
                    {
                        "message_id": 7,
                        "from": "bot",
                        "text": "Проверка звонком: заказ 42 на 180 000 ₽",
                        "buttons": [
                            [
                                {"text": "Подтверждён", "data": "task:9:verified"},
                                {"text": "Не отвечает", "data": "task:9:no_answer"},
                            ],
                            [{"text": "Мошенник", "data": "task:9:fraud"}],
                        ],
                        "photo": None,
                        "date": NOW.isoformat(),
                    }
                ],
            },
            {"id": 1003, "name": "Мария", "role": "manager", "messages": []},
        ],
        "stock": {
            "warehouses": [{"code": "online", "title": "Интернет-склад"}, {"code": "tverskaya", "title": "Тверская"}],
            "channels": ["wildberries", "ozon"],
            "rows": [
                {
                    "sku": "КР-7/2",
                    "name": "Утюг Philips",
                    "by_warehouse": {
                        "online": {"on_hand": 0, "reserved": 0},
                        "tverskaya": {"on_hand": 1, "reserved": 1},
                    },
                    "available": 0,
                    "should_show": {"wildberries": 0, "ozon": 0},
                    "shows": {"wildberries": 0, "ozon": 1},
                    "prices_shown": {"wildberries": "2864.00", "ozon": None},
                    "kit": None,
                },
                {
                    "sku": "НАБОР-1",
                    "name": "Подарочный набор",
                    "by_warehouse": {
                        "online": {"on_hand": 3, "reserved": 0},
                        "tverskaya": {"on_hand": 0, "reserved": 0},
                    },
                    "available": 3,
                    "should_show": {"wildberries": 3, "ozon": 3},
                    "shows": {"wildberries": 3, "ozon": 3},
                    "prices_shown": {"wildberries": "8039.50", "ozon": "7690.00"},
                    "kit": {"KETTLE-BOSCH-1": 1, "BLENDER-3": 2},
                },
            ],
        },
        "orders": [
            {
                "order_id": 42,
                "channel": "wildberries",
                "external_id": "WB-1001",
                "status": "awaiting_store_confirmation",
                "created_at": NOW.isoformat(),
                "lines": [
                    {"sku": "КР-7/2", "qty": 1, "status": "awaiting_store_confirmation", "warehouse": "tverskaya"}
                ],
                "history": [
                    {"at": NOW.isoformat(), "event": "created", "detail": "WB-1001"},
                    {
                        "at": NOW.isoformat(),
                        "event": "store_asked",
                        "detail": "line: 1, store: tverskaya",
                        "said": "Строка 1: спросили магазин Тверская",
                    },
                ],
            }
        ],
        "scenarios": [
            {"name": "oversell", "title": "Последний утюг", "description": "Два заказа на последнюю единицу"},
            {"name": "broken", "title": "Сломанный", "description": "Всегда отвечает ошибкой"},
        ],
        "dashboard_url": "/dashboard",
    }


TITLES = {"wildberries": "Wildberries", "ozon": "Ozon", "yandex_market": "Яндекс Маркет", "site": "Сайт"}


def channel(name: str, **health: Any) -> dict[str, Any]:
    return {"name": name, "title": TITLES[name], "paused": False, "circuit_open": False, "failures_in_row": 0} | health


def dashboard_answer() -> dict[str, Any]:
    return {
        "at": NOW.isoformat(),
        "channels": [
            channel("wildberries", outbox_depth=0, oldest_age_s=None),
            channel("ozon", circuit_open=True, failures_in_row=5, outbox_depth=14, oldest_age_s=620.0),
            channel("yandex_market", paused=True, outbox_depth=3, oldest_age_s=40.0),
            channel("site", failures_in_row=1, outbox_depth=1, oldest_age_s=12.0),
        ],
        "tasks": [
            {
                "id": 17,
                "assignee": "store:tverskaya",
                "kind": "store_confirmation",
                "subject": "order:42:line:1",
                "title": "Магазин Тверская: есть ли КР-7/2 для заказа WB-1001?",
                "who": "магазин Тверская",
                "deadline": (NOW + timedelta(minutes=12)).isoformat(),
                "state": "open",
            }
        ],
        "alerts": [
            {
                "key": "channel:ozon",
                "text": "Ozon не отвечает",
                "opened_at": NOW.isoformat(),
                "resolved_at": None,
                "count": 3,
            }
        ],
        "onec_last_update": (NOW - timedelta(minutes=5)).isoformat(),
        "drift": [
            {
                "channel": "ozon",
                "title": "Ozon",
                "at": NOW.isoformat(),
                "summary": "checked=40 corrected=2",
                "corrected": 2,
            }
        ],
        "locale": "ru",
        "order_events": [
            {
                "order_id": 41,
                "channel": "ozon",
                "channel_title": "Ozon",
                "external_id": "0154-1",
                "kind": "cancelled_by_channel",
                "at": (NOW - timedelta(minutes=3)).isoformat(),
                "text": "Отменён покупателем или площадкой Ozon",
            },
            {
                "order_id": 40,
                "channel": "wildberries",
                "channel_title": "Wildberries",
                "external_id": "WB-1001",
                "kind": "marketplace_ready_to_ship",
                "at": (NOW - timedelta(minutes=9)).isoformat(),
                "text": "Wildberries: сообщено, что заказ собран и готов к отгрузке",
            },
        ],
        "orders": {"unfillable_open": 1, "returns_awaiting": 2, "to_move_on": 3, "move_retrying": 1, "move_refused": 0},
        "report": {
            "date": "2026-11-21",
            "orders": {"total": 12},
            "cancelled_for_stock": {"total": 1},
            "oversells_prevented": {"total": 154},
        },
        "report_png": "/api/dashboard/report.png",
    }


@dataclass
class FakeService:
    """The JSON contract of the sandbox console and the dashboard, over a canned world."""

    state: dict[str, Any] = field(default_factory=canned_state)
    token: str = TOKEN
    posts: list[tuple[str, Any]] = field(default_factory=list)
    bearers: list[str | None] = field(default_factory=list)
    dashboard_locale: Locale = "ru"  # the service's LOCALE, which the dashboard's words follow

    def app(self) -> web.Application:
        # the real sandbox's rules (loopback Host, own Origin, JSON actions): a page that breaks them fails here
        app = web.Application(middlewares=[local_only("127.0.0.1")])
        app.router.add_static("/static/", STATIC)
        app.router.add_get("/sandbox", self.page("sandbox.html"))
        app.router.add_get("/dashboard", self.dashboard_page)
        app.router.add_get("/fake/chart.png", self.chart)
        app.router.add_get("/sandbox/api/state", self.get_state)
        app.router.add_post("/sandbox/api/slack/press", self.slack_press)
        app.router.add_post("/sandbox/api/telegram/send", self.telegram_send)
        app.router.add_post("/sandbox/api/telegram/press", self.telegram_press)
        app.router.add_post("/sandbox/api/scenario/{name}", self.scenario)
        app.router.add_post("/sandbox/api/clock", self.clock)
        app.router.add_get("/api/dashboard", self.dashboard)
        app.router.add_get("/api/dashboard/report.png", self.report_png)
        return app

    @staticmethod
    def page(name: str) -> Handler:
        async def serve(_: web.Request) -> web.FileResponse:
            return web.FileResponse(STATIC / name)

        return serve

    async def dashboard_page(self, _: web.Request) -> web.Response:
        """The dashboard's shell as the service serves it: with its words, in the service's LOCALE."""
        return web.Response(
            text=dashboard_shell(STATIC / "dashboard.html", self.dashboard_locale), content_type="text/html"
        )

    async def chart(self, _: web.Request) -> web.Response:
        return web.Response(body=chart_png(), content_type="image/png")

    async def get_state(self, _: web.Request) -> web.Response:
        return web.json_response(self.state)

    async def _record(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.posts.append((request.path, body))
        return body

    def person(self, user: int) -> dict[str, Any]:
        return next(p for p in self.state["people"] if p["id"] == user)

    def say(self, user: int, sender: str, text: str) -> None:
        messages = self.person(user)["messages"]
        message_id = max((m["message_id"] for m in messages), default=0) + 1
        messages.append(
            {
                "message_id": message_id,
                "from": sender,
                "text": text,
                "buttons": [],
                "photo": None,
                "date": NOW.isoformat(),
            }
        )

    async def slack_press(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        message = next(m for m in self.state["stores"][0]["messages"] if m["ts"] == body["ts"])
        message.update(
            blocks=[
                QUESTION[0],
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Ответ <@{body['user']}>: в наличии"}]},
            ],
            buttons=[],
            edited=True,
            edited_ts=EDITED_TS,
        )
        return web.json_response({"ok": True})

    async def telegram_send(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        self.say(body["user"], "user", body["text"])
        self.say(body["user"], "bot", f"ответ на {body['text']}")
        return web.json_response({"ok": True})

    async def telegram_press(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        self.say(body["user"], "bot", "Принято: клиент подтверждён")
        return web.json_response({"ok": True})

    async def scenario(self, request: web.Request) -> web.Response:
        await self._record(request)
        if request.match_info["name"] == "broken":
            return web.json_response(
                {"error": "scenario_failed", "message": "сценарий уже идёт", "details": []}, status=409
            )
        return web.json_response({"ok": True, "summary": "2 заказа на последний утюг: один зарезервирован"})

    async def clock(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        clock = self.state["clock"]
        clock["offset_s"] += body["advance_s"]
        clock["now"] = (NOW + timedelta(seconds=clock["offset_s"])).isoformat()
        return web.json_response(clock)

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization")
        self.bearers.append(header)
        return header == f"Bearer {self.token}"

    async def dashboard(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized", "message": "bad token", "details": []}, status=401)
        return web.json_response(dashboard_answer() | {"locale": self.dashboard_locale})

    async def report_png(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized", "message": "bad token", "details": []}, status=401)
        return web.Response(body=chart_png(), content_type="image/png")
