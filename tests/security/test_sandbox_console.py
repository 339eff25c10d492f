"""The sandbox console has no login, so only the developer's own browser tab may drive it: a page of another site
cannot post an action (not JSON, or a foreign ``Origin``), a page on a name that resolves to 127.0.0.1 reads
nothing (a foreign ``Host``, on every route, so the API token in the state stays home), and listening beyond
loopback is announced. Against ``storeops sandbox`` itself, run as a process on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import pytest

from app import cli
from app.sandbox import world as sandbox_world
from app.sandbox.local_only import allowed_host, exposed, own_origin
from tests.sandbox_process import Sandbox, running_sandbox

FOREIGN_ORIGINS = ["http://evil.example", "https://evil.example", "null", "http://127.0.0.1.evil.example:8080"]
ACTIONS = [
    ("/sandbox/api/clock", {"advance_s": 3600}),
    ("/sandbox/api/scenario/last_iron", {}),
    ("/sandbox/api/telegram/send", {"user": 1001, "text": "/status"}),
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running_sandbox(tmp_path_factory.mktemp("sandbox-console")) as box:
        yield box


def _port(sandbox: Sandbox) -> int:
    port = httpx.URL(sandbox.url).port
    assert port is not None
    return port


def _offset(sandbox: Sandbox) -> int:
    offset: int = sandbox.state()["clock"]["offset_s"]
    return offset


def _token(sandbox: Sandbox) -> str:
    return str(sandbox.state()["dashboard_url"].split("#token=", 1)[1])


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code and body["message"] and body["details"] == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data", None],
)
def test_an_action_that_is_not_json_is_refused_and_the_clock_stays(sandbox: Sandbox, content_type: str | None) -> None:
    # what a page of another site may send without asking the browser first ("simple" requests)
    before = sandbox.state()
    headers = {} if content_type is None else {"Content-Type": content_type}
    moved = sandbox.http.post("/sandbox/api/clock", content=b'{"advance_s": 3600}', headers=headers)
    _refused(moved, 415, "unsupported_media_type")
    assert sandbox.state()["clock"]["offset_s"] == before["clock"]["offset_s"]
    for path, body in ACTIONS[1:]:
        _refused(sandbox.http.post(path, content=json.dumps(body), headers=headers), 415, "unsupported_media_type")
    after = sandbox.state()
    assert len(after["orders"]) == len(before["orders"])  # the scenario did not run
    assert after["people"] == before["people"]  # nobody's message was sent


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_another_sites_origin_is_refused_for_actions_and_the_state(sandbox: Sandbox, origin: str) -> None:
    offset = _offset(sandbox)
    for path, body in ACTIONS:
        _refused(sandbox.http.post(path, json=body, headers={"Origin": origin}), 403, "forbidden_origin")
    assert _offset(sandbox) == offset
    state = sandbox.http.get("/sandbox/api/state", headers={"Origin": origin})
    _refused(state, 403, "forbidden_origin")
    assert _token(sandbox) not in state.text


@pytest.mark.parametrize("name", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", "10.0.0.7"])
def test_a_foreign_host_reads_nothing_anywhere(sandbox: Sandbox, name: str) -> None:
    # DNS rebinding: evil.example now resolves to 127.0.0.1, and its page is same-origin with whatever answers
    token, host = _token(sandbox), f"{name}:{_port(sandbox)}"
    bearer = {"Authorization": f"Bearer {token}"}
    for path, headers in [("/sandbox/api/state", {}), ("/sandbox", {}), ("/dashboard", {}), ("/healthz", {}),
                          ("/api/dashboard", bearer), ("/sandbox/api/nothing-here", {})]:  # fmt: skip
        answer = sandbox.http.get(path, headers={"Host": host, **headers})
        _refused(answer, 403, "forbidden_host")
        assert token not in answer.text
    offset = _offset(sandbox)
    _refused(sandbox.http.post("/sandbox/api/clock", json={"advance_s": 60}, headers={"Host": host}), 403,
             "forbidden_host")  # fmt: skip
    assert _offset(sandbox) == offset


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
def test_the_consoles_own_origin_on_a_loopback_host_is_served(sandbox: Sandbox, name: str) -> None:
    host = f"{name}:{_port(sandbox)}"
    own = {"Host": host, "Origin": f"http://{host}"}
    state = sandbox.http.get("/sandbox/api/state", headers=own)
    assert state.status_code == 200, state.text
    assert state.json()["dashboard_url"].startswith("/dashboard#token=")
    assert sandbox.http.get("/sandbox", headers={"Host": host}).status_code == 200
    offset = _offset(sandbox)
    moved = sandbox.http.post("/sandbox/api/clock", json={"advance_s": 60}, headers=own)
    assert moved.status_code == 200, moved.text
    assert moved.json()["offset_s"] == offset + 60 == _offset(sandbox)


@pytest.mark.parametrize(
    ("host", "bind", "allowed"),
    [
        ("127.0.0.1:8080", "127.0.0.1", True), ("127.0.0.1", "127.0.0.1", True), ("[::1]:8080", "::1", True),
        ("localhost:8080", "0.0.0.0", True), ("0.0.0.0:8080", "0.0.0.0", True),
        ("192.168.1.5:8080", "192.168.1.5", True), ("192.168.1.5:8080", "0.0.0.0", False),
        ("evil.example:8080", "127.0.0.1", False), ("evil.example@127.0.0.1:8080", "127.0.0.1", False),
        ("127.0.0.1:8080/x", "127.0.0.1", False), ("127.0.0.1.nip.io:8080", "127.0.0.1", False),
        ("", "127.0.0.1", False), (None, "127.0.0.1", False),
    ],
)  # fmt: skip
def test_which_host_names_this_machine(host: str | None, bind: str, allowed: bool) -> None:
    assert allowed_host(host, bind) is allowed


@pytest.mark.parametrize(
    ("origin", "host", "own"),
    [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True), ("HTTP://LOCALHOST:8080", "localhost:8080", True),
        ("http://127.0.0.1", "127.0.0.1:80", True), ("http://127.0.0.1:8081", "127.0.0.1:8080", False),
        ("http://localhost:8080", "127.0.0.1:8080", False), ("https://127.0.0.1:8080", "127.0.0.1:8080", False),
        ("null", "127.0.0.1:8080", False), ("http://evil.example", "127.0.0.1:8080", False),
    ],
)  # fmt: skip
def test_which_origin_is_the_consoles_own(origin: str, host: str, own: bool) -> None:
    assert own_origin(origin, host) is own


@pytest.mark.parametrize(
    ("host", "beyond"),
    [("0.0.0.0", True), ("::", True), ("192.168.1.5", True), ("myhost.lan", True),
     ("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False), ("::1", False), ("[::1]", False)],
)  # fmt: skip
def test_which_listening_address_lets_the_network_in(host: str, beyond: bool) -> None:
    assert exposed(host) is beyond


class _Unbindable:
    """A sandbox that fails to listen, so the command's start-up runs without binding anything."""

    def __init__(self, **_: Any) -> None:
        pass

    async def __aenter__(self) -> _Unbindable:
        raise OSError(99, "Cannot assign requested address")

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        pass


@pytest.mark.parametrize(("host", "warnings"), [("0.0.0.0", 1), ("192.168.1.5", 1), ("127.0.0.1", 0)])
def test_the_sandbox_command_warns_once_when_listening_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, host: str, warnings: int
) -> None:
    monkeypatch.setattr(sandbox_world, "Sandbox", _Unbindable)  # the command loads the sandbox when it runs
    with caplog.at_level(logging.INFO):
        assert cli.main(["sandbox", "--host", host, "--port", "0"]) == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == warnings, warned
    if warned:
        assert host in warned[0] and "no login" in warned[0] and "anyone" in warned[0]


def test_the_token_still_works_from_this_machine(sandbox: Sandbox) -> None:
    # the guard must not cost the console its own data: a plain request from this machine reads the token
    token = _token(sandbox)
    dashboard = sandbox.http.get("/api/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert dashboard.status_code == 200, dashboard.text
