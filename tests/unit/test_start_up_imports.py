"""What ``storeops run`` holds in memory from its start: the modules it runs with, not those a job needs later.

The daily report's chart library (matplotlib, some 40 MB once loaded) comes with the first chart drawn, a chat's
libraries (aiogram, some 120 MB; slack_bolt) with that chat's settings, and the sandbox's world (every emulator, the
console) with ``storeops sandbox`` only (docs/footprint.md). Each check runs in a fresh interpreter: this test
process has loaded whatever other tests needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

# What ``storeops run`` imports before it serves: the command line, the composition root, the service, the HTTP
# server, the scheduler and the chats.
START_UP = ("app.cli", "app.bootstrap", "app.service", "app.http.server", "app.scheduler", "app.chats")
NOT_AT_START = ("matplotlib", "emulators", "app.sandbox.world", "app.sandbox.console")
CHATS = ("aiogram", "slack_bolt", "slack_sdk")  # loaded by app.chats when a chat's token is set


def loaded_after(*imports: str, then: str = "") -> set[str]:
    """The modules a fresh interpreter holds after importing ``imports`` (and running ``then``)."""
    code = f"import json, sys\nimport {', '.join(imports)}\n{then}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
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
