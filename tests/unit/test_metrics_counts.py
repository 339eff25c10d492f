"""``GET /metrics`` on memory, SQLite and PostgreSQL: open tasks and undelivered messages are counted where they
are stored (a scrape reads no task or notice), the numbers are the ones the rows give, and a scrape shows no one's
personal data."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from prometheus_client.parser import text_string_to_metric_families

from app.metrics import Metrics
from tests.fakes import FakeClock
from workflows.ports import CommitHooks, UnitOfWork, UnitOfWorkFactory
from workflows.tasks import DeadlineKind, Task, TaskState
from workflows.vocabulary import NoticeTopic, TaskKind

CHANNELS = ["site", "wb"]
PHONE, EMAIL, NAME = "+79161234567", "ivan.petrov@example.ru", "Иван Петров"


class RowsRead(AssertionError):
    """A scrape asked for whole tasks or notices: with many of them each scrape would load them all."""


class _NoRows:
    """A repository that counts but refuses every read of whole rows."""

    def __init__(self, inner: Any, counting: str) -> None:
        self._inner, self._counting = inner, counting

    def __getattr__(self, name: str) -> Any:
        if name != self._counting:
            raise RowsRead(f"the scrape called {name}")
        return getattr(self._inner, name)


class _CountingOnly:
    """A unit of work whose tasks and notices may only be counted; everything else as ``inner`` does it."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        if name == "tasks":
            return _NoRows(self._inner.tasks, "open_counts")
        if name == "notices":
            return _NoRows(self._inner.notices, "undelivered_counts")
        return getattr(self._inner, name)


class CountingOnlyFactory:
    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self._inner = inner

    @property
    def hooks(self) -> CommitHooks:
        return self._inner.hooks

    def __call__(self, *, read_only: bool = False) -> Any:
        return _CountingOnly(self._inner(read_only=read_only))


async def _some_state(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """Four open tasks of three kinds (one more answered), five notices of three topics (one delivered);
    the payloads carry a client's phone, e-mail and name."""
    now = clock.now()
    personal: dict[str, object] = {"phone": PHONE, "email": EMAIL, "customer": NAME}
    async with uow() as work:
        kinds = [TaskKind.FRAUD_CHECK, TaskKind.FRAUD_CHECK, TaskKind.FX_APPROVAL, TaskKind.ALERT, TaskKind.ALERT]
        due = now + timedelta(hours=1)
        tasks = [
            Task(None, kind, f"order:{n}:{kind}", "role:managers", ("yes", "no"), due, now, payload=personal)
            for n, kind in enumerate(kinds)
        ]
        for task in tasks:
            await work.tasks.add(task, [(DeadlineKind.EXPIRE, task.deadline)])
        assert tasks[-1].id is not None
        await work.tasks.close(tasks[-1].id, TaskState.ANSWERED, now, reason="answered", answer="yes", by=NAME)
        topics = [NoticeTopic.OFFICE_TASK] * 2 + [NoticeTopic.ALERT] * 2 + [NoticeTopic.STORE_QUESTION]
        for topic in topics:
            await work.notices.add(topic, personal, now)
        await work.commit()
    async with uow() as work:
        (first, *_) = await work.notices.undelivered(1, [NoticeTopic.ALERT.value])
        await work.notices.delivered(first[0], now)
        await work.commit()


def _samples(scraped: bytes) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped.decode())
        for sample in family.samples
        if not sample.labels
    }


async def test_counts_agree_with_the_rows_on_every_backend(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    await _some_state(uow, clock)
    async with uow(read_only=True) as work:
        open_counts = await work.tasks.open_counts()
        waiting = await work.notices.undelivered_counts()
        loaded_tasks = await work.tasks.open_about("")
        loaded_notices = await work.notices.undelivered(100_000)
    assert open_counts == {"fraud_check": 2, "fx_approval": 1, "alert": 1}
    assert waiting == {"office_task": 2, "alert": 1, "store_question": 1}
    assert sum(open_counts.values()) == len(loaded_tasks)
    assert sum(waiting.values()) == len(loaded_notices)

    scraped = _samples(await Metrics(uow, clock, CHANNELS).render())
    assert (scraped["storeops_open_tasks"], scraped["storeops_undelivered_messages"]) == (4, 4)


async def test_a_scrape_reads_no_task_or_notice(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    await _some_state(uow, clock)
    scraped = _samples(await Metrics(CountingOnlyFactory(uow), clock, CHANNELS).render())
    assert (scraped["storeops_open_tasks"], scraped["storeops_undelivered_messages"]) == (4, 4)


async def test_nothing_is_counted_as_zero(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    async with uow(read_only=True) as work:
        assert (await work.tasks.open_counts(), await work.notices.undelivered_counts()) == ({}, {})
    scraped = _samples(await Metrics(uow, clock, CHANNELS).render())
    assert (scraped["storeops_open_tasks"], scraped["storeops_undelivered_messages"]) == (0, 0)


async def test_a_scrape_shows_no_personal_data(uow: UnitOfWorkFactory, clock: FakeClock) -> None:
    """``/metrics`` is open to anyone who reaches the port: only counts, labelled by channel, never a payload."""
    await _some_state(uow, clock)
    raw = await Metrics(uow, clock, CHANNELS).render()
    text = raw.decode()
    for secret in (PHONE, EMAIL, NAME, "order:", "role:"):
        assert secret not in text
    labels = {
        (key, value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for key, value in sample.labels.items()
    }
    assert {key for key, _ in labels} <= {"channel", "le"}
    assert {value for key, value in labels if key == "channel"} == set(CHANNELS)
