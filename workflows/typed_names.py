"""What a person types to name something we keep under an exact spelling — an article, a channel's order number,
a phone — and the spellings it may stand for.

Articles and order numbers are stored as they came (``КР-7/2``, ``SITE-3-abf6``) and a person types them in any
case. SQLite's ``lower()`` folds ASCII letters only and PostgreSQL's depends on the database's locale, so a
case-insensitive comparison cannot be left to the database; instead the typed text is turned into the spellings
it may stand for and those are looked up exactly, on the columns' own indexes, then compared with
:meth:`str.casefold` here. A phone is looked up by the ways one number is written."""

from __future__ import annotations

from itertools import product

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


def same_name(stored: str, typed: str) -> bool:
    """Whether ``typed`` names ``stored``, case aside."""
    return stored.casefold() == typed.strip().casefold()


PHONE_DIGITS = (10, 11)  # a Russian number without its country code, or with it (7… or 8…)


def phone_forms(typed: str) -> list[str]:
    """The ways the Russian phone number in ``typed`` is written in orders (``+79161234567``, ``89161234567``,
    ``+7 (916) 123-45-67`` …); empty when ``typed`` is no phone number: a number written with a ``+`` or
    punctuation, or 11 digits starting with 7 or 8 (plain 10 digits are too like other numbers)."""
    text = typed.strip()
    digits = "".join(char for char in text if char.isdigit())
    if set(text) - set("0123456789+-() ") or len(digits) not in PHONE_DIGITS:
        return []
    plain = text.isdigit()
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    elif len(digits) == 11 or plain:
        return []
    code, first, second, third = digits[:3], digits[3:6], digits[6:8], digits[8:]
    forms = [f"+7{digits}", f"7{digits}", f"8{digits}", digits]
    for country in ("+7", "8"):
        forms += [
            f"{country} ({code}) {first}-{second}-{third}",
            f"{country}({code}){first}-{second}-{third}",
            f"{country} {code} {first}-{second}-{third}",
            f"{country} {code} {first} {second} {third}",
            f"{country}-{code}-{first}-{second}-{third}",
        ]
    return list(dict.fromkeys([text, *forms]))
