"""A wire-level emulator of Yandex Market's Partner API (one campaign) for the real ``httpx`` client.

It serves updateStocks, getStocks, getOrders, getReturns, updateOrderStatus, getOrder, updatePrices and
getPricesByOfferIds (prices: :meth:`YandexMarketEmulator.price`) with the official
OpenAPI's shapes (orders are made ready to ship or cancelled by the seller, and go on to be cancelled, delivered,
returned: :meth:`YandexMarketEmulator.cancel_order`, ``deliver``, ``return_``), checks what the spec requires of a
stock push (1..2000 unique ShopSkus, exactly one item each, count 0..2e9, ``updatedAt`` with an offset), enforces
the Market's 4 parallel requests and 100 000 skus a minute with 420 ``REQUEST_LIMIT_EXCEEDED`` (on a clock tests
move), and fails on demand: an HTTP status, forced 420s, requests held in flight.
"""

from __future__ import annotations

from emulators.yandex_market.lifecycle import MarketReturn
from emulators.yandex_market.limits import InFlight, SkuWindow
from emulators.yandex_market.prices import PriceEntry
from emulators.yandex_market.server import (
    GET_ORDER,
    GET_ORDERS,
    GET_PRICES,
    GET_RETURNS,
    GET_STOCKS,
    UPDATE_ORDER_STATUS,
    UPDATE_PRICES,
    UPDATE_STOCKS,
    YandexMarketEmulator,
    YmCall,
)
from emulators.yandex_market.wire import SHOP_SKU, MarketOrder, StockEntry, WireError, error_body

__all__ = [
    "GET_ORDER",
    "GET_ORDERS",
    "GET_PRICES",
    "GET_RETURNS",
    "GET_STOCKS",
    "SHOP_SKU",
    "UPDATE_ORDER_STATUS",
    "UPDATE_PRICES",
    "UPDATE_STOCKS",
    "InFlight",
    "MarketOrder",
    "MarketReturn",
    "PriceEntry",
    "SkuWindow",
    "StockEntry",
    "WireError",
    "YandexMarketEmulator",
    "YmCall",
    "error_body",
]
