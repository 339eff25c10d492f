"""deploy/compose.yaml brought up whole by a compose implementation where a Docker engine answers: the image is
built, PostgreSQL, both instances and the proxy report healthy, /healthz answers through the proxy over TLS (a
self-signed certificate made as docs/deploy.md makes one), both instances take requests, a wrong-token guesser
behind the proxy is blocked alone, killing either instance leaves the proxy answering, and ``down -v`` leaves
nothing behind.

The images: Docker Hub's (the Dockerfile's base, compose.yaml's postgres and nginx) where all three are pulled;
else the stand-ins of docs/deploy.md, "Building without Docker Hub", laid over compose.yaml with
deploy/standins/compose.yaml (``STOREOPS_PYTHON_IMAGE``, ``STOREOPS_POSTGRES_IMAGE``, ``STOREOPS_NGINX_IMAGE`` name
others). Compose: the plugin (``docker compose``), or a standalone ``docker-compose`` of Compose v2 or newer
(Compose v1 cannot read the file). Skipped, with the reason and without waiting, where docker, a compose, an
engine, the images or openssl are missing."""

from __future__ import annotations

import ipaddress
import os
import random
import re
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.test_cli import _free_port

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
STANDINS_FILE = ROOT / "deploy" / "standins" / "compose.yaml"
TOKEN = "compose-e2e-token-0123456789"
IMAGE = "storeops:compose-e2e"
RESOLVER_VALID_S = 10  # nginx/storeops.conf: `resolver 127.0.0.11 valid=10s`
AUTH_FAILURE_LIMIT = 10  # the service's default, per instance


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _compose_command() -> list[str] | str:
    """How to run compose here, or why it cannot be."""
    if _run(["docker", "compose", "version", "--short"]).returncode == 0:
        return ["docker", "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is None:
        return "no compose: neither the docker compose plugin nor a docker-compose is installed"
    version = _run([standalone, "version", "--short"]).stdout.strip()
    major = re.match(r"v?(\d+)\.", version)
    if major is None or int(major[1]) < 2:
        return f"docker-compose {version or '?'} is Compose v1, which cannot read compose.yaml (docs/deploy.md)"
    return [standalone]


def _hub_images() -> list[str]:
    """The images compose.yaml takes from Docker Hub: the Dockerfile's base, postgres, nginx."""
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "deploy" / "Dockerfile").read_text(), re.M)
    services = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    assert base is not None
    return [base[1], services["postgres"]["image"], services["proxy"]["image"]]


def _standin_images() -> dict[str, str]:
    """deploy/standins/compose.yaml's images, ``${VARIABLE:-default}``, as the variable's value or the default."""
    found = re.findall(r"\$\{(STOREOPS_\w+_IMAGE):-([^}]+)\}", STANDINS_FILE.read_text(encoding="utf-8"))
    return {variable: os.environ.get(variable) or default for variable, default in dict(found).items()}


def _missing(images: list[str]) -> list[str]:
    return [image for image in images if _run(["docker", "image", "inspect", image]).returncode != 0]


def _compose_files() -> list[Path] | str:
    """compose.yaml alone where Docker Hub's images are here, with the stand-ins' file where those are; or why
    neither."""
    standins = _standin_images()
    chosen = any(os.environ.get(variable) for variable in standins)
    hub_missing = [] if chosen else _missing(_hub_images())
    if not chosen and not hub_missing:
        return [COMPOSE_FILE]
    standins_missing = _missing(list(standins.values()))
    if not standins_missing:
        return [COMPOSE_FILE, STANDINS_FILE]
    build = "build them (docs/deploy.md, 'Building without Docker Hub')"
    if chosen:
        return f"the stand-ins named by STOREOPS_*_IMAGE are not here ({standins_missing}): {build}"
    return (f"neither Docker Hub's images (missing {hub_missing}) nor the stand-ins (missing {standins_missing}) "
            f"are here: pull the first or {build}")  # fmt: skip


