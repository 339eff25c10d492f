"""Keep customer data out of tracebacks. A database error's message quotes the value the driver could not take
(asyncpg: ``invalid input for query argument $3: 'Иван Петров …'``), and every ``log.exception`` that catches
one would print it. The engine already hides statement parameters; this hides those messages: a record whose
exception chain holds a database error gets a traceback with the frames and error kinds, not the messages."""

from __future__ import annotations

import logging
import traceback
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError

HIDDEN = "(message not logged: a database error may quote customer data)"

_installed = False


def install() -> None:
    """Route every log record through :func:`_redact` (once per process; later calls do nothing)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _redact(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact(record: logging.LogRecord) -> None:
    if not record.exc_info or record.exc_info[1] is None:
        return
    chain = _chain(record.exc_info[1])
    hidden = {id(e) for e in chain if isinstance(e, DBAPIError)}
    hidden |= {id(e.orig) for e in chain if isinstance(e, DBAPIError) and e.orig is not None}
    if hidden:
        record.exc_text = redacted_traceback(chain, hidden)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it, outermost first, as Python prints them (innermost first)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain


def redacted_traceback(chain: list[BaseException], hidden: set[int]) -> str:
    parts = []
    for error in reversed(chain):
        message = HIDDEN if id(error) in hidden else str(error)
        parts.append("Traceback (most recent call last):\n" + _frames(error.__traceback__))
        parts.append(f"{type(error).__module__}.{type(error).__qualname__}: {message}")
    return "\n".join(parts)


def _frames(tb: TracebackType | None) -> str:
    return "".join(traceback.format_tb(tb)).rstrip("\n")
