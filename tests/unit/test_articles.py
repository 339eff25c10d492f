"""The one article rule every entrance applies (1C's stock in any form, order lines)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.articles import check_sku, checked_in_full


@pytest.mark.parametrize("sku", ["КР-7/2", "SKU 12 (red)", "Я" * 255, "A-1_b.2", "УТ-0001365"])
def test_an_ordinary_article_is_kept(sku: str) -> None:
    assert check_sku(sku) == sku


def test_an_article_is_normalised_to_nfc() -> None:
    assert check_sku("\u0418\u0306-1") == "\u0419-1"


@pytest.mark.parametrize(
    ("sku", "problem"),
    [
        ("", "must not be empty"),
        ("Я" * 256, "at most 255 characters (has 256)"),
        ("A\u200b", "a format character (U+200B)"),
        ("\ufeffA", "a format character (U+FEFF)"),
        ("A\u200fB", "a format character (U+200F)"),
        ("A\x85", "a control character (U+0085)"),
        ("A\tB", "a control character (U+0009)"),
        ("A\u2028B", "a line separator (U+2028)"),
        ("A\u2029B", "a paragraph separator (U+2029)"),
    ],
)
def test_an_empty_long_or_invisible_article_is_refused(sku: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_sku(sku)


@given(st.text(max_size=300) | st.text(st.characters(codec="ascii"), max_size=40))
def test_the_shortcut_answers_as_the_full_check(text: str) -> None:
    try:
        expected: str | type[ValueError] = checked_in_full(text)
    except ValueError:
        expected = ValueError
    try:
        got: str | type[ValueError] = check_sku(text)
    except ValueError:
        got = ValueError
    assert got == expected
