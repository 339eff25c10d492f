"""Which instance a process runs as (``app/instance.py``), and the service's start-up with it: a restart takes its
own leases back at once, a second process with the same instance id is refused with a clear error."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from app.bootstrap import Services, build
from app.instance import alive, default_instance_id
from app.service import RunningService
from app.settings import ConfigurationError, load_settings
from tests.fakes import FakeClock
from workflows.leases import LEASE
from workflows.ports import InstanceRecord
from workflows.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
Build = Callable[..., Awaitable[Services]]


@pytest.fixture
async def built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, topology: Topology) -> AsyncIterator[Build]:
    """``await built(INSTANCE_ID=...)``: services on one SQLite file, closed at the end."""
    for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "TELEGRAM_BOT_TOKEN", "INSTANCE_ID"):
        monkeypatch.delenv(key, raising=False)
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}", "API_TOKEN": "instances-test-token-1",
           "HTTP_HOST": "127.0.0.1", "HTTP_PORT": "0", "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml")}  # fmt: skip
    async with AsyncExitStack() as stack:

        async def build_one(**overrides: str) -> Services:
            for key, value in {**env, **overrides}.items():
                monkeypatch.setenv(key, value)
            services = await build(load_settings(env_file=None), topology, clock=FakeClock())
            stack.push_async_callback(services.close)
            return services

        yield build_one


def test_the_default_instance_id_is_this_hosts_and_stays_across_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://shop:secret@db:5432/storeops")
    monkeypatch.delenv("INSTANCE_ID", raising=False)
    first = default_instance_id(load_settings(env_file=None))
    assert first == default_instance_id(load_settings(env_file=None))
    assert first.startswith(socket.gethostname()[:20]) and len(first) <= 64
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://shop:changed@db:5432/storeops")
    assert default_instance_id(load_settings(env_file=None)) == first  # a new password is the same instance
    monkeypatch.setenv("HTTP_PORT", "8081")
    assert default_instance_id(load_settings(env_file=None)) != first  # a second instance on this host


def test_an_instance_id_with_a_slash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSTANCE_ID", "shop/1")  # "/" separates the instance from its incarnation in a lease
    with pytest.raises(ConfigurationError, match="INSTANCE_ID"):
        load_settings(env_file=None)


async def test_a_second_process_with_the_same_instance_id_is_refused_with_a_clear_error(built: Build) -> None:
    first, second = await built(), await built()  # the same settings: the same default id
    assert first.leases.me.instance == second.leases.me.instance
    async with RunningService(first):
        with pytest.raises(ConfigurationError) as refused:
            async with RunningService(second):
                pass
    assert "INSTANCE_ID" in str(refused.value) and "is running already" in str(refused.value)
    assert f"pid {os.getpid()}" in str(refused.value)
    named = await built(INSTANCE_ID="shop-second")
    async with RunningService(await built(INSTANCE_ID="shop-first")), RunningService(named):
        pass  # two ids: both run


async def test_a_restart_after_a_kill_takes_its_leases_back_at_once(built: Build) -> None:
    killed = await built(INSTANCE_ID="shop-1")
    await killed.leases.begin(alive, asyncio.sleep)  # it ran here and was killed: its pid is no process of its
    clock = killed.shop.clock
    async with killed.shop.uow() as work:
        await work.outbox.enqueue("wildberries", {"IRON": 3}, clock.now())
        await work.outbox.claim("wildberries", clock.now(), clock.now() + LEASE, killed.leases.me.owner, 10)
        await work.commit()

    restarted = await built(INSTANCE_ID="shop-1")
    # no waiting for the dead one's heartbeat (the fake clock stands still: a wait would never end)
    async with asyncio.timeout(2), RunningService(restarted), restarted.shop.uow() as work:
        now = restarted.shop.clock.now()  # the same instant as the kill
        claimed = await work.outbox.claim("wildberries", now, now + LEASE, restarted.leases.me.owner, 10)
    assert [push.sku for push in claimed] == ["IRON"]


def test_the_host_tells_a_gone_process_from_one_it_cannot_judge() -> None:
    here, now = socket.gethostname(), FakeClock().now()
    gone = InstanceRecord("shop", "old", here, 2**22 + 12345, now, now)  # above Linux's pid_max default: no process
    assert alive(gone) is False
    assert alive(InstanceRecord("shop", "old", here, os.getpid(), now, now)) is False  # this pid, not running it
    assert alive(InstanceRecord("shop", "old", "another-host", 1, now, now)) is None  # only its heartbeat can tell
