"""The shop's workflows, assembled from their ports: the one place that knows which business object needs
which. The composition root (``app/bootstrap.py``) calls :func:`assemble` with SQL storage and the real
outside clients; tests call it with the in-memory twin, fakes of the outside systems and a fake clock, so
what they test is wired exactly as production wires it.

Nothing here connects to anything or reads settings: the business rules come in as :class:`Rules`, the
outside systems as :class:`Outside` (each one optional: a shop without a carrier ships nothing by CDEK),
and how this process takes part in a cluster as :class:`Instance`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from workflows.alerts import AlertDesk
from workflows.boxes import BoxDesk
from workflows.carrier import Carrier
from workflows.catalogue import OneCCatalogue
from workflows.channel_upkeep import ChannelUpkeep
from workflows.channels import ChannelClient, ReportsOrderEvents, SetsPrices
from workflows.client_money import ClientMoney
from workflows.crm import CrmOrderBook
from workflows.crm_orders import DEFAULT_CANCEL_STATUSES, CrmOrderSync
from workflows.customs import CustomsPlans
from workflows.daily_report import DailyReports, DayRecords
from workflows.fraud_check import FraudCheck
from workflows.fulfilment import Fulfilment, fulfils
from workflows.fx import FxWatch, RatesFeed
from workflows.gateway_notices import GatewayNotices
from workflows.leases import HeldLeases
from workflows.ledger import Ledger
from workflows.office import Answer, OfficeDesk
from workflows.onec_intake import StockIntake
from workflows.onec_pull import BalanceSource, OneCPull, PriceSource
from workflows.operations import Operations
from workflows.order_events import OrderFeed
from workflows.orders import OrderDesk
from workflows.payment_gateway import NoticeConfirmations, PaymentCheckout, PaymentGateway
from workflows.payment_watch import PaymentStatusWatch
from workflows.payments import PaymentDesk
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.price_guard import PriceGuard
from workflows.price_upkeep import PriceUpkeep
from workflows.prices import PriceIntake
from workflows.purchase_watch import PurchaseWatch
from workflows.returns import Returns
from workflows.shipping import ShippingDesk
from workflows.store_confirmation import StoreCascade
from workflows.sync import KitRefresh, PriceDispatcher, SyncDispatcher, SyncObserver, SyncOutbox
from workflows.tasks import DeadlineKind, DeadlinePump, TaskBoard
from workflows.topology import Topology
from workflows.topup_checkout import TopupCheckout
from workflows.unfillable import UnfillableDesk
from workflows.vocabulary import TaskKind


@dataclass(frozen=True)
class Rules:
    """The business knobs (settings in production)."""

    store_confirmation_timeout: timedelta = timedelta(minutes=20)
    fx_deviation_threshold: Decimal = Decimal("0.02")
    fraud_amount_threshold_rub: Decimal = Decimal(100_000)
    onec_silence: timedelta = timedelta(minutes=30)
    parcel_weight_g: int = 500  # a parcel's weight when the order names none
    carrier_poll_after: timedelta = timedelta(seconds=30)
    onec_future_tolerance: timedelta = timedelta(minutes=10)  # how far ahead of our clock 1C's figures may be dated
    unfillable_decision: timedelta = timedelta(hours=4)  # the managers' time to decide on an unfillable order
    unfillable_ship_by_margin: timedelta = timedelta(hours=2)  # ...ending at the latest this long before ship-by
    unfillable_wait: timedelta = timedelta(days=1)  # ``wait`` with no date named asks again this much later
    returns_sellable_at_once: bool = False  # a sellable return is stock at once, not when 1C's next figure counts it
    crm_cancel_statuses: frozenset[str] = DEFAULT_CANCEL_STATUSES  # the CRM's statuses that cancel our order
    price_drop_approval: Decimal = Decimal("0.2")  # a channel price falling more than this share waits for a manager
    price_approval: timedelta = timedelta(hours=4)  # the managers' time to decide on held prices, then the owner's
    payment_poll_after: timedelta = timedelta(minutes=15)  # a payment's phase standing still this long: ask the gateway
    payment_task_after: timedelta = timedelta(hours=2)  # ...and unknown this long: the managers are asked to look
    money_decision: timedelta = timedelta(hours=4)  # the managers' time to decide on an earmark's shortfall
    money_postpone: timedelta = timedelta(days=1)  # ``postpone`` looks at a short payout again this much later
    money_purchase_watch: timedelta = timedelta(days=1)  # cleared money with no goods payout this long: ask

    @property
    def money_times(self) -> tuple[timedelta, timedelta]:
        """The money desk's time to decide and what ``postpone`` puts off."""
        return self.money_decision, self.money_postpone


