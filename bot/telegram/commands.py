"""The owner's and managers' commands. Every wrong or missing argument gets a short answer
that says what to type; nothing here ever shows a stack trace."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BotCommand, Message

from bot.telegram import render
from bot.telegram.box_card import box_card
from bot.telegram.order_card import order_card, order_matches
from bot.telegram.texts import tg
from bot.telegram.unscan_command import unscan_command
from bot.telegram.wait_command import wait_command
from bot.texts import Locale
from bot.wording import Names, clock_time, count, number
from workflows.box_model import BadBarcode, BoxNotFound
from workflows.boxes import BoxDesk
from workflows.client_links import ClientLinks
from workflows.errors import OrderNotFound, WorkflowError
from workflows.ledger import Ledger
from workflows.office import OfficeDesk
from workflows.operations import Operations
from workflows.order_lookup import OrderLookup
from workflows.returns import NotShipped, Returns, SkuNotInOrder, line_sku
from workflows.topology import Topology
from workflows.unfillable import UnfillableDesk
from workflows.vocabulary import Role

COMMANDS = (
    "status", "stock", "order", "tasks", "return", "scan", "unscan", "wait", "pause", "resume", "sync", "report",
    "help",
)  # fmt: skip
KNOWN = frozenset(COMMANDS) | {"start"}  # what a shop without returns or a report still answers with the help
TASKS_SHOWN = 10
SKUS_SHOWN = 10


def bot_commands(locale: Locale) -> list[BotCommand]:
    return [BotCommand(command=name, description=tg(locale, f"cmd.{name}")) for name in COMMANDS]


def commands_router(
    office: OfficeDesk,
    topology: Topology,
    ledger: Ledger,
    lookup: OrderLookup,
    operations: Operations,
    locale: Locale,
    returns: Returns | None = None,
    unfillable: UnfillableDesk | None = None,
    boxes: BoxDesk | None = None,
    links: ClientLinks | None = None,
) -> Router:
    router = Router(name="commands")

    @router.message(Command("start", "help", ignore_case=True))
    async def help_(message: Message) -> None:
        await message.answer(tg(locale, "help"))

    names = Names.of(topology, locale)
    _status_command(router, operations, topology.onec.timezone, names)
    _lookup_commands(router, ledger, names, returns)
    _order_command(router, lookup, topology, names, links)
    if returns is not None:
        _return_command(router, returns, lookup, names)
    if boxes is not None:
        _scan_command(router, boxes, names, topology.onec.timezone)
        unscan_command(router, boxes, names)
    if unfillable is not None:
        wait_command(router, unfillable, lookup, topology.onec.timezone, locale)
    _tasks_command(router, office, topology.onec.timezone, names)
    _channel_commands(router, operations, topology, names)

    @router.message()
    async def anything_else(message: Message) -> None:
        command = _command_name(message.text or "")
        if command is not None and command not in KNOWN:
            await message.answer(tg(locale, "unknown.command", command=command[:50]))
            return
        await message.answer(tg(locale, "help"))  # plain text, or a command this shop runs without

    return router


def _status_command(router: Router, operations: Operations, tz: str, names: Names) -> None:
    locale = names.locale

    @router.message(Command("status", ignore_case=True))
    async def status(message: Message) -> None:
        s = await operations.status()
        channels = ", ".join(
            tg(locale, "status.paused" if paused else "status.running", name=names.channel(name))
            + (tg(locale, "status.queued", count=number(locale, s.queued[name])) if s.queued.get(name) else "")
            + (
                tg(locale, "status.failing", count=count(locale, s.failures[name], "failure"))
                if s.failures.get(name)
                else ""
            )
            for name, paused in s.channels.items()
        )
        onec = (
            tg(locale, "status.onec_at", at=render.clock_time(s.onec_last_update, tz))
            if s.onec_last_update
            else tg(locale, "status.onec_never")
        )
        text = tg(locale, "status", channels=channels or "—", onec=onec, undelivered=s.undelivered_messages,
                  tasks=s.open_tasks)  # fmt: skip
        await message.answer(text)


def _lookup_commands(router: Router, ledger: Ledger, names: Names, returns: Returns | None) -> None:
    locale = names.locale

    @router.message(Command("stock", ignore_case=True))
    async def stock(message: Message, command: CommandObject) -> None:
        typed = (command.args or "").strip()
        if not typed:
            await message.answer(tg(locale, "usage.stock"))
            return
        named = await ledger.skus_named(typed)
        if len(named) > 1:
            await message.answer(tg(locale, "stock.many", sku=typed[:100], skus=", ".join(named[:SKUS_SHOWN])))
            return
        found = await ledger.stock(named[0]) if named else None
        if found is None or (not found.by_warehouse and found.components is None):
            await message.answer(tg(locale, "unknown.sku", sku=typed[:100]))
            return
        sku = named[0]
        suspect = tg(locale, "stock.suspect")
        back = await returns.expected_back(sku) if returns is not None else {}
        warehouses = "\n".join(
            tg(locale, "stock.warehouse", place=names.place(code), on_hand=level.on_hand, reserved=level.reserved,
               suspect=suspect if level.suspect_since else "",
               returning=tg(locale, "stock.returning", qty=back[code]) if back.get(code) else "")
            for code, level in sorted(found.by_warehouse.items())
        )  # fmt: skip
        if found.components is not None:  # a kit: its figures are what its components make
            parts = ", ".join(f"{part} × {qty}" for part, qty in sorted(found.components.items())) or "—"
            warehouses = "\n".join(filter(None, [tg(locale, "stock.kit", components=parts), warehouses]))
        channels = "\n".join(
            tg(locale, "stock.channel", name=names.channel(n), qty=q) for n, q in sorted(found.by_channel.items())
        )
        await message.answer(
            tg(locale, "stock", sku=sku, available=found.available, on_hand=found.on_hand, reserved=found.reserved,
               warehouses=warehouses, channels=channels)
        )  # fmt: skip


def _order_command(
    router: Router, lookup: OrderLookup, topology: Topology, names: Names, links: ClientLinks | None
) -> None:
    tz, locale = topology.onec.timezone, names.locale

    @router.message(Command("order", ignore_case=True))
    async def order(message: Message, command: CommandObject) -> None:
        typed = (command.args or "").strip()
        words = typed.split()
        if not words:
            await message.answer(tg(locale, "usage.order"))
            return
        channel = topology.channel_named(words[0]) if len(words) == 2 else None
        # "ozon 0123-1" names a channel's order; anything else is one reference ("+7 916 123-45-67" too)
        reference = words[1] if channel is not None else typed
        found = await lookup.find(reference, channel)
        if not found:
            typed = " ".join(words)[:100]
            await message.answer(tg(locale, "order.unknown", order=typed, channels=", ".join(lookup.channels)))
        elif len(found) > 1:
            await message.answer(order_matches(reference, found, names))
        else:
            money = await lookup.money(found[0].id or 0)
            card = order_card(found[0], money, names, tz)
            if links is not None and found[0].id is not None:  # the client's signed page, to send on
                link = links.link(found[0].id)
                card += tg(
                    locale, "order.client_link", link=link.url or link.path, until=clock_time(link.expires_at, tz)
                )
            await message.answer(card)


def _return_command(router: Router, returns: Returns, lookup: OrderLookup, names: Names) -> None:
    locale = names.locale

    @router.message(Command("return", ignore_case=True))
    async def return_(message: Message, command: CommandObject) -> None:
        parts = (command.args or "").split(maxsplit=1)
        if len(parts) != 2:
            await message.answer(tg(locale, "usage.return"))
            return
        reference, typed = parts[0], parts[1].strip()
        order = await lookup.one(reference)
        if order is None or order.id is None:
            await message.answer(tg(locale, "unknown.order", order=reference))
            return
        sku = line_sku(order, typed)
        try:
            record = await returns.announce(
                order.id, sku, None, f"manager:{message.from_user.id if message.from_user else 0}"
            )
        except OrderNotFound:
            await message.answer(tg(locale, "unknown.order", order=reference))
            return
        except SkuNotInOrder:
            await message.answer(tg(locale, "unknown.return_sku", order=reference, sku=sku))
            return
        except NotShipped:
            await message.answer(tg(locale, "return.not_shipped", order=reference, sku=sku))
            return
        asked = "return.asked_managers" if returns.asks_managers(record.warehouse) else "return.asked_slack"
        asked_words = tg(locale, asked, warehouse=names.place(record.warehouse))
        await message.answer(
            tg(locale, "return.announced", sku=sku, qty=record.qty, order=order.external_id or order.id,
               asked=asked_words, state=tg(locale, f"return.state.{record.state}"))
        )  # fmt: skip


def _scan_command(router: Router, boxes: BoxDesk, names: Names, tz: str) -> None:
    locale = names.locale

    @router.message(Command("scan", ignore_case=True))
    async def scan(message: Message, command: CommandObject) -> None:
        typed = (command.args or "").strip()
        if not typed:
            await message.answer(tg(locale, "usage.scan"))
            return
        key = f"telegram:{message.chat.id}:{message.message_id}"  # the same message delivered again: one scan
        try:
            outcome = await boxes.scan(typed, key=key)
        except BadBarcode:
            await message.answer(tg(locale, "scan.bad_barcode", barcode=typed[:60]))
        except BoxNotFound:
            await message.answer(tg(locale, "scan.unknown", barcode=typed[:60]))
        except WorkflowError as error:
            await message.answer(tg(locale, "scan.refused", barcode=typed[:60], reason=error.message))
        else:
            await message.answer(box_card(outcome, names, tz))


def _tasks_command(router: Router, office: OfficeDesk, tz: str, names: Names) -> None:
    locale = names.locale

    @router.message(Command("tasks", ignore_case=True))
    async def tasks(message: Message, role: Role) -> None:
        mine = await office.open_tasks(role)
        if not mine:
            await message.answer(tg(locale, "tasks.none"))
            return
        for task, alert in mine[:TASKS_SHOWN]:
            body = (
                render.alert_text(alert, task, locale, tz, names)
                if alert
                else render.task_text(task, locale, tz, names)
            )
            sent = await message.answer(body, reply_markup=render.keyboard(task, locale))
            await office.shown(task.id or 0, "telegram", str(sent.chat.id), str(sent.message_id))
        if len(mine) > TASKS_SHOWN:
            await message.answer(tg(locale, "tasks.more", more=len(mine) - TASKS_SHOWN))


def _channel_commands(router: Router, operations: Operations, topology: Topology, names: Names) -> None:
    locale = names.locale
    known = ", ".join(sorted(topology.channels))
    example = next(iter(sorted(topology.channels)), "wildberries")

    async def _channel_command(message: Message, command: CommandObject, name: str) -> str | None:
        typed = (command.args or "").strip()
        if not typed:
            await message.answer(tg(locale, "usage.channel", command=name, example=example, known=known))
            return None
        channel = topology.channel_named(typed)
        if channel is None:
            await message.answer(tg(locale, "unknown.channel", name=typed[:100], known=known))
        return channel

    @router.message(Command("pause", ignore_case=True))
    async def pause(message: Message, command: CommandObject) -> None:
        if channel := await _channel_command(message, command, "pause"):
            await operations.pause(channel, _who(message))
            await message.answer(tg(locale, "paused", name=channel, title=names.channel(channel)))

    @router.message(Command("resume", ignore_case=True))
    async def resume(message: Message, command: CommandObject) -> None:
        if channel := await _channel_command(message, command, "resume"):
            await operations.resume(channel, _who(message))
            await message.answer(tg(locale, "resumed", name=channel, title=names.channel(channel)))

    @router.message(Command("sync", ignore_case=True))
    async def sync(message: Message, command: CommandObject) -> None:
        typed = (command.args or "").strip()
        channel = topology.channel_named(typed) if typed else None
        if typed and channel is None:
            await message.answer(tg(locale, "unknown.channel", name=typed[:100], known=known))
            return
        synced = await operations.request_sync(channel, _who(message))
        await message.answer(tg(locale, "sync", names=", ".join(names.channel(n) for n in synced)))


def _command_name(text: str) -> str | None:
    """The command ``text`` starts with, lower case and without the bot's name (``/Foo@shop_bot x`` → ``foo``)."""
    words = text[1:].split(maxsplit=1) if text.startswith("/") else []
    name = words[0].split("@", 1)[0].casefold() if words and not text[1].isspace() else ""
    return name or None


def _who(message: Message) -> str:
    user = message.from_user
    return f"telegram:{user.id}" if user else "telegram"
