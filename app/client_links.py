"""Settings → the signer of clients' order links (``workflows/client_links.py``), for the HTTP routes and the
``/order`` reply in Telegram alike; ``None`` while ``CLIENT_LINK_SECRET`` is unset (the client's page is off)."""

from __future__ import annotations

from datetime import timedelta

from app.settings import ClientPageSettings
from workflows.client_links import ClientLinks
from workflows.ports import Clock


def client_links(settings: ClientPageSettings, clock: Clock) -> ClientLinks | None:
    if settings.link_secret is None:
        return None
    base = str(settings.base_url) if settings.base_url is not None else None
    secret = settings.link_secret.get_secret_value().encode()
    return ClientLinks(secret, clock, timedelta(seconds=settings.link_ttl_s), base)
