"""Read the topology TOML file; every mistake is reported with its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from app.settings import ConfigurationError
from workflows.topology import Topology


def load_topology(path: Path) -> Topology:
    if not path.is_file():
        raise ConfigurationError(
            f"configuration error:\n  STOREOPS_CONFIG: topology file {str(path)!r} not found "
            "(copy storeops.example.toml and edit it, or point STOREOPS_CONFIG at yours)"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"configuration error:\n  {path}: not valid TOML: {error}") from None
    try:
        return Topology.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"] if part not in ("function-after", "function-before"))
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{path}: {key or '(top level)'}: {message}")
        raise ConfigurationError("configuration error:\n  " + "\n  ".join(problems)) from None
