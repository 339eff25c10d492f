"""The scheduler's jobs, one line each (APScheduler 3, in-memory job store: anything that must
survive a restart is a row in our own tables, not a job)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.bootstrap import Services
from workflows.channels import LearnsProducts
from workflows.leases import RENEW_EVERY


def build_scheduler(services: Services) -> AsyncIOScheduler:
    shop, chats = services.shop, services.chats
    scheduler = AsyncIOScheduler(timezone=UTC)
    every = {"max_instances": 1, "coalesce": True, "next_run_time": datetime.now(UTC)}  # first run at start
    renew_every = RENEW_EVERY.total_seconds()  # the heartbeat, and the leases of work under way renewed
    scheduler.add_job(services.leases.renew, "interval", seconds=renew_every, id="leases", **every)
    interval = services.settings.business.deadline_pump_interval_s
    scheduler.add_job(shop.pump.run_once, "interval", seconds=interval, id="deadlines", **every)
    if chats.slack_delivery is not None:
        scheduler.add_job(chats.slack_delivery.run_once, "interval", seconds=1, id="slack-delivery", **every)
    if chats.telegram_delivery is not None:
        # a run ends within its interval and never waits for another (see bot.telegram.delivery)
        delivery = chats.telegram_delivery
        scheduler.add_job(delivery.scheduled, "interval", seconds=delivery.interval_s, id="telegram-delivery", **every)
    business = services.settings.business
    scheduler.add_job(shop.fx.check_due, "interval", seconds=business.fx_check_interval_s, id="fx", **every)
    _add_money_jobs(scheduler, services, every)
    scheduler.add_job(shop.operations.watch_onec, "interval", seconds=60, id="onec-watch", **every)
    for name, client in shop.channels.items():
        if isinstance(client, LearnsProducts):  # new cards and sizes: the channel's ids for them
            scheduler.add_job(client.learn_products, "interval", hours=1, id=f"cards-{name}", **every)
    if shop.onec_pull is not None:  # 1C's register as the full truth
        interval_s = services.settings.onec_odata.interval_s
        scheduler.add_job(shop.onec_pull.run, "interval", seconds=interval_s, id="onec-pull", **every)
    if chats.telegram_report is not None:  # yesterday's report to the owner; sent once across instances
        hour, minute = business.report_at
        daily = {"hour": hour, "minute": minute, "timezone": ZoneInfo(shop.topology.onec.timezone)}
        scheduler.add_job(chats.telegram_report.send_scheduled, "cron", **daily, id="daily-report",
                          max_instances=1, coalesce=True, misfire_grace_time=6 * 3600)  # fmt: skip
    for upkeep in shop.upkeep:
        scheduler.add_job(upkeep.pull_orders, "interval", seconds=60, id=f"orders-{upkeep.name}", **every)
        later = {"max_instances": 1, "coalesce": True}  # not at start: a full read of the channel is heavy
        # the channel's stock, then its prices when it sells at one of 1C's price types (workflows.price_upkeep)
        scheduler.add_job(upkeep.reconcile, "interval", hours=6, id=f"reconcile-{upkeep.name}", **later)
        scheduler.add_job(upkeep.reconcile_if_asked, "interval", seconds=30, id=f"sync-asked-{upkeep.name}", **every)
    events_s = services.settings.channels.order_events_interval_s
    for feed in shop.order_feeds:  # cancellations, deliveries, returns
        scheduler.add_job(feed.pull, "interval", seconds=events_s, id=f"order-events-{feed.name}", **every)
    for fulfilment in shop.fulfilment:  # marketplace orders told ready to ship or cancelled; unfillable ones asked
        scheduler.add_job(fulfilment.run_once, "interval", seconds=60, id=f"fulfilment-{fulfilment.name}", **every)
    if shop.shipping is not None:  # allocated, paid orders to CDEK, and CDEK's verdicts
        interval_s = services.settings.carrier.interval_s
        scheduler.add_job(shop.shipping.run_once, "interval", seconds=interval_s, id="shipping", **every)
    if shop.crm is not None:  # our orders to RetailCRM, its managers' status changes back
        interval_s = services.settings.channels.retailcrm_orders_interval_s
        scheduler.add_job(shop.crm.push_changed, "interval", seconds=interval_s, id="crm-orders", **every)
        scheduler.add_job(shop.crm.pull_statuses, "interval", seconds=interval_s, id="crm-statuses", **every)
    if shop.kits is not None:  # a kit's composition changing (a promotion) changes what the channels may sell
        scheduler.add_job(shop.kits.run_once, "interval", seconds=60, id="kits", **every)
    for dispatcher in shop.dispatchers:  # each channel drains its outbox every second (and when kicked)
        scheduler.add_job(dispatcher.scheduled, "interval", seconds=1, id=f"sync-{dispatcher.name}", **every)
    for prices in shop.price_dispatchers:  # and its prices, if it sells at one of 1C's price types
        scheduler.add_job(prices.scheduled, "interval", seconds=1, id=f"prices-{prices.name}", **every)
    return scheduler


def _add_money_jobs(scheduler: AsyncIOScheduler, services: Services, every: dict[str, Any]) -> None:
    """Clients' money and payments: postponed payouts, the purchase watch, stuck payments, top-ups at the gateway."""
    shop, gateway_s = services.shop, services.settings.payment_gateway.interval_s
    if shop.money is not None:  # postponed payments out whose new date came: drawn, or asked about again
        scheduler.add_job(shop.money.retry_postponed, "interval", seconds=300, id="money-postponed", **every)
    if shop.purchase_watch is not None:  # cleared client money with no purchase started: the managers asked
        scheduler.add_job(shop.purchase_watch.run_once, "interval", seconds=300, id="money-purchase-watch", **every)
    if shop.payment_watch is not None:  # stuck payments asked about at the gateway (read only), under leases
        scheduler.add_job(shop.payment_watch.run_once, "interval", seconds=gateway_s, id="payment-watch", **every)
    if shop.topup_checkout is not None:  # clients' top-ups created at the gateway, once per payment id, under leases
        scheduler.add_job(shop.topup_checkout.run_once, "interval", seconds=gateway_s, id="topup-checkout", **every)
