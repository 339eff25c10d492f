"""The fault suite's world: two (or more) real ``storeops run`` processes on one PostgreSQL database, the channels'
and Slack's emulators on 127.0.0.1 behind fault gates (:mod:`tests.faults.gate`), and what a test uses to drive it
(orders and 1C stock over the HTTP API, failing over to another instance as a load balancer would), break it (kill
-9, a gate hung or refusing, Slack holding an answer) and read it back (the database, what each channel shows, what
Slack shows).

The processes are started as the bench starts them (``python -m app.cli run``, an environment of our own only, no
``.env``), each in a process group of its own so that a kill -9 or the cleanup after a failed test reaches all of
it. Every instance has a stable ``INSTANCE_ID`` (``faults-a``, ``faults-b``): a restart with the same id is the
production case of a supervisor restarting a crashed process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler

from emulators.ozon import OzonEmulator
from emulators.site import SiteEmulator
from emulators.slack import SlackEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from tests.faults.gate import FaultGate

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------------ the shop

SKUS = tuple(f"FLT-{n:03d}" for n in range(20))
SCARCE = SKUS[:5]  # what the buyers race for
PUSHED = SKUS[5:]  # what 1C's stock messages keep changing
STORE_SKU = "FLT-STORE"  # held only in the stores: an order for it asks a store in Slack
CATALOGUE = (*SKUS, STORE_SKU)
CHANNELS = ("site", "wildberries", "ozon", "yandex_market")
SERVES = {"site": ("online", "north", "south"), "wildberries": ("online",), "ozon": ("online",),
          "yandex_market": ("online",)}  # fmt: skip
WB_WAREHOUSE, OZON_WAREHOUSE, YM_CAMPAIGN = 658434, 1020000001, 21000001
FIRST_CHRT = 400_000_000
STORE_CHANNELS = {"north": "C0NORTH", "south": "C0SOUTH"}
STAFF = {"U0NINA": "Нина", "U0SERGEI": "Сергей"}

TOPOLOGY = f"""
[onec]
timezone = "Europe/Moscow"

[[warehouses]]
code = "online"
kind = "online"
title = "Интернет-склад"

[[warehouses]]
code = "north"
kind = "store"
title = "Север"
slack_channel = "{STORE_CHANNELS["north"]}"
staff = ["U0NINA"]
priority = 1

[[warehouses]]
code = "south"
kind = "store"
title = "Юг"
slack_channel = "{STORE_CHANNELS["south"]}"
staff = ["U0SERGEI"]
priority = 2

[channels.site]
serves = ["online", "north", "south"]

[channels.wildberries]
warehouse_id = {WB_WAREHOUSE}
serves = ["online"]

[channels.ozon]
warehouse_id = {OZON_WAREHOUSE}
serves = ["online"]

[channels.yandex_market]
campaign_id = {YM_CAMPAIGN}
serves = ["online"]

