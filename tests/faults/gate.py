"""A TCP gate in front of one emulator, so a test can make the system behind it hang or refuse as a real outage
does, whatever the emulator itself offers.

The service is pointed at the gate (its base URL names the gate's port); the gate passes bytes both ways to the
emulator while it is **open**. **Hung**: connections stay open and new ones are accepted, but nothing passes either
way — a request waits until the client's own timeout. **Refusing**: nothing listens on the port (connection
refused), and every open connection is reset. :meth:`FaultGate.recover` opens it again: the connections that saw
the hang are reset (their requests were never answered), the port listens again on the same number. ``latency``
delays every answer's bytes, so that work is caught in flight more often."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

OPEN, HUNG, REFUSING = "open", "hung", "refusing"
CHUNK = 65_536


@dataclass(eq=False)
class _Link:
    """One client connection and, once made, its connection to the emulator."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    saw_fault: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.transport.abort()


class FaultGate:
    def __init__(
        self, name: str, upstream_port: int, *, latency_s: float = 0.0, upstream_host: str = "127.0.0.1"
    ) -> None:
        self.name, self.upstream_port, self.latency_s = name, upstream_port, latency_s
        self.upstream_host = upstream_host
        self.state = OPEN
        self.port = 0
        self.gave_up = 0  # connections their clients closed while the gate hung (a request timed out)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        await self._close_listener()
        for link in list(self._links):
            link.abort()

    async def hang(self) -> None:
        """Nothing passes any more; connections stay open."""
        self.state = HUNG
        for link in self._links:
            link.saw_fault = True

    async def refuse(self) -> None:
        """Nothing listens; every open connection is reset."""
        self.state = REFUSING
        await self._close_listener()
        for link in list(self._links):
            link.abort()

    async def recover(self) -> None:
        """Open again: what saw the fault is reset, new connections pass."""
        for link in [link for link in self._links if link.saw_fault]:
            link.abort()
        if self._server is None:
            await self.start()
        self.state = OPEN

    async def _close_listener(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer, saw_fault=self.state != OPEN)
        self._links.add(link)
        try:
            up_reader, link.upstream = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            await asyncio.gather(
                self._pipe(reader, link.upstream, link, delay=0.0),
                self._pipe(up_reader, writer, link, delay=self.latency_s),
            )
        except OSError:
            pass
        finally:
            if self.state == HUNG:
                self.gave_up += 1
            self._links.discard(link)
            link.abort()

    async def _pipe(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, link: _Link, *, delay: float
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                if link.saw_fault or self.state != OPEN:
                    link.saw_fault = True
                    if self.state == OPEN:
                        return  # it saw the hang: reset, never answered late
                    continue  # hung: what was sent is lost, as in an outage; a client that gives up is seen
                if delay:
                    await asyncio.sleep(delay)
                target.write(data)
                await target.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                target.close()
