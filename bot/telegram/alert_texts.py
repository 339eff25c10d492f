"""An alert's one-line title in the owner's words: every kind the workflows raise has its own text (a test checks
each in both languages); its details are put in words first — channels and warehouses by their titles, minutes as
a duration, counts with their nouns, codes as phrases — so no internal name reaches a person."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime

from bot.telegram.texts import has, template, tg
from bot.texts import Locale
from bot.wording import Names, clock_time, count, duration, money, number
from workflows.office_model import Alert

_Words = Callable[[Alert, dict[str, object], Locale, str, Names], None]


class _Detail(dict[str, object]):
    """An alert's details for formatting: a field an older alert lacks reads as a dash, never as an error."""

    def __missing__(self, key: str) -> object:
        return "—"


def _order(d: dict[str, object]) -> None:
    found = d.get("order") or d.get("external_id") or d.get("order_id")
    if found:
        d["order"] = found


def _moment(value: object, timezone: str) -> str:
    return clock_time(datetime.fromisoformat(str(value)), timezone) if value else "—"


def _code_words(locale: Locale, group: str, code: object) -> str:
    key = f"{group}.{code}"
    return tg(locale, key) if has(locale, key) else tg(locale, f"{group}.other")


_HTTP = re.compile(r"\bHTTP (\d{3})\b")
_CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("login", re.compile(r"wrong .*login or password|unauthori[sz]ed|\b401\b", re.IGNORECASE)),
    ("timeout", re.compile(r"did not answer|timed? ?out|in time\b", re.IGNORECASE)),
    ("unreachable", re.compile(r"could not be reached|connect|refused the connection", re.IGNORECASE)),
    ("garbled", re.compile(r"unknown shape|not json|not well-formed|something other than|cannot be read", re.I)),
)


def cause_words(locale: Locale, reason: str) -> str:
    """Why an outside system failed, in the reader's language: the integrations word their reasons for the log, in
    English ("1C answered HTTP 500"); the chat says the kind of failure — an HTTP status, no answer in time, no
    connection, wrong login — and anything else as an answer that cannot be read (the log keeps the details)."""
    for cause, pattern in _CAUSES:
        if pattern.search(reason):
            return tg(locale, f"cause.{cause}")
    status = _HTTP.search(reason)
    if status is not None:
        return tg(locale, "cause.http", status=status.group(1))
    return tg(locale, "cause.garbled")


def _refusal_words(reason: str) -> str:
    """A refusal's reason is the system's own words about the item ("nmID not found"): kept, without the English
    frame our integration put around them for the log ("Wildberries refused the stock update (HTTP 409): …")."""
    _, colon, words = reason.partition("): ")
    return (words if colon and words.strip() else reason).strip()[:200] or "—"


# Alerts about a system that keeps failing: their reason is a transport failure, said as its kind.
_FAILING = frozenset({"sync_failing", "price_sync_failing", "onec_pull_failing", "carrier_failing", "fx_feed_down"})


def _onec_silent(alert: Alert, d: dict[str, object], locale: Locale, tz: str, names: Names) -> None:
    d["minutes"] = duration(locale, 60 * int(str(d.get("minutes") or 0)))
    d["last_update"] = _moment(d.get("last_update"), tz) if d.get("last_update") else clock_time(alert.first_at, tz)


def _task_escalated(alert: Alert, d: dict[str, object], locale: Locale, tz: str, names: Names) -> None:
    d["task"] = _code_words(locale, "task.kind", d.get("task_kind"))
    about = d.get("order") or d.get("order_id")
    d["about"] = tg(locale, "alert.about_order", order=about) if about else ""
    d["why"] = _code_words(locale, "why", d.get("why") or "timeout")


def _price_drift(alert: Alert, d: dict[str, object], locale: Locale, tz: str, names: Names) -> None:
    d["articles"] = count(locale, int(str(d.get("count") or 0)), "article")
    for key in ("shown", "ours"):
        if d.get(key) is not None:
            d[key] = money(locale, str(d[key]))


def _shared(alert: Alert, d: dict[str, object], locale: Locale, tz: str, names: Names) -> None:
    if "channel" in d:
        d["channel"] = names.channel(d["channel"])
    if "warehouse" in d:
        d["warehouse"] = names.place(d["warehouse"])
    if "failures" in d:
        d["failures"] = count(locale, int(str(d["failures"])), "time")
    if "offers" in d:
        d["offers"] = count(locale, int(str(d["offers"])), "offer")
    if "ship_by" in d:
        d["ship_by"] = _moment(d.get("ship_by"), tz)
    if "action" in d:
        d["action"] = _code_words(locale, "action", d["action"])
    if isinstance(d.get("reason"), str):
        reason = str(d["reason"])
        d["reason"] = cause_words(locale, reason) if alert.kind in _FAILING else _refusal_words(reason)
    for key in ("on_hand", "reserved", "qty"):
        if isinstance(d.get(key), int | float):
            d[key] = number(locale, d[key])  # type: ignore[arg-type]
    _order(d)


_BY_KIND: Mapping[str, _Words] = {
    "onec_silent": _onec_silent,
    "task_escalated": _task_escalated,
    "price_drift": _price_drift,
}


def alert_title(alert: Alert, locale: Locale, timezone: str, names: Names | None = None) -> str:
    """The alert's title; a kind with no text yet is said as a generic alert, never as its code."""
    names = names or Names.of(None, locale)
    d = _Detail(alert.detail)
    _shared(alert, d, locale, timezone, names)
    words = _BY_KIND.get(alert.kind)
    if words is not None:
        words(alert, d, locale, timezone, names)
    key = f"alert.{alert.kind}"
    if alert.kind == "onec_silent" and alert.detail.get("working_hours"):  # minutes of 1C's working time
        key, d["hours"] = "alert.onec_silent_hours", alert.detail["working_hours"]
    if not has(locale, key):
        return tg(locale, "alert.other")
    return template(locale, key).format_map(d)
