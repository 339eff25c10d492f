"""The production image (deploy/Dockerfile) built and run as compose.yaml runs it, without compose and without
Docker Hub: built from the base image named by ``STOREOPS_PYTHON_IMAGE`` (a stand-in made as docs/deploy.md,
"Building without Docker Hub", says; or ``python:3.11-slim-bookworm``), two containers on one fresh database of the
test PostgreSQL, each read-only with a tmpfs /tmp, no capabilities, no new privileges, as user 10001, the example
topology mounted read-only. On the host's network (``--network host``, Linux: the database's address is the tests'
own): both migrate, start and answer /healthz, Docker's own health check says healthy, and deploy/nginx/storeops.conf
in a host nginx (as tests/e2e/test_proxy_live.py runs it) serves them over TLS. Then as compose lays it out: a
network of their own, the instances by their service names, and the proxy in the nginx image
(``STOREOPS_NGINX_IMAGE``, or nginx:1.28-alpine) with the configuration unchanged, each instance stopped in turn.

Skipped, with the reason, where no Docker engine answers, where no base image is at hand (``STOREOPS_PYTHON_IMAGE``
unset and the Dockerfile's default base not pulled), or where no PostgreSQL is reachable; the proxy's tests also
where nginx (the host's, or the image) or openssl is missing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
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
from tests.e2e.test_deploy_stack import COMPOSE_FILE, _asked_for, _free_network_prefix
from tests.e2e.test_proxy_live import _configure, _database, _up

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEFAULT_BASE = "python:3.11-slim-bookworm"  # the Dockerfile's PYTHON_IMAGE
DEFAULT_NGINX = "nginx:1.28-alpine"  # compose.yaml's proxy
IMAGE = "storeops:image-e2e"
TOKEN = "image-e2e-token-0123456789"


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _local_or_named(variable: str, default: str) -> str:
    """The image named by ``variable``, else ``default`` when Docker has it, else a skip saying so."""
    named = os.environ.get(variable)
    if named:
        return named  # pulled by docker when it is not here and a registry answers
    if _docker("image", "inspect", default).returncode != 0:
        pytest.skip(f"{default} is not pulled here; set {variable} (docs/deploy.md, 'Building without Docker Hub')")
    return default


def _base_image() -> str:
    """The base image to build from, or a skip saying why there is none."""
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    info = _docker("info", timeout=60)
    if info.returncode != 0:
        pytest.skip(f"no Docker engine answers (`docker info`: {info.stderr.strip().splitlines()[-1:]})")
    return _local_or_named("STOREOPS_PYTHON_IMAGE", DEFAULT_BASE)


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


def _relay(listen_host: str, target: tuple[str, int]) -> socketserver.ThreadingTCPServer:
    """Connections to ``listen_host`` (an address of this host that containers reach) passed on to ``target``: the
    test PostgreSQL listens on the host's loopback, which a compose network does not reach, as compose's own
    PostgreSQL would be reached by its service name."""

    class Pipe(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.create_connection(target, timeout=10) as upstream:
                upstream.settimeout(None)

                def pump(source: socket.socket, sink: socket.socket) -> None:
                    with contextlib.suppress(OSError):
                        while data := source.recv(65536):
                            sink.sendall(data)
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)

                back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
                back.start()
                pump(self.request, upstream)
                back.join()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server((listen_host, 0), Pipe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Layout:
    https: str
    http: str
    certificate: Path
    names: dict[str, str]  # compose's service name: its container


def _address(container: str) -> str:
    return _docker(
        "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container
    ).stdout.strip()


@pytest.fixture(scope="module")
def layout(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """compose.yaml's layout without compose: a network of its own, storeops-1 and storeops-2 under those names,
    and the proxy in the nginx image (``STOREOPS_NGINX_IMAGE``, or nginx:1.28-alpine when pulled) with
    nginx/storeops.conf as it is, publishing its two ports; PostgreSQL is the test one, relayed into the network."""
    nginx = _local_or_named("STOREOPS_NGINX_IMAGE", DEFAULT_NGINX)
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (it makes the self-signed certificate)")
    folder = tmp_path_factory.mktemp("layout")
    run = f"storeops-e2e-{uuid.uuid4().hex[:8]}"
    prefix = _free_network_prefix()  # compose.yaml's layout: a /24, the proxy at .10, the others in .128/25
    created = _docker("network", "create", "--subnet", f"{prefix}.0/24", "--ip-range", f"{prefix}.128/25",
                      "--gateway", f"{prefix}.1", run)  # fmt: skip
    assert created.returncode == 0, created.stderr
    databases = _database()
    names = {service: f"{run}-{service}" for service in ("storeops-1", "storeops-2", "proxy")}
    relay = None
    try:
        url = make_url(next(databases))
        gateway = _docker("network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", run).stdout.strip()
        relay = _relay(gateway, (url.host or "127.0.0.1", url.port or 5432))
        inside = url.set(host=gateway, port=relay.server_address[1]).render_as_string(hide_password=False)
        for service in ("storeops-1", "storeops-2"):
            started = _docker(
                "run", "-d", "--name", names[service], "--network", run, "--network-alias", service,
                "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
                "--mount", f"type=bind,source={ROOT / 'storeops.example.toml'},target=/etc/storeops/storeops.toml,readonly",
                "-e", f"DATABASE_URL={inside}", "-e", f"INSTANCE_ID={service}", "-e", "HTTP_HOST=0.0.0.0",
                "-e", "HTTP_PORT=8080", "-e", f"HTTP_TRUSTED_PROXIES={prefix}.10",
                "-e", f"API_TOKEN={TOKEN}", "-e", "LOCALE=ru", image,
            )  # fmt: skip
            assert started.returncode == 0, started.stderr
        for service in ("storeops-1", "storeops-2"):
            _up(f"http://{_address(names[service])}:8080/healthz")  # the host reaches the network's addresses
        certs, acme = folder / "certs", folder / "acme"
        certs.mkdir()
        acme.mkdir()
        subprocess.run(  # the command of docs/deploy.md, "A self-signed certificate"
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        (certs / "privkey.pem").chmod(0o644)  # the image's workers are not root
        http, https = _free_port(), _free_port()
        started = _docker(
            "run", "-d", "--name", names["proxy"], "--network", run, "--ip", f"{prefix}.10",
            "-p", f"127.0.0.1:{http}:80", "-p", f"127.0.0.1:{https}:443",
            "-v", f"{COMPOSE_FILE.parent / 'nginx' / 'storeops.conf'}:/etc/nginx/conf.d/default.conf:ro",
            "--mount", f"type=bind,source={certs},target=/etc/nginx/certs,readonly",
            "-v", f"{acme}:/var/www/acme:ro", nginx,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        layout = Layout(f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}", certs / "fullchain.pem", names)
        deadline = time.monotonic() + 60
        with httpx.Client(verify=ssl.create_default_context(cafile=layout.certificate), timeout=5) as client:
            while not _answers(client, f"{layout.https}/healthz"):
                logs = _docker("logs", names["proxy"])
                assert time.monotonic() < deadline, f"the proxy did not answer:\n{logs.stdout}\n{logs.stderr}"
                time.sleep(0.5)
        yield layout
    finally:
        for name in names.values():
            _docker("rm", "-f", name)
        if relay is not None:
            relay.shutdown()
            relay.server_close()
        next(databases, None)
        _docker("network", "rm", run)


RESOLVER_VALID_S = 10  # nginx/storeops.conf: `resolver 127.0.0.11 valid=10s`


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_the_proxy_as_compose_runs_it_finds_both_instances_by_name_and_outlives_either(layout: Layout) -> None:
    """nginx/storeops.conf unchanged: Docker's DNS (``resolver 127.0.0.11``, ``resolve``) names the instances."""
    with httpx.Client(verify=ssl.create_default_context(cafile=layout.certificate), timeout=15) as client:
        assert client.get(f"{layout.https}/healthz").json() == {"status": "ok", "database": "ok"}
        redirected = client.get(f"{layout.http}/healthz")
        assert redirected.status_code == 301 and redirected.headers["location"] == "https://127.0.0.1/healthz"
        assert client.get(f"{layout.https}/metrics").status_code == 404
        stock = client.get(f"{layout.https}/api/stock/X", headers={"Authorization": f"Bearer {TOKEN}"})
        assert stock.status_code == 200, stock.text
        for stopped in ("storeops-1", "storeops-2"):
            assert _docker("stop", layout.names[stopped], timeout=60).returncode == 0
            answers = _asked_for(client, f"{layout.https}/healthz", seconds=RESOLVER_VALID_S + 3)
            print(stopped, "stopped:", " ".join(f"{code}/{took:.2f}s" for code, took in answers))
            # A request nginx sends to the stopped one waits proxy_connect_timeout (1 s: the address answers
            # nothing), then goes to the other; nginx does not retry across a fresh look-up of the names, so the
            # one request in flight when that comes is answered 504: at most one.
            assert all(took < 2.5 for _, took in answers), answers
            assert sum(code != 200 for code, _ in answers) <= 1, answers
            assert all(code == 200 and took < 0.5 for code, took in answers[-5:]), answers  # the stopped one dropped
            assert _docker("start", layout.names[stopped]).returncode == 0
            _healthy(layout.names[stopped])  # as `compose up --wait` waits, and nginx has looked it up again since
