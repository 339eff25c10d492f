"""A wire-level emulator of YooKassa's payments API (v3) for the real ``httpx`` client: payments created once per
``Idempotence-Key`` (another body under the same key refused) with a redirect ``confirmation_url``, read by id,
paid by a test standing in for the client, HTTP Basic auth, YooKassa's error shape, a count of the charges started,
and a slow mode (reads or creates answered late, or not at all) to prove that asking again never starts a second
charge."""

from __future__ import annotations

from emulators.yookassa.server import SECRET_KEY, SHOP_ID, YooKassaEmulator, YooKassaNotice, YooKassaRequest

__all__ = ["SECRET_KEY", "SHOP_ID", "YooKassaEmulator", "YooKassaNotice", "YooKassaRequest"]
