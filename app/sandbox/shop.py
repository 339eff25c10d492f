"""The running sandbox as the console (``console.py``) and the scenario buttons (``scenarios.py``) see it: the
emulated outside systems, the service built against them, its clock and an HTTP client. ``world.Sandbox`` is it;
the console and the scenarios name only this protocol, so the world can serve them without an import cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from app.bootstrap import Services
from app.sandbox.changes import Changes
from app.sandbox.clock import SandboxClock
from emulators.cbr import CbrEmulator
from emulators.cdek import CdekEmulator
from emulators.onec import OneCODataEmulator
from emulators.ozon import OzonEmulator
from emulators.retailcrm import RetailCrmEmulator
from emulators.site import SiteEmulator
from emulators.slack import SlackEmulator
from emulators.telegram import TelegramEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from emulators.yookassa import YooKassaEmulator
from workflows.onec_pull import PullResult
from workflows.topology import Topology


@dataclass
class Emulators:
    slack: SlackEmulator
    telegram: TelegramEmulator
    onec: OneCODataEmulator
    wildberries: WildberriesEmulator
    ozon: OzonEmulator
    yandex_market: YandexMarketEmulator
    site: SiteEmulator
    retailcrm: RetailCrmEmulator
    cbr: CbrEmulator
    cdek: CdekEmulator
    yookassa: YooKassaEmulator  # the payment gateway: the checkout creates payments, the payment watch reads them


class SandboxShop(Protocol):
    topology: Topology
    clock: SandboxClock
    api_token: str  # the service's bearer token
    http: httpx.AsyncClient
    emulators: Emulators
    services: Services
    wb_chrt: dict[str, int]  # our SKU -> its Wildberries size
    changes: Changes  # pokes an open console

    @property
    def url(self) -> str:
        """The service's base URL."""
        ...

    async def advance(self, seconds: int) -> None:
        """Move the business clock and fire every timer that fell due."""
        ...

    async def deliver(self) -> None:
        """The chats' delivery jobs, now: Slack's done when it returns, Telegram's started (at Telegram's pace)."""
        ...

    async def pull_onec(self) -> PullResult:
        """1C's register, pulled now as the scheduled OData pull does."""
        ...
