"""What ``storeops run`` holds in memory from its start: the modules it runs with, not those a job needs later.

The daily report's chart library (matplotlib, some 40 MB once loaded) comes with the first chart drawn, a chat's
libraries (aiogram, slack_bolt) with that chat's settings — aiogram's Telegram types and methods are built when
first used, not when it is imported (some 100 MB) —, the sandbox's world (every emulator, the console) with
``storeops sandbox`` only, Alembic when the database is behind, asyncpg with PostgreSQL (docs/footprint.md). Each
check runs in a fresh interpreter: this test process has loaded whatever other tests needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from storage.database import open_database
from storage.migrate import migrate
from tests.conftest import ROOT

# What ``storeops run`` imports before it serves: the command line, the composition root, the service, the HTTP
# server, the scheduler and the chats.
START_UP = ("app.cli", "app.bootstrap", "app.service", "app.http.server", "app.scheduler", "app.chats")
NOT_AT_START = ("matplotlib", "emulators", "app.sandbox.world", "app.sandbox.console", "alembic", "mako", "asyncpg")
CHATS = ("aiogram", "slack_bolt", "slack_sdk")  # loaded by app.chats when a chat's token is set


def loaded_after(*imports: str, then: str = "", env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter holds after importing ``imports`` (and running ``then``, with ``env``)."""
    code = f"import json, sys\nimport {', '.join(imports)}\n{then}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def among(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(name for name in loaded if any(name == p or name.startswith(f"{p}.") for p in packages))


def test_the_service_starts_without_the_chart_library_or_the_sandbox() -> None:
    assert among(loaded_after(*START_UP), NOT_AT_START + CHATS) == []


def test_the_chart_library_comes_with_the_first_chart() -> None:
    """The check above can tell: the same interpreter holds matplotlib once a report is drawn."""
    draw = (
        "from datetime import UTC, date, datetime\n"
        "from bot.report_chart import render_png\n"
        "from bot.wording import Names\n"
        "from workflows.daily_report import DailyReport\n"
        "moment = datetime(2026, 11, 21, tzinfo=UTC)\n"
        "report = DailyReport(date(2026, 11, 20), 'Europe/Moscow', moment, moment, moment, {'site': (1,) * 24}, 24,\n"
        "                     60.0, 0, 0, 0, (), ())\n"
        "assert render_png(report, Names.of(None, 'ru')).startswith(b'\\x89PNG')"
    )
    loaded = loaded_after(*START_UP, then=draw)
    assert "matplotlib" in loaded
    assert among(loaded, ("emulators",)) == []


def test_the_chats_set_up_hold_aiogram_with_none_of_its_types_and_methods_built(tmp_path: Path) -> None:
    """The service built as ``storeops run`` builds it on a restart (the database at the newest schema), Telegram and
    Slack set up: aiogram is there, and not one of its Telegram types or methods has been built yet (the first update
    and the first call build theirs)."""
    asyncio.run(_migrated(f"sqlite+aiosqlite:///{tmp_path / 'storeops.db'}"))
    chats = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'storeops.db'}", "STOREOPS_CONFIG": str(ROOT / "storeops.example.toml"),
        "API_TOKEN": "start-up-imports-api-token", "TELEGRAM_BOT_TOKEN": "4242:start-up-imports",
        "SLACK_BOT_TOKEN": "xoxb-start-up-imports", "SLACK_SIGNING_SECRET": "start-up-imports-signing-secret",
    }  # fmt: skip
    build = (
        "import asyncio\n"
        "from pathlib import Path\n"
        "from pydantic import BaseModel\n"
        "async def built():\n"
        "    services = await app.bootstrap.build(app.settings.load_settings(env_file=None),\n"
        f"                                         app.topology.load_topology(Path({str(ROOT / 'storeops.example.toml')!r})))\n"
        "    assert services.chats.telegram_dispatcher is not None and services.chats.slack_app is not None\n"
        "    import aiogram.methods, aiogram.types\n"
        "    found = [name for package in (aiogram.types, aiogram.methods) for name in package.__all__\n"
        "             if isinstance(model := getattr(package, name), type) and issubclass(model, BaseModel)\n"
        "             and not getattr(model, '__abstractmethods__', None) and model.__pydantic_complete__]\n"
        "    await services.close()\n"
        "    return found\n"
        "assert asyncio.run(built()) == []"
    )
    loaded = loaded_after(*START_UP, "app.settings", "app.topology", then=build, env=chats)
    assert among(loaded, CHATS) != []
    assert among(loaded, NOT_AT_START) == []


async def _migrated(url: str) -> None:
    database = open_database(url)
    try:
        await migrate(database)
    finally:
        await database.dispose()
