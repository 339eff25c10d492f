"""Settings from the environment (and ``.env``), in groups. Names are the public ones
documented in ``.env.example``; every secret is a ``SecretStr`` so it never lands in a log or a repr."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.client_address import proxy_networks

MIN_SECRET_LENGTH = 16


def _long_enough(value: SecretStr) -> SecretStr:
    """A shared secret someone chose: at least 16 characters, so a typo or a placeholder never passes."""
    if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
        raise ValueError(f"too short: use at least {MIN_SECRET_LENGTH} random characters")
    return value


# A secret we check others against (our token, a signing secret, a password): the error names the key, never the value.
ChosenSecret = Annotated[SecretStr, AfterValidator(_long_enough)]


class _Group(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True, env_ignore_empty=True
    )


class DatabaseSettings(_Group):
    url: str = Field(default="sqlite+aiosqlite:///./data/storeops.db", validation_alias="DATABASE_URL")
    busy_timeout_ms: int = Field(default=30_000, ge=0, validation_alias="SQLITE_BUSY_TIMEOUT_MS")
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL", validation_alias="SQLITE_SYNCHRONOUS"
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL; use sqlite+aiosqlite:///path or postgresql+asyncpg://…") from None
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                f"unsupported driver {url.drivername!r}; use sqlite+aiosqlite:///path or postgresql+asyncpg://…"
            )
        return value


class HttpSettings(_Group):
    host: str = Field(default="127.0.0.1", validation_alias="HTTP_HOST")
    port: int = Field(default=8080, ge=0, le=65535, validation_alias="HTTP_PORT")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, validation_alias="HTTP_MAX_BODY_BYTES")
    # seconds a client has to send a whole request head: from connecting, and again after each response (an idle
    # keep-alive connection is closed then too)
    header_timeout_s: float = Field(default=10.0, gt=0, le=300, validation_alias="HTTP_HEADER_TIMEOUT_S")
    # seconds a request's whole body may take to arrive, counted from its head (a 1C upload of up to 8 MiB too)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600, validation_alias="HTTP_BODY_TIMEOUT_S")
    # connections served at once; one more is answered 503 with Retry-After and closed
    max_connections: int = Field(default=256, ge=1, le=100_000, validation_alias="HTTP_MAX_CONNECTIONS")
    api_token: ChosenSecret | None = Field(default=None, validation_alias="API_TOKEN")
    # the payment gateway may sign its events instead of sending the bearer token:
    # X-Signature: sha256=<hex HMAC of "<X-Signature-Timestamp>." + body>
    payments_hmac_secret: ChosenSecret | None = Field(default=None, validation_alias="PAYMENTS_HMAC_SECRET")
    # also take the old signature of the body alone (no timestamp, so a captured event can be replayed)
    payments_signature_legacy: bool = Field(default=False, validation_alias="PAYMENTS_SIGNATURE_LEGACY")
    # wrong bearer tokens (and 1C exchange logins) one address may try within the window before it is refused
    auth_failure_limit: int = Field(default=10, ge=1, le=10_000, validation_alias="AUTH_FAILURE_LIMIT")
    auth_failure_window_s: int = Field(default=60, ge=1, le=86_400, validation_alias="AUTH_FAILURE_WINDOW_S")
    # reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client: the wrong-
    # token throttles then count each client, not the proxy; empty: the TCP peer is the client
    trusted_proxies: str = Field(default="", validation_alias="HTTP_TRUSTED_PROXIES")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        proxy_networks(value)  # a bad entry stops the start with its name
        return value


class TelegramSettings(_Group):
    bot_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    api_base: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.telegram.org"), validation_alias="TELEGRAM_API_BASE")
    mode: Literal["polling", "webhook"] = Field(default="polling", validation_alias="TELEGRAM_MODE")
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET")

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", value.get_secret_value()):
            raise ValueError("not a bot token: expected <digits>:<letters, digits, _ or -> as @BotFather gives it")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value.get_secret_value()):
            raise ValueError("use 16-256 characters of A-Z a-z 0-9 _ - (Telegram's rule, and long enough to guess)")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.mode == "webhook" and self.bot_token is not None and self.webhook_secret is None:
            raise ValueError(
                "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET (anyone could post updates otherwise)"
            )
        return self


class SlackSettings(_Group):
    bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    signing_secret: ChosenSecret | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    api_base: AnyHttpUrl = Field(default=AnyHttpUrl("https://slack.com/api/"), validation_alias="SLACK_API_BASE")
    # Seconds a Slack call may take; a delivery that runs out tries again on the next run.
    timeout_s: float = Field(default=5.0, gt=0, le=60, validation_alias="SLACK_TIMEOUT_S")
    # Seconds a store person's click waits for their name (users.info) before it is taken with their id alone:
    # Slack waits 3 s for the click's answer.
    name_timeout_s: float = Field(default=1.0, gt=0, le=2, validation_alias="SLACK_NAME_TIMEOUT_S")


class ChannelSettings(_Group):
    wb_token: SecretStr | None = Field(default=None, validation_alias="WB_TOKEN")
    wb_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://marketplace-api.wildberries.ru"), validation_alias="WB_API_BASE"
    )
    wb_content_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://content-api.wildberries.ru"), validation_alias="WB_CONTENT_API_BASE"
    )
    wb_prices_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://discounts-prices-api.wildberries.ru"), validation_alias="WB_PRICES_API_BASE"
    )
    ozon_client_id: str | None = Field(default=None, validation_alias="OZON_CLIENT_ID")
    ozon_api_key: SecretStr | None = Field(default=None, validation_alias="OZON_API_KEY")
    ozon_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api-seller.ozon.ru"), validation_alias="OZON_API_BASE"
    )
    ym_api_key: SecretStr | None = Field(default=None, validation_alias="YM_API_KEY")
    ym_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.partner.market.yandex.ru"), validation_alias="YM_API_BASE"
    )
    site_api_base: AnyHttpUrl | None = Field(default=None, validation_alias="SITE_API_BASE")
    site_api_token: SecretStr | None = Field(default=None, validation_alias="SITE_API_TOKEN")
    retailcrm_api_base: AnyHttpUrl | None = Field(default=None, validation_alias="RETAILCRM_API_BASE")
    retailcrm_api_key: SecretStr | None = Field(default=None, validation_alias="RETAILCRM_API_KEY")
    retailcrm_site: str | None = Field(default=None, validation_alias="RETAILCRM_SITE")
    # RetailCRM status codes that mean "cancelled" (its cancel group), comma-separated: a manager's move to one
    # cancels our order; the first is what our own cancellation is sent as.
    retailcrm_cancel_statuses: str = Field(
        default="cancel-other,cancelled", pattern=r"^[a-z0-9_-]+(,[a-z0-9_-]+)*$", max_length=1000,
        validation_alias="RETAILCRM_CANCEL_STATUSES",
    )  # fmt: skip
    # the account's payment type code for an order's payment (RetailCRM's list of payment types)
    retailcrm_payment_type: str = Field(
        default="bank-card", pattern=r"^[a-z0-9_-]+$", max_length=64, validation_alias="RETAILCRM_PAYMENT_TYPE"
    )
    # the code of a custom field of RetailCRM's orders that shows our own status (reserved, out of stock…); "": none
    retailcrm_status_field: str = Field(
        default="", pattern=r"^[a-z0-9_]*$", max_length=64, validation_alias="RETAILCRM_STATUS_FIELD"
    )
    # seconds between sending changed orders to RetailCRM, and between reads of its status changes
    retailcrm_orders_interval_s: int = Field(default=60, ge=10, le=3600, validation_alias="RETAILCRM_ORDERS_INTERVAL_S")
    # seconds between reads of each channel's order events (cancellations, deliveries, returns)
    order_events_interval_s: int = Field(default=60, gt=0, le=3600, validation_alias="ORDER_EVENTS_INTERVAL_S")
    cbr_daily_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://www.cbr.ru/scripts/XML_daily.asp"), validation_alias="CBR_DAILY_URL"
    )
    # the whole fetch of the rate sheet (connect, headers and body) ends after this many seconds
    cbr_timeout_s: float = Field(default=10.0, gt=0, le=120, validation_alias="CBR_TIMEOUT_S")


class OneCExchangeSettings(_Group):
    """The standard 1C ↔ site exchange (CommerceML): on when a user and password are set."""

    user: str | None = Field(default=None, validation_alias="ONEC_EXCHANGE_USER")
    password: ChosenSecret | None = Field(default=None, validation_alias="ONEC_EXCHANGE_PASSWORD")
    path: str = Field(default="/1c_exchange.php", pattern=r"^/[\w./-]*$", validation_alias="ONEC_EXCHANGE_PATH")
    file_limit_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, validation_alias="ONEC_EXCHANGE_FILE_LIMIT_BYTES")
    max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, validation_alias="ONEC_EXCHANGE_MAX_BYTES")


class OneCODataSettings(_Group):
    """1C's OData (standard.odata): the stock register pulled on a schedule as the full truth."""

    url: AnyHttpUrl | None = Field(default=None, validation_alias="ONEC_ODATA_URL")
    user: str | None = Field(default=None, validation_alias="ONEC_ODATA_USER")
    password: SecretStr | None = Field(default=None, validation_alias="ONEC_ODATA_PASSWORD")
    stock_register: str = Field(default="ТоварыНаСкладах", min_length=1, validation_alias="ONEC_ODATA_REGISTER")
    # the information register of item prices, pulled with the stock; empty: prices are not pulled
    price_register: str = Field(default="ЦеныНоменклатуры", validation_alias="ONEC_ODATA_PRICE_REGISTER")
    interval_s: int = Field(default=3600, ge=60, validation_alias="ONEC_ODATA_INTERVAL_S")


