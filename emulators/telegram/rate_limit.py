"""Telegram's flood control as a bot meets it, on a clock tests can move, and a report of the rates a bot reached.

The Bot FAQ asks bots to send at most about one message per second in a chat, twenty messages per minute in a group,
and about thirty messages per second overall; above that the Bot API answers HTTP 429 with
``parameters.retry_after`` (whole seconds). The real limits are unpublished and vary, so here they are a
:class:`TelegramLimits` policy that tests can tighten, loosen or switch off.

**Clock protocol.** A clock is either a zero-argument callable returning seconds (``time.monotonic``, a counter a
test moves) or an object whose ``now()`` returns seconds or a ``datetime`` (such as the project's
``tests.fakes.FakeClock``). Only differences between two readings matter.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class SupportsNow(Protocol):
    """A clock object: ``now()`` in seconds or as a ``datetime``."""

    def now(self) -> float | datetime: ...


Clock = Callable[[], float] | SupportsNow


def seconds_reader(clock: Clock) -> Callable[[], float]:
    """A function reading ``clock`` in seconds, whichever form of the clock protocol it follows."""
    if callable(clock):
        return lambda: float(clock())
    now = clock.now

    def read() -> float:
        value = now()
        return value.timestamp() if isinstance(value, datetime) else float(value)

    return read


@dataclass(frozen=True)
class Window:
    """At most ``messages`` messages in any stretch of ``seconds`` seconds."""

    messages: int
    seconds: float

    def __post_init__(self) -> None:
        if self.messages < 1 or self.seconds <= 0:
            raise ValueError("a window allows at least one message over a positive number of seconds")


@dataclass(frozen=True)
class TelegramLimits:
    """Which flood limits apply; ``None`` switches one off.

    * ``per_chat`` applies to every chat, private or group (the FAQ: "avoid more than one message per second in a
      single chat");
    * ``per_group`` applies in addition to chats with a negative id (groups, supergroups, channels);
    * ``overall`` counts every new message the bot sends, in any chat.

    New messages (``sendMessage``, ``sendPhoto``) always count. Edits count toward ``per_chat``/``per_group`` only
    with ``count_edits``: real Telegram lets a bot edit the message a user has just pressed a button on, right after
    sending it, so counting edits by default would refuse ordinary button flows; a sandbox that wants to punish
    edit storms turns it on. Edits never count toward ``overall``.
    """

    per_chat: Window | None = Window(1, 1.0)
    per_group: Window | None = Window(20, 60.0)
    overall: Window | None = Window(30, 1.0)
    count_edits: bool = False

    @classmethod
    def unlimited(cls) -> TelegramLimits:
        """No flood control at all (functional tests that send bursts on a real clock)."""
        return cls(per_chat=None, per_group=None, overall=None)


class FloodControl:
    """Sliding windows of accepted messages per chat, per group and overall.

    :meth:`refusal` asks whether a message may go now (without counting it); :meth:`count` records one that went.
    A refusal's ``retry_after`` is the whole seconds until the oldest message in the full window leaves it (≥ 1).
    """

    def __init__(self, limits: TelegramLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._sent: dict[tuple[str, int], deque[float]] = defaultdict(deque)

    def refusal(self, chat_id: int, *, new_message: bool) -> int | None:
        """``None`` when a message to ``chat_id`` may go now, else the seconds to wait."""
        now = self._clock()
        waits = [self._wait(key, window, now) for key, window in self._windows(chat_id, new_message)]
        longest = max((wait for wait in waits if wait is not None), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    def count(self, chat_id: int, *, new_message: bool) -> None:
        """Record a message that was accepted."""
        now = self._clock()
        for key, _window in self._windows(chat_id, new_message):
            self._sent[key].append(now)

    def _windows(self, chat_id: int, new_message: bool) -> list[tuple[tuple[str, int], Window]]:
        limits = self.limits
        if not new_message and not limits.count_edits:
            return []
        windows: list[tuple[tuple[str, int], Window]] = []
        if limits.per_chat is not None:
            windows.append((("chat", chat_id), limits.per_chat))
        if limits.per_group is not None and chat_id < 0:
            windows.append((("group", chat_id), limits.per_group))
        if limits.overall is not None and new_message:
            windows.append((("overall", 0), limits.overall))
        return windows

    def _wait(self, key: tuple[str, int], window: Window, now: float) -> float | None:
        sent = self._sent[key]
        while sent and sent[0] <= now - window.seconds:
            sent.popleft()
        if len(sent) < window.messages:
            return None
        return sent[-window.messages] + window.seconds - now


# -- what a bot actually did -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentMessage:
    """A new message the emulator accepted: which chat, when (emulator clock, seconds)."""

    chat_id: int
    at: float


@dataclass(frozen=True)
class FloodReport:
    """The highest rates a bot reached, each over any window of the given length (not calendar seconds)."""

    per_chat_per_second: dict[int, int]
    per_group_per_minute: dict[int, int]
    overall_per_second: int

    @property
    def max_per_chat_per_second(self) -> int:
        """The worst chat: most messages in one chat within any 1 s."""
        return max(self.per_chat_per_second.values(), default=0)

    @property
    def max_per_group_per_minute(self) -> int:
        """The worst group: most messages in one group within any 60 s."""
        return max(self.per_group_per_minute.values(), default=0)


def max_in_window(times: Sequence[float], seconds: float) -> int:
    """The most of ``times`` that fall in one half-open window ``[t, t + seconds)``."""
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def flood_report(sent: Iterable[SentMessage]) -> FloodReport:
    """Max messages per chat in any 1 s, per group (negative ids) in any 60 s, and overall in any 1 s."""
    by_chat: dict[int, list[float]] = defaultdict(list)
    every: list[float] = []
    for message in sent:
        by_chat[message.chat_id].append(message.at)
        every.append(message.at)
    return FloodReport(
        per_chat_per_second={chat: max_in_window(times, 1.0) for chat, times in by_chat.items()},
        per_group_per_minute={chat: max_in_window(times, 60.0) for chat, times in by_chat.items() if chat < 0},
        overall_per_second=max_in_window(every, 1.0),
    )
