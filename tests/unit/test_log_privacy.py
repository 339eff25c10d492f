"""Log privacy: a database error's message, which may quote customer data, never reaches a log line."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DBAPIError

from app import log_privacy


@pytest.fixture
def privacy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_privacy, "_installed", False)
    monkeypatch.setattr(logging, "_logRecordFactory", logging.getLogRecordFactory())
    log_privacy.install()


CUSTOMER = "Ivan Petrov, +79995551234"  # named here so the traceback's source lines do not show it


class DataError(Exception):
    pass


def _fail_in_database() -> None:
    try:
        raise DataError(f"invalid input for query argument $2: {CUSTOMER!r}")
    except DataError as error:
        raise DBAPIError("INSERT INTO orders (customer) VALUES ($1)", None, error) from error


def test_a_database_error_in_a_traceback_is_logged_without_its_message(
    privacy: None, caplog: pytest.LogCaptureFixture
) -> None:
    def wrapped() -> None:
        try:
            _fail_in_database()
        except DBAPIError as error:
            raise RuntimeError("the order could not be saved") from error

    with caplog.at_level("ERROR"):
        try:
            wrapped()
        except RuntimeError:
            logging.getLogger("storeops.test").exception("order failed")
    assert "79995551234" not in caplog.text and "Ivan" not in caplog.text
    assert "DataError: (message not logged" in caplog.text and "DBAPIError: (message not logged" in caplog.text
    assert "RuntimeError: the order could not be saved" in caplog.text  # other errors keep their words
    assert "in _fail_in_database" in caplog.text  # and the frames say where


def test_other_errors_are_logged_as_python_prints_them(privacy: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("ERROR"):
        try:
            raise ValueError("a plain problem")
        except ValueError:
            logging.getLogger("storeops.test").exception("failed")
    assert "ValueError: a plain problem" in caplog.text


def test_install_twice_wraps_once(privacy: None) -> None:
    factory = logging.getLogRecordFactory()
    log_privacy.install()
    assert logging.getLogRecordFactory() is factory