class CarrierSettings(_Group):
    """CDEK, the carrier: allocated, paid orders that came with a delivery are registered once the account is set."""

    cdek_client_id: str | None = Field(default=None, validation_alias="CDEK_CLIENT_ID")
    cdek_client_secret: SecretStr | None = Field(default=None, validation_alias="CDEK_CLIENT_SECRET")
    # production; CDEK's test host is https://api.edu.cdek.ru/v2
    cdek_api_base: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.cdek.ru/v2"), validation_alias="CDEK_API_BASE")
    sender_name: str | None = Field(default=None, max_length=255, validation_alias="CDEK_SENDER_NAME")
    sender_phone: str | None = Field(
        default=None, pattern=r"^\+?[0-9 ()-]{10,20}$", validation_alias="CDEK_SENDER_PHONE"
    )
    # the CDEK office the shop hands parcels in at, for tariffs that start at an office ("склад-…")
    shipment_point: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", validation_alias="CDEK_SHIPMENT_POINT"
    )
    default_weight_g: int = Field(default=500, ge=1, le=100_000, validation_alias="CDEK_DEFAULT_WEIGHT_G")
    interval_s: int = Field(default=30, ge=5, le=600, validation_alias="SHIPPING_INTERVAL_S")

    @property
    def enabled(self) -> bool:
        return bool(self.cdek_client_id) and self.cdek_client_secret is not None

    @model_validator(mode="after")
    def _sender_with_account(self) -> CarrierSettings:
        if self.enabled and not (self.sender_name and self.sender_phone):
            raise ValueError(
                "CDEK_CLIENT_ID is set: set CDEK_SENDER_NAME and CDEK_SENDER_PHONE too (the shop as sender)"
            )
        return self


