"""What every emulator shares: serving its aiohttp application on 127.0.0.1 at a free port,
stopping, ``async with``, its ``base_url`` once started, and who is told of each request it answered."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.typedefs import Handler

Observer = Callable[[str, str], None]


class LocalServer:
    """Subclasses give ``name``, ``url_path`` (what follows ``host:port`` in :attr:`base_url`) and
    :meth:`application`; they may add to :meth:`_after_start` and :meth:`_before_stop`."""

    name = "local"
    url_path = "/"
    handler_cancellation = False  # True: a request the client gave up on is cancelled at once

    _runner: web.AppRunner | None = None
    _base_url: str | None = None
    _observers: tuple[Observer, ...] = ()

    def application(self) -> web.Application:
        raise NotImplementedError

    def observe(self, observer: Observer) -> None:
        """Call ``observer(method, path)`` after each request this emulator answered, whatever the answer: what it
        holds may have changed (the sandbox's console shows it at once). From the next start on."""
        self._observers = (*self._observers, observer)

    async def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; returns :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError(f"the {self.name} emulator is already running")
        application = self.application()
        if self._observers:
            application.middlewares.append(self._tell_observers)
        runner = web.AppRunner(application, access_log=None, handler_cancellation=self.handler_cancellation)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        self._runner, self._base_url = runner, f"http://{host}:{port}{self.url_path}"
        await self._after_start()
        return self._base_url

    async def stop(self) -> None:
        """Stop serving; what was recorded stays readable."""
        await self._before_stop()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @web.middleware
    async def _tell_observers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            for observer in self._observers:
                observer(request.method, request.path)

    async def _after_start(self) -> None:
        return None

    async def _before_stop(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"the {self.name} emulator is not started")
        return self._base_url
