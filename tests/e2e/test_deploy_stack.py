"""deploy/compose.yaml brought up where a Docker engine answers: the image builds, PostgreSQL, both instances and
the proxy come up healthy, and /healthz answers through the proxy over TLS (a self-signed certificate made as
docs/deploy.md makes one). Skipped, with the reason, where no engine runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker_answers() -> str | None:
    """Why the stack cannot be brought up here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        return f"no Docker engine answers (`docker info`: {info.stderr.strip().splitlines()[-1:]})"
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False)
    if version.returncode != 0:
        return "the docker compose plugin is not installed"
    if shutil.which("openssl") is None:
        return "openssl is not installed (it makes the self-signed certificate)"
    return None


@dataclass
class Stack:
    https: str
    http: str
    compose: Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The compose project up, on free ports."""
    reason = _docker_answers()
    if reason:
        pytest.skip(reason)
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(  # the command of docs/deploy.md, "A self-signed certificate"
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "acme").mkdir()
    (tmp_path / "storeops.env").write_text("API_TOKEN=compose-e2e-token-0123456789\nLOCALE=ru\n", encoding="utf-8")
    https, http = _free_port(), _free_port()
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": uuid.uuid4().hex,
        "STOREOPS_IMAGE": "storeops:e2e",
        "STOREOPS_ENV_FILE": str(tmp_path / "storeops.env"),
        "STOREOPS_TOPOLOGY": str(ROOT / "storeops.example.toml"),
        "TLS_CERT_DIR": str(certs),
        "ACME_DIR": str(tmp_path / "acme"),
        "PROXY_HTTP_PORT": str(http),
        "PROXY_HTTPS_PORT": str(https),
    }
    project = ["docker", "compose", "-p", f"storeops-e2e-{uuid.uuid4().hex[:8]}", "-f", str(COMPOSE_FILE)]

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*project, *args], env=env, capture_output=True, text=True, timeout=300, check=False)

    try:
        up = subprocess.run([*project, "up", "-d", "--build", "--wait", "--wait-timeout", "300"], env=env,
                            capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
        if up.returncode != 0:
            logs = subprocess.run([*project, "logs", "--no-color", "--tail", "50"], env=env, capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
            pytest.fail(f"compose up failed:\n{up.stderr[-4000:]}\n{logs.stdout[-8000:]}")
        yield Stack(f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}", compose)
    finally:
        subprocess.run([*project, "down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=300,
                       check=False)  # fmt: skip


def test_the_stack_answers_healthz_through_the_proxy_from_both_instances(stack: Stack) -> None:
    with httpx.Client(verify=False, timeout=10) as client:  # self-signed
        assert client.get(f"{stack.https}/healthz").json() == {"status": "ok", "database": "ok"}
        redirected = client.get(f"{stack.http}/healthz")
        assert redirected.status_code == 301 and redirected.headers["location"].startswith("https://")
        assert client.get(f"{stack.https}/metrics").status_code == 404  # scraped inside, not through the proxy
        stock = client.get(
            f"{stack.https}/api/stock/X", headers={"Authorization": "Bearer compose-e2e-token-0123456789"}
        )
        assert stock.status_code == 200
        for stopped, serving in (("storeops-1", "storeops-2"), ("storeops-2", "storeops-1")):
            assert stack.compose("stop", stopped).returncode == 0
            assert client.get(f"{stack.https}/healthz").status_code == 200, f"{serving} alone"
            assert stack.compose("up", "-d", "--wait", stopped).returncode == 0
