"""The composition root gives RetailCRM its order jobs only when the RetailCRM channel is set up, on that channel's
own client, with the settings' cancel statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import build
from app.scheduler import build_scheduler
from app.settings import load_settings
from tests.fakes import FakeClock
from workflows.crm_orders import CrmOrderSync
from workflows.topology import Topology

TOPOLOGY = Topology.model_validate({
    "warehouses": [{"code": "online", "kind": "online"}],
    "channels": {"retailcrm": {"serves": ["online"], "warehouse_id": "main"}},
})  # fmt: skip


async def _jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> tuple[object, list[str]]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    services = await build(load_settings(env_file=None), TOPOLOGY, clock=FakeClock())
    try:
        ids = [job.id for job in build_scheduler(services).get_jobs() if job.id.startswith("crm-")]
        return services.shop.crm, ids
    finally:
        await services.close()


async def test_retailcrm_set_up_gets_both_order_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crm, ids = await _jobs(tmp_path, monkeypatch, {
        "RETAILCRM_API_BASE": "http://127.0.0.1:9", "RETAILCRM_API_KEY": "crm-key", "RETAILCRM_SITE": "shop",
        "RETAILCRM_CANCEL_STATUSES": "otmenen,cancel-other",
    })  # fmt: skip
    assert isinstance(crm, CrmOrderSync)
    assert sorted(ids) == ["crm-orders", "crm-statuses"]
    assert crm._cancel == {"otmenen", "cancel-other"}
    assert crm._own_channels == {"retailcrm"}  # orders that came from the CRM are not sent back to it


async def test_without_retailcrm_there_is_no_order_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("RETAILCRM_API_BASE", "RETAILCRM_API_KEY", "RETAILCRM_SITE"):
        monkeypatch.delenv(key, raising=False)
    crm, ids = await _jobs(tmp_path, monkeypatch, {})
    assert crm is None and ids == []
