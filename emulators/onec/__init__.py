"""A wire-level emulator of 1C's standard OData interface (stock balance, prices and nomenclature) for the real
``httpx`` client: Basic auth, ``$select``/``$top``/``$skip``, ``odata.error`` bodies and HTTP failures on demand."""

from __future__ import annotations

from emulators.onec.server import EMPTY_REF, ROOT, Item, ODataCall, OneCODataEmulator, odata_error

__all__ = ["EMPTY_REF", "ROOT", "Item", "ODataCall", "OneCODataEmulator", "odata_error"]
