"""The HTTP face of the emulator: ``/bot<token>/<method>`` in, Bot API JSON out.

aiogram sends every method as a ``multipart/form-data`` POST; other clients send url-encoded or JSON bodies, or
GET with a query string. All are accepted; query and body parameters are merged, the body winning, and file parts
become :class:`~emulators.telegram.params.UploadedFile`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulators.telegram.params import UploadedFile

Answerer = Callable[[str, str, dict[str, Any]], Awaitable[tuple[int, Any]]]
"""``(token, method, params) -> (HTTP status, body)``."""

MAX_BODY = 64 * 1024 * 1024  # the Bot API takes uploads up to 50 MB


def create_app(answer: Answerer) -> web.Application:
    """An aiohttp application serving ``answer`` at ``/bot<token>/<method>``."""

    async def handle(request: web.Request) -> web.Response:
        params = await read_params(request)
        status, body = await answer(request.match_info["token"], request.match_info["method"], params)
        return web.json_response(body, status=status)

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_route("*", "/bot{token}/{method}", handle)
    return app


async def read_params(request: web.Request) -> dict[str, Any]:
    """Query string and body parameters merged (the body wins); file parts as :class:`UploadedFile`."""
    params: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            params[key] = value
    return params
