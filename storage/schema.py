"""The database schema: generic SQLAlchemy types only, so it is the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zone type: there the UTC value is stored without an offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_OVERDRAWN = text("reserved > on_hand")

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(255), primary_key=True),
    Column("warehouse", String(64), primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, default=0),
    Column("as_of", UtcDateTime, nullable=False),
    Column("suspect_since", UtcDateTime, nullable=True),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    # the rows promised beyond what is on hand, and only those: a 1C message asks which of its 5 000 rows are, and
    # finds next to none without fetching each row (migration 0030)
    Index("ix_stock_levels_overdrawn", "sku", "warehouse", sqlite_where=_OVERDRAWN, postgresql_where=_OVERDRAWN),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("customer_name", String(255), nullable=False, default=""),
    Column("customer_phone", String(64), nullable=False, default=""),
    Column("customer_email", String(255), nullable=False, default=""),
    Column("total", Numeric(14, 2), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("shipping_hold", String(32), nullable=True),  # e.g. fraud_check: nothing ships meanwhile
    Column("exported_at", UtcDateTime, nullable=True),  # when 1C confirmed it took the order (exchange)
    Column("ship_by", UtcDateTime, nullable=True),  # the marketplace's shipping deadline, when it tells one
    # How people name the order: its number case-folded and the phone as digits (workflows/typed_names.py)
    Column("external_key", String(255), nullable=False, server_default=""),
    Column("phone_key", String(32), nullable=True),
    UniqueConstraint("channel", "external_id"),
    Index(None, "channel", "external_key"),
    Index(None, "phone_key", "created_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(255), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("warehouse", String(64), nullable=True),
    CheckConstraint("qty > 0", name="qty_positive"),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
)

obligations = Table(
    "obligations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("payee", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(18, 4), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    # pending -> released (may be paid) | held (a manager decides) -> released | topup | pending again
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("rate_at_payment", Numeric(18, 6), nullable=True),  # CBR RUB per unit when the client paid
    Column("rate_at_due", Numeric(18, 6), nullable=True),  # CBR RUB per unit when it fell due
    Column("topup_rub", Numeric(18, 2), nullable=True),  # asked of the client after a `topup` decision
    Index(None, "state", "due_at"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("line_no", Integer, nullable=False),
    Column("sku", String(255), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deducted_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    CheckConstraint("qty > 0", name="qty_positive"),
    Index(None, "sku", "warehouse", "state"),
)

offer_ids = Table(
    "offer_ids",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("offer_id", String(1000), nullable=False),
    UniqueConstraint("channel", "offer_id"),
)

offer_id_conflicts = Table(
    "offer_id_conflicts",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("offer_id", String(1000), nullable=False),
    Column("existing_sku", String(255), nullable=False),
    Column("found_at", UtcDateTime, nullable=False),
    Column("note", Text, nullable=False, default=""),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(255), nullable=False, index=True),
    Column("assignee", String(128), nullable=False),
    Column("options", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("answer", String(32), nullable=True),
    Column("answered_by", String(128), nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("end_reason", String(64), nullable=True),
    Index(None, "state", "assignee"),
)

task_deadlines = Table(
    "task_deadlines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Column("fired_at", UtcDateTime, nullable=True),
    Index(None, "fired_at", "due_at"),
)

# Messages to people (chat questions, updates, alerts) written in the same transaction as the
# change that causes them, and delivered by the chat adapters afterwards.
notices = Table(
    "notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    # an adapter delivering a notice holds it until then, so two instances never both send it
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    # when its first sending began: a chat may have taken it although we never heard back (looked up before again)
    Column("attempted_at", UtcDateTime, nullable=True),
    Index(None, "delivered_at", "id"),
)

# The chat messages that show a task (a store's Slack question, a manager's Telegram card). A chat may
# show one task several times: its delivery posted it and a person's /tasks sent a fresh copy.
task_messages = Table(
    "task_messages",
    metadata,
    Column("task_id", Id, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("chat", String(64), primary_key=True),
    Column("message_id", String(64), primary_key=True),
)


# The payment gateway's view of each payment; an order may have several (goods, customs duty).
payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(128), primary_key=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("void_requested_at", UtcDateTime, nullable=True),  # fraud: void it, or refund once cleared
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("payment_id", String(128), nullable=False, index=True),
    Column("phase", String(16), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("applied", String(32), nullable=False),  # advanced | ignored_out_of_order | ignored_after_end
    Column("payload", JSON, nullable=False),
    # gateway | status_poll: the gateway's own notice, or our reading of its status (not a payment attempt)
    Column("source", String(16), nullable=False, server_default="gateway"),
)

# The payment watch (workflows/payment_watch.py): a payment whose phase stood still too long, polled at the gateway.
payment_watches = Table(
    "payment_watches",
    metadata,
    Column("payment_id", String(128), ForeignKey("payments.payment_id", ondelete="CASCADE"), primary_key=True),
    Column("next_poll_at", UtcDateTime, nullable=False, index=True),
    Column("polls", Integer, nullable=False, default=0),  # answered
    Column("failures", Integer, nullable=False, default=0),  # unanswered in a row
    Column("last_error", Text, nullable=True),
    Column("task_id", Id, nullable=True),  # the managers' task once it is unknown too long
    Column("task_for", UtcDateTime, nullable=True),  # the payment's updated_at that task is about
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
)

# A top-up payment created at the gateway for the client to pay (workflows/topup_checkout.py): written with the
# request, created later under a lease with our payment id as the gateway's idempotency key.
gateway_payments = Table(
    "gateway_payments",
    metadata,
    Column("payment_id", String(128), ForeignKey("payments.payment_id", ondelete="CASCADE"), primary_key=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("state", String(16), nullable=False),  # pending | created | dropped | given_up
    Column("description", String(128), nullable=False),  # what the client reads at the gateway
    Column("gateway_id", String(128), nullable=True, unique=True),  # the gateway's payment id
    Column("confirmation_url", Text, nullable=True),  # where the client pays
    Column("return_url", Text, nullable=True),  # fixed at the first attempt: every retry sends the same body
    Column("first_tried_at", UtcDateTime, nullable=True),  # the gateway keeps a key a day: retries stop before that
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=False, index=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
)

blocked_clients = Table(
    "blocked_clients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("phone", String(64), nullable=True, index=True),
    Column("email", String(255), nullable=True, index=True),
    Column("phone_key", String(32), nullable=True, index=True),  # the phone as digits (workflows/clients.py)
    Column("reason", Text, nullable=False),
    Column("blocked_at", UtcDateTime, nullable=False),
)

# The CBR rates as fetched: the last good sheet is what the FX watch falls back on.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("currency", String(3), primary_key=True),
    Column("rate_date", Date, primary_key=True),
    Column("rate", Numeric(18, 6), nullable=False),
    Column("fetched_at", UtcDateTime, nullable=False),
)

# One row per alert episode: opened by the first failure, grouped while it repeats, resolved once.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # open | resolved
    Column("count", Integer, nullable=False),
    Column("shown_count", Integer, nullable=False),  # the count the chat message shows
    Column("first_at", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("shown_at", UtcDateTime, nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("task_id", Id, ForeignKey("tasks.id"), nullable=True),  # its ack/mute buttons
    Index(None, "key", "state"),
    Index(None, "state", "shown_at"),
)

alert_mutes = Table(
    "alert_mutes",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("until", UtcDateTime, nullable=False),
    Column("by", String(128), nullable=False),
)

# Per sales channel (or the carrier, by its name): operators' switches and the sync engine's memory.
channel_states = Table(
    "channel_states",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("paused_by", String(255), nullable=True),  # NULL while the channel runs
    Column("paused_at", UtcDateTime, nullable=True),
    Column("circuit_until", UtcDateTime, nullable=True),
    Column("failures_in_a_row", Integer, nullable=False),
    Column("sync_requested_at", UtcDateTime, nullable=True),
    Column("sync_requested_by", String(255), nullable=True),
    Column("reconciled_at", UtcDateTime, nullable=True),
    Column("reconciled", Text, nullable=True),  # the last reconciliation's summary
    Column("order_events_cursor", Text, nullable=True),  # the channel's bookmark in its order events
)

# What the channels said became of their orders (cancelled, delivered, returned): one row per event, its key the
# claim that the event was applied once. A cancellation of an order not taken yet waits (applied_at NULL).
channel_order_events = Table(
    "channel_order_events",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("external_id", String(255), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("at", UtcDateTime, nullable=False),  # when the channel says it happened
    Column("reason", Text, nullable=False),
    Column("heard_at", UtcDateTime, nullable=False),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=True),
    Column("applied_at", UtcDateTime, nullable=True),
    Index(None, "channel", "applied_at"),
)

# When 1C last sent something, per kind of message (the "1C is silent" alert watches it).
onec_heartbeats = Table(
    "onec_heartbeats",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
)

# The daily report's scheduled send, one row per shop-local day: claimed, sent or failed.
report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("day", Date, primary_key=True),
    Column("state", String(16), nullable=False),  # sending | sent | failed
    Column("owner", String(255), nullable=True),
    Column("at", UtcDateTime, nullable=False),
)


# The sync outbox: the newest quantity each channel should show per SKU, written in the same
# transaction as the stock change, sent by the channel's dispatcher (docs/sync_engine.md).
stock_pushes = Table(
    "stock_pushes",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("qty", Integer, nullable=False),
    Column("version", Integer, nullable=False),  # bumped on every change: a push only retires its own
    Column("first_pending_at", UtcDateTime, nullable=False),  # since when the channel is behind
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("state", String(16), nullable=False),  # pending | dead
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    # 0: an order changed it (a reservation, a release, a return), so it goes ahead of 1: 1C's bulk figures and
    # the rest; a line keeps the more urgent of its values' priorities until it is sent
    Column("priority", SmallInteger, nullable=False, server_default="1"),
    Index(None, "channel", "state", "priority", "first_pending_at", "sku"),  # the claim's order
)

# What each channel last accepted from us, per SKU: a change the channel already shows is not sent.
channel_stock = Table(
    "channel_stock",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("qty", Integer, nullable=False),
    Column("accepted_at", UtcDateTime, nullable=False),
)


# Prices take the same road as stock: the newest price (in kopecks) each channel should show per SKU, sent by the
# channel's price dispatcher. A price the guard holds for a manager's decision waits here in state ``held`` with
# its batch (``price_batches``) and is not sent until approved.
price_pushes = Table(
    "price_pushes",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("price_minor", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("first_pending_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("state", String(16), nullable=False),  # pending | held | dead
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Column("batch_id", Id, nullable=True),  # the held batch a manager decides on
    Column("priority", SmallInteger, nullable=False, server_default="1"),  # as stock_pushes' (prices: always 1)
    Index(None, "channel", "state", "priority", "first_pending_at", "sku"),  # the claim's order
    Index(None, "batch_id"),
)

# What each channel last accepted from us as a price, per SKU (kopecks).
channel_prices = Table(
    "channel_prices",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("price_minor", BigInteger, nullable=False),
    Column("accepted_at", UtcDateTime, nullable=False),
)

# 1C's prices per price type (by the type's name, as the topology names it) and SKU, in kopecks: the book of record.
onec_prices = Table(
    "onec_prices",
    metadata,
    Column("price_type", String(255), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("price_minor", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One price type's prices from one 1C upload that the guard held (a big drop, or below a floor): one question to
# the managers for the whole batch, and what they decided.
price_batches = Table(
    "price_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("price_type", String(255), nullable=False),
    Column("source", String(32), nullable=False),  # where the upload came from (exchange, api, odata)
    Column("created_at", UtcDateTime, nullable=False),
    Column("lines", Integer, nullable=False),  # channel prices held
    Column("state", String(16), nullable=False),  # held | approved | rejected
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
)

# The carrier registration of an order: its delivery data from intake and how far CDEK got with it. Claimed with
# a lease (SKIP LOCKED on PostgreSQL) before anything is sent, so two instances never send one order twice.
shipments = Table(
    "shipments",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("tariff_code", Integer, nullable=False),
    Column("country_code", String(2), nullable=False),
    Column("city", String(255), nullable=False),
    Column("address", String(255), nullable=False),
    Column("postal_code", String(16), nullable=False),
    Column("city_code", Integer, nullable=True),
    Column("pickup_point", String(64), nullable=True),
    Column("weight_g", Integer, nullable=True),
    # waiting | registering | accepted | registered | refused | dropped
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("carrier_id", String(64), nullable=True),
    Column("tracking_number", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Index(None, "state", "next_attempt_at"),
)


# What a marketplace must do about one of its orders (ready to ship, cancel as unfillable) and when the managers are
# asked about an order it cannot fill: one row per (order, action), the insert being the claim that it is queued once.
order_actions = Table(
    "order_actions",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("action", String(32), primary_key=True),  # ready_to_ship | cancel_unfillable | ask_unfillable
    Column("state", String(16), nullable=False),  # pending | done | refused | dropped | asked
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    Column("lease_owner", String(128), nullable=True),  # who claimed it (its lease is ``next_attempt_at``) until saved
    Index(None, "state", "next_attempt_at"),
)


# Returns: one per order and SKU (the key makes announcing twice a no-op), and what the warehouse said came back.
# "sellable" rows decided after 1C's figure for their SKU and warehouse are the stock expected back.
returns = Table(
    "returns",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(255), primary_key=True),
    Column("warehouse", String(64), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("source", String(128), nullable=False),
    Column("announced_at", UtcDateTime, nullable=False),
    Column("task_id", Id, nullable=True),
    # announced | sellable | restocked | defective | not_received
    Column("state", String(16), nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    CheckConstraint("qty > 0", name="qty_positive"),
    Index(None, "sku", "state"),
)


# The managers' CRM's copy of each order: the order's version (its own history events) the CRM last took, and the
# retry after a failure. A row appears with the first attempt; an order without one was never sent.
crm_exports = Table(
    "crm_exports",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("sent_version", Integer, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# How far the CRM's order history was read (its history entry ids), one row per CRM.
crm_cursors = Table(
    "crm_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("since_id", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


# The CRM's customer of each client (a client key: the phone's digits with the country code, else the e-mail): one
# phone, one customer. The row is written before the CRM is asked, as a claim: the key's uniqueness lets one instance
# find or make the customer while another waits; ``customer_id`` is filled once it is known.
crm_customers = Table(
    "crm_customers",
    metadata,
    Column("client", String(320), primary_key=True),
    Column("customer_id", BigInteger, nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)


# What 1C said of each of its products and characteristics (``product#characteristic``), from its catalogue and its
# offers files: the article (empty when 1C gives none), name, barcode and size. Our SKU is worked out from it.
onec_products = Table(
    "onec_products",
    metadata,
    Column("onec_id", String(255), primary_key=True),
    Column("article", String(255), nullable=True),
    Column("name", String(500), nullable=True),
    Column("barcode", String(64), nullable=True),
    Column("size", String(255), nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
    Index(None, "article"),
)

# 1C figures keyed by a 1C id nothing named yet: held, with the time 1C computed them, until the catalogue arrives.
onec_held_stock = Table(
    "onec_held_stock",
    metadata,
    Column("onec_id", String(255), primary_key=True),
    Column("warehouse", String(64), primary_key=True),
    Column("qty", Integer, nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)


# The storeops instances sharing this database: each one's stable id, the process that runs it now (its incarnation)
# and that process's heartbeat. A lease's owner is "<instance>/<incarnation>" (workflows/leases.py): a restarted
# instance lifts its earlier incarnations' leases at once, and a second live process with the same id is refused.
instances = Table(
    "instances",
    metadata,
    Column("instance", String(64), primary_key=True),
    Column("incarnation", String(32), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=True),  # null: stopped cleanly
)


# Clients' money per order (workflows/client_money.py, docs/client_money.md): the order's virtual account, its
# earmarks (reserves of the client's money, by purpose), the payments out drawn each from one earmark, and the
# journal whose unique key makes every movement happen once. Figures are roubles unless a column says otherwise.
money_accounts = Table(
    "money_accounts",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("transport", String(32), nullable=True),  # null until the order is planned
    Column("clearance", String(32), nullable=True),
    Column("credited", Numeric(18, 2), nullable=False),
    Column("unallocated", Numeric(18, 2), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivery", String(32), nullable=True),  # null: planned before delivery modes (the marketplace)
    Column("cleared_at", UtcDateTime, nullable=True),  # the first client payment credited
    Column("purchase_ask_at", UtcDateTime, nullable=True, index=True),  # the purchase watch asks then
    Column("purchase_task_id", Id, nullable=True),  # its open question
)

earmarks = Table(
    "earmarks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_id", Id, ForeignKey("money_accounts.order_id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),  # goods | logistics | customs | warehouse | marketplace
    Column("planned", Numeric(18, 2), nullable=False),
    Column("reserved", Numeric(18, 2), nullable=False),
    Column("drawn", Numeric(18, 2), nullable=False),
    Column("absorbed", Numeric(18, 2), nullable=False),  # of reserved, what the shop put in by a decision
    # of drawn, what materialised as the order's boxes moved (workflows/boxes.py)
    Column("released", Numeric(18, 2), nullable=False, server_default="0"),
    Column("estimated", Numeric(18, 2), nullable=True),  # what the estimate set (planned adds top-ups)
    UniqueConstraint("order_id", "purpose"),
    CheckConstraint("drawn <= reserved", name="not_overdrawn"),
    CheckConstraint("drawn >= 0", name="drawn_not_negative"),
    CheckConstraint("released <= drawn", name="not_released_beyond_drawn"),
    CheckConstraint("released >= 0", name="released_not_negative"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),  # the caller's idempotency key
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("earmark_id", Id, ForeignKey("earmarks.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),  # the earmark's, kept for reading
    Column("payee", String(255), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(18, 4), nullable=False),  # in currency
    Column("rate", Numeric(18, 6), nullable=False),  # roubles per unit it was costed at
    Column("amount_rub", Numeric(18, 2), nullable=False),
    Column("due_at", UtcDateTime, nullable=False),
    Column("requested_due_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False),  # drawn | short | awaiting_topup | postponed | paid
    Column("created_at", UtcDateTime, nullable=False),
    Column("obligation_id", Id, ForeignKey("obligations.id", ondelete="SET NULL"), nullable=True),
    Column("task_id", Id, nullable=True),
    Column("topup_payment_id", String(128), nullable=True, index=True),
    Column("absorbed_rub", Numeric(18, 2), nullable=False),
    Column("drawn_at", UtcDateTime, nullable=True),
    Column("paid_at", UtcDateTime, nullable=True),
    Index(None, "state", "due_at"),
)

money_entries = Table(
    "money_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False, unique=True),  # credit:<payment> | draw:<payout> | absorb:… | …
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("purpose", String(16), nullable=True),
    Column("amount_rub", Numeric(18, 2), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", JSON, nullable=False),
)

# Customs plans (workflows/customs.py, docs/client_money.md "Customs plans"): one per order on full clearance, made
# when the client's goods money is in. ``documents`` is the checklist with each tick (who, when); the FTS payment is
# planned in roubles from the customs earmark until a customs payout covers it.
customs_plans = Table(
    "customs_plans",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("goods_cleared_at", UtcDateTime, nullable=False),
    Column("payment_id", String(128), nullable=False),  # "" when the plan came after the money
    Column("documents", JSON, nullable=False),  # [{"n", "title", "ticked_by", "ticked_at"}]
    Column("documents_task_id", Id, nullable=True),
    Column("documents_done_at", UtcDateTime, nullable=True),
    Column("fts_payee", String(255), nullable=False),
    Column("fts_amount_rub", Numeric(18, 2), nullable=False),
    Column("fts_due_at", UtcDateTime, nullable=False),
    Column("fts_task_id", Id, nullable=True),
    Column("payout_key", String(128), nullable=True),  # the customs payout that covers it
    Column("covered_at", UtcDateTime, nullable=True),
    Index(None, "fts_due_at"),
)

# The boxes a purchase's goods travel in (workflows/boxes.py, docs/client_money.md "Boxes and scans"): a purchase
# is a payout of purpose goods; each box has a barcode and a status, and each status it reached is one scan row,
# unique per box and status, so a repeated or racing scan is recorded once.
boxes = Table(
    "boxes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("barcode", String(40), nullable=False, unique=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("payout_id", Id, ForeignKey("payouts.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("boxes", Integer, nullable=False),  # of its purchase
    Column("contents", JSON, nullable=False),  # [{"sku", "qty"}]
    Column("value_rub", Numeric(18, 2), nullable=False),  # its share of the purchase's rouble cost
    Column("status", String(32), nullable=False),
    Column("status_at", UtcDateTime, nullable=False),
    Column("key", String(128), nullable=False, index=True),  # the registration's idempotency key
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("payout_id", "number"),
)

box_scans = Table(
    "box_scans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("box_id", Id, ForeignKey("boxes.id", ondelete="CASCADE"), nullable=False),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("key", String(128), nullable=True, unique=True),  # the scanner's idempotency key, when it sent one
    Column("skipped", Boolean, nullable=False),
    Column("released", JSON, nullable=False),  # {purpose: roubles}
    Column("stock", String(16), nullable=True),  # received | written_off
    # how many times the box's reaching this status was undone before: a re-scan after an undo is round 1, …
    Column("round", Integer, nullable=False, server_default="0"),
    Column("undone_at", UtcDateTime, nullable=True),  # a manager's correction took the box back before it
    Column("undo_key", String(128), nullable=True, index=True),  # the correction's idempotency key
    UniqueConstraint("box_id", "status", "round"),
)
