"""The recovery times the fault suite measured: kept per fault as the tests run, printed as a short table at the
end of the session, and written as JSON when ``STOREOPS_FAULTS_RESULTS`` names a file
(``make test-faults FAULTS_RESULTS=bench/results/faults.json``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RESULTS_ENV = "STOREOPS_FAULTS_RESULTS"
MEASURED: list[dict[str, Any]] = []


def record(fault: str, **figures: Any) -> None:
    """One fault's figures (seconds rounded to 0.1, counts, which instance did what)."""
    MEASURED.append({"fault": fault, **{k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}})


def table() -> str:
    """The figures as lines: the fault, then each figure as ``name=value``."""
    width = max((len(entry["fault"]) for entry in MEASURED), default=0)
    lines = []
    for entry in MEASURED:
        shown = "  ".join(f"{k}={v}" for k, v in entry.items() if k != "fault")
        lines.append(f"{entry['fault']:<{width}}  {shown}")
    return "\n".join(lines)


def write(extra: dict[str, Any]) -> Path | None:
    target = os.environ.get(RESULTS_ENV)
    if not target or not MEASURED:
        return None
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**extra, "faults": MEASURED}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