class PaymentGatewaySettings(_Group):
    """The payment gateway's API (YooKassa v3): a payment whose phase stands still is asked about there, and clients'
    top-ups are created there (once per payment id; with the client's page and its base URL set). Off until the
    shop's id and secret key are set."""

    url: AnyHttpUrl = Field(default=AnyHttpUrl("https://api.yookassa.ru/v3"), validation_alias="PAYMENT_GATEWAY_URL")
    shop_id: str | None = Field(
        default=None, pattern=r"^[0-9A-Za-z_-]{1,64}$", validation_alias="PAYMENT_GATEWAY_SHOP_ID"
    )
    secret_key: SecretStr | None = Field(default=None, validation_alias="PAYMENT_GATEWAY_SECRET_KEY")
    # one status request, answer included, must end within this; else the payment is asked about again later
    timeout_s: float = Field(default=10.0, gt=0, le=120, validation_alias="PAYMENT_GATEWAY_TIMEOUT_S")
    # a payment not cleared, failed or refunded whose phase stood still this long is polled
    poll_after_s: int = Field(default=900, ge=60, le=7 * 86_400, validation_alias="PAYMENT_UNKNOWN_POLL_AFTER_S")
    # ...and unknown this long, the managers get a task in Telegram
    task_after_s: int = Field(default=7200, ge=300, le=30 * 86_400, validation_alias="PAYMENT_UNKNOWN_TASK_AFTER_S")
    interval_s: int = Field(default=60, ge=5, le=3600, validation_alias="PAYMENT_WATCH_INTERVAL_S")
    # where YooKassa's notices may come from (addresses or networks, comma-separated); empty: from anywhere (each
    # is confirmed by reading the payment at YooKassa all the same)
    notice_ips: str = Field(default="", validation_alias="PAYMENT_GATEWAY_NOTICE_IPS")

    @property
    def enabled(self) -> bool:
        return bool(self.shop_id) and self.secret_key is not None

    @field_validator("notice_ips")
    @classmethod
    def _notice_ips(cls, value: str) -> str:
        proxy_networks(value)  # a bad entry stops the start with its name
        return value

    @model_validator(mode="after")
    def _task_after_poll(self) -> PaymentGatewaySettings:
        if self.task_after_s <= self.poll_after_s:
            raise ValueError(
                "PAYMENT_UNKNOWN_TASK_AFTER_S must be longer than PAYMENT_UNKNOWN_POLL_AFTER_S (ask the gateway first)"
            )
        return self


