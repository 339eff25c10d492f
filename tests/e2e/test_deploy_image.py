"""The production image (deploy/Dockerfile) built and run as compose.yaml runs it, without compose and without
Docker Hub: built from the base image named by ``STOREOPS_PYTHON_IMAGE`` (a stand-in made as docs/deploy.md,
"Building without Docker Hub", says; or ``python:3.11-slim-bookworm``), two containers on one fresh database of the
test PostgreSQL, each read-only with a tmpfs /tmp, no capabilities, no new privileges, as user 10001, the example
topology mounted read-only. Both migrate, start and answer /healthz, Docker's own health check says healthy, and
deploy/nginx/storeops.conf in a host nginx (as tests/e2e/test_proxy_live.py runs it) serves them over TLS.

The containers share the host's network (``--network host``, Linux), so the database's address is the tests' own.
Skipped, with the reason, where no Docker engine answers, where no base image is at hand (``STOREOPS_PYTHON_IMAGE``
unset and the Dockerfile's default base not pulled), or where no PostgreSQL is reachable; the proxy's test also
where nginx or openssl is missing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ROOT
from tests.e2e.test_cli import _free_port
from tests.e2e.test_proxy_live import _configure, _database, _up

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEFAULT_BASE = "python:3.11-slim-bookworm"  # the Dockerfile's PYTHON_IMAGE
IMAGE = "storeops:image-e2e"
TOKEN = "image-e2e-token-0123456789"


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _base_image() -> str:
    """The base image to build from, or a skip saying why there is none."""
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    info = _docker("info", timeout=60)
    if info.returncode != 0:
        pytest.skip(f"no Docker engine answers (`docker info`: {info.stderr.strip().splitlines()[-1:]})")
    named = os.environ.get("STOREOPS_PYTHON_IMAGE")
    if named:
        return named  # docker build pulls it when it is not here and a registry answers
    if _docker("image", "inspect", DEFAULT_BASE).returncode != 0:
        pytest.skip(
            f"no base image: {DEFAULT_BASE} is not pulled here; set STOREOPS_PYTHON_IMAGE to one "
            "(docs/deploy.md, 'Building without Docker Hub')"
        )
    return DEFAULT_BASE


@pytest.fixture(scope="module")
def image() -> str:
    base = _base_image()
    built = subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "--build-arg", f"PYTHON_IMAGE={base}", "-t", IMAGE, str(ROOT)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert built.returncode == 0, f"docker build from {base} failed:\n{built.stdout[-6000:]}\n{built.stderr[-3000:]}"
    return IMAGE


@dataclass
class Instance:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _run(image: str, name: str, instance_id: str, port: int, database_url: str) -> None:
    """One instance, as compose.yaml's storeops service runs it, on the host's network."""
    started = _docker(
        "run", "-d", "--name", name, "--network", "host",
        "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "--mount", f"type=bind,source={ROOT / 'storeops.example.toml'},target=/etc/storeops/storeops.toml,readonly",
        "-e", f"DATABASE_URL={database_url}", "-e", f"INSTANCE_ID={instance_id}",
        "-e", "HTTP_HOST=127.0.0.1", "-e", f"HTTP_PORT={port}", "-e", f"API_TOKEN={TOKEN}", "-e", "LOCALE=ru",
        image,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr


def _health(name: str) -> str:
    return str(json.loads(_docker("inspect", "--format", "{{json .State.Health.Status}}", name).stdout))


def _healthy(name: str, timeout: float = 90) -> None:
    """Docker's own health check (the image's HEALTHCHECK, every 15 s) says healthy."""
    deadline = time.monotonic() + timeout
    while (status := _health(name)) != "healthy":
        assert time.monotonic() < deadline, f"{name} is {status} after {timeout} s:\n{_docker('logs', name).stderr}"
        time.sleep(1)


async def _instances(url: str) -> set[str]:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                       password=parsed.password, database=parsed.database, timeout=5)  # fmt: skip
    try:
        return {row["instance"] for row in await connection.fetch("SELECT instance FROM instances")}
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def instances(image: str) -> Iterator[list[Instance]]:
    databases = _database()
    url = next(databases)
    run = uuid.uuid4().hex[:8]
    started = [Instance(f"storeops-e2e-{run}-{n}", _free_port()) for n in (1, 2)]
    try:
        for n, instance in enumerate(started, 1):
            _run(image, instance.name, f"storeops-{n}", instance.port, url)
        for instance in started:
            _up(f"{instance.url}/healthz")
        assert asyncio.run(_instances(url)) >= {"storeops-1", "storeops-2"}
        yield started
    finally:
        for instance in started:
            _docker("rm", "-f", instance.name)
        next(databases, None)


def test_two_containers_migrate_one_database_and_answer_healthz(instances: list[Instance]) -> None:
    for instance in instances:
        assert httpx.get(f"{instance.url}/healthz", timeout=10).json() == {"status": "ok", "database": "ok"}
        stock = httpx.get(f"{instance.url}/api/stock/X", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert stock.status_code == 200, stock.text
    for instance in instances:
        _healthy(instance.name)


def test_the_containers_run_without_rights_on_a_read_only_root(instances: list[Instance]) -> None:
    name = instances[0].name
    assert _docker("exec", name, "id", "-u").stdout.strip() == "10001"
    capabilities = _docker("exec", name, "grep", "^CapEff", "/proc/1/status").stdout.split()
    assert int(capabilities[1], 16) == 0
    assert _docker("exec", name, "touch", "/var/lib/storeops/x").returncode != 0  # read-only, as compose.yaml has it
    assert _docker("exec", name, "touch", "/tmp/x").returncode == 0  # the tmpfs
    day = time.strftime("%Y-%m-%d", time.gmtime())
    chart = f"{instances[1].url}/api/report/daily.png?date={day}"
    first, second = (httpx.get(chart, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) for _ in range(2))
    assert first.status_code == 200 and first.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert first.content == second.content  # the process's first chart is not drawn over another (fonts in /tmp)


def test_nginx_in_front_serves_them_over_tls_and_a_stopped_one_ends_cleanly(
    instances: list[Instance], tmp_path: Path
) -> None:
    nginx = os.environ.get("STOREOPS_NGINX") or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed (Debian: apt-get install nginx-light openssl)")
    http, https, health = _free_port(), _free_port(), _free_port()
    main = _configure(tmp_path, [i.port for i in instances], http, https, health)
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)], text=True)
    try:
        _up(f"http://127.0.0.1:{health}/healthz")
        verify = ssl.create_default_context(cafile=tmp_path / "certs" / "fullchain.pem")
        with httpx.Client(verify=verify, timeout=10) as client:
            assert client.get(f"https://127.0.0.1:{https}/healthz").json() == {"status": "ok", "database": "ok"}
            redirected = client.get(f"http://127.0.0.1:{http}/healthz")
            assert redirected.status_code == 301
            assert redirected.headers["location"] == "https://127.0.0.1/healthz"  # $host: the name, not the port
            stopped = instances[0].name
            began = time.monotonic()
            assert _docker("stop", stopped, timeout=60).returncode == 0
            took = time.monotonic() - began
            exit_code = _docker("inspect", "--format", "{{.State.ExitCode}}", stopped).stdout.strip()
            assert (exit_code, took < 10) == ("0", True), f"SIGTERM: exit {exit_code} after {took:.1f} s"
            for _ in range(4):  # the other one alone
                assert client.get(f"https://127.0.0.1:{https}/healthz").status_code == 200
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait(timeout=30)
