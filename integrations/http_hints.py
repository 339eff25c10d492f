"""What the channels' HTTP answers share: the wait a rate-limited answer asks for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

DAY_S = 86_400.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def retry_after(response: httpx.Response, *headers: str, now: Callable[[], datetime] = _utc_now) -> float | None:
    """Seconds to wait from the first of ``headers`` present (default ``Retry-After``).

    The value is a number of seconds or an HTTP date (RFC 9110 §10.2.3). A date is counted from the answer's own
    ``Date`` header when it has one (both are the server's clock, so a skewed clock of ours does not matter), else
    from ``now``; a date already past is 0. ``None`` when absent, unreadable, negative, or a day or more away (not
    a hint to trust)."""
    for name in headers or ("Retry-After",):
        raw = response.headers.get(name, "").strip()
        if not raw:
            continue
        seconds = _seconds(raw, response, now)
        return seconds if seconds is not None and 0 <= seconds < DAY_S else None
    return None


def _seconds(raw: str, response: httpx.Response, now: Callable[[], datetime]) -> float | None:
    try:
        return float(raw)
    except ValueError:
        pass
    until = _http_date(raw)
    if until is None:
        return None
    since = _http_date(response.headers.get("Date", "")) or now()
    return max(0.0, (until - since).total_seconds())


def _http_date(raw: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
