"""deploy/ agrees with the service it runs: the compose file, the nginx configuration, the image and the systemd
unit name the settings, routes, limits and files the code has. Starting them is tests/e2e/test_deploy_stack.py."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import HttpSettings, OneCExchangeSettings, Settings
from bot.telegram.app import WEBHOOK_PATH
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
INSTANCES = ("storeops-1", "storeops-2")


def setting_names() -> set[str]:
    names = {str(f.validation_alias) for f in Settings.model_fields.values() if f.validation_alias}
    for group in Settings.model_fields.values():
        if isinstance(group.annotation, type) and hasattr(group.annotation, "model_fields"):
            names |= {str(f.validation_alias) for f in group.annotation.model_fields.values()}
    return names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def mount(volume: str | dict[str, Any]) -> tuple[str, str]:
    """A compose volume, ``source:target[:mode]`` or the long form, as (source, target); the source may hold
    ``${VAR:-default}``. A bind of the long form must not make a missing source (an empty folder in its place)."""
    if isinstance(volume, dict):
        assert volume["type"] != "bind" or volume["bind"]["create_host_path"] is False, volume
        return str(volume["source"]), str(volume["target"])
    found = re.fullmatch(r"(.+):(/[^:]*)(?::ro|:rw)?", volume)
    assert found, volume
    return found[1], found[2]


# ---------------------------------------------------------------- nginx, read as its blocks and directives


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block if d.name == name]

    def one(self, name: str) -> Directive:
        (found,) = self.all(name)
        return found

    def location(self, *args: str) -> Directive:
        (found,) = [d for d in self.all("location") if d.args == list(args)]
        return found


def parse_nginx(text: str) -> Directive:
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    root = current = Directive("", [])
    stack: list[Directive] = []
    words: list[str] = []
    for token in tokens:
        if token in (";", "{"):
            directive = Directive(words[0], [w.strip('"') for w in words[1:]])
            current.block.append(directive)
            if token == "{":
                stack.append(current)
                current = directive
            words = []
        elif token == "}":
            current = stack.pop()
        else:
            words.append(token)
    assert not stack and not words, "unbalanced nginx configuration"
    return root


def nginx() -> Directive:
    return parse_nginx((DEPLOY / "nginx" / "storeops.conf").read_text(encoding="utf-8"))


def tls_server() -> Directive:
    (server,) = [s for s in nginx().all("server") if any(d.args[:2] == ["443", "ssl"] for d in s.all("listen"))]
    return server


def seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([sm]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * (60 if unit == "m" else 1)


def size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([km]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


# ---------------------------------------------------------------- compose


def test_compose_runs_two_instances_on_one_postgresql_behind_the_proxy() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", *INSTANCES, "proxy"}
    urls = {services[name]["environment"]["DATABASE_URL"] for name in INSTANCES}
    (url,) = urls  # one database for both
    # each its own id, kept when its container is recreated with a new host name
    assert [services[name]["environment"]["INSTANCE_ID"] for name in INSTANCES] == list(INSTANCES)
    assert url.startswith("postgresql+asyncpg://storeops:") and url.endswith("@postgres:5432/storeops")
    for name in INSTANCES:
        instance = services[name]
        assert instance["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert instance["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "ports" not in instance  # only the proxy reaches them
        assert set(instance["environment"]) <= setting_names()
        assert instance["environment"]["HTTP_PORT"] == "8080"
        assert instance["read_only"] is True and instance["cap_drop"] == ["ALL"]
        topology = dict(mount(volume)[::-1] for volume in instance["volumes"])["/etc/storeops/storeops.toml"]
        assert instance["environment"]["STOREOPS_CONFIG"] == "/etc/storeops/storeops.toml"
        assert topology == "${STOREOPS_TOPOLOGY:-./storeops.toml}"
    assert {name: services["proxy"]["depends_on"][name]["condition"] for name in INSTANCES} == dict.fromkeys(
        INSTANCES, "service_healthy"
    )


def defaulted(value: str) -> str:
    """A compose value with each ``${VARIABLE:-default}`` in it as its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_the_instances_trust_the_proxy_alone_to_name_the_client() -> None:
    """Not the private networks: a client there (the office, 1C, this host) would be taken for a proxy, and share
    the proxy's address, and so its wrong-token block, with every other one."""
    document = compose()
    proxy = ipaddress.ip_address(defaulted(document["services"]["proxy"]["networks"]["default"]["ipv4_address"]))
    for name in INSTANCES:
        trusted = document["services"][name]["environment"]["HTTP_TRUSTED_PROXIES"]
        assert ipaddress.ip_network(defaulted(trusted)) == ipaddress.ip_network(proxy)
    (network,) = document["networks"]["default"]["ipam"]["config"]
    assert proxy in ipaddress.ip_network(defaulted(network["subnet"]))
    assert proxy not in ipaddress.ip_network(defaulted(network["ip_range"]))  # no other container takes it


