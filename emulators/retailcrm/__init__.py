"""A wire-level emulator of RetailCRM's API v5 stock methods (one account) for the real ``httpx`` client."""

from __future__ import annotations

from emulators.retailcrm.server import INVENTORIES, UPLOAD, CrmCall, CrmOffer, RetailCrmEmulator

__all__ = ["INVENTORIES", "UPLOAD", "CrmCall", "CrmOffer", "RetailCrmEmulator"]
