"""Every error the API returns has one shape: ``{"error", "message", "details"}`` with a 4xx."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from storage.database import DatabaseUnavailable, lost_connection
from workflows import errors as wf

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30  # when the database could not be reached

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: dict[type[wf.WorkflowError], int] = {
    wf.UnknownChannel: 422,
    wf.UnknownWarehouse: 422,
    wf.FigureFromFuture: 422,
    wf.InvalidStockLine: 422,
    wf.OrderNotFound: 404,
    wf.OrderConflict: 409,
    wf.ClientBlocked: 403,
    wf.PaymentConflict: 409,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_response(
    status: int, code: str, message: str, details: list[Any] | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": code, "message": message, "details": details or []}
    return web.json_response(body, status=status, dumps=_dumps, headers=headers)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def database_unavailable() -> web.Response:
    message = "the database cannot be reached; nothing was read or written, try again later"
    return error_response(503, "database_unavailable", message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in item["loc"]), "problem": item["msg"].removeprefix("Value error, ")}
        for item in error.errors(include_url=False)
    ]


def json_errors(max_body_bytes: int) -> Any:
    """The middleware that turns every failure into the API's error shape."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, error.details)
        except ValidationError as error:
            message = "the request body does not match the API"
            return error_response(422, "invalid_request", message, validation_details(error))
        except wf.WorkflowError as error:
            return error_response(_STATUS.get(type(error), 422), error.code, error.message, error.details)
        except DatabaseUnavailable:
            log.warning("the database cannot be reached on %s %s", request.method, request.path, exc_info=True)
            return database_unavailable()
        except web.HTTPRequestEntityTooLarge:
            message = f"the body is larger than the limit of {max_body_bytes} bytes (HTTP_MAX_BODY_BYTES)"
            return error_response(413, "body_too_large", message)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            code = {404: "not_found", 405: "method_not_allowed"}.get(error.status, "http_error")
            return error_response(error.status, code, error.reason)
        except Exception as error:
            if lost_connection(error):
                log.warning("lost the database connection on %s %s", request.method, request.path, exc_info=True)
                return database_unavailable()
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    return middleware
