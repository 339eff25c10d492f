"""The owner's daily report against a small day computed by hand, built through the real
workflows (order desk, store cascade, deadline pump, alerts) with a fake clock, on SQLite and
PostgreSQL; the chart it renders; the scheduled send claimed once across instances.

The day is 21.11.2026 in Moscow (UTC+3): 20.11 21:00 UTC to 21.11 21:00 UTC. Times below are
Moscow's.

| time  | channel     | order | lines                | what happens                                        |
| ----- | ----------- | ----- | -------------------- | --------------------------------------------------- |
| 20th 23:30 | wildberries | W0 | IRON            | the day before: not counted                         |
| 10:05 | site        | A1    | IRON                 | online: allocated at once (0 s)                     |
| 10:20 | wildberries | W1    | IRON                 | online: 0 s                                         |
| 10:40 | ozon        | Z1    | VASE                 | nowhere: out of stock                               |
| 11:10 | site        | A2    | KETTLE               | s1 "missing" at 11:16 (6 min), s2 "available" 11:19 (3 min): 540 s |
| 14:00 | site        | A3    | KETTLE               | s1 in doubt, s2 asked, no answer by 14:20: unfulfillable |
| 15:30 | site        | A4    | IRON + MUG           | IRON online, MUG s2 "available" at 15:34 (4 min): 240 s |
| 22nd 00:30 | wildberries | W5 | IRON             | the day after: not counted                          |

Sync failing: ozon from the 20th 23:00 to 00:10 (10 min in the day), wildberries 12:00-12:30
(30 min), site from 23:50 and still failing when the report is made (10 min in the day).
"""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from app.settings import BusinessSettings
from bot import report_chart
from bot.report_chart import caption, render_png
from bot.wording import Names
from storage.database import Database
from storage.report_queries import SqlDayRecords
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.daily_report import ChannelUptime, DailyReport, DailyReports
from workflows.ledger import Ledger
from workflows.model import StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.store_confirmation import KIND, StoreCascade
from workflows.tasks import DeadlineKind, DeadlinePump, TaskBoard
from workflows.topology import Topology

DAY = date(2026, 11, 21)
DAY_S = 86_400


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


def shop() -> Topology:
    stores = [
        {"code": "s1", "kind": "store", "title": "Тверская", "slack_channel": "C1", "staff": ["U1"], "priority": 1},
        {"code": "s2", "kind": "store", "title": "Арбат", "slack_channel": "C2", "staff": ["U2"], "priority": 2},
    ]
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}, *stores],
            "channels": {
                "site": {"serves": ["online", "s1", "s2"]},
                "wildberries": {"serves": ["online"]},
                "ozon": {"serves": ["online"]},
            },
        }
    )


class Shop:
    def __init__(self, database: Database, clock: FakeClock) -> None:
        topology = shop()
        self.uow, self.clock = SqlUnitOfWorkFactory(database), clock
        self.ledger = Ledger(self.uow, topology, clock)
        board = TaskBoard(self.uow, clock)
        self.alerts = AlertDesk(clock, board)
        self.cascade = StoreCascade(topology, clock, board, self.ledger, timedelta(minutes=20), self.alerts)
        self.desk = OrderDesk(self.uow, topology, clock, self.ledger, self.cascade)
        self.pump = DeadlinePump(self.uow, clock, {(KIND, DeadlineKind.EXPIRE): self.cascade.on_timeout}, owner="t")
        self.reports = DailyReports(SqlDayRecords(database), self.uow, topology, clock)

    async def order(self, at: datetime, channel: str, external_id: str, *skus: str) -> None:
        self.clock.current = at
        await self.desk.place(PlaceOrder(channel, external_id, [LineRequest(sku, 1) for sku in skus]))

    async def answer(self, at: datetime, store_user: str, option: str) -> None:
        self.clock.current = at
        async with self.uow(read_only=True) as work:
            (question,) = await work.tasks.open_about("order:")
        assert (await self.cascade.answer(question.id or 0, option, store_user)).accepted

    async def failing(self, at: datetime, channel: str, *, resolved: bool) -> None:
        self.clock.current = at
        async with self.uow() as work:
            if resolved:
                await self.alerts.resolve(work, f"sync_failing:{channel}")
            else:
                detail: dict[str, object] = {"channel": channel, "reason": "HTTP 503", "failures": 5}
                await self.alerts.raise_alert(work, f"sync_failing:{channel}", "sync_failing", detail)
            await work.commit()