def _why_not() -> str | None:
    """Why the stack cannot be brought up here (the cheap questions first), or None."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    compose = _compose_command()
    if isinstance(compose, str):
        return compose
    info = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
    if info.returncode != 0:
        return f"no Docker engine answers (`docker info`: {info.stderr.strip().splitlines()[-1:]})"
    if shutil.which("openssl") is None:
        return "openssl is not installed (it makes the self-signed certificate)"
    files = _compose_files()
    return files if isinstance(files, str) else None


def _free_network_prefix() -> str:
    """The first three numbers of a /24 (STOREOPS_NETWORK_PREFIX) that no Docker network here holds."""
    ids = _run(["docker", "network", "ls", "-q"]).stdout.split()
    subnets = _run(["docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", *ids])
    taken = [ipaddress.ip_network(s, strict=False) for s in subnets.stdout.split() if "." in s]
    for third in random.sample(range(43, 255), 212):  # beside compose.yaml's default, 10.199.42
        if not any(ipaddress.ip_network(f"10.199.{third}.0/24").overlaps(net) for net in taken):
            return f"10.199.{third}"
    raise AssertionError(f"no free /24 in 10.199.0.0/16: {taken}")


@dataclass
class Stack:
    https: str
    http: str
    certificate: Path
    project: str
    compose: Callable[..., subprocess.CompletedProcess[str]]
    took: dict[str, float] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(verify=ssl.create_default_context(cafile=self.certificate), timeout=15)


def _settings(folder: Path) -> dict[str, str]:
    """What docs/deploy.md has made beside compose.yaml (.env, storeops.env, certs/, acme/), in ``folder``, on
    free ports and a free network, as the variables compose.yaml reads."""
    certs = folder / "certs"
    certs.mkdir()
    (folder / "acme").mkdir()
    subprocess.run(  # the command of docs/deploy.md, "A self-signed certificate"
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (folder / "storeops.env").write_text(f"API_TOKEN={TOKEN}\nLOCALE=ru\nLOG_LEVEL=INFO\n", encoding="utf-8")
    return {
        "POSTGRES_PASSWORD": uuid.uuid4().hex,
        "STOREOPS_IMAGE": IMAGE,
        "STOREOPS_ENV_FILE": str(folder / "storeops.env"),
        "STOREOPS_TOPOLOGY": str(ROOT / "storeops.example.toml"),
        "TLS_CERT_DIR": str(certs),
        "ACME_DIR": str(folder / "acme"),
        "PROXY_HTTP_PORT": str(_free_port()),
        "PROXY_HTTPS_PORT": str(_free_port()),
        "STOREOPS_NETWORK_PREFIX": _free_network_prefix(),
    }


def _timed(compose: Callable[..., subprocess.CompletedProcess[str]], *args: str) -> float:
    began = time.monotonic()
    done = compose(*args, timeout=1800)
    if done.returncode != 0:
        logs = compose("logs", "--no-color", "--tail", "60")
        pytest.fail(f"compose {' '.join(args)} failed:\n{done.stderr[-4000:]}\n{logs.stdout[-8000:]}")
    return time.monotonic() - began


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The compose project built and up, on free ports and a free network; ``down -v`` after."""
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    command, files = _compose_command(), _compose_files()
    assert isinstance(command, list) and isinstance(files, list)
    folder = tmp_path_factory.mktemp("compose")
    settings = _settings(folder)
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    env = {**os.environ, **settings}
    project = f"storeops-e2e-{uuid.uuid4().hex[:8]}"
    head = [*command, "-p", project, "--env-file", str(folder / ".env"), *(a for f in files for a in ("-f", str(f)))]

    def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*head, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)

    ports = settings["PROXY_HTTPS_PORT"], settings["PROXY_HTTP_PORT"]
    stack = Stack(f"https://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", folder / "certs" / "fullchain.pem",
                  project, compose)  # fmt: skip
    try:
        stack.took["build"] = _timed(compose, "build")
        stack.took["up to healthy"] = _timed(compose, "up", "-d", "--wait", "--wait-timeout", "300")
        yield stack
    finally:
        compose("down", "-v", "--remove-orphans")
        print(project, ", ".join(f"{what}: {seconds:.1f} s" for what, seconds in stack.took.items()))


def _exec(stack: Stack, service: str, *command: str) -> str:
    done = stack.compose("exec", "-T", service, *command)
    assert done.returncode == 0, f"{service} {command}: {done.stderr}"
    return done.stdout


