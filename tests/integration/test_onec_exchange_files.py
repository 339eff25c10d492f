"""Where the 1C exchange keeps the files 1C uploads: on disk, in temporary files that are gone once the file is
imported, the exchange starts over, the session is forgotten or the server stops."""

from __future__ import annotations

import asyncio
import base64
import gc
import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from app.http import onec_exchange
from app.http.onec_exchange import COOKIE_NAME, ExchangeLimits, register
from integrations.commerceml import StockPackage
from tests.fakes import FakeClock

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
PATH = "/1c_exchange.php"
KIB = 1024
LIMITS = ExchangeLimits(file_limit=256 * KIB, session_bytes=4 * 1024 * KIB, sessions=2)
AUTH = {"Authorization": "Basic " + base64.b64encode(b"site:secret").decode()}


class Packages(list[StockPackage]):
    """``on_stock`` that keeps the packages it is given."""

    async def __call__(self, package: StockPackage) -> Mapping[str, object]:
        self.append(package)
        return {}


class TemporaryFiles(list[IO[bytes]]):
    """Stands in for :func:`tempfile.TemporaryFile`: makes real ones and keeps them, to see which are closed."""

    def __init__(self) -> None:
        super().__init__()
        self.make = tempfile.TemporaryFile
        self.failure: OSError | None = None

    def __call__(self) -> IO[bytes]:
        if self.failure is not None:
            raise self.failure
        made = self.make()
        self.append(made)
        return made

    @property
    def open(self) -> int:
        return sum(not made.closed for made in self)


@pytest.fixture
def temporary_files(monkeypatch: pytest.MonkeyPatch) -> TemporaryFiles:
    files = TemporaryFiles()
    monkeypatch.setattr(tempfile, "TemporaryFile", files)
    return files


@pytest.fixture
async def exchange(clock: FakeClock) -> AsyncIterator[tuple[TestClient[Any, Any], Packages]]:
    app, packages = web.Application(), Packages()
    register(app, path=PATH, user="site", password="secret", on_stock=packages, clock=clock, limits=LIMITS)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, packages


async def call(client: TestClient[Any, Any], cookie: dict[str, str], mode: str, **more: Any) -> list[str]:
    method = client.post if mode == "file" else client.get
    data = more.pop("data", None)
    response = await method(PATH, params={"type": "catalog", "mode": mode, **more}, headers=cookie, data=data)
    assert response.status == 200
    return (await response.read()).decode("windows-1251").split("\n")


async def login(client: TestClient[Any, Any]) -> dict[str, str]:
    response = await client.get(PATH, params={"type": "catalog", "mode": "checkauth"}, headers=AUTH)
    answer = (await response.read()).decode("windows-1251").split("\n")
    assert answer[:2] == ["success", COOKIE_NAME]
    cookie = {"Cookie": f"{COOKIE_NAME}={answer[2]}"}
    assert (await call(client, cookie, "init"))[0] == "zip=no"
    return cookie


async def upload(client: TestClient[Any, Any], cookie: dict[str, str], name: str, data: bytes) -> list[str]:
    answer: list[str] = []
    for start in range(0, len(data), LIMITS.file_limit):
        answer = await call(client, cookie, "file", filename=name, data=data[start : start + LIMITS.file_limit])
    return answer


async def test_uploaded_files_are_kept_on_disk_not_in_memory(
    exchange: tuple[TestClient[Any, Any], Packages], temporary_files: TemporaryFiles
) -> None:
    client, packages = exchange
    cookie = await login(client)
    filler = b"<!-- " + b"x" * (3 * 1024 * KIB) + b" -->"  # 3 MiB of comment after the stock
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        assert await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes() + filler) == [
            "success"
        ]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 512 * KIB, f"{held / KIB:.0f} KiB stay in memory after a 3 MiB upload"
    assert temporary_files.open == 1
    assert await call(client, cookie, "import", filename="offers0_1.xml") == ["success"]
    assert len(packages) == 1 and len(packages[0].lines) == 6
    assert temporary_files.open == 0


Scenario = Callable[[TestClient[Any, Any], dict[str, str], FakeClock], Awaitable[object]]


