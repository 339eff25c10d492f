"""The price guard: a batch of big price drops waits for a person before it reaches any channel.

:class:`workflows.prices.PriceIntake` holds the channel prices of one price type from one 1C upload that fall more
than ``PRICE_DROP_APPROVAL`` below what the channel shows, or below a floor, as one batch (``price_batches``), and
asks the managers once for the whole batch in Telegram: ``approve`` lets every held price of the batch go out,
``reject`` forgets them and the channels keep their prices. Nobody answering within ``decide_within``
(``PRICE_APPROVAL_TIMEOUT_S``) hands the question to the owner with an alert, as the other office questions do;
the prices stay held until someone decides. The first decision stands (``TaskBoard.deciding``); the batch records
who decided and when.

A newer price of a held SKU (1C's next upload) takes that line out of its batch: a later ``approve`` sends only
what is still held, so an old question never sends a price 1C has since replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.payloads import PriceQuestion, PriceSample
from workflows.ports import Clock, UnitOfWork
from workflows.tasks import Deadline, Decision, Task, TaskBoard, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.PRICE_APPROVAL
APPROVE = "approve"
REJECT = "reject"
OPTIONS = (APPROVE, REJECT)
SAMPLES = 5  # held prices named in a question: the SKUs that fall most


class PriceGuard:
    def __init__(self, clock: Clock, board: TaskBoard, alerts: AlertDesk, *, decide_within: timedelta) -> None:
        self._clock, self._board, self._alerts, self._decide_within = clock, board, alerts, decide_within

    async def hold(
        self, uow: UnitOfWork, source: str, price_type: str, held: Mapping[str, Mapping[str, int]],
        samples: Sequence[PriceSample],
    ) -> int:  # fmt: skip
        """Inside the caller's unit of work: hold ``held`` (channel → SKU → kopecks) as one batch and ask the
        managers about it. Returns the batch's id."""
        now = self._clock.now()
        lines = sum(len(prices) for prices in held.values())
        batch_id = await uow.prices.open_batch(price_type, source, now, lines)
        for channel, prices in sorted(held.items()):
            await uow.prices.hold(channel, prices, now, batch_id)
        skus = len({sku for prices in held.values() for sku in prices})
        question = PriceQuestion(batch_id, price_type, lines, skus, _largest_drops(samples))
        await self._open(uow, question, Assignee.MANAGERS)
        return batch_id

    async def _open(self, uow: UnitOfWork, question: PriceQuestion, who: str) -> Task:
        now = self._clock.now()
        subject = f"price_batch:{question.batch_id}"
        if question.escalated:
            subject += ":owner"
        task = Task(None, KIND, subject, who, OPTIONS, now + self._decide_within, now, payload=question.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        now = self._clock.now()
        question = PriceQuestion.from_payload(task.payload)
        await notify_closed(uow, task, now)
        if option == APPROVE:
            await uow.prices.release(question.batch_id, now)
            await uow.prices.decide(question.batch_id, "approved", by, now)
        else:
            await uow.prices.drop(question.batch_id)
            await uow.prices.decide(question.batch_id, "rejected", by, now)

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return  # the owner's own question ran out: the prices stay held, as the alert said
        question = PriceQuestion.from_payload(task.payload)
        await self._open(uow, replace(question, escalated="timeout"), Assignee.OWNER)
        detail: dict[str, object] = {"task_kind": KIND.value, "batch_id": question.batch_id, "why": "timeout"}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)


def _largest_drops(samples: Sequence[PriceSample]) -> tuple[PriceSample, ...]:
    """A few held prices to show: each SKU once (on the channel where it falls most), the largest drops first."""

    def drop(sample: PriceSample) -> float:
        base = sample.shown or sample.floor or sample.new
        return (base - sample.new) / base if base else 0.0

    ordered = sorted(samples, key=lambda x: (-drop(x), x.sku, x.channel))
    per_sku = {x.sku: x for x in reversed(ordered)}  # the first (largest) of each SKU wins
    return tuple(sorted(per_sku.values(), key=lambda x: (-drop(x), x.sku, x.channel))[:SAMPLES])
