"""The channel clients' token bucket, on a fake clock whose sleep moves it."""

from __future__ import annotations

from integrations.rate_gate import RateGate


class Time:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_a_burst_then_the_steady_rate() -> None:
    t = Time()
    gate = RateGate(per_minute=300, burst=20, clock=t.clock, sleep=t.sleep)  # Wildberries' stock limit
    for _ in range(20):
        await gate.wait()
    assert t.now == 0.0  # the burst goes at once
    for _ in range(5):
        await gate.wait()
    assert abs(t.now - 1.0) < 1e-9  # then 5 a second (300 a minute)


async def test_an_expensive_failure_and_a_hold_off_delay_the_next_request() -> None:
    t = Time()
    gate = RateGate(per_minute=300, burst=20, clock=t.clock, sleep=t.sleep)
    await gate.wait()
    gate.charge(30)  # tokens now 20 - 1 - 30 = -11
    await gate.wait()  # needs 1 token: 12 tokens at 5/s
    assert abs(t.now - 12 / 5) < 1e-9
    gate.hold_off(7)
    before = t.now
    await gate.wait()
    assert t.now - before >= 7


async def test_float_dust_never_leaves_a_waiter_stuck() -> None:
    """An exact fake sleep can leave 0.99999999999 tokens; the gate must still let the request go."""
    t = Time()
    t.now = 1000.0
    gate = RateGate(per_minute=300, burst=20, clock=t.clock, sleep=t.sleep)
    for _ in range(2000):
        await gate.wait()
    assert 1000.0 + (2000 - 20) / 5 - 0.01 <= t.now <= 1000.0 + (2000 - 20) / 5 + 2.5
