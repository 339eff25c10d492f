"""Read-only queries for screens (the sandbox console, the dashboard): no transaction of their own, no writes."""

from __future__ import annotations

from sqlalchemy import select

from storage.database import Database
from storage.schema import orders


async def recent_order_ids(database: Database, limit: int = 50) -> list[int]:
    """The newest orders first."""
    async with database.read_engine.connect() as connection:
        rows = await connection.execute(select(orders.c.id).order_by(orders.c.id.desc()).limit(limit))
        return [int(row[0]) for row in rows]
