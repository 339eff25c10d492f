"""The spellings a typed name may stand for, and the ways a phone number is written."""

from __future__ import annotations

from workflows.clients import phone_key
from workflows.typed_names import CASED_LETTERS_SPELLED_OUT, case_forms, name_key, same_name, typed_phone


def test_every_mix_of_cases_of_a_short_name_and_the_usual_ones_of_a_long_name() -> None:
    assert set(case_forms("кр-7")) == {"кр-7", "КР-7", "Кр-7", "кР-7"}
    assert case_forms("кр-7")[0] == "кр-7" and case_forms("7/2") == ["7/2"]
    long = "a" * (CASED_LETTERS_SPELLED_OUT + 1) + " b"
    assert set(case_forms(long)) == {long, long.upper(), long.capitalize(), long.title()}
    assert "STRASSE" not in case_forms("straße") and same_name("КР-7/2", " кр-7/2 ")


def test_a_typed_phone_is_one_key_however_it_is_written() -> None:
    written = [
        "8 (916) 123-45-67",
        "+7 916 123 45 67",
        "+7(916)123-45-67",
        "89161234567",
        "79161234567",
        "(916) 123-45-67",
    ]
    assert {typed_phone(text) for text in written} == {"79161234567"}
    assert typed_phone("9161234567") is None  # ten bare digits: too like an order id
    assert typed_phone("12") is None and typed_phone("0123456789-0001-1") is None and typed_phone("SO-4401") is None
    assert typed_phone("59161234567") is None  # eleven digits that are no Russian number


def test_a_stored_phone_keeps_a_foreign_number_as_written_and_a_russian_one_with_its_code() -> None:
    assert phone_key("+49 30 123456") == "4930123456" and phone_key("8-495-123-45-67") == "74951234567"
    assert phone_key("") is None and phone_key("доб. 12") is None
    assert name_key(" SITE-3-ABF6 ") == name_key("site-3-abf6") == "site-3-abf6"


def test_a_channel_is_named_in_any_case_or_by_its_kind_when_one_alone_is_of_it() -> None:
    from workflows.topology import Topology

    topology = Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}],
            "channels": {
                "wb": {"kind": "wildberries", "serves": ["online"]},
                "site": {"serves": ["online"]},
                "site2": {"kind": "site", "serves": ["online"]},
            },
        }
    )
    assert topology.channel_named(" WB ") == "wb" and topology.channel_named("Wildberries") == "wb"
    assert topology.channel_named("SITE") == "site"  # its name, though two channels are of kind site
    assert topology.channel_named("Site2") == "site2" and topology.channel_named("ozon") is None
