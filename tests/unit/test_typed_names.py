"""The spellings a typed name may stand for, and the ways a phone number is written."""

from __future__ import annotations

from workflows.typed_names import CASED_LETTERS_SPELLED_OUT, case_forms, phone_forms, same_name


def test_every_mix_of_cases_of_a_short_name_and_the_usual_ones_of_a_long_name() -> None:
    assert set(case_forms("кр-7")) == {"кр-7", "КР-7", "Кр-7", "кР-7"}
    assert case_forms("кр-7")[0] == "кр-7" and case_forms("7/2") == ["7/2"]
    long = "a" * (CASED_LETTERS_SPELLED_OUT + 1) + " b"
    assert set(case_forms(long)) == {long, long.upper(), long.capitalize(), long.title()}
    assert "STRASSE" not in case_forms("straße") and same_name("КР-7/2", " кр-7/2 ")


def test_a_phone_is_looked_up_as_it_is_written() -> None:
    forms = phone_forms("8 (916) 123-45-67")
    assert {"+79161234567", "89161234567", "+7 (916) 123-45-67", "8 (916) 123-45-67"} <= set(forms)
    assert set(phone_forms("+7 916 123 45 67")) == set(forms)
    assert phone_forms("79161234567") and phone_forms("9161234567") == []  # ten bare digits: too like an order id
    assert phone_forms("12") == phone_forms("0123456789-0001-1") == phone_forms("SO-4401") == []


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