async def the_day(database: Database) -> Shop:
    s = Shop(database, FakeClock(msk(20, 22)))
    stock = [StockFigure("IRON", "online", 10), StockFigure("KETTLE", "s1", 2), StockFigure("KETTLE", "s2", 2),
             StockFigure("MUG", "s2", 1)]  # fmt: skip
    await s.ledger.apply_stock(s.clock.now(), stock)
    await s.failing(msk(20, 23), "ozon", resolved=False)
    await s.order(msk(20, 23, 30), "wildberries", "W0", "IRON")
    await s.failing(msk(21, 0, 10), "ozon", resolved=True)
    await s.order(msk(21, 10, 5), "site", "A1", "IRON")
    await s.order(msk(21, 10, 20), "wildberries", "W1", "IRON")
    await s.order(msk(21, 10, 40), "ozon", "Z1", "VASE")
    await s.order(msk(21, 11, 10), "site", "A2", "KETTLE")
    await s.answer(msk(21, 11, 16), "U1", "missing")
    await s.answer(msk(21, 11, 19), "U2", "available")
    await s.failing(msk(21, 12), "wildberries", resolved=False)
    await s.failing(msk(21, 12, 30), "wildberries", resolved=True)
    await s.order(msk(21, 14), "site", "A3", "KETTLE")
    s.clock.current = msk(21, 14, 20)
    assert await s.pump.run_once() >= 1  # s2's time is up; s1 is in doubt: nobody else to ask
    await s.order(msk(21, 15, 30), "site", "A4", "IRON", "MUG")
    await s.answer(msk(21, 15, 34), "U2", "available")
    await s.failing(msk(21, 23, 50), "site", resolved=False)
    await s.order(msk(22, 0, 30), "wildberries", "W5", "IRON")
    s.clock.current = msk(22, 9)  # the morning after, when the report goes out
    return s


def hours(**counts: int) -> tuple[int, ...]:
    return tuple(counts.get(f"h{h}", 0) for h in range(24))


async def test_the_figures_match_the_hand_computed_day(database: Database) -> None:
    s = await the_day(database)
    report = await s.reports.for_day(DAY)

    assert (report.start, report.end, report.complete) == (msk(21, 0), msk(22, 0), True)
    assert report.orders_by_hour == {
        "ozon": hours(h10=1), "site": hours(h10=1, h11=1, h14=1, h15=1), "wildberries": hours(h10=1),
    }  # fmt: skip
    assert (report.orders, report.orders_by_channel) == (6, {"ozon": 1, "site": 4, "wildberries": 1})
    # allocated: A1 0 s, W1 0 s, A2 540 s, A4 240 s (its last line); Z1 and A3 never were
    assert (report.allocated_orders, report.median_processing_seconds) == (4, 120.0)
    assert (report.out_of_stock_lines, report.unfulfillable_lines, report.cancelled_for_stock) == (1, 1, 2)
    assert (report.store_declines, report.oversells_prevented) == (1, 2)  # s1's "missing" + Z1's refused line
    assert [
        (st.store, st.title, st.asked, st.answered, st.timeouts, st.missing, st.defective, st.median_answer_seconds)
        for st in report.stores
    ] == [("s1", "Тверская", 1, 1, 0, 1, 0, 360.0), ("s2", "Арбат", 3, 2, 1, 0, 0, 210.0)]
    assert [round(st.answer_rate, 4) for st in report.stores] == [1.0, 0.6667]
    assert [(c.channel, c.down_seconds) for c in report.channels] == [
        ("ozon", 600.0), ("site", 600.0), ("wildberries", 1800.0),
    ]  # fmt: skip
    assert [c.uptime for c in report.channels] == [1 - 600 / DAY_S, 1 - 600 / DAY_S, 1 - 1800 / DAY_S]
    assert report.worst_store is not None and report.worst_store.store == "s2"
    assert report.lowest_uptime is not None and report.lowest_uptime.channel == "wildberries"


async def test_today_is_reported_so_far(database: Database) -> None:
    s = await the_day(database)
    s.clock.current = msk(21, 12, 15)  # wildberries has been failing for 15 minutes
    report = await s.reports.for_day(DAY)
    assert not report.complete
    wildberries = next(c for c in report.channels if c.channel == "wildberries")
    assert wildberries.down_seconds == 900.0  # the open part of the episode counts up to now
    assert wildberries.uptime == 1 - 900 / (12 * 3600 + 15 * 60)  # of the part of the day gone by
    assert (await s.reports.for_day(date(2026, 11, 19))).orders == 0  # a quiet day is all zeros
    s.clock.current = msk(21, 0)
    assert s.reports.today() == DAY  # midnight in Moscow, 21:00 UTC the day before
    s.clock.current = msk(20, 23, 59)
    assert s.reports.today() == date(2026, 11, 20)