[people]
owner_telegram_id = 1001
manager_telegram_ids = [1002]
"""

# The emulated accounts' credentials: made up, never real.
WB_TOKEN, OZON_CLIENT, OZON_KEY, YM_KEY, SITE_TOKEN = "faults-wb", "faults-ozon", "faults-ozon-key", "faults-ym", "fs"
SLACK_TOKEN, SLACK_SECRET = "xoxb-faults-bot-token", "faults-signing-secret"

START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 30.0


def chrt_id(sku: str) -> int:
    return FIRST_CHRT + CATALOGUE.index(sku)


# ------------------------------------------------------------------------------------------ polling


class NotYet(Exception):
    """What a probe raises (or returns ``None`` for) while its condition does not hold."""


async def until(
    probe: Callable[[], Awaitable[T | None]], what: str, *, patience: float, step: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> T:  # fmt: skip
    """Poll ``probe`` until it returns something other than ``None`` (and does not raise :class:`NotYet`); what it
    returned. ``patience`` (real seconds) only bounds a failure: a condition that holds returns at once."""
    deadline = time.monotonic() + patience
    last = ""
    while True:
        try:
            found = await probe()
        except NotYet as not_yet:
            found, last = None, str(not_yet)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            detail = f" (last: {last})" if last else ""
            raise AssertionError(f"not within {patience:g} s: {what}{detail}\n{explain() if explain else ''}")
        await asyncio.sleep(step)


# ------------------------------------------------------------------------------------------ the outside world


class HoldingSlack(SlackEmulator):
    """The Slack emulator, able also to *take* a call and then hold its answer (a post Slack made while the
    caller never heard back): :meth:`hold_answers`, :meth:`release_answers`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._to_hold: dict[str, int] = {}
        self._answers_go = asyncio.Event()
        self.answers_held: list[str] = []

    def hold_answers(self, method: str, count: int = 1) -> None:
        """The next ``count`` calls of ``method`` are done as Slack does them, and their answers held."""
        self._to_hold[method] = self._to_hold.get(method, 0) + count
        self._answers_go.clear()

    def release_answers(self) -> None:
        """Send the held answers (to whoever still listens) and hold no more."""
        self._to_hold.clear()
        self._answers_go.set()

    def application(self) -> web.Application:
        app = super().application()
        app.middlewares.append(self._holding)
        return app

    @web.middleware
    async def _holding(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        method = request.match_info.get("method", "")
        if self._to_hold.get(method, 0) > 0 and response.status == 200:
            self._to_hold[method] -= 1
            self.answers_held.append(method)
            await self._answers_go.wait()
        return response

    def questions(self, channel: str, task_id: int) -> list[dict[str, Any]]:
        """The top-level messages of ``channel`` that show the question of ``task_id``, as dicts."""
        shown = []
        for message in self.messages(channel):
            metadata = message.metadata or {}
            payload = metadata.get("event_payload") or {}
            if message.thread_ts in (None, message.ts) and str(payload.get("task_id")) == str(task_id):
                shown.append({"ts": message.ts, "live": _has_buttons(message.blocks), "text": message.text})
        return shown


def _has_buttons(blocks: Sequence[Mapping[str, Any]] | None) -> bool:
    return any(block.get("type") == "actions" for block in blocks or ())


@dataclass
class Outside:
    """The emulators and the gates the service reaches them through."""

    wildberries: WildberriesEmulator
    ozon: OzonEmulator
    yandex_market: YandexMarketEmulator
    site: SiteEmulator
    slack: HoldingSlack
    gates: dict[str, FaultGate] = field(default_factory=dict)

    def shown(self, channel: str, sku: str) -> int | None:
        """What ``channel`` shows as ``sku``'s stock now (``None``: it never got a figure)."""
        if channel == "wildberries":
            return self.wildberries.stock(WB_WAREHOUSE, chrt_id(sku))
        if channel == "ozon":
            return self.ozon.stock(OZON_WAREHOUSE, sku)
        if channel == "yandex_market":
            entry = self.yandex_market.stock(sku)
            return None if entry is None else int(entry.count)
        return self.site.stock(sku)

    def servers(self) -> list[Any]:
        return [self.wildberries, self.ozon, self.yandex_market, self.site, self.slack]


def _outside() -> Outside:
    cards = [{"vendorCode": sku, "sizes": [{"chrtId": chrt_id(sku), "techSize": "0"}]} for sku in CATALOGUE]
    return Outside(
        wildberries=WildberriesEmulator(token=WB_TOKEN, warehouses={WB_WAREHOUSE: "Склад продавца"}, cards=cards),
        ozon=OzonEmulator(OZON_CLIENT, OZON_KEY, {OZON_WAREHOUSE: "Склад FBS"}, CATALOGUE),
        yandex_market=YandexMarketEmulator(YM_KEY, YM_CAMPAIGN, CATALOGUE),
        site=SiteEmulator(SITE_TOKEN),
        # message ts from the real clock: the service reads the history since its own clock's time
        slack=HoldingSlack(bot_token=SLACK_TOKEN, channels={c: code for code, c in STORE_CHANNELS.items()},
                           users=STAFF, wall_clock=time.time),
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ the instances


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    name: str  # "a", "b": the INSTANCE_ID is faults-<name>
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def instance_id(self) -> str:
        return f"faults-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 25) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Answer:
    """A request's outcome as the client saw it: the HTTP status (0: no answer) and the JSON body."""

    status: int
    body: Any
    instance: str


class World:
    """``async with World(folder, database_url, settings) as world:`` — the emulators, gates and topology ready;
    :meth:`start` the instances. On the way out every process group is killed, whatever happened."""

    def __init__(self, folder: Path, database_url: str, settings: Mapping[str, str] | None = None) -> None:
        self.folder, self.database_url = folder, database_url
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.settings = dict(settings or {})
        self.token = secrets.token_urlsafe(24)
        self.outside = _outside()
        self.instances: dict[str, Instance] = {}
        self.topology = folder / "topology.toml"
        self.answered: dict[str, Answer] = {}  # external id → the answer that took the order
        self.pushed: dict[tuple[str, str], int] = {}  # (sku, warehouse) → the last quantity 1C's answered push set
        self._http: aiohttp.ClientSession | None = None
        self._pool: asyncpg.Pool | None = None
        self._as_of = datetime.now(UTC) - timedelta(minutes=5)

    async def __aenter__(self) -> World:
        try:
            self.topology.write_text(TOPOLOGY, encoding="utf-8")
            for server in self.outside.servers():
                await server.start()
            for name, server in zip(("wildberries", "ozon", "yandex_market", "site", "slack"),
                                    self.outside.servers(), strict=True):  # fmt: skip
                gate = FaultGate(name, int(urlsplit(server.base_url).port or 0), latency_s=0.05)
                await gate.start()
                self.outside.gates[name] = gate
            headers = {"Authorization": f"Bearer {self.token}"}
            timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            self._http = aiohttp.ClientSession(headers=headers, timeout=timeout)
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            print(self.explain())  # the failing test's report shows what the instances logged
        await self._close()

    async def _close(self) -> None:
        for instance in self.instances.values():
            self._kill_group(instance)
        for instance in self.instances.values():
            if instance.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(instance.process.wait, 10)
        if self._pool is not None:
            await self._pool.close()
        if self._http is not None:
            await self._http.close()
        for gate in self.outside.gates.values():
            await gate.stop()
        for server in self.outside.servers():
            with contextlib.suppress(Exception):
                await server.stop()

    def explain(self) -> str:
        parts = [f"--- instance {i.name} ({'running' if i.running() else 'stopped'}) ---\n{i.tail()}"
                 for i in self.instances.values()]  # fmt: skip
        return "\n".join(parts)

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None
        return self._http

    @property
    def db(self) -> asyncpg.Pool:
        assert self._pool is not None
        return self._pool

    async def reconnect(self) -> None:
        """A fresh pool of the test's own connections (after the server restarted under the old one)."""
        old, self._pool = self._pool, None
        if old is not None:
            old.terminate()
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)

    # -- the processes ---------------------------------------------------------------------------------------

    def environment(self, instance: Instance) -> dict[str, str]:
        """What an operator would write in ``.env`` for this instance: only this, nothing of the caller's shell
        but PATH, HOME and the locale."""
        gates = self.outside.gates

        def base(name: str) -> str:
            server = {"wildberries": self.outside.wildberries, "ozon": self.outside.ozon, "site": self.outside.site,
                      "yandex_market": self.outside.yandex_market, "slack": self.outside.slack}[name]  # fmt: skip
            return gates[name].url(urlsplit(server.base_url).path)

        kept = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
        return {
            **kept,
            "PYTHONPATH": str(ROOT), "DATABASE_URL": self.database_url, "STOREOPS_CONFIG": str(self.topology),
            "API_TOKEN": self.token, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(instance.port),
            "INSTANCE_ID": instance.instance_id, "LOG_LEVEL": "INFO",
            "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE": base("slack"),
            "SLACK_TIMEOUT_S": "3",
            "WB_TOKEN": WB_TOKEN, "WB_API_BASE": base("wildberries"), "WB_CONTENT_API_BASE": base("wildberries"),
            "WB_PRICES_API_BASE": base("wildberries"),
            "OZON_CLIENT_ID": OZON_CLIENT, "OZON_API_KEY": OZON_KEY, "OZON_API_BASE": base("ozon"),
            "YM_API_KEY": YM_KEY, "YM_API_BASE": base("yandex_market"),
            "SITE_API_BASE": base("site"), "SITE_API_TOKEN": SITE_TOKEN,
            # nothing of the shop calls the bank (no foreign-currency obligation); should it, it gets no answer here
            "CBR_DAILY_URL": "http://127.0.0.1:9/scripts/XML_daily.asp",
            "DEADLINE_PUMP_INTERVAL_S": "1",
            **self.settings,
        }  # fmt: skip

    async def start(self, *names: str) -> None:
        """Start these instances (new ones, or ones that were killed: the same INSTANCE_ID) and wait until each
        answers /healthz."""
        for name in names:
            instance = self.instances.get(name)
            if instance is None:
                instance = Instance(name, free_port(), self.folder / f"instance-{name}.log")
                self.instances[name] = instance
            assert not instance.running(), f"instance {name} runs already"
            self._spawn(instance)
        await asyncio.gather(*(self._healthy(self.instances[name]) for name in names))

    def _spawn(self, instance: Instance) -> None:
        """``storeops run`` as a process group of its own (kill -9 reaches all of it), its output in its log."""
        instance.starts += 1
        with instance.log.open("ab") as log:
            log.write(f"\n===== start {instance.starts} at {datetime.now(UTC).isoformat()} =====\n".encode())
            log.flush()
            instance.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "--env-file", str(self.folder / "none.env"), "run"],
                cwd=self.folder, env=self.environment(instance), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    async def _healthy(self, instance: Instance) -> None:
        async def answers() -> bool | None:
            if not instance.running():
                raise AssertionError(f"instance {instance.name} exited at start:\n{instance.tail(60)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.http.get(f"{instance.url}/healthz") as response:
                    return True if response.status == 200 else None
            return None

        await until(answers, f"instance {instance.name} answers /healthz", patience=START_TIMEOUT_S, step=0.1,
                    explain=self.explain)  # fmt: skip

    def kill(self, name: str) -> float:
        """kill -9 the instance's process group; the monotonic time it was killed."""
        instance = self.instances[name]
        assert instance.running(), f"instance {name} is not running"
        self._kill_group(instance)
        killed = time.monotonic()
        assert instance.process is not None
        instance.process.wait(10)
        return killed

    @staticmethod
    def _kill_group(instance: Instance) -> None:
        if instance.process is not None and instance.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(instance.process.pid, signal.SIGKILL)

    def alive(self) -> list[Instance]:
        return [instance for instance in self.instances.values() if instance.running()]

    async def owner_of(self, name: str) -> str:
        """The lease owner the instance's running process writes: ``<instance>/<incarnation>``."""
        instance_id = self.instances[name].instance_id
        row = await self.db.fetchrow("SELECT incarnation FROM instances WHERE instance = $1", instance_id)
        assert row is not None, f"instance {instance_id} never took its row"
        return f"{instance_id}/{row['incarnation']}"

    async def name_of(self, owner: str) -> str:
        instance_id = owner.split("/", 1)[0]
        return next(name for name, instance in self.instances.items() if instance.instance_id == instance_id)

    # -- the API, as a load balancer's clients use it --------------------------------------------------------

    async def call(
        self, method: str, path: str, body: Any = None, *, prefer: str | None = None, patience: float = 60.0
    ) -> Answer:
        """Send the request to ``prefer`` (or the first instance alive), and to the next one alive when it gets no
        answer or a 5xx, until one answers (the requests sent here are idempotent: an order by its number, a 1C
        figure by its time). ``patience`` bounds a failure."""
        deadline = time.monotonic() + patience
        attempt = 0
        while True:
            alive = self.alive()
            order = sorted(alive, key=lambda i: (i.name != prefer, i.name))
            if order:
                instance = order[attempt % len(order)]
                try:
                    async with self.http.request(method, f"{instance.url}{path}", json=body) as response:
                        payload = await response.json(content_type=None)
                        if response.status < 500:
                            return Answer(response.status, payload, instance.name)
                except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
                    pass
            attempt += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: no instance answered within {patience:g} s\n{self.explain()}")
            await asyncio.sleep(0.1 if attempt % max(1, len(alive)) else 0.5)

    async def order(self, external_id: str, lines: Sequence[tuple[str, int]], *, prefer: str | None = None,
                    channel: str = "site", patience: float = 60.0) -> Answer:  # fmt: skip
        body = {"channel": channel, "external_id": external_id, "lines": [{"sku": s, "qty": q} for s, q in lines]}
        answer = await self.call("POST", "/api/orders", body, prefer=prefer, patience=patience)
        assert answer.status in (200, 201), f"order {external_id}: {answer.status} {answer.body}"
        self.answered[external_id] = answer
        return answer

    async def stock(self, figures: Iterable[tuple[str, str, int]], *, prefer: str | None = None,
                    patience: float = 60.0) -> Answer:  # fmt: skip
        """1C's stock message, with a time later than every earlier one's."""
        given = list(figures)
        items = [{"sku": sku, "warehouse": warehouse, "qty": qty} for sku, warehouse, qty in given]
        self._as_of = max(self._as_of + timedelta(milliseconds=1), datetime.now(UTC) - timedelta(seconds=1))
        body = {"as_of": self._as_of.isoformat(), "items": items}
        answer = await self.call("POST", "/api/1c/stock", body, prefer=prefer, patience=patience)
        assert answer.status == 200, f"stock: {answer.status} {answer.body}"
        for sku, warehouse, qty in given:
            self.pushed[sku, warehouse] = qty
        return answer

    async def seed(self) -> None:
        """The opening stock: the scarce articles and the pushed ones online, the store article in both stores."""
        figures = [(sku, "online", 12) for sku in SCARCE] + [(sku, "online", 5 + n) for n, sku in enumerate(PUSHED)]
        figures += [(STORE_SKU, "online", 0), (STORE_SKU, "north", 1), (STORE_SKU, "south", 1)]
        await self.stock(figures)


@contextlib.asynccontextmanager
async def world(folder: Path, database_url: str, settings: Mapping[str, str] | None = None) -> AsyncIterator[World]:
    async with World(folder, database_url, settings) as opened:
        yield opened
