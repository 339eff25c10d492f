"""A wire-level emulator of Ozon's Seller API for the stock client: stock updates with per-item results inside a
200 and the 30-s rule per product-warehouse pair, stock read-back, unfulfilled FBS postings, what becomes of postings
(cancelled, delivered, returned: ``/v3/posting/fbs/list``, ``/v1/returns/list``), the seller's own moves (a
posting read, assembled, cancelled: ``/v3/posting/fbs/get``, ``/v4/posting/fbs/ship``, ``/v2/posting/fbs/cancel``),
prices (``/v1/product/import/prices``, ``/v5/product/info/prices``, 10 updates a product an hour), the rate limits
(80 stock updates a minute per seller, 50 requests a second per Client-Id), header checks and
failures on demand.
"""

from __future__ import annotations

from emulators.ozon.postings import Cancellation, OzonReturn, Posting, Product
from emulators.ozon.seller import PAIR_INTERVAL_S, SellerAccount
from emulators.ozon.server import (
    CANCEL_PATH,
    FBS_LIST_PATH,
    IMPORT_PRICES_PATH,
    PER_MINUTE_MESSAGE,
    PER_SECOND_MESSAGE,
    POSTING_GET_PATH,
    PRICE_INFO_PATH,
    RETURNS_PATH,
    SHIP_PATH,
    STOCK_INFO_PATH,
    STOCKS_PATH,
    UNFULFILLED_PATH,
    OzonCall,
    OzonEmulator,
    SlidingWindow,
)

__all__ = [
    "CANCEL_PATH",
    "FBS_LIST_PATH",
    "IMPORT_PRICES_PATH",
    "PAIR_INTERVAL_S",
    "PER_MINUTE_MESSAGE",
    "PER_SECOND_MESSAGE",
    "POSTING_GET_PATH",
    "PRICE_INFO_PATH",
    "RETURNS_PATH",
    "SHIP_PATH",
    "STOCKS_PATH",
    "STOCK_INFO_PATH",
    "UNFULFILLED_PATH",
    "Cancellation",
    "OzonCall",
    "OzonEmulator",
    "OzonReturn",
    "Posting",
    "Product",
    "SellerAccount",
    "SlidingWindow",
]
