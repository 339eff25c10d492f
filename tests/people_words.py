"""What a person must never read in a chat text or on a page: the program's own codes instead of the business's
words — and, given the shop's topology, none of its store codes or channel keys where their titles belong."""

from __future__ import annotations

import re
from collections.abc import Collection

from workflows.topology import Topology

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


def topology_codes(topology: Topology) -> set[str]:
    """The names the program gives the shop's places and channels: its warehouses' and stores' codes, its channels'
    keys and kinds. A title that is the same word as its code (a store with no title) is not counted."""
    titles = {w.title for w in topology.warehouses}
    codes = {w.code for w in topology.warehouses} | set(topology.channels)
    codes |= {channel.kind for channel in topology.channels.values()}
    return codes - titles


def raw_codes(text: str, codes: Collection[str] = ()) -> list[str]:
    """Every raw code in ``text``, each with what it is; empty when the text reads as people's words. ``codes``:
    the topology's own (:func:`topology_codes`), each found as a whole word written as the program writes it."""
    found = []
    for what, pattern in RAW.items():
        for match in pattern.finditer(text):
            if match.group(0) not in ALLOWED:
                found.append(f"{what}: {match.group(0)!r}")
    for code in sorted(codes):
        for match in re.finditer(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text):
            found.append(f"a store code or channel key where its title belongs: {match.group(0)!r}")
    return found