CLIENT_LINK_SECRET_LENGTH = 32


class ClientPageSettings(_Group):
    """The client's signed order page (``/client/orders/{id}``): on when ``CLIENT_LINK_SECRET`` is set. Links are
    signed with it (HMAC-SHA256), so it must be long and random; it is never logged."""

    link_secret: SecretStr | None = Field(default=None, validation_alias="CLIENT_LINK_SECRET")
    # the shop's public address the links start with (https://shop.example.ru); unset: a link is its path alone
    base_url: AnyHttpUrl | None = Field(default=None, validation_alias="CLIENT_LINK_BASE_URL")
    # how long a link a manager sends stays good
    link_ttl_s: int = Field(default=30 * 86_400, ge=3600, le=366 * 86_400, validation_alias="CLIENT_LINK_TTL_S")

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < CLIENT_LINK_SECRET_LENGTH:
            raise ValueError(
                f"too short for signing clients' links: use at least {CLIENT_LINK_SECRET_LENGTH} random characters "
                "(e.g. `openssl rand -hex 32`), or leave it unset to keep the client's page off"
            )
        return value

    @property
    def enabled(self) -> bool:
        return self.link_secret is not None


class BusinessSettings(_Group):
    store_confirmation_timeout_s: int = Field(default=1200, ge=10, validation_alias="STORE_CONFIRMATION_TIMEOUT_S")
    fx_deviation_threshold: float = Field(default=0.02, gt=0, lt=1, validation_alias="FX_DEVIATION_THRESHOLD")
    fraud_amount_threshold_rub: int = Field(default=100_000, ge=0, validation_alias="FRAUD_AMOUNT_THRESHOLD_RUB")
    locale: Literal["ru", "en"] = Field(default="ru", validation_alias="LOCALE")
    deadline_pump_interval_s: float = Field(default=5.0, gt=0, le=300, validation_alias="DEADLINE_PUMP_INTERVAL_S")
    onec_silence_alert_s: int = Field(default=1800, ge=60, validation_alias="ONEC_SILENCE_ALERT_S")
    # how far ahead of our clock 1C's stock may be dated; a figure further ahead is refused
    onec_future_tolerance_s: int = Field(default=600, ge=0, le=86_400, validation_alias="ONEC_FUTURE_TOLERANCE_S")
    # the managers' time to cancel a marketplace order nobody can fill, or to wait; then the owner is asked
    unfillable_decision_s: int = Field(default=14_400, ge=300, le=7 * 86_400, validation_alias="UNFILLABLE_DECISION_S")
    # ...and at the latest this long before the marketplace's own shipping deadline, when it tells one
    unfillable_ship_by_margin_s: int = Field(
        default=7200, ge=0, le=7 * 86_400, validation_alias="UNFILLABLE_SHIP_BY_MARGIN_S"
    )
    # ``wait`` on that question, with no delivery date named (/wait names one), asks again this much later
    unfillable_wait_s: int = Field(default=86_400, ge=3600, le=30 * 86_400, validation_alias="UNFILLABLE_WAIT_S")
    fx_check_interval_s: int = Field(default=300, ge=10, validation_alias="FX_CHECK_INTERVAL_S")
    # a channel price falling more than this share below what the channel shows waits for the managers' approval
    price_drop_approval: float = Field(default=0.2, gt=0, lt=1, validation_alias="PRICE_DROP_APPROVAL")
    # ...who have this long to approve or reject it, then the owner is asked
    price_approval_timeout_s: int = Field(
        default=14_400, ge=300, le=7 * 86_400, validation_alias="PRICE_APPROVAL_TIMEOUT_S"
    )
    # the managers' time to decide on a payment out its earmark cannot cover (then the owner is asked), and how long
    # ``postpone`` puts it off before it is tried again (docs/client_money.md)
    money_decision_timeout_s: int = Field(
        default=14_400, ge=300, le=7 * 86_400, validation_alias="MONEY_DECISION_TIMEOUT_S"
    )
    money_postpone_s: int = Field(default=86_400, ge=3600, le=30 * 86_400, validation_alias="MONEY_POSTPONE_S")
    # a client payment cleared on an order and no goods payout (a purchase) this long: the managers are asked
    money_purchase_watch_s: int = Field(
        default=86_400, ge=3600, le=30 * 86_400, validation_alias="MONEY_PURCHASE_WATCH_S"
    )
    # a return the warehouse calls sellable is stock at once, rather than when 1C's next figure counts it
    returns_sellable_at_once: bool = Field(default=False, validation_alias="RETURNS_SELLABLE_AT_ONCE")
    # shop-local time (the topology's onec.timezone) the owner gets yesterday's report in Telegram
    report_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", validation_alias="REPORT_TIME")

    @property
    def report_at(self) -> tuple[int, int]:
        """``REPORT_TIME`` as (hour, minute)."""
        hour, minute = self.report_time.split(":")
        return int(hour), int(minute)


