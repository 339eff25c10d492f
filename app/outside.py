"""The outside systems from settings: a client for each channel whose credentials are set, the carrier, 1C's
stock and price registers, the Central Bank's rates and what the daily report reads — as the ports the workflows use
(:class:`workflows.shop.Outside`). Which concrete client serves which port is decided here and nowhere else."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import httpx

from app.client_links import client_links
from app.settings import Settings
from integrations.cbr import CbrFeed, CbrRates
from integrations.cdek import CdekClient
from integrations.cdek_carrier import CdekCarrier
from integrations.onec_odata import ODataBalanceSource, ODataStock
from integrations.onec_odata_prices import ODataPrices, ODataPriceSource
from integrations.ozon import OzonClient
from integrations.retailcrm import RetailCrmClient
from integrations.retailcrm_orders import RetailCrmOrders
from integrations.site import SiteClient
from integrations.wildberries import WildberriesClient
from integrations.yandex_market import YandexMarketClient
from integrations.yookassa import YooKassaPayments
from storage.database import Database
from storage.report_queries import SqlDayRecords
from workflows.channels import ChannelClient
from workflows.ports import Clock
from workflows.shop import Outside
from workflows.topology import Topology

log = logging.getLogger(__name__)


def outside_systems(
    settings: Settings, topology: Topology, http: httpx.AsyncClient, database: Database, clock: Clock | None = None
) -> Outside:
    channels = channel_clients(settings, topology, http)
    gateway = payment_gateway(settings, http)
    return_url = topup_return_url(settings, clock) if gateway is not None else None
    return Outside(
        rates=CbrFeed(CbrRates(http, str(settings.channels.cbr_daily_url), deadline_s=settings.channels.cbr_timeout_s)),
        channels=channels,
        carrier=cdek_carrier(settings, http),
        onec_register=onec_register(settings, topology, http),
        onec_prices=onec_prices(settings, topology, http),
        day_records=SqlDayRecords(database),
        crm=crm_orders(settings, channels),
        payment_gateway=gateway,
        payment_checkout=gateway if return_url is not None else None,
        topup_return_url=return_url,
        payment_notices=gateway,
    )


def topup_return_url(settings: Settings, clock: Clock | None) -> Callable[[int], str] | None:
    """Where YooKassa sends a client back after paying a top-up: their order's signed page, a whole address. None
    (top-ups are not created at the gateway) while the client's page is off or has no ``CLIENT_LINK_BASE_URL``."""
    links = client_links(settings.client_page, clock) if clock is not None else None
    if links is None or settings.client_page.base_url is None:
        log.warning("YooKassa is set but CLIENT_LINK_SECRET or CLIENT_LINK_BASE_URL is not: clients' top-ups are not "
                    "created there (nowhere to send the client back to)")  # fmt: skip
        return None

    def url(order_id: int) -> str:
        return links.link(order_id).url or ""

    return url


def payment_gateway(settings: Settings, http: httpx.AsyncClient) -> YooKassaPayments | None:
    """YooKassa, read only, when the shop's id and secret key are set."""
    keys = settings.payment_gateway
    if not keys.enabled or keys.shop_id is None or keys.secret_key is None:
        return None
    return YooKassaPayments(
        http, base=str(keys.url), shop_id=keys.shop_id, secret_key=keys.secret_key.get_secret_value(),
        deadline_s=keys.timeout_s,
    )  # fmt: skip


def crm_orders(settings: Settings, channels: Mapping[str, ChannelClient]) -> RetailCrmOrders | None:
    """Orders to RetailCRM and its status changes back, on the RetailCRM channel's own client (one account: one
    key, one rate gate) when that channel is set up."""
    keys = settings.channels
    for client in channels.values():
        if isinstance(client, RetailCrmClient):
            cancel = keys.retailcrm_cancel_statuses.split(",")[0]
            return RetailCrmOrders(
                client, cancel_status=cancel, payment_type=keys.retailcrm_payment_type,
                status_field=keys.retailcrm_status_field,
            )  # fmt: skip
    return None