@dataclass(frozen=True)
class Outside:
    """The outside systems the workflows reach, through their ports."""

    rates: RatesFeed  # the Central Bank's sheet
    channels: Mapping[str, ChannelClient] = field(default_factory=dict)  # by channel name
    carrier: Carrier | None = None
    onec_register: BalanceSource | None = None  # 1C's stock register, pulled as the full truth
    onec_prices: PriceSource | None = None  # 1C's price register, pulled with it
    day_records: DayRecords | None = None  # what the owner's daily report reads
    crm: CrmOrderBook | None = None  # the managers' CRM: our orders in, their status changes out
    payment_gateway: PaymentGateway | None = None  # read only: a stuck payment's status
    payment_checkout: PaymentCheckout | None = None  # creates clients' top-ups at the gateway, once per payment id
    topup_return_url: Callable[[int], str] | None = None  # where the gateway sends the client back: their page
    payment_notices: NoticeConfirmations | None = None  # the gateway's own notices confirmed by reading it


@dataclass(frozen=True)
class Instance:
    """How this process takes part: its name on leases (``<instance>/<incarnation>``), the leases it holds while
    their work runs (renewed by the app's :class:`~workflows.leases.LeaseKeeper`), and how many deadline chunks it
    fires at once (several on PostgreSQL; SQLite has one writer)."""

    owner: str = "storeops"
    deadline_concurrency: int = 1
    sync_observer: SyncObserver | None = None  # sees every push (the metrics)
    held: HeldLeases = field(default_factory=HeldLeases)


@dataclass
class Shop:
    uow: UnitOfWorkFactory
    clock: Clock
    topology: Topology
    ledger: Ledger
    tasks: TaskBoard
    alerts: AlertDesk
    cascade: StoreCascade
    orders: OrderDesk
    operations: Operations
    intake: StockIntake
    fraud: FraudCheck
    fx: FxWatch
    payments: PaymentDesk
    office: OfficeDesk
    pump: DeadlinePump
    returns: Returns
    channels: Mapping[str, ChannelClient] = field(default_factory=dict)
    dispatchers: list[SyncDispatcher] = field(default_factory=list)
    upkeep: list[ChannelUpkeep] = field(default_factory=list)
    order_feeds: list[OrderFeed] = field(default_factory=list)  # channels that say what became of their orders
    shipping: ShippingDesk | None = None
    onec_pull: OneCPull | None = None
    reports: DailyReports | None = None
    unfillable: UnfillableDesk | None = None  # the managers' question about marketplace orders nobody can fill
    fulfilment: list[Fulfilment] = field(default_factory=list)  # marketplaces told when their orders may ship
    crm: CrmOrderSync | None = None
    catalogue: OneCCatalogue | None = None  # 1C's catalogue: its products' articles and sizes
    kits: KitRefresh | None = None  # kits' values queued when a composition changes (a promotion)
    prices: PriceIntake | None = None  # 1C's prices to the channels that sell at a price type
    price_guard: PriceGuard | None = None  # big drops wait for the managers
    price_dispatchers: list[PriceDispatcher] = field(default_factory=list)  # one per channel that takes prices
    payment_watch: PaymentStatusWatch | None = None  # stuck payments asked about at the gateway
    topup_checkout: TopupCheckout | None = None  # clients' top-ups created at the gateway for them to pay
    gateway_notices: GatewayNotices | None = None  # the gateway's own notices, checked there, as payment events
    instance: Instance = field(default_factory=Instance)  # this process's name on leases, and the leases it holds
    money: ClientMoney | None = None  # clients' virtual accounts per order, earmarks and payouts
    boxes: BoxDesk | None = None  # a purchase's boxes, their scans, and the stock and money each step moves
    purchase_watch: PurchaseWatch | None = None  # cleared client money with no purchase started

    def wake_dispatchers(self) -> None:
        """Something changed stock: every channel's dispatcher sends now instead of at its next tick."""
        for dispatcher in self.dispatchers:
            dispatcher.kick()

    def wake_price_dispatchers(self) -> None:
        """Prices were queued or released: send them now rather than at the next tick."""
        for dispatcher in self.price_dispatchers:
            dispatcher.kick()

    async def close(self) -> None:
        for dispatcher in [*self.dispatchers, *self.price_dispatchers]:
            await dispatcher.close()


