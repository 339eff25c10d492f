"""Wrong or missing configuration stops start-up with the key and the problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import ConfigurationError, load_settings
from app.topology import load_topology
from tests.conftest import ROOT

EXAMPLE = (ROOT / "storeops.example.toml").read_text(encoding="utf-8")


def test_defaults_are_the_contract_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "HTTP_PORT", "STORE_CONFIRMATION_TIMEOUT_S", "FX_DEVIATION_THRESHOLD", "LOCALE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(env_file=None)
    assert settings.database.url == "sqlite+aiosqlite:///./data/storeops.db"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)
    assert settings.business.store_confirmation_timeout_s == 1200
    assert settings.business.fx_deviation_threshold == 0.02
    assert settings.business.fraud_amount_threshold_rub == 100_000
    assert settings.business.locale == "ru"
    assert settings.business.onec_future_tolerance_s == 600
    assert str(settings.slack.api_base) == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HTTP_PORT", "eighty", "HTTP_PORT"),
        ("HTTP_PORT", "70000", "HTTP_PORT"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: Value error, unsupported driver 'mysql'"),
        ("DATABASE_URL", "postgresql://u@h/db", "postgresql+asyncpg"),
        ("TELEGRAM_MODE", "carrier-pigeon", "TELEGRAM_MODE"),
        ("FX_DEVIATION_THRESHOLD", "2", "FX_DEVIATION_THRESHOLD"),
        ("LOCALE", "de", "LOCALE"),
        ("ONEC_FUTURE_TOLERANCE_S", "-1", "ONEC_FUTURE_TOLERANCE_S"),
        ("ONEC_FUTURE_TOLERANCE_S", "a day", "ONEC_FUTURE_TOLERANCE_S"),
        ("SLACK_API_BASE", "not a url", "SLACK_API_BASE"),
        ("SLACK_TIMEOUT_S", "0", "SLACK_TIMEOUT_S"),
        ("SLACK_TIMEOUT_S", "soon", "SLACK_TIMEOUT_S"),
        ("ORDER_EVENTS_INTERVAL_S", "0", "ORDER_EVENTS_INTERVAL_S"),
        ("ORDER_EVENTS_INTERVAL_S", "-5", "ORDER_EVENTS_INTERVAL_S"),
        ("UNFILLABLE_SHIP_BY_MARGIN_S", "-1", "UNFILLABLE_SHIP_BY_MARGIN_S"),
        ("API_TOKEN", "short", "API_TOKEN: Value error, too short"),
    ],
)
def test_a_bad_setting_names_its_key(monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings(env_file=None)
    assert expected in str(error.value)


def test_secrets_never_appear_in_errors_or_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "very-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db/x")
    with pytest.raises(ConfigurationError) as error:
        load_settings(env_file=None)
    assert "hunter2" not in str(error.value)
    monkeypatch.delenv("DATABASE_URL")
    settings = load_settings(env_file=None)
    assert "very-secret-value" not in repr(settings)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PORT", raising=False)
    env = tmp_path / ".env"
    env.write_text("HTTP_PORT=9090\nAPI_TOKEN=abcdefghijklmnop\nTELEGRAM_BOT_TOKEN=\n")
    settings = load_settings(env_file=env)
    assert settings.http.port == 9090
    assert settings.http.api_token is not None and settings.http.api_token.get_secret_value() == "abcdefghijklmnop"
    assert settings.telegram.bot_token is None  # an empty line in .env means "not set"


def test_the_documented_env_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(env_file=ROOT / ".env.example")
    assert settings.http.api_token is None
    assert settings.database.sqlite_synchronous == "FULL"


def test_the_example_topology_loads() -> None:
    topology = load_topology(ROOT / "storeops.example.toml")
    assert [w.code for w in topology.warehouses] == ["online", "tverskaya", "arbat"]
    assert topology.channels["wildberries"].offer_id.forbidden == "/"
    assert [w.code for w in topology.routing_order(topology.channels["site"])] == ["online", "tverskaya", "arbat"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('serves = ["online", "tverskaya"]', 'serves = ["online", "tverskya"]'),
            "channels.wildberries.serves: unknown warehouse 'tverskya'",
        ),
        (('opening_hours = "10:00-22:00"', 'opening_hours = "10-22"'), "warehouses.1.opening_hours"),
        (('kind = "store"', 'kind = "shop"'), "warehouses.1.kind"),
        (("safety_stock = 1\noffer_id", "safety_stock = -1\noffer_id"), "channels.wildberries.safety_stock"),
        (('code = "arbat"', 'code = "tverskaya"'), "code used twice: tverskaya"),
        (("priority = 2", "priorty = 2"), "warehouses.2.priorty: Extra inputs are not permitted"),
        (('replacement = "-"', 'replacement = "/"'), "channels.wildberries.offer_id"),
        (
            ('timezone = "Europe/Moscow"\n\n[[warehouses]]', 'timezone = "Mars/Olympus"\n\n[[warehouses]]'),
            "unknown time zone 'Mars/Olympus'",
        ),
        (("[people]", "[people\n"), "not valid TOML"),
        (
            ("ignore_warehouses = []", 'ignore_warehouses = []\ntotals_warehouse = "warehouse-9"'),
            "onec.totals_warehouse: unknown warehouse 'warehouse-9': give the code of one of ours (known: online,",
        ),
    ],
)
def test_a_topology_mistake_names_its_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in EXAMPLE
    path = tmp_path / "storeops.toml"
    path.write_text(EXAMPLE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_topology(path)
    assert expected in str(error.value)


def test_a_missing_topology_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"STOREOPS_CONFIG: topology file .* not found"):
        load_topology(tmp_path / "nope.toml")


def test_every_setting_is_documented_in_env_example() -> None:
    from app.settings import Settings

    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = [str(f.validation_alias) for f in Settings.model_fields.values() if f.validation_alias]
    for group in Settings.model_fields.values():
        model = group.annotation
        if isinstance(model, type) and hasattr(model, "model_fields"):
            names += [str(f.validation_alias) for f in model.model_fields.values()]
    assert len(names) > 25
    assert [n for n in names if f"\n{n}=" not in documented] == []


def test_every_topology_key_is_documented_in_the_example() -> None:
    from workflows.offer_ids import OfferIdRule
    from workflows.topology import Channel, OneC, People, Prices, StoreQuestions, Warehouse

    documented = (ROOT / "storeops.example.toml").read_text(encoding="utf-8")
    keys = {
        k
        for model in (Warehouse, Channel, People, OneC, OfferIdRule, StoreQuestions, Prices)
        for k in model.model_fields
    } - {"name"}
    assert [k for k in sorted(keys) if k not in documented] == []
