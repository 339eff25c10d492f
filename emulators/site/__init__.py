"""A wire-level emulator of the site's stock API (``docs/site_stock_api.md``) for the real ``httpx`` client.

It serves ``PUT /stock``, ``GET /stock``, ``PUT /prices``, ``GET /prices``, ``GET /orders/new`` and
``GET /orders/events`` under ``/api``, checks the Bearer token, keeps the newest figure and price per sku and a
journal of what became of orders, enforces 10 requests a second with 429 + ``Retry-After`` (on a clock tests move),
and fails on demand: an HTTP status, forced 429s, skus rejected with a reason.
"""

from __future__ import annotations

from emulators.site.order_events import SiteOrderEvent
from emulators.site.prices import SitePrice
from emulators.site.server import (
    GET_ORDER_EVENTS,
    GET_ORDERS,
    GET_PRICES,
    GET_STOCK,
    PUT_PRICES,
    PUT_STOCK,
    SiteCall,
    SiteEmulator,
    SiteOrder,
    SiteStock,
)

__all__ = [
    "GET_ORDERS",
    "GET_ORDER_EVENTS",
    "GET_PRICES",
    "GET_STOCK",
    "PUT_PRICES",
    "PUT_STOCK",
    "SiteCall",
    "SiteEmulator",
    "SiteOrder",
    "SiteOrderEvent",
    "SitePrice",
    "SiteStock",
]
