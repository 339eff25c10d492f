"""Reading a request of the JSON API: its body into a model, an order's id from its path — each refusal an
``ApiError`` with the code the API documents."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from app.http.errors import ApiError

M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The body as ``model``: not JSON is a 400 ``malformed_json``; a body the model refuses raises pydantic's
    ``ValidationError``, which the error middleware answers with a 422."""
    raw = await request.read()
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body is nested too deeply to read") from None
    except ValueError as error:  # not JSON, not UTF-8, or a number of more digits than Python reads
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    return model.model_validate(data)


def order_id(request: web.Request) -> int:
    """The ``{order_id}`` of the path: anything but a number of at most 18 digits is an order that is not there."""
    raw = request.match_info["order_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ApiError(404, "order_not_found", f"no order {raw!r}: order ids are numbers")
    return int(raw)