def assemble(
    uow: UnitOfWorkFactory, topology: Topology, clock: Clock, outside: Outside,
    rules: Rules = Rules(), instance: Instance = Instance(),
) -> Shop:  # fmt: skip
    """Every workflow of the shop on these ports; the sync outbox and the dispatchers' wake-up are
    registered on ``uow``'s commit hooks."""
    ledger, board = Ledger(uow, topology, clock), TaskBoard(uow, clock)
    alerts = AlertDesk(clock, board)
    cascade = StoreCascade(topology, clock, board, ledger, rules.store_confirmation_timeout, alerts)
    orders = OrderDesk(uow, topology, clock, ledger, cascade)
    operations = Operations(uow, clock, topology, alerts, rules.onec_silence)
    fraud = FraudCheck(clock, board, alerts, orders)
    fx = FxWatch(uow, clock, board, alerts, outside.rates, rules.fx_deviation_threshold)
    unfillable = UnfillableDesk(
        uow, clock, board, alerts, orders, decide_within=rules.unfillable_decision,
        ship_by_margin=rules.unfillable_ship_by_margin, wait_for=rules.unfillable_wait,
    )  # fmt: skip
    returns = Returns(uow, topology, clock, board, alerts, sellable_at_once=rules.returns_sellable_at_once)
    guard = PriceGuard(clock, board, alerts, decide_within=rules.price_approval)
    money, purchase = _money_desks(uow, clock, board, alerts, topology, rules)
    desk = PaymentDesk(uow, clock, fraud, fx, rules.fraud_amount_threshold_rub, money)
    watch = _payment_watch(uow, clock, board, desk, outside, rules, instance)
    answers = _answers(fraud, fx, alerts, unfillable, returns, guard, money, purchase, watch)
    shop = Shop(
        uow, clock, topology, ledger, board, alerts, cascade, orders, operations,
        StockIntake(uow, topology, ledger, operations, clock, rules.onec_future_tolerance), fraud, fx,
        desk, OfficeDesk(uow, answers),
        _pump(uow, clock, cascade, fraud, fx, alerts, unfillable, returns, guard, money, instance, watch, purchase),
        returns, channels=dict(outside.channels), unfillable=unfillable, price_guard=guard, instance=instance,
        payment_watch=watch, money=money, purchase_watch=purchase,
        boxes=BoxDesk(uow, clock, ledger, topology.moscow_warehouse()),
    )  # fmt: skip
    shop.catalogue = OneCCatalogue(uow, topology, ledger, operations, clock)
    shop.prices = PriceIntake(uow, topology, ledger, clock, guard, drop_approval=rules.price_drop_approval)
    _connect_channels(shop, instance)
    held, owner, threshold = instance.held, instance.owner, rules.fraud_amount_threshold_rub
    shop.fulfilment = [
        Fulfilment(uow, clock, client, alerts, unfillable, threshold, channel=name, owner=owner, held=held)
        for name, channel in shop.channels.items()
        if (client := fulfils(channel)) is not None
    ]
    _connect_outside(shop, outside, rules, instance)
    return shop


