"""A wire-level emulator of RetailCRM's API v5 stock, price and order methods (one account) for the real ``httpx``
client."""

from __future__ import annotations

from emulators.retailcrm.server import (
    INVENTORIES,
    OFFERS,
    PRICES_UPLOAD,
    UPLOAD,
    CrmCall,
    CrmOffer,
    RetailCrmEmulator,
)

__all__ = ["INVENTORIES", "OFFERS", "PRICES_UPLOAD", "UPLOAD", "CrmCall", "CrmOffer", "RetailCrmEmulator"]
