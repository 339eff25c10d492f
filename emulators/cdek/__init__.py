"""A wire-level emulator of CDEK's API v2 for the real ``httpx`` client: OAuth2 client-credentials tokens that
expire on an injected clock, order registration that answers ``ACCEPTED`` and settles later to ``SUCCESSFUL`` or
``INVALID``, CDEK's field rules (ware keys above all), and failures on demand.
"""

from __future__ import annotations

from emulators.cdek.server import (
    NUMBER_USED,
    ORDERS_PATH,
    SETTLE_AFTER_S,
    TOKEN_LIFETIME_S,
    TOKEN_PATH,
    CdekCall,
    CdekEmulator,
    EmulatedOrder,
)
from emulators.cdek.validation import WARE_KEY, WARE_KEY_MAX, order_errors

__all__ = [
    "NUMBER_USED",
    "ORDERS_PATH",
    "SETTLE_AFTER_S",
    "TOKEN_LIFETIME_S",
    "TOKEN_PATH",
    "WARE_KEY",
    "WARE_KEY_MAX",
    "CdekCall",
    "CdekEmulator",
    "EmulatedOrder",
    "order_errors",
]
