"""Socket Mode, as Slack serves it: ``apps.connections.open`` hands out a WebSocket URL; Slack says
``hello`` and then sends envelopes (an interaction, an event) that the app must acknowledge with
their ``envelope_id``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

PATH = "/socket-mode"


class SocketModeHub:
    def __init__(self) -> None:
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.connected = asyncio.Event()
        self.acknowledged: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {"type": "hello", "num_connections": len(self._sockets), "connection_info": {"app_id": "A0EMULATOR"},
                 "debug_info": {"host": "storeops-emulator", "approximate_connection_time": 3600}}  # fmt: skip
        await socket.send_json(hello)
        self.connected.set()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                self.acknowledged.append(ack)
                waiting = self._acks.pop(str(ack.get("envelope_id")), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(ack)
        finally:
            self._sockets.remove(socket)
            if not self._sockets:
                self.connected.clear()
        return socket

    async def send(self, kind: str, payload: dict[str, Any], patience: float = 5.0) -> dict[str, Any]:
        """Push an envelope (``interactive``, ``events_api``, ``slash_commands``) to the newest
        connection and return the app's acknowledgement. ``patience`` (real seconds) only guards
        against a hang."""
        async with asyncio.timeout(patience):
            await self.connected.wait()
            envelope_id = uuid.uuid4().hex
            answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._acks[envelope_id] = answer
            await self._sockets[-1].send_json(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            acknowledgement: dict[str, Any] = await answer
            return acknowledgement

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