async def imported(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    return await call(client, cookie, "import", filename="offers0_1.xml")


async def refused_at_import(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    await upload(client, cookie, "offers0_1.xml", b"<not well-formed")
    return await call(client, cookie, "import", filename="offers0_1.xml")


async def started_over(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    return await call(client, cookie, "init")


async def over_the_session_limit(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    """offers0_1.xml grows past what a session may hold: it is forgotten whole."""
    answers = [await upload(client, cookie, "offers0_1.xml", b"x" * LIMITS.file_limit) for _ in range(16)]
    assert answers[-1][0] == "failure"
    return answers


async def idle_too_long(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    clock.advance(seconds=LIMITS.session_idle.total_seconds() + 1)
    return await login(client)  # any request notices the idle session


async def pushed_out_by_newer_sessions(
    client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock
) -> object:
    for _ in range(LIMITS.sessions):
        clock.advance(seconds=1)
        await login(client)
    return None


async def server_stopped(client: TestClient[Any, Any], cookie: dict[str, str], clock: FakeClock) -> object:
    await client.close()
    return None


@pytest.mark.parametrize(
    ("scenario", "left"),
    [(imported, 1), (refused_at_import, 1), (over_the_session_limit, 1), (started_over, 0), (idle_too_long, 0),
     (pushed_out_by_newer_sessions, 0), (server_stopped, 0)],
)  # fmt: skip
async def test_a_kept_file_is_removed_when_its_life_ends(
    exchange: tuple[TestClient[Any, Any], Packages], temporary_files: TemporaryFiles, clock: FakeClock,
    scenario: Scenario, left: int,
) -> None:  # fmt: skip
    """Two files kept: one ends (imported, refused, over the limit), or both do (the session's end)."""
    client, _ = exchange
    cookie = await login(client)
    assert await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes()) == ["success"]
    assert await upload(client, cookie, "import_files/rests0_1.xml", (DATA / "rests_2_10.xml").read_bytes()) == [
        "success"
    ]
    assert temporary_files.open == 2
    await scenario(client, cookie, clock)
    assert temporary_files.open == left


async def test_a_file_the_disk_cannot_take_is_refused_with_a_reason(
    exchange: tuple[TestClient[Any, Any], Packages], temporary_files: TemporaryFiles
) -> None:
    client, _ = exchange
    cookie = await login(client)
    temporary_files.failure = OSError(28, "No space left on device")
    assert await upload(client, cookie, "offers0_1.xml", b"<a/>") == [
        "failure",
        "offers0_1.xml: the site could not keep the file (an error on its side, logged)",
    ]
    temporary_files.failure = None
    assert (await call(client, cookie, "import", filename="offers0_1.xml"))[0] == "failure"  # nothing was kept


async def test_an_upload_for_a_session_forgotten_while_it_arrived_is_not_kept(
    exchange: tuple[TestClient[Any, Any], Packages], temporary_files: TemporaryFiles, clock: FakeClock
) -> None:
    client, _ = exchange
    cookie = await login(client)
    halfway, go_on = asyncio.Event(), asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"<a>"
        halfway.set()
        await go_on.wait()
        yield b"</a>"

    arriving = asyncio.create_task(call(client, cookie, "file", filename="offers0_1.xml", data=body()))
    await halfway.wait()
    await pushed_out_by_newer_sessions(client, cookie, clock)
    go_on.set()
    assert await arriving == [
        "failure",
        "no exchange session (or it expired): start again with mode=checkauth",
    ]
    assert temporary_files.open == 0


async def test_a_file_the_disk_cannot_give_back_is_refused_with_a_reason(
    exchange: tuple[TestClient[Any, Any], Packages], temporary_files: TemporaryFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, packages = exchange
    cookie = await login(client)
    assert await upload(client, cookie, "offers0_1.xml", (DATA / "offers_2_07.xml").read_bytes()) == ["success"]

    def unreadable(source: IO[bytes]) -> StockPackage:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(onec_exchange, "parse_stock", unreadable)
    assert await call(client, cookie, "import", filename="offers0_1.xml") == [
        "failure",
        "offers0_1.xml: the site could not read the file back (an error on its side, logged)",
    ]
    assert packages == [] and temporary_files.open == 0
