"""The payment watch end to end: the real ``httpx`` client of YooKassa against the wire-level emulator on 127.0.0.1,
the real payment desk and storage (memory, SQLite, PostgreSQL), business time on a fake clock.

The incident replayed: a payment went through at the gateway, its notice never came, and the gateway answered our
status request slowly. One charge only, the payment ends cleared after the poll, the late notice is a no-op, the
fraud check's failed attempts unaffected, and no request of ours could have created anything."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from app.outside import payment_gateway
from app.settings import ConfigurationError, load_settings
from emulators.yookassa import SECRET_KEY, SHOP_ID, YooKassaEmulator
from integrations.yookassa import YooKassaPayments
from tests.fakes import FakeClock, FakeRates
from workflows.model import Customer, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payment_gateway import GatewayRefused, GatewayUnavailable
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Instance, Outside, Rules, assemble
from workflows.topology import Topology

DEADLINE_S = 0.3  # the client's whole-request limit (PAYMENT_GATEWAY_TIMEOUT_S); a technical one, not business time
SLOW_S = 5.0  # the slow gateway's answer comes this much later: well past the deadline
PATIENCE_S = 2.0  # the test's own limit on a timed-out poll
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")


@pytest.fixture
async def gateway() -> AsyncIterator[YooKassaEmulator]:
    async with YooKassaEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def client(http: httpx.AsyncClient, gateway: YooKassaEmulator, secret: str = SECRET_KEY) -> YooKassaPayments:
    return YooKassaPayments(http, base=gateway.base_url, shop_id=SHOP_ID, secret_key=secret, deadline_s=DEADLINE_S)


async def test_the_client_reads_a_payments_status_and_maps_it(
    http: httpx.AsyncClient, gateway: YooKassaEmulator
) -> None:
    payment_id = gateway.create("4990.00", key="session-1")
    yookassa = client(http, gateway)
    expected = {"pending": None, "waiting_for_capture": Phase.AUTHORIZED, "succeeded": Phase.CLEARED}
    for status, phase in expected.items():
        gateway.set_status(payment_id, status)
        read = await yookassa.status(payment_id, trace_key="session-1")
        assert (read.status, read.phase, read.amount, read.currency) == (status, phase, Decimal("4990.00"), "RUB")
    gateway.set_status(payment_id, "canceled", party="payment_network", reason="insufficient_funds")
    read = await yookassa.status(payment_id)
    assert (read.phase, read.cancelled_by, read.cancel_reason) == (
        Phase.FAILED,
        "payment_network",
        "insufficient_funds",
    )
    assert gateway.charges == 1
    assert {r.method for r in gateway.received} == {"GET"}
    assert all(r.idempotence_key is None for r in gateway.received)  # a read carries no Idempotence-Key


async def test_the_client_says_no_for_an_unknown_payment_and_wrong_credentials_without_the_secret(
    http: httpx.AsyncClient, gateway: YooKassaEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GatewayRefused, match="HTTP 404: not_found"):
        await client(http, gateway).status("2f1c0000-000f-5000-8000-000000000000")
    wrong = "test_wrong-secret-key-that-must-not-leak"
    with pytest.raises(GatewayRefused, match="HTTP 401: invalid_credentials") as refused:
        await client(http, gateway, wrong).status("anything")
    assert wrong not in refused.value.reason
    assert wrong not in repr(client(http, gateway, wrong))
    assert wrong not in caplog.text and SECRET_KEY not in caplog.text


async def test_a_slow_gateway_is_given_up_at_the_deadline(http: httpx.AsyncClient, gateway: YooKassaEmulator) -> None:
    payment_id = gateway.create("100.00", key="session-1")
    gateway.delay_s = SLOW_S
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable, match="did not answer within"):
        await client(http, gateway).status(payment_id)
    assert time.monotonic() - started < PATIENCE_S
    gateway.delay_s = 0
    gateway.hang()  # held with no answer at all: the same
    with pytest.raises(GatewayUnavailable):
        await client(http, gateway).status(payment_id)
    gateway.release()


async def test_a_repeated_create_with_the_same_key_is_one_charge(
    http: httpx.AsyncClient, gateway: YooKassaEmulator
) -> None:
    """The emulator keeps YooKassa's promise, which makes its charge count a fair witness."""
    auth = httpx.BasicAuth(SHOP_ID, SECRET_KEY)
    body = {"amount": {"value": "100.00", "currency": "RUB"}, "capture": True}
    url = f"{gateway.base_url}/payments"
    first = await http.post(url, json=body, auth=auth, headers={"Idempotence-Key": "session-9"})
    again = await http.post(url, json=body, auth=auth, headers={"Idempotence-Key": "session-9"})
    assert first.json()["id"] == again.json()["id"] and gateway.charges == 1
    assert (await http.post(url, json=body, auth=auth)).status_code == 400  # no key: refused, nothing created
    assert gateway.charges == 1


