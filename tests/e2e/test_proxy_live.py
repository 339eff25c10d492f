"""deploy/nginx/storeops.conf served by a real nginx in front of two real ``storeops run`` processes on one
PostgreSQL, without Docker: TLS with a self-signed certificate, the routes reaching the instances, the rate limit
answering 429, and one instance stopping without the clients noticing.

The configuration is the file itself with only what Docker gives changed — addresses and ports on 127.0.0.1 instead
of the compose network's names, this test's folder instead of the mounted paths, and no run-time DNS (``resolve``
and ``resolver``: Docker's DNS is not here, and nginx before 1.27.3 knows neither). Skipped, with the reason, where
no nginx is installed (``STOREOPS_NGINX`` names one elsewhere) or no openssl."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, REQUIRE_PG, _pg_admin
from tests.e2e.test_cli import STOREOPS, _env, _free_port

CONFIG = Path(__file__).parents[2] / "deploy" / "nginx" / "storeops.conf"
TOKEN = "proxy-e2e-token-0123456789"
# What the nginx image's own nginx.conf sets in its http block before it includes conf.d/*.conf, where compose puts
# our file: a directive of ours repeated at that level would stop nginx ("directive is duplicate").
IMAGE_HTTP = "default_type application/octet-stream; sendfile on; keepalive_timeout 65;"


# In CI (.ci/run installs nginx) a missing nginx is a failure, not a skip.
REQUIRE_NGINX = os.environ.get("STOREOPS_REQUIRE_NGINX") == "1"


def _missing(reason: str) -> NoReturn:
    if REQUIRE_NGINX:
        pytest.fail(f"{reason} — STOREOPS_REQUIRE_NGINX=1 asks for this test to run")
    pytest.skip(reason)


def _nginx() -> str:
    found = os.environ.get("STOREOPS_NGINX") or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        _missing("nginx is not installed (Debian: apt-get install nginx; or STOREOPS_NGINX=/path/to/nginx)")
    if shutil.which("openssl") is None:
        _missing("openssl is not installed (it makes the self-signed certificate)")
    return found


def here(text: str, replacements: list[tuple[str, str]]) -> str:
    """The configuration with each of ``replacements`` made exactly once."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} is not in {CONFIG.name} exactly once"
        text = text.replace(old, new)
    return text


@dataclass
class Proxy:
    https: str
    http: str
    certificate: Path
    instances: list[subprocess.Popen[str]]


def _database() -> Iterator[str]:
    name = f"storeops_proxy_{uuid.uuid4().hex[:10]}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as error:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here (STOREOPS_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"no PostgreSQL reachable: {error}")
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _up(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def _configure(folder: Path, ports: list[int], http: int, https: int, health: int) -> Path:
    certs, acme, temp = folder / "certs", folder / "acme", folder / "temp"
    for made in (certs, acme, temp):
        made.mkdir()
    subprocess.run(  # the command of docs/deploy.md, "A self-signed certificate"
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = here(
        CONFIG.read_text(encoding="utf-8"),
        [
            ("resolver 127.0.0.11 valid=10s ipv6=off;", ""),
            ("server storeops-1:8080 resolve ", f"server 127.0.0.1:{ports[0]} "),
            ("server storeops-2:8080 resolve ", f"server 127.0.0.1:{ports[1]} "),
            ("listen 80;", f"listen 127.0.0.1:{http};"),
            ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
            ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{health};"),
            ("/etc/nginx/certs/fullchain.pem", str(certs / "fullchain.pem")),
            ("/etc/nginx/certs/privkey.pem", str(certs / "privkey.pem")),
            ("root /var/www/acme;", f"root {acme};"),
        ],
    )
    (folder / "storeops.conf").write_text(site, encoding="utf-8")
    temps = " ".join(
        f"{kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = folder / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'} warn;\n"
        + f"events {{ worker_connections 512; }}\nhttp {{ access_log {folder / 'access.log'}; {temps}\n"
        + f"{IMAGE_HTTP}\ninclude {folder / 'storeops.conf'};\n}}\n",
        encoding="utf-8",
    )
    return main


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """nginx and the two instances, for the module: starting them costs most of the time."""
    nginx = _nginx()
    tmp_path = tmp_path_factory.mktemp("proxy")
    databases = _database()
    url = next(databases)
    ports = [_free_port(), _free_port()]
    http, https, health = _free_port(), _free_port(), _free_port()
    main = _configure(tmp_path, ports, http, https, health)
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True,
                             timeout=60, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stderr

    def instance(port: int) -> subprocess.Popen[str]:
        env = _env(tmp_path, DATABASE_URL=url, HTTP_PORT=str(port), API_TOKEN=TOKEN)
        return subprocess.Popen([*STOREOPS, "--env-file", str(tmp_path / "none.env"), "run"], cwd=tmp_path, env=env,
                                text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    instances = [instance(port) for port in ports]
    server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)], text=True)
    try:
        for port in ports:
            _up(f"http://127.0.0.1:{port}/healthz")
        _up(f"http://127.0.0.1:{health}/healthz")  # compose's health check of the proxy
        yield Proxy(f"https://127.0.0.1:{https}", f"http://127.0.0.1:{http}", tmp_path / "certs" / "fullchain.pem",
                    instances)  # fmt: skip
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait(timeout=30)
        for process in instances:
            _stop(process)
        next(databases, None)


def test_nginx_serves_both_instances_over_tls_and_keeps_serving_when_one_stops(proxy: Proxy) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(verify=ssl.create_default_context(cafile=proxy.certificate), timeout=10) as client:
        assert client.get(f"{proxy.https}/healthz").json() == {"status": "ok", "database": "ok"}
        redirected = client.get(f"{proxy.http}/api/stock/X")
        assert redirected.status_code == 301 and redirected.headers["location"].startswith("https://")
        assert client.get(f"{proxy.https}/metrics").status_code == 404
        placed = client.post(f"{proxy.https}/api/orders", headers=bearer,
                             json={"channel": "ozon", "external_id": "VIA-PROXY", "lines": [{"sku": "КР-7/2", "qty": 1}]})  # fmt: skip
        assert placed.status_code == 201, placed.text
        for path in ("/slack/events", "/telegram/webhook"):  # not configured here: the service's own JSON 404
            answer = client.post(f"{proxy.https}{path}", content=b"{}")
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json"), path
        _stop(proxy.instances[0])
        for _ in range(6):  # every request served, whichever instance nginx tries first
            assert (
                client.get(f"{proxy.https}/api/orders/{placed.json()['order_id']}", headers=bearer).status_code == 200
            )


def test_one_address_beyond_its_burst_is_answered_429_by_the_proxy(proxy: Proxy) -> None:
    def ask(client: httpx.Client) -> int:
        return client.get(f"{proxy.https}/api/stock/X", headers={"Authorization": f"Bearer {TOKEN}"}).status_code

    limits = httpx.Limits(max_connections=30)
    with (
        httpx.Client(verify=ssl.create_default_context(cafile=proxy.certificate), timeout=30, limits=limits) as client,
        ThreadPoolExecutor(30) as pool,
    ):
        codes = list(pool.map(lambda _: ask(client), range(200)))
    assert set(codes) <= {200, 429}
    assert codes.count(429) > 0 and codes.count(200) >= 40  # the burst passes whole, the rest is refused