def _connect_outside(shop: Shop, outside: Outside, rules: Rules, instance: Instance) -> None:
    """The workflows that exist only when their outside system is configured: the gateway's checkout, the
    carrier, 1C's register, the daily report's records, the CRM."""
    uow, clock, topology, alerts = shop.uow, shop.clock, shop.topology, shop.alerts
    if outside.payment_checkout is not None and outside.topup_return_url is not None:
        shop.topup_checkout = TopupCheckout(
            uow, clock, outside.payment_checkout, outside.topup_return_url, owner=instance.owner, held=instance.held
        )
    if outside.payment_notices is not None:
        shop.gateway_notices = GatewayNotices(uow, outside.payment_notices, shop.payments)
    if outside.carrier is not None:
        shop.shipping = ShippingDesk(
            uow, clock, outside.carrier, alerts, rules.fraud_amount_threshold_rub, owner=instance.owner,
            default_weight_g=rules.parcel_weight_g, poll_after=rules.carrier_poll_after, held=instance.held,
        )  # fmt: skip
    if outside.onec_register is not None:
        shop.onec_pull = OneCPull(
            uow, clock, shop.intake, alerts, outside.onec_register, prices=outside.onec_prices,
            price_intake=shop.prices,
        )  # fmt: skip
    if outside.day_records is not None:
        shop.reports = DailyReports(outside.day_records, uow, topology, clock)
    if outside.crm is not None:
        own = [name for name, channel in topology.channels.items() if channel.kind == "retailcrm"]  # came from it
        shop.crm = CrmOrderSync(
            uow,
            clock,
            outside.crm,
            shop.orders,
            cancel_statuses=rules.crm_cancel_statuses,
            own_channels=own,
            owner=instance.owner,
        )


def _money_desks(
    uow: UnitOfWorkFactory, clock: Clock, board: TaskBoard, alerts: AlertDesk, topology: Topology, rules: Rules
) -> tuple[ClientMoney, PurchaseWatch]:
    """The clients' money desk, with the customs plans its full-clearance orders get, and the watch over cleared
    money with no purchase started."""
    customs = CustomsPlans(uow, clock, board, alerts, topology.customs)
    money = ClientMoney(uow, clock, board, alerts, topology.estimates, *rules.money_times, customs=customs,
                        purchase_watch=rules.money_purchase_watch)  # fmt: skip
    return money, PurchaseWatch(uow, clock, board, alerts, *rules.money_times)


def _answers(
    fraud: FraudCheck, fx: FxWatch, alerts: AlertDesk, unfillable: UnfillableDesk, returns: Returns,
    guard: PriceGuard, money: ClientMoney, purchase: PurchaseWatch, watch: PaymentStatusWatch | None,
) -> dict[TaskKind, Answer]:  # fmt: skip
    """Which desk answers each kind of office task (a stuck payment's, when a gateway's status can be read)."""
    answers: dict[TaskKind, Answer] = {
        TaskKind.FRAUD_CHECK: fraud.answer, TaskKind.FX_APPROVAL: fx.answer, TaskKind.ALERT: alerts.answer,
        TaskKind.UNFILLABLE_ORDER: unfillable.answer, TaskKind.RETURN_RECEIPT: returns.answer_in_office,
        TaskKind.PRICE_APPROVAL: guard.answer, TaskKind.EARMARK_SHORTFALL: money.answer,
        **({TaskKind.CUSTOMS_DOCUMENTS: money.customs.tick} if money.customs is not None else {}),
        TaskKind.PURCHASE_NOT_STARTED: purchase.answer, TaskKind.REFUND_SHORTFALL: money.refunds.answer,
    }  # fmt: skip
    if watch is not None:
        answers[TaskKind.PAYMENT_UNKNOWN] = watch.answer
    return answers