async def test_the_caption_says_it_in_a_few_lines(database: Database) -> None:
    report = await (await the_day(database)).reports.for_day(DAY)
    assert caption(report, Names.of(shop(), "ru")).splitlines() == [
        "Отчёт за 21.11.2026",
        "Заказов: 6",
        "Медиана обработки: 2 мин",
        "Отказов из-за нехватки: 2 (нет на складах 1, не подтвердили магазины 1)",
        "Предотвращено продаж без товара: 2",
        "Хуже всех отвечает: Арбат — 66,7\xa0% (2 из 3)",
        "Меньше всех доступен: Wildberries — 97,9\xa0%",
    ]
    assert caption(report, Names.of(shop(), "en")).splitlines()[1:3] == ["Orders: 6", "Median processing: 2 min"]


async def test_the_chart_is_a_png(database: Database) -> None:
    report = await (await the_day(database)).reports.for_day(DAY)
    for locale in ("ru", "en"):
        png = render_png(report, Names.of(shop(), locale))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])  # IHDR
        assert (width, height) == (1200, 800)
        assert 20_000 < len(png) < 1_000_000


def test_an_empty_day_renders_too() -> None:
    start = msk(21, 0)
    empty = DailyReport(DAY, "Europe/Moscow", start, start + timedelta(days=1), start + timedelta(hours=5), {}, 0,
                        None, 0, 0, 0, (), ())  # fmt: skip
    assert render_png(empty, Names.of(shop(), "ru"))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Медиана обработки: — (ни один заказ не собран)" in caption(empty, Names.of(shop(), "ru"))


def test_the_first_chart_after_a_start_is_drawn_on_a_clean_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept figure is made by the first chart of a process (``storeops run`` draws none ahead): that chart is
    the same picture as every later one, not drawn over the figure's own first drawing."""
    monkeypatch.setattr(report_chart, "_kept", [])  # as in a process that has drawn nothing yet
    start = msk(21, 0)
    day = DailyReport(DAY, "Europe/Moscow", start, start + timedelta(days=1), start + timedelta(hours=5),
                      {"ozon": (2,) + (0,) * 23}, 2, 90.0, 0, 0, 0, (), ())  # fmt: skip
    first = render_png(day, Names.of(shop(), "ru"))
    assert render_png(day, Names.of(shop(), "ru")) == first


def test_every_channel_up_is_said_so_and_a_quick_median_is_under_a_minute() -> None:
    start = msk(21, 0)
    up = (ChannelUptime("ozon", 0.0, 1.0), ChannelUptime("yandex_market", 0.0, 1.0))
    day = DailyReport(DAY, "Europe/Moscow", start, start + timedelta(days=1), start + timedelta(days=1),
                      {"yandex_market": (1,) + (0,) * 23}, 1, 0.4, 0, 0, 0, (), up)  # fmt: skip
    assert caption(day, Names.of(shop(), "ru")).splitlines()[2::3] == [
        "Медиана обработки: меньше минуты",
        "Все каналы были доступны весь день",
    ]
    assert caption(day, Names.of(shop(), "en")).splitlines()[2::3] == [
        "Median processing: under a minute",
        "Every channel was up all day",
    ]
    assert render_png(day, Names.of(shop(), "ru"))[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_scheduled_send_is_claimed_once_across_instances(database: Database) -> None:
    clock = FakeClock(msk(22, 9))
    instances = [DailyReports(SqlDayRecords(database), SqlUnitOfWorkFactory(database), shop(), clock) for _ in "ab"]
    claims = await asyncio.gather(*(r.claim_delivery(DAY, f"host-{n}") for n, r in enumerate(instances * 3)))
    assert sorted(claims) == [False] * 5 + [True]
    await instances[0].delivery_done(DAY, sent=True)
    clock.advance(hours=1)
    assert not await instances[1].claim_delivery(DAY, "host-b")  # sent: never again


async def test_a_failed_or_abandoned_send_is_tried_again(database: Database) -> None:
    clock = FakeClock(msk(22, 9))
    reports = DailyReports(SqlDayRecords(database), SqlUnitOfWorkFactory(database), shop(), clock)
    assert await reports.claim_delivery(DAY, "a")
    await reports.delivery_done(DAY, sent=False)
    assert await reports.claim_delivery(DAY, "b")  # it failed: the next run tries
    clock.advance(minutes=5)
    assert not await reports.claim_delivery(DAY, "c")  # "b" is still sending
    clock.advance(minutes=10)
    assert await reports.claim_delivery(DAY, "c")  # "b" died mid-send: its claim ran out


@pytest.mark.parametrize("given", ["9:00", "24:00", "12:60", "noon"])
def test_report_time_must_be_hh_mm(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORT_TIME", given)
    with pytest.raises(ValidationError, match="REPORT_TIME"):
        BusinessSettings(_env_file=None)


def test_report_time_defaults_to_nine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPORT_TIME", raising=False)
    assert BusinessSettings(_env_file=None).report_at == (9, 0)
    monkeypatch.setenv("REPORT_TIME", "21:45")
    assert BusinessSettings(_env_file=None).report_at == (21, 45)