class Settings(_Group):
    config_path: Path = Field(default=Path("storeops.toml"), validation_alias="STOREOPS_CONFIG")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", validation_alias="LOG_LEVEL")
    # this instance's name among those sharing the database, the same across its restarts (app/instance.py);
    # unset: this host's name and a digest of the database, the topology file and the HTTP address
    instance_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", validation_alias="INSTANCE_ID"
    )
    database: DatabaseSettings
    http: HttpSettings
    telegram: TelegramSettings
    slack: SlackSettings
    channels: ChannelSettings
    business: BusinessSettings
    onec_exchange: OneCExchangeSettings
    onec_odata: OneCODataSettings
    carrier: CarrierSettings
    payment_gateway: PaymentGatewaySettings
    client_page: ClientPageSettings


class ConfigurationError(Exception):
    """Start-up cannot go on; the message names the key and the problem."""


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    groups = {
        "database": DatabaseSettings,
        "http": HttpSettings,
        "telegram": TelegramSettings,
        "slack": SlackSettings,
        "channels": ChannelSettings,
        "business": BusinessSettings,
        "onec_exchange": OneCExchangeSettings,
        "onec_odata": OneCODataSettings,
        "carrier": CarrierSettings,
        "payment_gateway": PaymentGatewaySettings,
        "client_page": ClientPageSettings,
    }
    problems: list[str] = []
    built: dict[str, Any] = {}
    for name, group in groups.items():
        try:
            built[name] = group(_env_file=env_file)
        except ValidationError as error:
            problems.extend(_describe(error))
    if problems:
        raise ConfigurationError("configuration error:\n  " + "\n  ".join(problems))
    try:
        return Settings(_env_file=env_file, **built)
    except ValidationError as error:
        raise ConfigurationError("configuration error:\n  " + "\n  ".join(_describe(error))) from None


def _describe(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "?"
        given = item.get("input")
        shown = "" if isinstance(given, dict) or "SecretStr" in str(item.get("type", "")) else f" (got {given!r})"
        if _looks_secret(key):
            shown = ""
        out.append(redact_credentials(f"{key}: {item['msg']}{shown}"))
    return out


# scheme://<userinfo>@ — greedy, so a password holding an unescaped "@" or "/" is hidden whole
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s'\"]*)@")


def redact_credentials(text: str) -> str:
    """``text`` with the password of every URL in it hidden: ``scheme://user:***@host``; a userinfo without a
    colon (a token used as the user name) is hidden whole: ``scheme://***@host``."""

    def hide(match: re.Match[str]) -> str:
        user, colon, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"

    return _USERINFO.sub(hide, text)


def _looks_secret(key: str) -> bool:
    return any(word in key.upper() for word in ("TOKEN", "SECRET", "KEY", "PASSWORD", "DATABASE_URL"))
