"""The whole service with its secrets set, on SQLite or PostgreSQL, for the tests of its authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import Services, build
from app.settings import load_settings
from storage.schema import metadata
from tests.conftest import ROOT
from tests.fakes import FakeClock
from workflows.topology import Topology

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOKEN = "api-token-for-auth-tests-0001"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXCHANGE_USER, EXCHANGE_PASSWORD = "1c", "exchange-password-0001"
PAYMENTS_SECRET = "gateway-hmac-secret-0001"


@asynccontextmanager
async def auth_service(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    topology: Topology, **env: str,
) -> AsyncIterator[Services]:  # fmt: skip
    """On ``backend`` (sqlite or postgres); ``env`` adds settings. The clock is a :class:`FakeClock` at NOW."""
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    settings = {
        "DATABASE_URL": sqlite if backend == "sqlite" else request.getfixturevalue("pg_url"),
        "API_TOKEN": TOKEN,
        "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"),
        "ONEC_EXCHANGE_USER": EXCHANGE_USER,
        "ONEC_EXCHANGE_PASSWORD": EXCHANGE_PASSWORD,
        "PAYMENTS_HMAC_SECRET": PAYMENTS_SECRET,
        **env,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    for key in ("SLACK_BOT_TOKEN", "TELEGRAM_BOT_TOKEN", "PAYMENTS_SIGNATURE_LEGACY"):
        if key not in env:
            monkeypatch.delenv(key, raising=False)
    built = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
    async with built.database.engine.begin() as connection:  # PostgreSQL's database lives for the whole session
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    try:
        yield built
    finally:
        await built.close()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
