"""One client, one key: RetailCRM stores it as the ``externalId`` of the clients we make, and 1C gets it as the
``Ид`` of the order's ``Контрагент``, so the same person is the same client in both."""

from __future__ import annotations

import pytest

from integrations.commerceml import client_id
from workflows.clients import client_key, has_contact
from workflows.model import Customer


def test_the_key_stored_in_the_crm_does_not_change() -> None:
    # RetailCRM keeps these as externalId: another key would make a second client of the same person
    assert client_key("+7 916 123 45 67", "") == "storeops-client-f30c12aa099e412f4303"
    assert client_key("", "IVAN@example.ru ") == "storeops-client-2988179d05a98cbd729a"


@pytest.mark.parametrize(
    ("phone", "email", "same_as"),
    [
        ("8 (916) 123-45-67", "", ("+79161234567", "other@example.ru")),  # the phone, written otherwise
        ("", " Ivan@Example.RU", ("", "ivan@example.ru")),  # else the e-mail, blanks and case aside
    ],
)
def test_the_key_goes_by_the_phone_else_the_e_mail(phone: str, email: str, same_as: tuple[str, str]) -> None:
    assert client_key(phone, email) == client_key(*same_as)
    assert client_key("+79160000000", "") != client_key("+79161234567", "")


def test_1c_names_a_client_by_the_crm_s_key() -> None:
    ivan = Customer("Иван Петров", "+7 (916) 123-45-67", "Ivan@Example.ru")
    assert client_id(ivan) == client_key(ivan.phone, ivan.email)
    assert client_id(Customer("", "", "ivan@example.ru")) == client_key("", "ivan@example.ru")


def test_a_contact_is_a_phone_with_digits_or_an_e_mail() -> None:
    assert has_contact("+7 916", "") and has_contact("", "a@b.ru")
    assert not has_contact("скрыт", " ") and not has_contact("", "")
