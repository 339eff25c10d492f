"""A wire-level emulator of YooKassa's payments API (v3) for the real ``httpx`` client: payments created once per
``Idempotence-Key`` and read by id, HTTP Basic auth, YooKassa's error shape, a count of the charges started, and a
slow mode (answers late, or not at all) to prove that asking again never starts a second charge."""

from __future__ import annotations

from emulators.yookassa.server import SECRET_KEY, SHOP_ID, YooKassaEmulator, YooKassaRequest

__all__ = ["SECRET_KEY", "SHOP_ID", "YooKassaEmulator", "YooKassaRequest"]
