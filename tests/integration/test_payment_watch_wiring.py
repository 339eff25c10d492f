"""The payment watch as the composition root builds it: on when the gateway's key is set, scheduled every
``PAYMENT_WATCH_INTERVAL_S``, its managers' answers and deadlines known to the office desk and the pump."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import build
from app.scheduler import build_scheduler
from app.settings import load_settings
from emulators.yookassa import SECRET_KEY, SHOP_ID
from integrations.yookassa import YooKassaPayments
from tests.fakes import FakeClock
from workflows.topology import Topology


async def test_the_watch_is_scheduled_when_the_gateways_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("PAYMENT_GATEWAY_SHOP_ID", SHOP_ID)
    monkeypatch.setenv("PAYMENT_GATEWAY_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("PAYMENT_GATEWAY_URL", "http://127.0.0.1:9/v3")
    monkeypatch.setenv("PAYMENT_WATCH_INTERVAL_S", "30")
    services = await build(load_settings(env_file=None), topology, clock=FakeClock())
    try:
        watch = services.shop.payment_watch
        assert watch is not None
        jobs = {job.id: job for job in build_scheduler(services).get_jobs()}
        assert jobs["payment-watch"].func == watch.run_once
        assert str(jobs["payment-watch"].trigger) == "interval[0:00:30]"
        assert isinstance(watch._gateway, YooKassaPayments)
    finally:
        await services.close()


async def test_without_the_key_there_is_no_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("PAYMENT_GATEWAY_SHOP_ID", raising=False)
    services = await build(load_settings(env_file=None), topology, clock=FakeClock())
    try:
        assert services.shop.payment_watch is None
        assert "payment-watch" not in {job.id for job in build_scheduler(services).get_jobs()}
    finally:
        await services.close()
