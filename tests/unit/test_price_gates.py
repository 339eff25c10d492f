"""The marketplaces' price gates against the marketplaces' own counting (as their emulators count), on a fake clock:
a full upload of prices is never refused for the rate, and goes within 4 % of the pace the limit allows."""

from __future__ import annotations

from emulators.wildberries.rate_limit import PRICES, TokenBucket
from emulators.yandex_market.limits import SkuWindow
from emulators.yandex_market.prices import OFFERS_PER_MINUTE
from integrations import wildberries_prices, yandex_market_prices


class Time:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_yandex_markets_gate_fills_its_minute_and_never_overflows_it() -> None:
    t = Time()
    gate = yandex_market_prices.default_price_gate(clock=t.clock, sleep=t.sleep)
    market = SkuWindow(OFFERS_PER_MINUTE, t.clock)  # a sliding 60 s: the strictest reading of "a minute"
    push, pushes = yandex_market_prices.PRICE_BATCH_LIMIT, 250  # 100 000 offers
    for _ in range(pushes):
        await gate.wait(push)
        assert market.take(push), f"over the Market's minute at {t.now:.2f} s"
    least = (pushes * push - OFFERS_PER_MINUTE) / OFFERS_PER_MINUTE * 60  # the first minute's worth goes at once
    assert least <= t.now <= 1.04 * (pushes * push / OFFERS_PER_MINUTE * 60)


async def test_a_push_that_arrives_early_still_fits_the_markets_minute() -> None:
    t = Time()
    gate = yandex_market_prices.default_price_gate(clock=t.clock, sleep=t.sleep)
    market = SkuWindow(OFFERS_PER_MINUTE, lambda: arrived)
    push = yandex_market_prices.PRICE_BATCH_LIMIT
    for n in range(100):
        await gate.wait(push)
        arrived = t.now + (2.4 if n % 2 == 0 else 0.0)  # every other push 2.4 s late: the next one looks early
        assert market.take(push), f"push {n} over the Market's minute"


async def test_yandex_markets_burst_holds_a_whole_push() -> None:
    t = Time()
    gate = yandex_market_prices.default_price_gate(clock=t.clock, sleep=t.sleep)
    await gate.wait(yandex_market_prices.PRICE_BATCH_LIMIT)
    assert t.now == 0.0


async def test_wildberries_gate_stays_inside_wbs_bucket_with_a_token_to_spare() -> None:
    t = Time()
    gate = wildberries_prices.price_gate(clock=t.clock, sleep=t.sleep)
    wb = TokenBucket(PRICES, t.clock)
    requests = 200  # 100 000 prices: 100 uploads of 1000 cards and the 100 reads of their cards
    for n in range(requests):
        await gate.wait()
        assert wb.admit() is None, f"request {n} refused at {t.now:.2f} s"
        assert wb.tokens >= 1.0 - 1e-9  # a request arriving up to 0.6 s early would pass too
    least = (requests - PRICES.burst) / PRICES.per_minute * 60
    assert least <= t.now <= 1.04 * requests / PRICES.per_minute * 60
