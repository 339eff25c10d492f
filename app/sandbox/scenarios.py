"""The console's scenario buttons. Each acts only from outside, the way the real world would: an order appears in
a marketplace's emulator or arrives over our HTTP API, a channel's emulator starts failing, the CBR emulator
quotes a new rate, 1C stops answering. The service reacts through its production code; the summary says what
to look at."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.sandbox.catalogue import OZON_WAREHOUSE, RETAIL, STORES, WB_WAREHOUSE, article
from app.sandbox.price_drop import MARKED_DOWN, SLIPPED, narration, slipped_prices
from app.sandbox.shop import SandboxShop
from bot.wording import money
from emulators.slack.interactivity import block_action, buttons, deliver
from storage.read_models import recent_order_ids
from workflows.model import Order
from workflows.offer_ids import offer_id_for

IRON, STORE_ONLY, FRIDGE, WATCHED = "IRON-PH-7000", "КР-7/2", "FRIDGE-LG-509", "BLENDER-3"
TV = "TV-LG-55"
SOLD_OUT, VASE = "RUN-45", "VASE-MT-1"
MANAGER = 1002  # Мария: the manager who answers in the scenarios
# a phase of ours as YooKassa's status says it (docs/payments.md): what the gateway shows once it told us
GATEWAY_STATUS = {"authorized": "waiting_for_capture", "cleared": "succeeded", "failed": "canceled"}
BY_BOT_WITHIN_S = 15.0  # how long a scenario waits for the bot's own polling to take a person's message


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str


SCENARIOS = (
    Scenario("last_iron", "Последний утюг на пяти каналах сразу",
             "Один утюг, пять покупателей в одну секунду: сайт, Wildberries, Ozon, Маркет и RetailCRM."),
    Scenario("silent_store", "Магазин не отвечает",
             "Заказ на товар, который есть только в магазинах; первый магазин молчит 20 минут."),
    Scenario("wb_down", "Wildberries лежит 10 минут",
             "WB отвечает 503; остаток меняется в 1С; через 10 минут WB возвращается."),
    Scenario("yuan_jump", "Юань вырос на 4 %",
             "Заказ с оплатой поставщику в юанях; курс ЦБ растёт на 4 % к сроку платежа."),
    Scenario("big_new_client", "Новый клиент на 500 000 ₽",
             "Новый клиент заказывает 5 холодильников и оплачивает: нужна проверка звонком."),
    Scenario("ozon_cancel", "Покупатель отменил заказ на Ozon",
             "Заказ с Ozon резервирует телевизор; покупатель отменяет его в Ozon — резерв снят, другие каналы "
             "получают остаток обратно."),
    Scenario("wb_unfillable", "Товара нет нигде: менеджер отменяет заказ на Wildberries",
             "Заказ с Wildberries на кроссовки, которых нет ни на складе, ни в магазинах; менеджеры получают вопрос в "
             "Telegram, Мария нажимает «Отменить» — заказ отменён у нас и на WB."),
    Scenario("store_return", "Возврат пришёл в магазин",
             "Вазу из магазина «Митино» купили на сайте; менеджер оформляет возврат командой /return, магазин в "
             "Slack отвечает «годен» — товар ждём в остатке."),
    Scenario("price_drop", "В 1С ошиблись в цене: −60 %",
             "1С выгружает розничные цены: три товара на 60 % дешевле (ошибка), блендер на 10 % (обычная уценка). "
             "Уценка уходит на каналы сразу; большие падения ждут: менеджерам один вопрос в Telegram — выгрузить "
             "новые цены или оставить старые."),
    Scenario("tir_before_logistics", "Счёт за TIR раньше оплаты логистики",
             "Клиент оплатил только товар (600 000 ₽); перевозчик выставляет счёт за TIR — 12 000 €. Из резерва на "
             "товар его не берут: менеджерам вопрос в Telegram — запросить доплату, взять на себя или отложить."),
    Scenario("client_journey", "Заказ клиента: от оплаты до фулфилмента",
             "Клиент оплачивает заказ из Китая целиком; деньги разложены по резервам. Закупка у поставщика, три "
             "коробки со штрихкодами едут в Москву и на Wildberries; на каждом шаге скан коробки списывает или "
             "принимает товар и расходует свой резерв, платежи перевозчику, таможне, складу и маркетплейсу берутся "
             "каждый из своего резерва."),
    Scenario("onec_silent", "1С замолчала", "1С перестаёт отвечать; через 30 минут владелец получает тревогу."),
    Scenario("onec_back", "1С вернулась", "1С снова отвечает: остатки сверены, владелец получает сообщение."),
)  # fmt: skip


class ScenarioError(Exception):
    """A scenario cannot run as asked (the reason is for the console)."""


Timer = tuple[datetime, Callable[[], Awaitable[None]]]


class Scenarios:
    def __init__(self, sandbox: SandboxShop) -> None:
        self.sandbox = sandbox
        self.timers: list[Timer] = []
        self._numbers = itertools.count(1)
        self._runs: dict[str, Callable[[], Awaitable[str]]] = {
            "last_iron": self.last_iron, "silent_store": self.silent_store, "wb_down": self.wb_down,
            "yuan_jump": self.yuan_jump, "big_new_client": self.big_new_client, "onec_silent": self.onec_silent,
            "onec_back": self.onec_back, "ozon_cancel": self.ozon_cancel,
            "wb_unfillable": self.wb_unfillable, "store_return": self.store_return, "price_drop": self.price_drop,
            "tir_before_logistics": self.tir_before_logistics, "client_journey": self.client_journey,
        }  # fmt: skip

    async def run(self, name: str) -> str:
        scenario = self._runs.get(name)
        if scenario is None:
            raise ScenarioError(f"no scenario {name!r} (known: {', '.join(self._runs)})")
        summary = await scenario()
        await self.sandbox.deliver()  # what it asked of people is in the chats when the console hears back
        return summary

    async def fire_due(self) -> int:
        """Run the timed steps whose moment came on the sandbox clock."""
        now = self.sandbox.clock.now()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, step in due:
            await step()
        return len(due)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _ref(self, prefix: str) -> str:
        return f"{prefix}-{next(self._numbers)}-{uuid.uuid4().hex[:4]}"

    async def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Our own HTTP API, as the site or a payment gateway calls it."""
        sandbox = self.sandbox
        headers = {"Authorization": f"Bearer {sandbox.api_token}"}
        response = await sandbox.http.request(method, f"{sandbox.url}{path}", json=body, headers=headers)
        if response.status_code >= 400:
            raise ScenarioError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        answer: dict[str, Any] = response.json()
        return answer

    async def _order(self, channel: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
        body = {"channel": channel, "external_id": self._ref(channel.upper()[:4]),
                "lines": [{"sku": sku, "qty": qty} for sku, qty in lines], **extra}  # fmt: skip
        return await self._api("POST", "/api/orders", body)

    async def _pay(self, order_id: int, amount: Decimal, *phases: str) -> None:
        """The client pays at the checkout: the payment is made at the gateway (YooKassa's emulator), which then
        tells us each step of it as its notices do; the payment watch reading it there finds the same."""
        key = self._ref("PAY")
        gateway = self.sandbox.emulators.yookassa
        payment = gateway.create(str(amount), key=key, metadata={"order_id": str(order_id)})
        for phase in phases:
            if phase in GATEWAY_STATUS:
                gateway.set_status(payment, GATEWAY_STATUS[phase])
            await self._api("POST", "/api/payments/events", {
                "event_id": self._ref("EV"), "payment_id": payment, "order_id": order_id,
                "idempotency_key": key, "phase": phase, "amount": str(amount), "currency": "RUB",
            })  # fmt: skip

    def _offer(self, channel: str, sku: str) -> str:
        return offer_id_for(sku, self.sandbox.topology.channels[channel].offer_id)

    # -- the scenarios -------------------------------------------------------------------------------------------

    async def last_iron(self) -> str:
        sandbox, e = self.sandbox, self.sandbox.emulators
        free = (await sandbox.services.shop.ledger.stock(IRON)).available
        number = next(self._numbers)
        e.wildberries.add_order(sandbox.wb_chrt[IRON], warehouse_id=WB_WAREHOUSE)
        e.ozon.add_posting(f"{90000000 + number}-0001-1", [(self._offer("ozon", IRON), 1)], warehouse_id=OZON_WAREHOUSE)
        e.yandex_market.add_order(800_000 + number, [(self._offer("yandex_market", IRON), 1)])
        e.site.add_order(f"S-{number}", [(IRON, 1)])
        before = await self._iron_lines()
        pulls = [u.pull_orders() for u in sandbox.services.shop.upkeep]
        phone = self._order("retailcrm", [(IRON, 1)], customer={"name": "Звонок в магазин", "phone": "+79990000001"})
        await asyncio.gather(phone, *pulls)
        sold, refused = await self._iron_lines(before)
        return (f"Утюг: свободно было {free}. Пять заказов пришли одновременно: продано {sold}, "
                f"отказано {refused} (нет в наличии). Все каналы теперь показывают 0.")  # fmt: skip

    async def _iron_lines(self, before: tuple[int, int] = (0, 0)) -> tuple[int, int]:
        services = self.sandbox.services
        sold = refused = 0
        for order_id in await recent_order_ids(services.database, 200):
            order = await services.shop.orders.get(order_id)
            for line in order.lines:
                if line.sku == IRON:
                    sold += line.status.value in ("reserved", "awaiting_store_confirmation", "confirmed")
                    refused += line.status.value == "out_of_stock"
        return sold - before[0], refused - before[1]

    async def silent_store(self) -> str:
        sandbox = self.sandbox
        answer = await self._order("site", [(STORE_ONLY, 1)], customer={"name": "Ирина", "phone": "+79990000002"})
        line = answer["lines"][0]
        if line["status"] != "awaiting_store_confirmation":
            return f"Заказ {answer['order_id']}: {STORE_ONLY} — {line['status']}; в магазинах его больше нет."
        first = sandbox.topology.warehouse(line["warehouse"])
        await sandbox.deliver()  # the question reaches the store's Slack channel before its time runs out
        await sandbox.advance(sandbox.services.settings.business.store_confirmation_timeout_s + 1)
        order = await sandbox.services.shop.orders.get(int(answer["order_id"]))
        now = order.lines[0].warehouse
        nxt = sandbox.topology.warehouse(now) if now else None
        first_title = first.title if first else line["warehouse"]
        return (f"Заказ {answer['order_id']}: спросили «{first_title}»; 20 минут без ответа — "
                f"спрашиваем «{nxt.title if nxt else now}». Ответьте в его канале Slack.")  # fmt: skip

    async def wb_down(self) -> str:
        sandbox, e = self.sandbox, self.sandbox.emulators
        e.wildberries.fail_with(503)
        key = next(w for w in sandbox.topology.warehouses if w.code == "online").onec_id or "online"
        qty = int((await sandbox.services.shop.ledger.stock(WATCHED)).by_warehouse["online"].on_hand)
        e.onec.set_qty(WATCHED, key, max(qty - 3, 0))
        await sandbox.pull_onec()

        async def back() -> None:
            e.wildberries.recover()

        self.timers.append((sandbox.clock.now() + timedelta(minutes=10), back))
        return (f"Wildberries отвечает 503. В 1С {article(WATCHED).name}: {qty} → {max(qty - 3, 0)}; "
                "изменение ждёт в очереди. Через 10 минут (перемотайте часы) WB вернётся и получит последнее "
                "значение; владелец получит тревогу и сообщение о восстановлении.")  # fmt: skip

    async def yuan_jump(self) -> str:
        sandbox, cbr = self.sandbox, self.sandbox.emulators.cbr
        cbr.set_rate("CNY", Decimal("12.0000"))
        # the scheduled FX run fetches the bank's sheet: the payment is recorded at 12.00 even when the last run,
        # within the two hours a fetched rate stays fresh, saw the 12.48 of a previous run of this scenario
        await sandbox.services.shop.fx.refresh()
        due = sandbox.clock.now() + timedelta(hours=1)
        obligation = {"payee": "Поставщик Гуанчжоу", "currency": "CNY", "amount": "5000", "due_at": due.isoformat()}
        answer = await self._order("site", [("BLENDER-3", 2)], total="6580", obligations=[obligation],
                                   customer={"name": "Постоянный клиент", "phone": "+79990000003"})  # fmt: skip
        await self._pay(int(answer["order_id"]), Decimal("6580"), "authorized", "cleared")
        await sandbox.services.shop.fx.check_due()  # the scheduled FX run records the rate the day it cleared
        cbr.set_rate("CNY", Decimal("12.4800"))
        await sandbox.advance(3600 + 60)
        return (
            f"Заказ {answer['order_id']}: 5 000 CNY поставщику; курс ЦБ при оплате 12,00 ₽, к сроку 12,48 ₽ "
            "(+4 %). Менеджеры получили задачу в Telegram: взять на себя, доплата клиента или отложить."
        )

    async def tir_before_logistics(self) -> str:
        """Clients' money (docs/client_money.md): the carrier's invoice comes before the client paid for logistics."""
        plan = {"goods_rub": "600000", "transport": "tir", "clearance": "full", "weight_kg": "4000",
                "volume_m3": "12", "boxes": 20}  # fmt: skip
        answer = await self._order("site", [(WATCHED, 1)], total="1994400",
                                   customer={"name": "ООО Импорт", "phone": "+79990000077"})  # fmt: skip
        order_id = int(answer["order_id"])
        await self._api("POST", f"/api/orders/{order_id}/money/plan", plan)
        await self._pay(order_id, Decimal("600000"), "authorized", "cleared")
        due = self.sandbox.clock.now() + timedelta(days=2)
        invoice = {"key": self._ref("TIR"), "purpose": "logistics", "payee": "TIR Trans Logistik",
                   "currency": "EUR", "amount": "12000", "due_at": due.isoformat(), "rate": "100"}  # fmt: skip
        await self._api("POST", f"/api/orders/{order_id}/payouts", invoice)
        return (
            f"Заказ {order_id}: клиент оплатил товар (600 000 ₽), в резерве на логистику пусто; счёт перевозчика "
            "12 000 € (1 200 000 ₽) не списан. Менеджеры получили вопрос в Telegram: «Запросить доплату» выставит "
            f"клиенту платёж, счёт оплатится, когда он пройдёт. Деньги заказа: GET /api/orders/{order_id}/money."
        )

    async def client_journey(self) -> str:
        """Clients' money from payment to fulfilment (docs/client_money.md): the client pays the whole estimate; Мария
        confirms the new client by phone and ticks the customs documents in Telegram; the supplier is paid from the
        goods earmark, the purchase's boxes are scanned along the way — each step moving stock and using up its
        earmark — and each payment out (customs before its date) is drawn from its own earmark. The sandbox clock
        moves on between the steps as the days of the real journey would."""
        plan = {"goods_rub": "300000", "transport": "consolidated_truck", "clearance": "full", "weight_kg": "600",
                "volume_m3": "3", "boxes": 3}  # fmt: skip
        answer = await self._order("site", [(WATCHED, 1)], total="300000",
                                   customer={"name": "ООО Восток", "phone": "+79990000078"})  # fmt: skip
        order_id, number = int(answer["order_id"]), str(answer["external_id"])
        account = await self._api("POST", f"/api/orders/{order_id}/money/plan", plan)
        planned = {e["purpose"]: Decimal(e["planned"]) for e in account["earmarks"]}
        await self._pay(order_id, sum(planned.values(), Decimal(0)), "authorized", "cleared")
        pressed = await self._press(number, ":verified")  # the call check of a new client's large order
        ticked = [n for n in range(1, 21) if await self._press(number, f":doc{n}", patience=n == 1)]
        supplier = self._ref("CN")
        await self._payout(order_id, supplier, "goods", "Guangzhou Home Appliances", "CNY", Decimal(25000), "12")
        registered = await self._api("POST", f"/api/orders/{order_id}/purchases/{supplier}/boxes", {
            "key": self._ref("BOXES"), "boxes": [{"contents": [{"sku": WATCHED, "qty": 10}]} for _ in range(3)],
        })  # fmt: skip
        barcodes = [box["barcode"] for box in registered["boxes"]]
        # each step: the days it takes, the payments out it needs first (from the earmark of its service), the status
        steps: tuple[tuple[int, tuple[tuple[str, str, str, str], ...], str], ...] = (
            (2, (), "at_supplier_warehouse"),
            (1, (("logistics", "Cargo Express", "EUR", "100"),), "in_transit"),
            (5, (("customs", "ФТС России", "RUB", "1"),), "at_moscow_warehouse"),
            (1, (("warehouse", "Склад Подольск", "RUB", "1"),), "sent_to_marketplace"),
            (1, (("marketplace", "Wildberries", "RUB", "1"),), "accepted_at_fulfilment"),
        )
        for days, payouts, status in steps:
            await self.sandbox.advance(days * 86400)
            for purpose, payee, currency, rate in payouts:
                amount = (planned[purpose] * Decimal("0.9") / Decimal(rate)).quantize(Decimal(1))
                await self._payout(order_id, self._ref(purpose[:3].upper()), purpose, payee, currency, amount, rate)
            for barcode in barcodes:
                await self._api("POST", "/api/scans", {"barcode": barcode, "status": status, "key": self._ref("SCAN")})
        boxes = await self._api("GET", f"/api/orders/{order_id}/boxes")
        account = await self._api("GET", f"/api/orders/{order_id}/money")
        released = sum((Decimal(e["released"]) for e in account["earmarks"]), Decimal(0))
        paid = money("ru", sum(planned.values(), Decimal(0)))
        arrived = sum(1 for box in boxes["boxes"] if box["status"] == "accepted_at_fulfilment")
        people = "Мария подтвердила клиента звонком" if pressed else "проверка звонком ждёт менеджеров"
        return (
            f"Заказ {order_id}: клиент оплатил {paid}; {people} и отметила документы для таможни ({len(ticked)}). "
            f"Поставщику заплачено из резерва на товар, коробки {', '.join(barcodes)} прошли путь до фулфилмента "
            f"Wildberries (принято {arrived} из {len(barcodes)}); таможня оплачена до срока. Каждый скан расходовал "
            f"свой резерв: всего {money('ru', released)}. Деньги заказа: GET /api/orders/{order_id}/money, коробки: "
            f"GET /api/orders/{order_id}/boxes."
        )

    async def _press(self, about: str, ending: str, *, patience: bool = True) -> bool:
        """Мария presses the button ending with ``ending`` on the message about ``about``, and the bot takes it."""
        if patience:
            found = await self._telegram_button(about, ending)
        else:
            found = next(iter(self._manager_button(about, ending)), None)
        if found is None:
            return False
        self.sandbox.emulators.telegram.push_callback(MANAGER, found[0], found[1])
        return await self._until(lambda: self._gone(about, ending))

    async def _gone(self, about: str, ending: str) -> bool:
        delivery = self.sandbox.services.chats.telegram_delivery
        if delivery is not None:
            await delivery.run_once()  # the edited message, without its pressed button
        return not self._manager_button(about, ending)

    async def _payout(self, order_id: int, key: str, purpose: str, payee: str, currency: str, amount: Decimal,
                      rate: str) -> None:  # fmt: skip
        due = self.sandbox.clock.now() + timedelta(days=1)
        await self._api("POST", f"/api/orders/{order_id}/payouts", {
            "key": key, "purpose": purpose, "payee": payee, "currency": currency, "amount": str(amount),
            "due_at": due.isoformat(), "rate": rate,
        })  # fmt: skip

    async def big_new_client(self) -> str:
        number = next(self._numbers)
        customer = {"name": f"Новый Клиент {number}", "phone": f"+7916{number:07d}", "email": f"new{number}@example.ru"}
        answer = await self._order("site", [(FRIDGE, 5)], total="499950", customer=customer)
        await self._pay(int(answer["order_id"]), Decimal("499950"), "authorized")
        return (
            f"Заказ {answer['order_id']} на 499 950 ₽ от нового клиента: отгрузка задержана, менеджеры "
            "получили проверку звонком с телефоном клиента."
        )

    async def ozon_cancel(self) -> str:
        """An Ozon posting reserves a TV; the buyer cancels it in Ozon; Ozon's order feed, run as the scheduler runs
        it, releases the reservation and the freed unit is queued for every other channel."""
        sandbox, shop = self.sandbox, self.sandbox.services.shop
        free = (await shop.ledger.stock(TV)).available
        posting = f"{93000000 + next(self._numbers)}-0001-1"
        sandbox.emulators.ozon.add_posting(posting, [(self._offer("ozon", TV), 1)], warehouse_id=OZON_WAREHOUSE)
        await next(u for u in shop.upkeep if u.name == "ozon").pull_orders()  # the scheduled "orders-ozon" run
        order = await self._channel_order("ozon", posting)
        if order is None or order.status.value != "reserved":
            state = "не пришёл" if order is None else order.status.value
            return f"Заказ Ozon {posting}: {state}; свободных телевизоров было {free}, резервировать нечего."
        taken = (await shop.ledger.stock(TV)).available
        reason = "Покупатель передумал"
        sandbox.emulators.ozon.cancel_posting(posting, reason)
        await next(f for f in shop.order_feeds if f.name == "ozon").pull()  # the scheduled "order-events-ozon" run
        after = await self._channel_order("ozon", posting)
        stock = await shop.ledger.stock(TV)
        if after is None or after.cancelled_at is None:
            return f"Заказ {order.id} (Ozon {posting}): отмена ещё не прочитана — лента Ozon её не вернула."
        others = ", ".join(f"{name} {qty}" for name, qty in sorted(stock.by_channel.items()) if name != "ozon")
        return (f"Заказ {order.id} (Ozon {posting}): {article(TV).name} зарезервирован, свободно {free} → {taken}. "
                f"Покупатель отменил его в Ozon («{reason}»); лента событий Ozon сняла резерв: свободно снова "
                f"{stock.available}. Новый остаток поставлен в очередь для других каналов: {others}. "
                f"В истории заказа — «отменён площадкой» с причиной.")  # fmt: skip

    async def wb_unfillable(self) -> str:
        """A Wildberries order for an article nobody has: the fulfilment sweep asks the managers, a manager presses
        «cancel» in Telegram, the action job cancels the order on Wildberries through its real client."""
        sandbox, shop = self.sandbox, self.sandbox.services.shop
        wb = sandbox.emulators.wildberries
        if (await shop.ledger.stock(SOLD_OUT)).available > 0:  # the last pair goes on the site first: 0 everywhere
            await self._order("site", [(SOLD_OUT, 1)], customer={"name": "Сергей", "phone": "+79990000005"})
        number = int(wb.add_order(sandbox.wb_chrt[SOLD_OUT], warehouse_id=WB_WAREHOUSE)["id"])
        await next(u for u in shop.upkeep if u.name == "wildberries").pull_orders()  # the "orders-wildberries" run
        order = await self._channel_order("wildberries", str(number))
        if order is None or order.id is None:
            return f"Заказ WB {number} не пришёл: посмотрите журнал песочницы."
        fulfilment = next(f for f in shop.fulfilment if f.name == "wildberries")
        await fulfilment.run_once()  # the sweep queues the question and asks it
        data = await self._telegram_button(SOLD_OUT, ":cancel")
        if data is None:
            return f"Заказ {order.id} (WB {number}): вопрос менеджерам не пришёл в Telegram."
        sandbox.emulators.telegram.push_callback(MANAGER, data[0], data[1])  # Мария presses «cancel»
        order_id = order.id
        cancelled = await self._until(lambda: self._cancelled(order_id))
        await fulfilment.run_once()  # the action job: the cancel goes to Wildberries
        supplier, wb_status = wb.seller.statuses[number]
        if not cancelled:
            return f"Заказ {order.id} (WB {number}): нажатие «Отменить» бот не обработал; на WB {supplier}/{wb_status}."
        return (f"Заказ {order.id} (WB {number}): {article(SOLD_OUT).name} нет ни на складе, ни в магазинах. "
                f"Менеджерам задан вопрос в Telegram (отменить / ждать поставку); Мария нажала "
                f"«Отменить». Заказ отменён у нас, резервов нет; Wildberries получил отмену: в эмуляторе WB "
                f"supplierStatus={supplier}, wbStatus={wb_status}. Смотрите историю заказа и чат Марии.")  # fmt: skip

    async def _cancelled(self, order_id: int) -> bool:
        return (await self.sandbox.services.shop.orders.get(order_id)).cancelled_at is not None

    async def _telegram_button(self, about: str, ending: str) -> tuple[tuple[int, int], str] | None:
        """The manager's message mentioning ``about`` with a button whose data ends with ``ending``, once the
        delivery job (run now, and again while Telegram's flood control holds it back) has sent it:
        ``((chat, message_id), data)``."""
        found: list[tuple[tuple[int, int], str]] = []

        async def sent() -> bool:
            delivery = self.sandbox.services.chats.telegram_delivery
            if delivery is not None:
                await delivery.run_once()
            found.extend(self._manager_button(about, ending))
            return bool(found)

        return found[0] if await self._until(sent) else None

    def _manager_button(self, about: str, ending: str) -> list[tuple[tuple[int, int], str]]:
        for message in reversed(self.sandbox.emulators.telegram.messages(MANAGER)):
            if about not in (message.text or ""):
                continue
            for row in message.buttons:
                for button in row:
                    if str(button.get("callback_data", "")).endswith(ending):
                        return [((MANAGER, message.message_id), str(button["callback_data"]))]
        return []

    async def _until(self, probe: Callable[[], Awaitable[bool]]) -> bool:
        """Wait (real seconds: the bot polls its chats on its own) until ``probe`` holds."""
        deadline = asyncio.get_running_loop().time() + BY_BOT_WITHIN_S
        while not await probe():
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def store_return(self) -> str:
        """A vase confirmed by its store is returned: a manager announces it with ``/return`` in Telegram, the store
        gets the return receipt in Slack and its clerk presses «sellable»."""
        shop = self.sandbox.services.shop
        answer = await self._order("site", [(VASE, 1)], customer={"name": "Елена", "phone": "+79990000004"})
        order_id, line = int(answer["order_id"]), answer["lines"][0]
        if line["status"] != "awaiting_store_confirmation":
            return f"Заказ {order_id}: {VASE} — {line['status']}; в магазине её больше нет."
        store = next(s for s in STORES if s.code == line["warehouse"])
        if not await self._slack_press(store.slack_channel, VASE, "task:available"):
            return f"Заказ {order_id}: вопрос магазину «{store.title}» не пришёл в Slack."
        self.sandbox.emulators.telegram.push_text(MANAGER, f"/return {order_id} {VASE}")

        async def announced() -> bool:
            async with shop.uow(read_only=True) as uow:
                return await uow.returns.get(order_id, VASE) is not None

        if not await self._until(announced):
            return f"Заказ {order_id}: бот не принял /return {order_id} {VASE}."
        if not await self._slack_press(store.slack_channel, VASE, "return:sellable"):
            return f"Заказ {order_id}: квитанция возврата не пришла в Slack магазина «{store.title}»."
        async with shop.uow(read_only=True) as uow:
            record = await uow.returns.get(order_id, VASE)
        state = record.state.value if record else "?"
        where = ("уже добавлена в остаток магазина" if state == "restocked"
                 else "ожидается в остатке магазина, пока 1С её не посчитает")  # fmt: skip
        return (f"Заказ {order_id}: {article(VASE).name} подтверждена магазином «{store.title}» в Slack. "
                f"Покупатель вернул её: Мария написала боту /return {order_id} {VASE}; в канале магазина появилась "
                f"квитанция возврата (годен / брак / не пришёл), {store.staff[0][1]} нажал(а) «годен». Ваза {where}. "
                f"Смотрите /stock {VASE} и /order {order_id} в Telegram и историю заказа.")  # fmt: skip

    async def _slack_press(self, channel: str, about: str, action_id: str) -> bool:
        """The store's first clerk presses ``action_id`` on the store's message mentioning ``about``, once the
        Slack delivery job (run now) has posted it; whether the app took the press."""
        sandbox = self.sandbox
        delivery, secret = sandbox.services.chats.slack_delivery, sandbox.services.settings.slack.signing_secret
        if delivery is None or secret is None:
            return False
        await delivery.run_once()
        store = next(s for s in STORES if s.slack_channel == channel)
        for message in reversed(sandbox.emulators.slack.messages(channel)):
            button = next((b for b in buttons(message) if b["action_id"] == action_id), None)
            if button is None or about not in message.text + str(message.blocks):
                continue
            payload = block_action(message, action_id, button["value"], store.staff[0][0])
            status = await deliver(sandbox.http, f"{sandbox.url}/slack/events", secret.get_secret_value(), payload)
            await delivery.run_once()
            return status < 400
        return False

    async def _channel_order(self, channel: str, number: str) -> Order | None:
        async with self.sandbox.services.shop.uow(read_only=True) as uow:
            return await uow.orders.find(channel, number)

    async def price_drop(self) -> str:
        """1C's retail prices with a slip, uploaded as 1C uploads them (``POST /api/1c/prices``): the big drops are
        held and the managers get one question in Telegram; the person at the console answers it there."""
        shop = self.sandbox.services.shop
        async with shop.uow(read_only=True) as uow:
            before = await uow.prices.onec(RETAIL, [*SLIPPED, MARKED_DOWN])
        upload = slipped_prices(before)
        if not upload:
            return "В 1С ещё нет розничных цен этих товаров: песочница не загрузила прайс-лист (смотрите журнал)."
        items = [{"sku": sku, "price_type": RETAIL, "price": str(price)} for sku, price in upload.items()]
        answer = await self._api("POST", "/api/1c/prices", {"items": items})
        shop.wake_price_dispatchers()  # the markdown goes now, not at the next second
        said = narration(before, upload, answer)
        for batch in answer["batches"]:
            async with shop.uow(read_only=True) as uow:
                tasks = await uow.tasks.open_about(f"price_batch:{batch}")
            task = next((t for t in tasks if t.subject == f"price_batch:{batch}"), None)
            if task is None or await self._telegram_button(RETAIL, f"task:{task.id}:approve") is None:
                return f"{said} Но вопрос менеджерам не пришёл в Telegram: посмотрите журнал песочницы."
        return said

    async def onec_silent(self) -> str:
        sandbox = self.sandbox
        sandbox.emulators.onec.fail_with(500)
        await sandbox.pull_onec()
        await sandbox.advance(sandbox.services.settings.business.onec_silence_alert_s + 60)
        return "1С не отвечает. Прошло 30 минут без данных — владелец получил тревогу. Кнопка «1С вернулась» её снимет."

    async def onec_back(self) -> str:
        sandbox = self.sandbox
        sandbox.emulators.onec.recover()
        result = await sandbox.pull_onec()
        if result.failed:
            return f"1С всё ещё не отвечает: {result.failed}"
        return (f"1С снова отвечает: остатки сверены ({result.applied} строк). "
                "Владелец получил сообщение о восстановлении.")  # fmt: skip
