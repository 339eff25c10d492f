"""The CDEK client, on the real ``httpx.AsyncClient``, against the CDEK emulator over HTTP, with one fake clock for
both (token expiry and settling move with it; nothing sleeps)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import httpx
import pytest

from emulators.cdek import NUMBER_USED, ORDERS_PATH, TOKEN_LIFETIME_S, WARE_KEY, CdekEmulator
from integrations.cdek import (
    CarrierRefused,
    CarrierUnavailable,
    CdekClient,
    CredentialsRefused,
    RegistrationState,
    Shipment,
    ShipmentItem,
    order_body,
    parse_webhook,
    transliterate,
    ware_key,
)
from workflows.channels import ChannelRefused, ChannelUnavailable

CLIENT_ID = "shop-account-7"
SECRET = "s3cr3t-CDEK-password-xyz"


class Ticks:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def cdek(ticks: Ticks) -> AsyncIterator[CdekEmulator]:
    async with CdekEmulator(CLIENT_ID, SECRET, clock=ticks) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=1.0) as client:
        yield client


@pytest.fixture
def client(cdek: CdekEmulator, http: httpx.AsyncClient, ticks: Ticks) -> CdekClient:
    return CdekClient(http, base=cdek.base_url, client_id=CLIENT_ID, client_secret=SECRET, clock=ticks)


def shipment(number: str = "SHOP-1001", **changes: object) -> Shipment:
    base = Shipment(
        number=number,
        tariff_code=136,
        sender_name="ООО Ромашка",
        sender_phone="+79130000001",
        recipient_name="Константинов Константин",
        recipient_phone="+79134635628",
        address="Новосибирск, ул. Ленина, 1",
        items=(ShipmentItem(article="MUG-7", name="Кружка", cost=Decimal("300.00"), weight=700, amount=2),),
        city_code=270,
        shipment_point="MSK123",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def order_bearers(cdek: CdekEmulator) -> list[str | None]:
    return [call.bearer for call in cdek.calls() if call.path.startswith(ORDERS_PATH)]


# -- the token -------------------------------------------------------------------------------------------------


async def test_the_token_is_fetched_once_and_reused(cdek: CdekEmulator, client: CdekClient) -> None:
    await asyncio.gather(*(client.register(shipment(f"SHOP-{n}")) for n in range(3)))  # all wait for one token
    await client.register(shipment("SHOP-9"))

    assert cdek.token_requests() == 1
    bearers = order_bearers(cdek)
    assert len(bearers) == 4
    assert len(set(bearers)) == 1
    assert bearers[0] is not None


async def test_the_token_is_fetched_again_shortly_before_it_expires(
    cdek: CdekEmulator, client: CdekClient, ticks: Ticks
) -> None:
    await client.register(shipment("SHOP-1"))
    ticks.advance(TOKEN_LIFETIME_S - 120)  # still well inside its lifetime
    await client.register(shipment("SHOP-2"))
    assert cdek.token_requests() == 1

    ticks.advance(90)  # 30 s left: inside the client's margin, so it does not risk a 401
    await client.register(shipment("SHOP-3"))

    assert cdek.token_requests() == 2
    first, second, third = order_bearers(cdek)
    assert first == second != third
    assert [call.status for call in cdek.calls() if call.path == ORDERS_PATH] == [202, 202, 202]


async def test_a_401_fetches_a_new_token_once_and_the_call_goes_through(cdek: CdekEmulator, client: CdekClient) -> None:
    await client.register(shipment("SHOP-1"))
    cdek.revoke_tokens()  # the client still believes its token good

    order_uuid = await client.register(shipment("SHOP-2"))

    assert cdek.token_requests() == 2
    assert [call.status for call in cdek.calls() if call.path == ORDERS_PATH] == [202, 401, 202]
    assert [order.uuid for order in cdek.orders()][-1] == order_uuid
    assert len(cdek.orders()) == 2  # the refused attempt registered nothing


async def test_a_second_401_is_refused_without_looping(cdek: CdekEmulator, client: CdekClient) -> None:
    cdek.fail_with(401, only="orders")

    with pytest.raises(CarrierRefused, match="HTTP 401"):
        await client.status("72753031-5427-4d1b-b1e4-7c4c26be00a0")

    assert cdek.token_requests() == 2
    assert [call.status for call in cdek.calls() if call.path != "/v2/oauth/token"] == [401, 401]


async def test_the_emulator_refuses_an_expired_token_with_401(
    cdek: CdekEmulator, http: httpx.AsyncClient, ticks: Ticks
) -> None:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET}
    token = (await http.post(cdek.base_url + "/oauth/token", data=form)).json()["access_token"]
    url, headers = cdek.base_url + "/orders/72753031-5427-4d1b-b1e4-7c4c26be00a0", {"Authorization": f"Bearer {token}"}

    assert (await http.get(url, headers=headers)).status_code == 404  # the token is good; the order unknown
    ticks.advance(TOKEN_LIFETIME_S)
    expired = await http.get(url, headers=headers)

    assert expired.status_code == 401
    assert expired.json()["requests"][0]["errors"][0]["code"] == "v2_token_expired"
    assert (await http.get(url)).status_code == 401


async def test_wrong_credentials_are_refused(cdek: CdekEmulator, http: httpx.AsyncClient) -> None:
    wrong = CdekClient(http, base=cdek.base_url, client_id=CLIENT_ID, client_secret="not-the-secret")

    with pytest.raises(CredentialsRefused, match="invalid_client") as refused:
        await wrong.register(shipment())

    assert isinstance(refused.value, ChannelRefused)  # the port's error, for workflows that cannot import this
    assert "not-the-secret" not in str(refused.value)
    assert cdek.orders() == []


# -- registration ----------------------------------------------------------------------------------------------


async def test_registration_returns_the_uuid_and_the_state_moves_to_successful(
    cdek: CdekEmulator, client: CdekClient
) -> None:
    order_uuid = await client.register(shipment())

    accepted = await client.status(order_uuid)
    assert accepted == RegistrationState(state="ACCEPTED", errors=[], cdek_number=None, uuid=order_uuid)
    assert not accepted.final

    cdek.settle()
    registered = await client.status(order_uuid)

    assert registered.state == "SUCCESSFUL"
    assert registered.final
    assert registered.cdek_number == "1106000001"
    assert registered.errors == []
    [order] = cdek.orders()
    assert order.uuid == order_uuid
    assert order.body["number"] == "SHOP-1001"
    assert order.body["recipient"] == {"name": "Константинов Константин", "phones": [{"number": "+79134635628"}]}
    assert order.body["to_location"] == {"address": "Новосибирск, ул. Ленина, 1", "code": 270}
    assert order.body["packages"][0]["weight"] == 1400
    assert order.body["packages"][0]["items"] == [
        {"name": "Кружка", "ware_key": "MUG-7", "payment": {"value": 0}, "cost": 300.0, "weight": 700, "amount": 2}
    ]


async def test_a_clock_step_settles_the_registration(cdek: CdekEmulator, client: CdekClient, ticks: Ticks) -> None:
    order_uuid = await client.register(shipment())
    ticks.advance(cdek.settle_after)

    assert (await client.status(order_uuid)).state == "SUCCESSFUL"


async def test_an_invalid_registration_shows_cdeks_reason(cdek: CdekEmulator, client: CdekClient) -> None:
    reason = "Тариф 136 недоступен по этому направлению"
    cdek.reject_next(reason, code="v2_tariff_unavailable")
    refused_uuid = await client.register(shipment("SHOP-1"))
    fine_uuid = await client.register(shipment("SHOP-2"))
    cdek.settle()

    refused = await client.status(refused_uuid)

    assert refused.state == "INVALID"
    assert refused.errors == [reason]
    assert refused.cdek_number is None
    assert (await client.status(fine_uuid)).state == "SUCCESSFUL"  # one rejection, for the next order only


async def test_a_400_is_refused_with_cdeks_message(cdek: CdekEmulator, client: CdekClient) -> None:
    with pytest.raises(CarrierRefused) as refused:
        await client.register(shipment(recipient_phone=""))

    assert "HTTP 400" in refused.value.reason
    assert "Field is empty: recipient.phones[0].number" in refused.value.reason
    assert cdek.orders() == []


async def test_an_unknown_order_is_refused_and_a_non_uuid_never_sent(cdek: CdekEmulator, client: CdekClient) -> None:
    with pytest.raises(CarrierRefused, match="HTTP 404: Entity is not found"):
        await client.status("72753031-5427-4d1b-b1e4-7c4c26be00a0")
    with pytest.raises(ValueError, match="badly formed"):
        await client.status("../webhooks")
    assert [call.path for call in cdek.calls()][-1].endswith("72753031-5427-4d1b-b1e4-7c4c26be00a0")


async def test_a_number_is_taken_once_and_the_order_found_by_it(cdek: CdekEmulator, client: CdekClient) -> None:
    assert await client.find("SHOP-1") is None  # nothing yet: a lost registration never reached CDEK
    order_uuid = await client.register(shipment("SHOP-1"))

    with pytest.raises(CarrierRefused) as refused:
        await client.register(shipment("SHOP-1"))

    assert refused.value.codes == (NUMBER_USED,)
    assert refused.value.status == 400
    assert len(cdek.orders()) == 1
    found = await client.find("SHOP-1")
    assert found == RegistrationState(state="ACCEPTED", errors=[], cdek_number=None, uuid=order_uuid)
    cdek.settle()
    found = await client.find("SHOP-1")
    assert found is not None and (found.state, found.cdek_number) == ("SUCCESSFUL", "1106000001")


async def test_a_refused_order_frees_its_number(cdek: CdekEmulator, client: CdekClient) -> None:
    cdek.reject_next("Адрес не найден")
    refused_uuid = await client.register(shipment("SHOP-1"))
    cdek.settle()
    found = await client.find("SHOP-1")
    assert found is not None
    assert (found.state, found.uuid, found.errors) == ("INVALID", refused_uuid, ["Адрес не найден"])

    again = await client.register(shipment("SHOP-1", address="Новосибирск, ул. Ленина, 2"))  # fixed and sent again

    assert again != refused_uuid
    assert (await client.find("SHOP-1")) == RegistrationState(state="ACCEPTED", errors=[], uuid=again)


async def test_a_pickup_point_replaces_the_address(cdek: CdekEmulator, client: CdekClient) -> None:
    await client.register(shipment(delivery_point="NSK45", postal_code="630099", city="Новосибирск"))
    await client.register(shipment("SHOP-2", postal_code="630099", city="Новосибирск"))

    to_point, to_door = cdek.orders()
    assert to_point.body["delivery_point"] == "NSK45"
    assert "to_location" not in to_point.body
    assert to_door.body["to_location"] == {
        "address": "Новосибирск, ул. Ленина, 1", "code": 270, "postal_code": "630099", "city": "Новосибирск",
    }  # fmt: skip


# -- Latin for international shipments -------------------------------------------------------------------------


def test_transliteration_is_icao_doc_9303() -> None:
    # ICAO Doc 9303: М-о-с-к-в-а → Moskva; у-л → ul; Щ → Shch (Щорса → Shchorsa); д → d; digits and punctuation
    # stay; Ю → Iu and я → ia (Юлия → Iuliia); Щукина → Shchukina.
    assert transliterate("Москва, ул. Щорса, д. 8, Юлия Щукина") == "Moskva, ul. Shchorsa, d. 8, Iuliia Shchukina"
    # ц → ts, й → i, х → kh, ж → zh, ъ → ie, ё → e, Latin and quotes untouched.
    assert transliterate("Цой, Хабаровск, ул. Жуковского, подъезд 2") == "Tsoi, Khabarovsk, ul. Zhukovskogo, podieezd 2"
    assert transliterate("Чехол «Ёжик» для iPhone 15") == "Chekhol «Ezhik» dlia iPhone 15"
    # a word in capitals stays in capitals (the library alone gives "ZhK" and "ShchUKINA")
    assert transliterate("ЖК ЩУКИНА, Щ.") == "ZHK SHCHUKINA, Shch."


async def test_an_international_shipment_goes_out_in_latin(cdek: CdekEmulator, client: CdekClient) -> None:
    abroad = shipment(
        sender_name="Юлия Щукина",
        recipient_name="Юлия Щукина",
        address="Москва, ул. Щорса, д. 8",
        items=(ShipmentItem(article="CASE-1", name="Чехол «Ёжик»", cost=Decimal("990.50"), weight=120),),
        international=True,
        city_code=None,
        country_code="KZ",  # the emulator holds non-RU destinations to Latin
    )

    await client.register(abroad)

    [order] = cdek.orders()
    assert order.body["sender"]["name"] == "Iuliia Shchukina"
    assert order.body["recipient"] == {"name": "Iuliia Shchukina", "phones": [{"number": "+79134635628"}]}
    assert order.body["to_location"] == {"address": "Moskva, ul. Shchorsa, d. 8", "country_code": "KZ"}
    [item] = order.body["packages"][0]["items"]
    assert item["name"] == item["name_i18n"] == "Chekhol «Ezhik»"
    assert item["cost"] == 990.5


def test_a_domestic_shipment_keeps_cyrillic() -> None:
    body = order_body(shipment())

    assert body["recipient"]["name"] == "Константинов Константин"
    assert "name_i18n" not in body["packages"][0]["items"][0]


# -- ware keys -------------------------------------------------------------------------------------------------


async def test_long_cyrillic_articles_get_short_distinct_ware_keys(cdek: CdekEmulator, client: CdekClient) -> None:
    prefix = "ЧЕХОЛ-СИЛИКОНОВЫЙ-ДЛЯ-ТЕЛЕФОНА-ПРОЗРАЧНЫЙ-УСИЛЕННЫЙ-"  # 56 characters
    first, second = prefix + "ЧЁРНЫЙ", prefix + "БЕЛЫЙ"

    keys = [ware_key(first), ware_key(second)]

    assert all(len(key) <= 50 for key in keys)
    assert keys[0] != keys[1]
    assert all(WARE_KEY.fullmatch(key) for key in keys)  # the emulator's rule, written apart from the client's
    assert keys[0].startswith(prefix[:39])
    assert ware_key(first) == keys[0]  # stable: the same article always gets the same key
    assert ware_key("MUG-7") == "MUG-7"  # an article that fits goes as it is
    assert ware_key("ЁЛКА-1") != ware_key("ЕЛКА-1")  # ё is outside CDEK's А-я; cleaning must not merge them
    assert ware_key("ЁЛКА-1").startswith("ЕЛКА-1_")
    assert ware_key("A|B") != ware_key("A~B")

    items = tuple(ShipmentItem(article=a, name="Чехол", cost=Decimal(500), weight=50) for a in (first, second))
    await client.register(shipment(items=items))  # CDEK takes both

    [order] = cdek.orders()
    assert [item["ware_key"] for item in order.body["packages"][0]["items"]] == keys


def test_items_cdek_could_not_take_are_stopped_here() -> None:
    item = ShipmentItem(article="MUG-7", name="Кружка", cost=Decimal(1), weight=10)
    with pytest.raises(ValueError, match="listed twice"):
        order_body(shipment(items=(item, item)))
    with pytest.raises(ValueError, match=r"outside 1\.\.999"):
        order_body(shipment(items=(replace(item, amount=1000),)))
    with pytest.raises(ValueError, match="needs an article"):
        order_body(shipment(items=(replace(item, article=" "),)))


# -- failures --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("only", [None, "orders", "token"])
async def test_a_503_is_unavailable(cdek: CdekEmulator, client: CdekClient, only: str | None) -> None:
    cdek.fail_with(503, only=only)  # type: ignore[arg-type]

    with pytest.raises(CarrierUnavailable, match="HTTP 503") as unavailable:
        await client.register(shipment())

    assert isinstance(unavailable.value, ChannelUnavailable)
    cdek.recover()
    assert await client.register(shipment())


async def test_a_timeout_is_unavailable(cdek: CdekEmulator, ticks: Ticks) -> None:
    async with httpx.AsyncClient(timeout=0.05) as impatient:
        client = CdekClient(impatient, base=cdek.base_url, client_id=CLIENT_ID, client_secret=SECRET, clock=ticks)
        await client.register(shipment("SHOP-1"))
        cdek.hang()
        try:
            with pytest.raises(CarrierUnavailable, match="did not answer in time"):
                await client.register(shipment("SHOP-2"))
        finally:
            cdek.recover()


async def test_no_connection_is_unavailable(http: httpx.AsyncClient, ticks: Ticks) -> None:
    async with CdekEmulator(CLIENT_ID, SECRET, clock=ticks) as gone:
        base = gone.base_url
    client = CdekClient(http, base=base, client_id=CLIENT_ID, client_secret=SECRET, clock=ticks)

    with pytest.raises(CarrierUnavailable, match="could not be reached"):
        await client.register(shipment())


async def test_the_secret_and_the_token_never_reach_logs_or_errors(
    cdek: CdekEmulator, client: CdekClient, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    errors: list[Exception] = []
    order_uuid = await client.register(shipment("SHOP-1"))
    cdek.revoke_tokens()
    await client.status(order_uuid)  # a 401 and a refresh, logged
    for failure in (503, 400):
        cdek.fail_with(failure)
        with pytest.raises((CarrierUnavailable, CarrierRefused)) as caught:
            await client.register(shipment("SHOP-2"))
        errors.append(caught.value)
        cdek.recover()
    wrong = CdekClient(http, base=cdek.base_url, client_id=CLIENT_ID, client_secret=SECRET + "-old")
    with pytest.raises(CarrierRefused) as refused:
        await wrong.status(order_uuid)
    errors.append(refused.value)

    tokens = {bearer for bearer in order_bearers(cdek) if bearer}
    assert len(tokens) == 2
    shown = caplog.text + repr(client) + repr(wrong) + "".join(f"{error!s}{error!r}" for error in errors)
    for secret in (SECRET, *tokens):
        assert secret not in shown
    assert "access token fetched" in caplog.text  # the client did log, just not the secrets


# -- webhooks --------------------------------------------------------------------------------------------------


async def test_order_status_webhooks_are_read(cdek: CdekEmulator, client: CdekClient) -> None:
    cdek.reject_next("Адрес не найден")
    refused_uuid = await client.register(shipment("SHOP-1"))
    fine_uuid = await client.register(shipment("SHOP-2"))
    accepted = parse_webhook(cdek.webhook_body(fine_uuid))
    cdek.settle()

    assert accepted is not None and accepted.state == "ACCEPTED"
    assert parse_webhook(cdek.webhook_body(fine_uuid)) == RegistrationState(
        state="SUCCESSFUL", cdek_number="1106000001", uuid=fine_uuid, order_status="CREATED"
    )
    invalid = parse_webhook(cdek.webhook_body(refused_uuid))
    assert invalid is not None and (invalid.state, invalid.uuid) == ("INVALID", refused_uuid)
    delivered = {"type": "ORDER_STATUS", "uuid": fine_uuid, "attributes": {"code": "DELIVERED", "cdek_number": 42}}
    assert parse_webhook(delivered) == RegistrationState(
        state="SUCCESSFUL", cdek_number="42", uuid=fine_uuid, order_status="DELIVERED"
    )
    assert parse_webhook({"type": "PRINT_FORM", "uuid": fine_uuid, "attributes": {"code": "READY"}}) is None
    assert (
        parse_webhook({"type": "ORDER_STATUS", "uuid": fine_uuid, "attributes": {"is_return": True, "code": "X"}})
        is None
    )
    assert parse_webhook({"type": "ORDER_STATUS", "attributes": "nonsense"}) is None