def test_postgresql_keeps_its_data_in_a_volume_and_says_when_it_is_ready() -> None:
    document = compose()
    postgres = document["services"]["postgres"]
    volume, mounted = mount(postgres["volumes"][0])
    assert mounted == "/var/lib/postgresql/data" and volume in document["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_the_proxy_publishes_tls_with_the_configuration_and_certificates_mounted() -> None:
    proxy = compose()["services"]["proxy"]
    mounts = {mounted: source for source, mounted in (mount(volume) for volume in proxy["volumes"])}
    assert mounts["/etc/nginx/conf.d/default.conf"] == "./nginx/storeops.conf"
    assert (DEPLOY / "nginx" / "storeops.conf").is_file()
    server = tls_server()
    for directive in ("ssl_certificate", "ssl_certificate_key"):
        assert Path(server.one(directive).args[0]).parent == Path("/etc/nginx/certs")
    assert "/etc/nginx/certs" in mounts
    assert any(port.endswith(":443") for port in proxy["ports"])
    assert "/healthz" in " ".join(proxy["healthcheck"]["test"])
    version = re.fullmatch(r"nginx:(\d+)\.(\d+)-alpine", proxy["image"])
    assert version and (int(version[1]), int(version[2])) >= (1, 27)  # `resolve` in an upstream


def test_the_env_example_names_only_real_settings() -> None:
    keys = re.findall(r"^([A-Z0-9_]+)=", (DEPLOY / "storeops.env.example").read_text(encoding="utf-8"), re.M)
    assert "API_TOKEN" in keys
    assert sorted(set(keys) - setting_names()) == []


# ---------------------------------------------------------------- nginx


def test_the_upstream_is_both_instances_below_their_connection_limit() -> None:
    (upstream,) = nginx().all("upstream")
    servers = upstream.all("server")
    assert [s.args[0] for s in servers] == [f"{name}:8080" for name in INSTANCES]
    for server in servers:
        (max_conns,) = [int(a.split("=")[1]) for a in server.args if a.startswith("max_conns=")]
        assert max_conns < HttpSettings.model_fields["max_connections"].default
    assert upstream.all("keepalive")


def test_the_proxy_lets_an_idle_connection_to_an_instance_go_before_the_instance_does() -> None:
    """An instance closes a keep-alive connection idle for HTTP_HEADER_TIMEOUT_S; a request nginx sends on one just
    then fails, and a POST is not sent again."""
    (upstream,) = nginx().all("upstream")
    assert seconds(upstream.one("keepalive_timeout").args[0]) < HttpSettings.model_fields["header_timeout_s"].default


def test_the_proxy_has_timeouts_and_limits_no_looser_than_the_service() -> None:
    config = nginx()
    http = HttpSettings.model_fields
    assert seconds(config.one("client_header_timeout").args[0]) <= http["header_timeout_s"].default
    assert seconds(config.one("client_body_timeout").args[0]) <= http["body_timeout_s"].default
    for name in ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "send_timeout"):
        assert 0 < seconds(config.one(name).args[0]) <= 300, name
    zones = {
        d.args[1].split("=")[1].split(":")[0] for d in config.all("limit_conn_zone") + config.all("limit_req_zone")
    }
    server = tls_server()
    assert server.one("limit_conn").args[0] in zones
    assert server.location("/api/").one("limit_req").args[0].split("=")[1] in zones
    # the service answers a too-large body itself, in JSON: the proxy lets a little more through
    assert size(config.one("client_max_body_size").args[0]) > http["max_body_bytes"].default


