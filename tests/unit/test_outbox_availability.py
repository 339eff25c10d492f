"""What each channel should show of a SKU, worked out by the database (``Outbox.enqueue_availability``, the stock
intake's path) and by Python (:func:`workflows.kits.channels_values`, every other path): the same answer for any
rows — reserved, suspect, warehouses a channel does not serve, safety stock above the free units — and the same
rule for what is queued (only what differs from what the channel will show anyway). On memory, SQLite and
PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from workflows.kits import channels_values
from workflows.model import StockFigure
from workflows.ports import ChannelRule, UnitOfWorkFactory
from workflows.topology import Topology

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rules_of(rng: random.Random, codes: list[str]) -> dict[str, ChannelRule]:
    """Channels serving random warehouses (one our topology does not have, too) with random safety stock."""
    return {
        name: (rng.sample([*codes, "nowhere"], rng.randint(1, len(codes))), rng.choice([0, 0, 1, 3, 50]))
        for name in ("ozon", "site", "wildberries", "yandex_market")[: rng.randint(1, 4)]
    }


class Rule:
    """A channel's rule shaped as the topology's (what :func:`channels_values` takes)."""

    def __init__(self, rule: ChannelRule) -> None:
        self.serves, self.safety_stock = rule


async def _fill(uow: UnitOfWorkFactory, rng: random.Random, codes: list[str], skus: list[str]) -> None:
    figures = [StockFigure(sku, code, rng.randint(0, 12)) for sku in skus for code in codes if rng.random() < 0.7]
    async with uow() as u:
        await u.stock.save_figures(figures, AT)
        for figure in figures:
            if rng.random() < 0.3:  # units held for orders (more than on hand, sometimes)
                await u.stock.unreserve(figure.sku, figure.warehouse, -rng.randint(1, 15))
            if rng.random() < 0.1:
                await u.stock.mark_suspect(figure.sku, figure.warehouse, AT + timedelta(minutes=1))
        await u.commit()


async def _pending(uow: UnitOfWorkFactory, channels: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """Every pending line as ``(channel, sku) -> (qty, version)``, leased and given back."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    async with uow() as u:
        for channel in channels:
            pushes = await u.outbox.claim(channel, AT + timedelta(days=1), AT + timedelta(days=1), "test", 10_000)
            found |= {(p.channel, p.sku): (p.qty, p.version) for p in pushes}
            await u.outbox.postpone(pushes, AT, None)
        await u.commit()
    return found


@pytest.mark.parametrize("seed", range(6))
async def test_the_database_works_each_channels_value_out_as_python_does(
    uow: UnitOfWorkFactory, topology: Topology, seed: int
) -> None:
    rng = random.Random(seed)
    codes = [w.code for w in topology.warehouses]
    skus = [f"SKU-{n}" for n in range(40)] + ["КР-7/2"]
    await _fill(uow, rng, codes, skus)
    rules = rules_of(rng, codes)
    async with uow() as u:
        levels = await u.stock.for_skus(skus)
        expected = channels_values(levels, {name: Rule(rule) for name, rule in rules.items()})  # type: ignore[misc]
        await u.outbox.enqueue_availability([*skus, "NO-ROWS"], rules, AT)
        await u.commit()
    queued = await _pending(uow, list(rules))
    # every SKU with rows, in every channel, never sent before: queued at the value Python works out
    assert {key: qty for key, (qty, _) in queued.items()} == {
        (channel, sku): qty for channel, of in expected.items() for sku, qty in of.items()
    }
    assert all(version == 1 for _, version in queued.values())

    async with uow() as u:  # the same again: the channels will show it already, nothing is queued anew
        await u.outbox.enqueue_availability(skus, rules, AT + timedelta(minutes=5))
        await u.commit()
    assert await _pending(uow, list(rules)) == queued

    changed = rng.choice(sorted(levels))
    async with uow() as u:  # one SKU's stock changes: only the channels whose value it changes get a new one
        await u.stock.save_figures([StockFigure(changed, codes[0], 1_000)], AT + timedelta(hours=1))
        after = channels_values(
            await u.stock.for_skus([changed]),
            {name: Rule(rule) for name, rule in rules.items()},  # type: ignore[misc]
        )
        await u.outbox.enqueue_availability([changed], rules, AT + timedelta(hours=1))
        await u.commit()
    again = await _pending(uow, list(rules))
    for channel, of in after.items():
        qty, version = again[(channel, changed)]
        assert qty == of[changed]
        assert version == (1 if of[changed] == expected[channel][changed] else 2)
    assert {k: v for k, v in again.items() if k[1] != changed} == {k: v for k, v in queued.items() if k[1] != changed}
