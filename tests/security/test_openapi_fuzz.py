"""Schemathesis against the live app on 127.0.0.1 (SQLite), driven by the app's own ``/api/openapi.json``.

For every documented operation it generates requests from the schemas (valid and not), sends them with the
bearer token, and checks that no answer is a 5xx and that every answer's body matches the schema documented
for its route and status. The run is bounded (few examples, derandomized) to stay well under a minute.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.bootstrap import Services, build
from app.http.server import create_app
from app.settings import load_settings
from tests.conftest import ROOT
from tests.fakes import FakeClock
from workflows.topology import Topology

TOKEN = "schemathesis-token-0123-4567"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # the service's clock


class LiveApp:
    """The service's app served by aiohttp on a free loopback port, on an event loop in its own thread (the
    fuzzer sends with a blocking HTTP client)."""

    def __init__(self, database: Path, topology: Topology, env: pytest.MonkeyPatch) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        env.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
        env.setenv("API_TOKEN", TOKEN)
        env.setenv("HTTP_MAX_BODY_BYTES", "65536")
        env.setenv("STOREOPS_CONFIG", str(ROOT / "storeops.example.toml"))
        env.setenv("CLIENT_LINK_SECRET", "openapi-fuzz-client-link-secret-00001")  # the client's page fuzzed too
        self.services, self.runner, self.url = self.run(self._start(topology))

    def run(self, step: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(step, self.loop).result(timeout=60)

    async def _start(self, topology: Topology) -> tuple[Services, web.AppRunner, str]:
        services = await build(load_settings(env_file=None), topology, clock=FakeClock(NOW))
        runner = web.AppRunner(create_app(services))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return services, runner, f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        await self.runner.cleanup()
        await self.services.close()

    def close(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, topology: Topology) -> Iterator[LiveApp]:
    with pytest.MonkeyPatch.context() as env:
        app = LiveApp(tmp_path_factory.mktemp("openapi") / "fuzz.db", topology, env)
        try:
            yield app
        finally:
            app.close()


EXAMPLES = 12  # per operation and mode: the whole run stays well under a minute on two cores


def _fuzz(operation: Any, live: LiveApp) -> None:
    strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(strategy)
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
    def run(case: Any) -> None:
        case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"},
                               checks=[not_a_server_error, response_schema_conformance])  # fmt: skip

    run()


def test_no_5xx_and_every_answer_matches_its_schema(live: LiveApp) -> None:
    """Every operation of the document the live app serves (fetched as a client would, without a token)."""
    schema = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]  # Err raises
    assert len(operations) >= 10, [op.label for op in operations]
    failed: list[str] = []
    for operation in operations:
        try:
            _fuzz(operation, live)
        except Exception as error:  # one report naming every failing operation
            failed.append(f"{operation.label}: {error}")
    assert not failed, "\n\n".join(failed)