def test_every_route_people_and_systems_call_reaches_the_instances() -> None:
    server = tls_server()
    exchange = OneCExchangeSettings.model_fields["path"].default
    for location in (["=", WEBHOOK_PATH], ["=", "/slack/events"], ["=", "/healthz"], ["=", exchange], ["/api/"], ["/"]):
        assert server.location(*location).one("proxy_pass").args == ["http://storeops"], location
    assert '"/slack/events"' in (ROOT / "app" / "http" / "server.py").read_text(encoding="utf-8")
    onec = server.location("=", exchange)
    assert (
        size(onec.one("client_max_body_size").args[0]) > OneCExchangeSettings.model_fields["file_limit_bytes"].default
    )
    assert not server.location("=", "/metrics").all("proxy_pass")


def test_plain_http_only_redirects_or_answers_the_certificate_challenge() -> None:
    (plain,) = [s for s in nginx().all("server") if s.one("listen").args == ["80"]]
    assert plain.location("/").one("return").args == ["301", "https://$host$request_uri"]
    assert plain.location("/.well-known/acme-challenge/").one("root").args == ["/var/www/acme"]


def test_nothing_at_the_top_repeats_what_the_images_nginx_conf_sets_around_it() -> None:
    """The image's nginx.conf sets these in its http block and includes conf.d/ there: "directive is duplicate"."""
    image_sets = {"include", "default_type", "log_format", "sendfile", "keepalive_timeout"}
    assert sorted(image_sets & {d.name for d in nginx().block}) == []


def test_the_parser_reads_blocks_and_quoted_arguments() -> None:
    parsed = parse_nginx('a 1; # c\nb { c "x y"; d { e; } }')
    assert [d.name for d in parsed.block] == ["a", "b"]
    assert parsed.one("b").one("c").args == ["x y"] and parsed.one("b").one("d").block[0].name == "e"


# ---------------------------------------------------------------- the image


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_installs_the_lock_then_storeops_and_runs_as_nobody() -> None:
    steps = dockerfile()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps
    runs = [args for instruction, args in steps if instruction == "RUN"]
    assert any("--require-hashes" in r and "-r /tmp/requirements.lock" in r for r in runs)
    assert any("--no-deps /src" in r for r in runs)
    assert ("COPY", "requirements.lock /tmp/requirements.lock") in steps
    (user,) = [args for instruction, args in steps if instruction == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    final_stage = [instruction for instruction, _ in steps][-10:]
    assert "USER" in final_stage
    healthcheck = next(args for instruction, args in steps if instruction == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert ("ENTRYPOINT", '["storeops"]') in steps and ("CMD", '["run"]') in steps


def test_the_image_and_the_build_context_hold_every_package_storeops_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {args.split()[0] for instruction, args in dockerfile() if instruction == "COPY"}
    assert sorted(set(packages) - copied) == []
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line and not line.startswith("#")]
    assert kept[0] == "*"  # nothing is sent but what is named
    needed = {f"!{p}/" for p in packages} | {"!requirements.lock", "!pyproject.toml", "!README.md"}
    assert sorted(needed - set(kept)) == []


# ---------------------------------------------------------------- systemd


def unit() -> dict[str, list[str]]:
    """``Section.Key`` → its values, in order (a key may be repeated)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / "storeops.service").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(f"{section}.{key}", []).append(value)
    return found


def test_the_systemd_unit_is_hardened_and_writes_only_its_data() -> None:
    service = unit()
    assert service["Service.User"] == ["storeops"]
    assert service["Service.Restart"] == ["on-failure"]
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectHome", "RestrictSUIDSGID"):
        assert service[f"Service.{key}"] == ["yes"], key
    assert service["Service.ProtectSystem"] == ["strict"]
    assert service["Service.CapabilityBoundingSet"] == [""]
    assert service["Service.ReadWritePaths"] == [f"/var/lib/{service['Service.StateDirectory'][0]}"]
    assert service["Service.WorkingDirectory"] == service["Service.ReadWritePaths"]
    (env_file,) = service["Service.EnvironmentFile"]
    (start,) = service["Service.ExecStart"]
    assert start == f"/opt/storeops/bin/storeops --env-file {env_file} run"


def test_systemd_finds_nothing_wrong_in_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    text = (DEPLOY / "storeops.service").read_text(encoding="utf-8")
    copy = tmp_path / "storeops.service"  # the same unit, with a program that exists here
    copy.write_text(text.replace("/opt/storeops/bin/storeops", shutil.which("true") or "/bin/true"), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
