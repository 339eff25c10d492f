"""The locks agree with pyproject.toml and with each other: what ``make`` installs (requirements-test.lock) and what
the image installs (requirements.lock) pin every dependency pyproject.toml names, at a version it allows, with
hashes, at the same versions — so the tests run on what ships. ``make lock`` rewrites both."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?: ; ([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[tuple[str, str], str]:
    """(name, marker) → version; a name may be pinned twice, once per Python version, in a universal lock."""
    found: dict[tuple[str, str], str] = {}
    lines = (ROOT / lock).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if (pin := PIN.match(line)) is not None:
            found[(canonicalize_name(pin[1]), pin[3] or "")] = pin[2]
            assert lines[number + 1].strip().startswith("--hash=sha256:"), f"{lock}: {pin[1]} has no hash"
    return found


def requirements() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]], [
        Requirement(r) for r in project["optional-dependencies"]["test"]
    ]


def _allowed(requirement: Requirement, pinned: dict[tuple[str, str], str]) -> bool:
    versions = [v for (name, _), v in pinned.items() if name == canonicalize_name(requirement.name)]
    return bool(versions) and all(requirement.specifier.contains(v, prereleases=True) for v in versions)


def test_the_test_lock_pins_every_dependency_and_test_tool_at_an_allowed_version() -> None:
    service, tools = requirements()
    pinned = pins("requirements-test.lock")
    assert [str(r) for r in service + tools if not _allowed(r, pinned)] == []


def test_the_service_lock_pins_the_service_alone_at_the_test_locks_versions() -> None:
    service, tools = requirements()
    shipped, tested = pins("requirements.lock"), pins("requirements-test.lock")
    assert [str(r) for r in service if not _allowed(r, shipped)] == []
    assert [r.name for r in tools if any(name == canonicalize_name(r.name) for name, _ in shipped)] == []
    assert {key: version for key, version in shipped.items() if tested.get(key) != version} == {}


def test_make_installs_from_the_lock_and_reinstalls_when_it_changes() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): pyproject\.toml requirements-test\.lock$", makefile, re.M)
    assert "pip install --quiet --require-hashes -r requirements-test.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile


def test_the_pin_pattern_reads_plain_and_marked_pins() -> None:
    plain = PIN.match("aiogram==3.31.0 \\")
    assert plain is not None and plain.groups() == ("aiogram", "3.31.0", None)
    marked = PIN.match("numpy==2.4.6 ; python_full_version < '3.12' \\")
    assert marked is not None and marked[3] == "python_full_version < '3.12'"
