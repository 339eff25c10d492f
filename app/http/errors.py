"""Every error the API returns has one shape: ``{"error", "message", "details"}`` with a 4xx."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from workflows import errors as wf

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: dict[type[wf.WorkflowError], int] = {
    wf.UnknownChannel: 422,
    wf.UnknownWarehouse: 422,
    wf.OrderNotFound: 404,
    wf.OrderConflict: 409,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> web.Response:
    body = {"error": code, "message": message, "details": details or []}
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in item["loc"]), "problem": item["msg"].removeprefix("Value error, ")}
        for item in error.errors(include_url=False)
    ]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except ValidationError as error:
        return error_response(422, "invalid_request", "the request body does not match the API", validation_details(error))
    except wf.WorkflowError as error:
        return error_response(_STATUS.get(type(error), 422), error.code, error.message, error.details)
    except web.HTTPRequestEntityTooLarge as error:
        return error_response(413, "body_too_large", f"the body is larger than {error.max_size} bytes")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
        return error_response(error.status, code, error.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