def _pump(
    uow: UnitOfWorkFactory, clock: Clock, cascade: StoreCascade, fraud: FraudCheck, fx: FxWatch, alerts: AlertDesk,
    unfillable: UnfillableDesk, returns: Returns, guard: PriceGuard, money: ClientMoney, instance: Instance,
    watch: PaymentStatusWatch | None = None, purchase: PurchaseWatch | None = None,
) -> DeadlinePump:  # fmt: skip
    """The deadline pump with each kind of task's handlers."""
    handlers = {
        (TaskKind.STORE_CONFIRMATION, DeadlineKind.EXPIRE): cascade.on_timeout,
        (TaskKind.STORE_CONFIRMATION, DeadlineKind.REMIND): cascade.on_reminder,
        (TaskKind.FRAUD_CHECK, DeadlineKind.EXPIRE): fraud.on_timeout,
        (TaskKind.FX_APPROVAL, DeadlineKind.EXPIRE): fx.on_timeout,
        (TaskKind.ALERT, DeadlineKind.EXPIRE): alerts.on_timeout,
        (TaskKind.UNFILLABLE_ORDER, DeadlineKind.EXPIRE): unfillable.on_timeout,
        (TaskKind.RETURN_RECEIPT, DeadlineKind.EXPIRE): returns.on_timeout,
        (TaskKind.PRICE_APPROVAL, DeadlineKind.EXPIRE): guard.on_timeout,
        (TaskKind.EARMARK_SHORTFALL, DeadlineKind.EXPIRE): money.on_timeout,
        (TaskKind.REFUND_SHORTFALL, DeadlineKind.EXPIRE): money.refunds.on_timeout,
    }
    if money.customs is not None:
        for kind in (TaskKind.CUSTOMS_DOCUMENTS, TaskKind.CUSTOMS_PAYMENT):
            handlers[(kind, DeadlineKind.EXPIRE)] = money.customs.on_timeout
            handlers[(kind, DeadlineKind.REMIND)] = money.customs.on_reminder
    if purchase is not None:
        handlers[(TaskKind.PURCHASE_NOT_STARTED, DeadlineKind.EXPIRE)] = purchase.on_timeout
    if watch is not None:
        handlers[(TaskKind.PAYMENT_UNKNOWN, DeadlineKind.EXPIRE)] = watch.on_timeout
    return DeadlinePump(
        uow, clock, handlers, owner=instance.owner, concurrency=instance.deadline_concurrency,
        lock_keys={TaskKind.STORE_CONFIRMATION: cascade.lock_key}, held=instance.held,
    )  # fmt: skip


def _payment_watch(
    uow: UnitOfWorkFactory, clock: Clock, board: TaskBoard, desk: PaymentDesk, outside: Outside, rules: Rules,
    instance: Instance,
) -> PaymentStatusWatch | None:  # fmt: skip
    """The watch over stuck payments, when a gateway's status can be read."""
    if outside.payment_gateway is None:
        return None
    return PaymentStatusWatch(
        uow, clock, outside.payment_gateway, desk, board, owner=instance.owner, poll_after=rules.payment_poll_after,
        task_after=rules.payment_task_after, held=instance.held,
    )  # fmt: skip


def _price_upkeep(shop: Shop, name: str, client: ChannelClient) -> PriceUpkeep | None:
    """A channel's price reconciliation, when its client sets prices and it sells at one of 1C's price types."""
    channel = shop.topology.channels.get(name)
    if not isinstance(client, SetsPrices) or channel is None or not channel.price_type:
        return None
    return PriceUpkeep(shop.uow, shop.clock, client, shop.alerts, name=name)


def _connect_channels(shop: Shop, instance: Instance) -> None:
    """Each channel gets its dispatcher and its upkeep, and its order feed when its client reports what became of
    its orders; a stock commit queues the channels' pushes in the same transaction and wakes the dispatchers once
    it is committed."""
    uow, clock = shop.uow, shop.clock
    shop.upkeep = [
        ChannelUpkeep(uow, clock, shop.topology, c, shop.orders, _price_upkeep(shop, name, c))
        for name, c in shop.channels.items()
    ]
    shop.order_feeds = [
        OrderFeed(uow, clock, c, shop.orders, channel=c.name, returns=shop.returns)
        for c in shop.channels.values()
        if isinstance(c, ReportsOrderEvents)
    ]
    observer = instance.sync_observer
    shop.dispatchers = [
        SyncDispatcher(
            uow, clock, c, shop.alerts, shop.operations, owner=instance.owner, observer=observer, held=instance.held
        )
        for c in shop.channels.values()
    ]
    shop.price_dispatchers = [
        PriceDispatcher(uow, clock, c, shop.alerts, shop.operations, owner=instance.owner, held=instance.held)
        for name, c in shop.channels.items()
        if isinstance(c, SetsPrices) and (channel := shop.topology.channels.get(name)) and channel.price_type
    ]
    uow.hooks.before.append(SyncOutbox(shop.topology, clock, shop.channels).before_commit)
    if shop.topology.kits:
        shop.kits = KitRefresh(uow, shop.topology, clock, shop.ledger, shop.channels)
    if shop.dispatchers:
        uow.hooks.after.append(shop.wake_dispatchers)
