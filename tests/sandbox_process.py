"""``storeops sandbox`` as a real process for the tests: started on a free port, its one ready line read, driven
over HTTP, stopped with SIGINT and checked to exit cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
READY = re.compile(r"storeops sandbox ready: (http://\S+)/sandbox")
CREATED = re.compile(r"created database (storeops_sandbox_[0-9a-f]+) ")
READY_WITHIN_S = 60  # the issue: a console in under a minute once installed


class Sandbox:
    def __init__(self, url: str, ready_s: float, log: Path) -> None:
        self.url, self.ready_s, self.log = url, ready_s, log
        self.http = httpx.Client(base_url=url, timeout=30)

    def state(self) -> dict[str, Any]:
        response = self.http.get("/sandbox/api/state")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, json=body or {})

    def scenario(self, name: str) -> str:
        response = self.post(f"/sandbox/api/scenario/{name}")
        assert response.status_code == 200, response.text
        summary: str = response.json()["summary"]
        return summary

    def eventually(self, probe: Callable[[dict[str, Any]], T | None], what: str, patience: float = 30.0) -> Any:
        """Poll the state until ``probe`` finds something (the service's jobs run every second): what it found, or
        the state itself when the probe only says yes."""
        deadline = time.monotonic() + patience
        while True:
            state = self.state()
            found = probe(state)
            if found is True:
                return state
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {patience} s: {what}\n--- log tail ---\n{self._tail()}")
            time.sleep(0.3)

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def launch(work: Path, *options: str) -> subprocess.Popen[str]:
    """``storeops sandbox`` started in ``work`` on a free port: its one ready line on ``stdout``, its log in
    ``work/sandbox.log``. No DATABASE_URL, chat tokens or the like from the tests' environment reach it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_", "DATABASE_"))}
    with (work / "sandbox.log").open("wb") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "sandbox", "--port", "0", *options],
            cwd=work, env={**env, "PYTHONPATH": str(Path(__file__).parents[1])},
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip


def ready_url(process: subprocess.Popen[str], log: Path) -> str:
    """The console's base URL from the ready line (the sandbox is then serving)."""
    assert process.stdout is not None
    line = process.stdout.readline()  # the one line a newcomer reads
    ready = READY.search(line)
    assert ready, f"no ready line: {line!r}\n{log.read_text(errors='replace')[-3000:]}"
    return ready.group(1)


def created_database(log: Path) -> str | None:
    """The PostgreSQL database the sandbox made for itself, as its log names it."""
    found = CREATED.search(log.read_text(errors="replace"))
    return found.group(1) if found else None


@contextmanager
def running_sandbox(work: Path, *options: str) -> Iterator[Sandbox]:
    log = work / "sandbox.log"
    started = time.monotonic()
    process = launch(work, *options)
    try:
        box = Sandbox(ready_url(process, log), time.monotonic() - started, log)
        yield box
        box.http.close()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text(errors="replace")[-3000:]
    shutdown = log.read_text(errors="replace").split("stopping the sandbox")[-1]
    assert "Traceback" not in shutdown and " ERROR " not in shutdown, shutdown  # a clean stop, nothing cut off
