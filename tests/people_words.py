"""What a person must never read in a chat text: the program's own codes instead of the business's words."""

from __future__ import annotations

import re

RAW = {
    "snake_case code": re.compile(r"\b[a-z]+_[a-z_]+\b"),
    "ISO timestamp": re.compile(r"\d{4}-\d{2}-\d{2}T"),
    "Python repr": re.compile(r"\['|\{'|\bNone\b|Decimal\("),
    "unfilled field": re.compile(r"\{[a-z_]+\}"),
    "channel name where its title belongs": re.compile(r"\b(ozon|wildberries|yandex_market|site|retailcrm)\b"),
    "a number by hand": re.compile(r"\d\.0\b|\d\.\d{3,}\s?₽|\d %"),
}
# a setting the owner must type as it is, in the one alert that asks for it
ALLOWED = ("totals_warehouse",)


def raw_codes(text: str) -> list[str]:
    """Every raw code in ``text``, each with what it is; empty when the text reads as people's words."""
    found = []
    for what, pattern in RAW.items():
        for match in pattern.finditer(text):
            if match.group(0) not in ALLOWED:
                found.append(f"{what}: {match.group(0)!r}")
    return found
