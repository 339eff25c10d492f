"""Secrets we check others against must be long enough, and a configuration error shows no credentials."""

from __future__ import annotations

import pytest

from app.cli import main
from app.settings import ConfigurationError, load_settings, redact_credentials

SHORT_SECRETS = ["API_TOKEN", "PAYMENTS_HMAC_SECRET", "ONEC_EXCHANGE_PASSWORD", "SLACK_SIGNING_SECRET"]


@pytest.mark.parametrize("name", SHORT_SECRETS)
@pytest.mark.parametrize("value", ["a", "1", "x", "fifteen-chars-x"])
def test_a_short_secret_is_refused_by_name_without_its_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings(env_file=None)
    (line,) = [line for line in str(error.value).splitlines() if name in line]
    assert line.strip() == f"{name}: Value error, too short: use at least 16 random characters"  # no value


@pytest.mark.parametrize("name", SHORT_SECRETS)
def test_a_secret_of_16_characters_is_taken(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "0123456789abcdef")
    settings = load_settings(env_file=None)
    assert "0123456789abcdef" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ONEC_ODATA_URL", "http://odata:S3cr3tPass@1c.example:99999/trade"),
        ("SLACK_API_BASE", "http://:S3cr3tPass@slack.example:70000/api/"),
        ("CDEK_API_BASE", "https://S3cr3tPass@cdek.example:123456/v2"),
        ("HTTP_PORT", "http://u:S3cr3tPass@x"),
        ("ONEC_EXCHANGE_PATH", "http://u:S3cr3t@Pass@x/exchange"),
        ("CDEK_SENDER_PHONE", "postgresql+asyncpg://u:S3cr3tPass@db/x"),
    ],
)
def test_a_bad_setting_holding_a_url_shows_no_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings(env_file=None)
    assert name in str(error.value) and "***@" in str(error.value)
    assert "S3cr3t" not in str(error.value)
    assert main(["--env-file", "/nonexistent/.env", "check-config"]) == 2
    printed = capsys.readouterr()
    assert name in printed.err and "S3cr3t" not in printed.err + printed.out


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://odata:S3cr3tPass@host/base", "http://odata:***@host/base"),
        ("got 'https://:S3cr3tPass@host'", "got 'https://:***@host'"),
        ("(got 'https://token-S3cr3tPass@host/x') and ftp://u:p@h", "(got 'https://***@host/x') and ftp://u:***@h"),
        ("postgresql+asyncpg://u:p@ss/w@rd@db:5432/x", "postgresql+asyncpg://u:***@db:5432/x"),
        ("http://host/path?next=1 and sqlite+aiosqlite:///./x.db", "http://host/path?next=1 and sqlite+aiosqlite:///./x.db"),
    ],
)  # fmt: skip
def test_credentials_in_any_url_are_hidden(text: str, shown: str) -> None:
    assert redact_credentials(text) == shown
