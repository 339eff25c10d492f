"""A wire-level emulator of the Central Bank of Russia's daily rates (``XML_daily.asp``) for the real ``httpx``
client.

It serves real-shaped sheets (windows-1251, decimal commas, ``Nominal`` 100 for JPY/KZT/DZD, the ``Date`` the rates
are set for, ``?date_req=DD/MM/YYYY``), rates set per day by tests or the sandbox, and the bank's failures on
demand: an HTTP error status, an HTML page instead of XML, or no answer at all.
"""

from __future__ import annotations

from emulators.cbr.server import PATH, XML_CONTENT_TYPE, CbrEmulator, CbrRequest
from emulators.cbr.sheet import CATALOGUE, DEFAULT_QUOTES, Currency, Quote, RateBook, rates_date, render_sheet

__all__ = [
    "CATALOGUE",
    "DEFAULT_QUOTES",
    "PATH",
    "XML_CONTENT_TYPE",
    "CbrEmulator",
    "CbrRequest",
    "Currency",
    "Quote",
    "RateBook",
    "rates_date",
    "render_sheet",
]