def test_the_proxy_answers_over_tls_and_both_instances_serve(stack: Stack) -> None:
    with stack.client() as client:
        assert client.get(f"{stack.https}/healthz").json() == {"status": "ok", "database": "ok"}
        redirected = client.get(f"{stack.http}/healthz")
        assert redirected.status_code == 301 and redirected.headers["location"] == "https://127.0.0.1/healthz"
        assert client.get(f"{stack.https}/metrics").status_code == 404  # scraped inside, not through the proxy
        marker = f"X-{uuid.uuid4().hex[:8]}"
        for _ in range(6):
            stock = client.get(f"{stack.https}/api/stock/{marker}", headers={"Authorization": f"Bearer {TOKEN}"})
            assert stock.status_code == 200, stock.text
    sql = "SELECT instance FROM instances ORDER BY 1"
    assert _exec(stack, "postgres", "psql", "-U", "storeops", "-d", "storeops", "-Atc", sql).split() == [
        "storeops-1",
        "storeops-2",
    ]
    for instance in ("storeops-1", "storeops-2"):  # the proxy spread the six requests over both
        logs = stack.compose("logs", "--no-color", instance).stdout
        assert f"GET /api/stock/{marker}" in logs, f"{instance} took none of them"


def _asked_for(client: httpx.Client, url: str, seconds: float) -> list[tuple[int, float]]:
    """``url`` asked one request at a time for ``seconds``: each answer's status and time."""
    answers: list[tuple[int, float]] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        began = time.monotonic()
        answers.append((client.get(url).status_code, time.monotonic() - began))
        time.sleep(0.1)
    return answers


def test_killing_either_instance_leaves_the_proxy_answering(stack: Stack) -> None:
    with stack.client() as client:
        for killed in ("storeops-1", "storeops-2"):
            assert stack.compose("kill", killed).returncode == 0
            answers = _asked_for(client, f"{stack.https}/healthz", seconds=RESOLVER_VALID_S + 3)
            print(killed, "killed:", " ".join(f"{code}/{took:.2f}s" for code, took in answers))
            # A request sent to the killed one waits proxy_connect_timeout (1 s), then goes to the other; the one
            # in flight when nginx looks the names up again may be answered 504 (test_deploy_image.py): at most one.
            assert all(took < 2.5 for _, took in answers), answers
            assert sum(code != 200 for code, _ in answers) <= 1, answers
            assert all(code == 200 and took < 0.5 for code, took in answers[-5:]), answers
            began = time.monotonic()
            assert stack.compose("up", "-d", "--wait", killed).returncode == 0
            stack.took[f"{killed} back to healthy"] = time.monotonic() - began


def test_a_wrong_token_guesser_behind_the_proxy_is_blocked_alone(stack: Stack) -> None:
    """The guesser is this host (the network's gateway, to the proxy); the other client, inside storeops-1's
    container, goes through the proxy too. Each instance counts its own wrong tokens."""
    url = f"{stack.https}/api/stock/X"
    with stack.client() as client:
        codes = [client.get(url, headers={"Authorization": f"Bearer wrong-{n}"}).status_code for n in range(30)]
        assert set(codes) == {401, 429} and codes[:AUTH_FAILURE_LIMIT] == [401] * AUTH_FAILURE_LIMIT, codes
        assert client.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
    other = (
        "import ssl, urllib.request; request = urllib.request.Request('https://proxy/api/stock/X', "
        f"headers={{'Authorization': 'Bearer {TOKEN}'}}); "
        "print(urllib.request.urlopen(request, context=ssl._create_unverified_context(), timeout=10).status)"
    )
    assert _exec(stack, "storeops-1", "python", "-c", other).strip() == "200"


def test_down_removes_the_containers_the_network_and_the_volume(stack: Stack) -> None:
    done = stack.compose("down", "-v", "--remove-orphans")
    assert done.returncode == 0, done.stderr
    label = f"label=com.docker.compose.project={stack.project}"
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        left = _run(["docker", *kind, "-q", "--filter", label]).stdout.split()
        assert left == [], f"docker {' '.join(kind)}: {left}"
