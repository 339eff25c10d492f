"""What a person types to name something we keep under an exact spelling — an article, a channel's order number,
a phone — and the spellings it may stand for.

Articles and order numbers are stored as they came (``КР-7/2``, ``SITE-3-abf6``) and a person types them in any
case. SQLite's ``lower()`` folds ASCII letters only and PostgreSQL's depends on the database's locale, so a
case-insensitive comparison cannot be left to the database. An order is stored with its number folded here
(:func:`name_key`) and its phone as digits (:func:`workflows.clients.phone_key`), each on an index, so whatever
case or way of writing a phone is typed, it is one exact lookup. An article is not: stock rows are the hot path
and carry no folded copy, so the typed text is turned into the spellings it may stand for (:func:`case_forms`),
looked up exactly on the stock's own key, then compared with :meth:`str.casefold` here."""

from __future__ import annotations

from itertools import product

from workflows.clients import phone_key

CASED_LETTERS_SPELLED_OUT = 8  # up to 2**8 spellings; past that, only the usual ones (see case_forms)


def case_forms(typed: str) -> list[str]:
    """The spellings ``typed`` may stand for, whatever its case, ``typed`` itself first. Every mix of upper and
    lower case while it has at most :data:`CASED_LETTERS_SPELLED_OUT` letters; past that only the usual ones —
    as typed, all upper, all lower, capitalised, each word capitalised — which is where a long name written in
    some other mix of cases is not found."""
    choices = [sorted({char, char.upper(), char.lower()}) for char in typed]
    if sum(len(options) > 1 for options in choices) <= CASED_LETTERS_SPELLED_OUT:
        forms = ["".join(chars) for chars in product(*choices)]
    else:
        forms = [typed.upper(), typed.lower(), typed.capitalize(), typed.title()]
    forms = [form for form in forms if len(form) == len(typed)]  # "ß".upper() is "SS": not a spelling of it
    return list(dict.fromkeys([typed, *forms]))


def name_key(name: str) -> str:
    """A name as it is compared, case and surrounding blanks aside: ``WB-1`` and `` wb-1`` have one key."""
    return name.strip().casefold()


def same_name(stored: str, typed: str) -> bool:
    """Whether ``typed`` names ``stored``, case aside."""
    return stored.casefold() == typed.strip().casefold()


PHONE_DIGITS = (10, 11)  # a Russian number without its country code, or with it (7… or 8…)


def typed_phone(typed: str) -> str | None:
    """The phone key (:func:`workflows.clients.phone_key`) of the Russian number a person typed to find a client's
    orders (``+79161234567``, ``8 (916) 123-45-67`` …); ``None`` when what was typed is no phone number: a number is
    one written with a ``+`` or punctuation, or 11 digits starting with 7 or 8 (plain 10 digits are too like other
    numbers)."""
    text = typed.strip()
    digits = "".join(char for char in text if char.isdigit())
    if set(text) - set("0123456789+-() ") or len(digits) not in PHONE_DIGITS:
        return None
    if len(digits) == 11 and digits[0] not in "78":
        return None
    if len(digits) == 10 and text.isdigit():
        return None
    return phone_key(text)