def onec_odata(settings: Settings, topology: Topology, http: httpx.AsyncClient) -> ODataStock | None:
    """1C's OData, when its address and login are set."""
    odata = settings.onec_odata
    if odata.url is None or not odata.user or odata.password is None:
        return None
    return ODataStock(
        http, base=str(odata.url), user=odata.user, password=odata.password.get_secret_value(),
        register=odata.stock_register, timezone=topology.onec.timezone,
    )  # fmt: skip


def onec_register(settings: Settings, topology: Topology, http: httpx.AsyncClient) -> ODataBalanceSource | None:
    """1C's stock register over OData, when its address and login are set."""
    stock = onec_odata(settings, topology, http)
    return ODataBalanceSource(stock) if stock is not None else None


def onec_prices(settings: Settings, topology: Topology, http: httpx.AsyncClient) -> ODataPriceSource | None:
    """1C's price register over OData, pulled with the stock, unless its name is set empty."""
    stock, register = onec_odata(settings, topology, http), settings.onec_odata.price_register.strip()
    return ODataPriceSource(ODataPrices(stock, register=register)) if stock is not None and register else None


def cdek_carrier(settings: Settings, http: httpx.AsyncClient) -> CdekCarrier | None:
    """CDEK as the carrier when its account is set (the settings then hold the shop's sender name and phone)."""
    keys = settings.carrier
    if not keys.enabled or keys.cdek_client_id is None or keys.cdek_client_secret is None:
        return None
    client = CdekClient(
        http, base=str(keys.cdek_api_base), client_id=keys.cdek_client_id,
        client_secret=keys.cdek_client_secret.get_secret_value(),
    )  # fmt: skip
    return CdekCarrier(
        client, sender_name=keys.sender_name or "", sender_phone=keys.sender_phone or "",
        shipment_point=keys.shipment_point,
    )  # fmt: skip


def channel_clients(settings: Settings, topology: Topology, http: httpx.AsyncClient) -> dict[str, ChannelClient]:
    """A client for each channel whose credentials are set and whose ids the topology gives."""
    keys = settings.channels
    found: dict[str, ChannelClient] = {}
    for name, channel in topology.channels.items():
        if channel.kind == "wildberries" and keys.wb_token and channel.warehouse_id is not None:
            found[name] = WildberriesClient(
                http, token=keys.wb_token.get_secret_value(), marketplace_base=str(keys.wb_api_base),
                content_base=str(keys.wb_content_api_base), prices_base=str(keys.wb_prices_api_base),
                warehouse_id=int(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "ozon" and keys.ozon_client_id and keys.ozon_api_key and channel.warehouse_id is not None:
            found[name] = OzonClient(
                http, client_id=keys.ozon_client_id, api_key=keys.ozon_api_key.get_secret_value(),
                base=str(keys.ozon_api_base), warehouse_id=int(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "site" and keys.site_api_base and keys.site_api_token:
            found[name] = SiteClient(
                http, base=str(keys.site_api_base), token=keys.site_api_token.get_secret_value(), name=name
            )
        elif channel.kind == "retailcrm" and keys.retailcrm_api_base and keys.retailcrm_api_key and keys.retailcrm_site:
            if channel.warehouse_id is None:
                continue  # the RetailCRM store code goes in the channel's warehouse_id
            found[name] = RetailCrmClient(
                http, base=str(keys.retailcrm_api_base), api_key=keys.retailcrm_api_key.get_secret_value(),
                site=keys.retailcrm_site, store_code=str(channel.warehouse_id), name=name,
            )  # fmt: skip
        elif channel.kind == "yandex_market" and keys.ym_api_key and channel.campaign_id is not None:
            found[name] = YandexMarketClient(
                http, api_key=keys.ym_api_key.get_secret_value(), base=str(keys.ym_api_base),
                campaign_id=channel.campaign_id, name=name,
            )  # fmt: skip
    return found