async def test_a_stuck_payment_behind_a_slow_gateway_ends_cleared_with_one_charge(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, http: httpx.AsyncClient, gateway: YooKassaEmulator
) -> None:
    rules = Rules(fraud_amount_threshold_rub=Decimal(100_000))
    shop = assemble(uow, topology, clock, Outside(FakeRates(clock), payment_gateway=client(http, gateway)), rules,
                    Instance(owner="e2e/1"))  # fmt: skip
    watch = shop.payment_watch
    assert watch is not None
    await shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    order = (await shop.orders.place(PlaceOrder("site", "Y-1", [LineRequest("IRON", 1)], IVAN, Decimal("4990")))).order
    assert order.id is not None

    # the checkout starts the charge (the only POST ever made) and the gateway tells us it began
    payment_id = gateway.create("4990.00", key="session-Y-1", metadata={"order_id": str(order.id)})
    started = PaymentEvent("evt-1", payment_id, order.id, "session-Y-1", Phase.INITIATED, Decimal("4990.00"), "RUB")
    await shop.payments.record(started)
    # the payer pays; the gateway's notice of it never comes, and the gateway is slow
    gateway.set_status(payment_id, "succeeded")
    gateway.delay_s = SLOW_S
    clock.advance(seconds=rules.payment_poll_after.total_seconds())
    assert await watch.run_once() == 0  # timed out: the payment stays as it was
    assert await _phase(uow, payment_id) == Phase.INITIATED
    assert await watch.run_once() == 0  # not due again yet (backoff): not asked
    gets = [r for r in gateway.received if r.method == "GET"]
    assert len(gets) == 1

    gateway.delay_s = 0
    clock.advance(minutes=1)
    assert await watch.run_once() == 1
    assert await _phase(uow, payment_id) == Phase.CLEARED
    assert (await shop.payments.money_state(order.id)).may_spend

    # the gateway's own notice, late: recorded, changes nothing
    late = PaymentEvent("evt-2", payment_id, order.id, "session-Y-1", Phase.CLEARED, Decimal("4990.00"), "RUB")
    outcome = await shop.payments.record(late)
    assert (outcome.duplicate, outcome.applied, outcome.phase) == (False, "ignored_out_of_order", Phase.CLEARED)
    history = [event.kind for event in (await shop.orders.get(order.id)).history]
    assert history.count("payment_cleared") == 1
    assert "fraud_check_opened" not in history
    async with uow(read_only=True) as work:
        assert await work.payments.failed_attempts(order.id) == 0
        assert [p.payment_id for p in await work.payments.for_order(order.id)] == [payment_id]

    assert gateway.charges == 1  # one charge, however often and however slowly we asked
    ours = [r for r in gateway.received if r.method != "POST"]
    assert {r.method for r in ours} == {"GET"} and all(r.idempotence_key is None for r in ours)
    assert len(gateway.received) == len(ours)  # the checkout's create went around the API; we sent no POST


async def _phase(uow: UnitOfWorkFactory, payment_id: str) -> Phase:
    async with uow(read_only=True) as work:
        payment = await work.payments.get(payment_id)
    assert payment is not None
    return payment.phase


async def test_the_settings_reach_the_client_and_keep_their_order(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    for key, value in {"PAYMENT_GATEWAY_SHOP_ID": SHOP_ID, "PAYMENT_GATEWAY_SECRET_KEY": SECRET_KEY,
                       "PAYMENT_GATEWAY_URL": "http://127.0.0.1:9/v3"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    settings = load_settings(env_file=None)
    assert settings.payment_gateway.enabled and SECRET_KEY not in repr(settings)
    assert isinstance(payment_gateway(settings, http), YooKassaPayments)
    monkeypatch.setenv("PAYMENT_UNKNOWN_TASK_AFTER_S", "600")
    monkeypatch.setenv("PAYMENT_UNKNOWN_POLL_AFTER_S", "900")
    with pytest.raises(ConfigurationError, match="PAYMENT_UNKNOWN_TASK_AFTER_S must be longer") as error:
        load_settings(env_file=None)
    assert SECRET_KEY not in str(error.value)
