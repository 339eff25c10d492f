"""The Bot API's vocabulary for requests: method parameters, uploaded files and the errors methods answer with.

Parameters come from three kinds of request body: aiogram sends ``multipart/form-data`` where every scalar is a string
and every nested object a JSON string; other clients send ``application/x-www-form-urlencoded`` (same encoding) or
``application/json`` (real JSON types). The readers here accept all three, as the real Bot API does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Params = Mapping[str, Any]
"""A method's parameters: strings (forms), JSON values (JSON bodies) or :class:`UploadedFile`."""


class BotApiError(Exception):
    """A method failed: ``{"ok": false, "error_code": status, "description": ...}`` with HTTP ``status``."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The response body, with ``parameters.retry_after`` on a flood-control refusal."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> BotApiError:
    """HTTP 400 with Telegram's ``"Bad Request: <reason>"`` description."""
    return BotApiError(400, f"Bad Request: {reason}")


def too_many_requests(retry_after: int) -> BotApiError:
    """HTTP 429 as flood control answers it."""
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(frozen=True)
class UploadedFile:
    """A file sent as a multipart part (``photo``, or the part an ``attach://<name>`` value points to)."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # keep call logs readable: no megabytes of bytes
        return f"UploadedFile({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


def text_param(params: Params, name: str) -> str | None:
    """A string parameter; ``None`` when absent. Numbers from JSON bodies are turned into their text."""
    value = params.get(name)
    if value is None or isinstance(value, UploadedFile):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def int_param(params: Params, name: str) -> int | None:
    """An integer parameter (``"42"`` or ``42``); ``None`` when absent, 400 when not a number."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(f"invalid {name} specified") from None


def float_param(params: Params, name: str) -> float | None:
    """A number parameter such as ``timeout``; ``None`` when absent."""
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def bool_param(params: Params, name: str) -> bool:
    """A boolean: JSON ``true`` or the strings ``"true"``/``"True"``/``"1"`` (what form-encoding clients send)."""
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def json_param(params: Params, name: str) -> Any:
    """A nested object: already decoded (JSON bodies) or a JSON string (forms); ``None`` when absent."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(f"can't parse {name} JSON object") from None
