"""Alert storm: many failures in a short time, and what the owner's Telegram sees.

The real service (``app.bootstrap.build`` on the system clock, SQLite file) with the real
``TelegramDelivery`` and aiogram ``Bot`` against the Telegram emulator with Telegram's real
limits (1 message/s per chat, 20/min per group, 30/s overall; 429 with ``retry_after``). For
``seconds`` seconds, failures are raised through ``AlertDesk.raise_alert`` at ``rate`` per second
over ``keys`` distinct alert keys (each key one kind of trouble: a channel failing, a SKU
rejected, …; a fifth of them of kinds the managers also get); halfway, half of the keys recover.
The delivery runs every second, as the scheduler runs it, until everything is delivered.

Figures: alerts raised vs messages sent (new alerts, recoveries, count edits), 429 answers
received, the highest number of messages the emulator accepted in any 1 s per chat and overall
(Telegram's limits: 1 and 30), how long pacing held messages back, and time to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from app.bootstrap import SystemClock, build
from app.settings import load_settings
from bench.common import Json, PgProbe, machine_facts, sqlite_url
from bench.stock_latency import EXAMPLE_CONFIG, environment
from emulators.telegram import TelegramEmulator, TelegramLimits
from workflows.topology import Topology

TOKEN = "123456:bench-alert-storm"
OWNER, MANAGERS = 1001, (1002, 1003)


@dataclass(frozen=True)
class Sizes:
    seconds: float
    rate: int  # failures raised per second
    keys: int


FULL = Sizes(seconds=60.0, rate=200, keys=40)
QUICK = Sizes(seconds=5.0, rate=100, keys=8)


def shop() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}],
            "channels": {"site": {"serves": ["online"]}},
            "people": {"owner_telegram_id": OWNER, "manager_telegram_ids": list(MANAGERS)},
        }
    )


def kind_of(key: int) -> str:
    return "store_cascade_exhausted" if key % 5 == 0 else "sync_failing"


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        async with TelegramEmulator(token=TOKEN, limits=TelegramLimits()) as tg:
            env = {"DATABASE_URL": sqlite_url(Path(folder) / "storm.db"), "STOREOPS_CONFIG": str(EXAMPLE_CONFIG),
                   "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": tg.base_url, "LOCALE": "ru",
                   "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}  # fmt: skip
            with environment(env):
                settings = load_settings(env_file=None)
            services = await build(settings, shop(), clock=SystemClock())
            delivery = services.chats.telegram_delivery
            assert delivery is not None
            stop = asyncio.Event()

            async def deliver_every_second() -> None:
                while not stop.is_set():
                    await delivery.run_once()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)

            pump = asyncio.create_task(deliver_every_second())
            raised: Counter[str] = Counter()
            log(f"alert storm: {sizes.rate}/s over {sizes.keys} keys for {sizes.seconds:g} s")
            origin = time.monotonic()
            recovered = False
            for n in itertools.count():
                at = origin + n / sizes.rate
                if at - origin >= sizes.seconds:
                    break
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                key = n % sizes.keys
                if recovered and key % 2 == 0:
                    continue  # these recovered at half-time and stay healthy
                async with services.shop.uow() as work:
                    await services.shop.alerts.raise_alert(work, f"bench:{key}", kind_of(key), {"n": n, "key": key})
                    await work.commit()
                raised[kind_of(key)] += 1
                if not recovered and at - origin >= sizes.seconds / 2:
                    async with services.shop.uow() as work:
                        for even in range(0, sizes.keys, 2):
                            await services.shop.alerts.resolve(work, f"bench:{even}")
                        await work.commit()
                    recovered = True
            raise_seconds = time.monotonic() - origin
            drain_started = time.monotonic()
            while True:  # until every notice is out and every count is shown
                async with services.shop.uow(read_only=True) as work:
                    left = len(await work.notices.undelivered(10_000))
                    stale = len(await work.alerts.stale_counts(services.shop.clock.now(), 10_000))
                if left == 0 and stale == 0:
                    break
                if time.monotonic() - drain_started > 300:
                    break
                await asyncio.sleep(0.5)
            drain_seconds = time.monotonic() - drain_started
            stop.set()
            await pump
            pacer = delivery.pacer
            await services.close()
    calls = Counter(call.method for call in tg.received if call.status == 200)
    refused = Counter(call.method for call in tg.received if call.status == 429)
    flood = tg.flood_report()
    messages = calls["sendMessage"]
    total_raised = sum(raised.values())
    result: Json = {
        "benchmark": "alert_storm",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "limits": "emulator defaults = Telegram's: 1/s per chat, 20/min per group, 30/s overall",
            "recipients": "owner gets every alert; managers too for a fifth of the keys",
            "recovery": "half of the keys recover at half-time",
        },
        "alerts_raised": total_raised,
        "alerts_raised_by_kind": dict(raised),
        "raise_seconds": round(raise_seconds, 1),
        "messages_sent": messages,
        "edits": calls["editMessageText"],
        "answers_429": dict(refused),
        "max_messages_per_chat_in_any_1s": flood.max_per_chat_per_second,
        "max_messages_overall_in_any_1s": flood.overall_per_second,
        "pacer_waited_s": round(pacer.waited_s, 1),
        "pacer_retries_after_429": pacer.retries,
        "drain_seconds_after_storm": round(drain_seconds, 1),
        "undelivered_at_end": left,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = {
        "alerts_raised": total_raised,
        "messages_sent": messages,
        "messages_per_alert": round(messages / total_raised, 4) if total_raised else None,
        "edits": calls["editMessageText"],
        "answers_429": sum(refused.values()),
        "max_per_chat_in_any_1s": flood.max_per_chat_per_second,
        "max_overall_in_any_1s": flood.overall_per_second,
        "within_telegram_limits": flood.max_per_chat_per_second <= 1 and flood.overall_per_second <= 30,
        "nothing_dropped": left == 0,
    }
    return result
