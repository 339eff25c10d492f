"""A wire-level emulator of the Wildberries seller API for the real ``httpx`` client: stocks on seller warehouses
(update and read), the content card list with its cursor, new FBS orders and their statuses, FBS supplies and the
seller's cancel, the seller's warehouses, prices and discounts per card and size, behind WB's gateway (token,
per-group token buckets with ``X-Ratelimit-Retry``, a 409 costing 10) and WB's refusals on demand.
"""

from __future__ import annotations

from emulators.wildberries.rate_limit import CANCEL, CONTENT, ORDERS, PRICES, STOCKS, BucketPolicy, TokenBucket
from emulators.wildberries.seller import (
    BAN_MESSAGE,
    MAX_AMOUNT,
    MAX_ITEMS,
    MAX_STATUS_IDS,
    Card,
    CardSize,
    SellerAccount,
    WbAnswer,
)
from emulators.wildberries.server import (
    CANCEL_ORDER_PATH,
    CARDS_LIST_PATH,
    NEW_ORDERS_PATH,
    ORDER_STATUSES_PATH,
    PRICES_LIST_PATH,
    PRICES_UPLOAD_PATH,
    SIZE_PRICES_UPLOAD_PATH,
    STOCKS_PATH,
    SUPPLIES_PATH,
    SUPPLY_ORDERS_PATH,
    SUPPLY_PATH,
    WAREHOUSES_PATH,
    WildberriesCall,
    WildberriesEmulator,
    gateway_error,
)

__all__ = [
    "BAN_MESSAGE",
    "CANCEL",
    "CANCEL_ORDER_PATH",
    "CARDS_LIST_PATH",
    "CONTENT",
    "MAX_AMOUNT",
    "MAX_ITEMS",
    "MAX_STATUS_IDS",
    "NEW_ORDERS_PATH",
    "ORDERS",
    "ORDER_STATUSES_PATH",
    "PRICES",
    "PRICES_LIST_PATH",
    "PRICES_UPLOAD_PATH",
    "SIZE_PRICES_UPLOAD_PATH",
    "STOCKS",
    "STOCKS_PATH",
    "SUPPLIES_PATH",
    "SUPPLY_ORDERS_PATH",
    "SUPPLY_PATH",
    "WAREHOUSES_PATH",
    "BucketPolicy",
    "Card",
    "CardSize",
    "SellerAccount",
    "TokenBucket",
    "WbAnswer",
    "WildberriesCall",
    "WildberriesEmulator",
    "gateway_error",
]
