"""What the channels' HTTP answers share: the wait a rate-limited answer asks for."""

from __future__ import annotations

import httpx

DAY_S = 86_400.0


def retry_after(response: httpx.Response, *headers: str) -> float | None:
    """Seconds to wait from the first of ``headers`` present (default ``Retry-After``); ``None``
    when absent, not a number of seconds, negative, or longer than a day (not a hint to trust)."""
    for name in headers or ("Retry-After",):
        raw = response.headers.get(name)
        if raw is None or raw == "":
            continue
        try:
            seconds = float(raw)
        except ValueError:
            return None
        return seconds if 0 <= seconds < DAY_S else None
    return None
