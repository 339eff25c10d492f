"""What CDEK checks when ``POST /v2/orders`` arrives, before it answers ``ACCEPTED``.

The field rules are CDEK's documented ones as the SDKs copy them: an online-shop order (``type`` 1) needs its
``number``, a ``tariff_code``, a recipient with a name and a phone, where it goes (``to_location`` with an
address, or a ``delivery_point``, not both), and packages with a weight and items; an item needs a ``name`` (≤ 255
characters), a ``ware_key`` (≤ 50 characters of the allowed set), ``payment.value``, ``cost``, ``weight`` and an
``amount`` of 1..999. The error codes and messages below are this emulator's wording [unverified: CDEK's exact
codes were not found in public material], in CDEK's shape ``{code, message}``.

Not documented but assumed here, so an international order is held to it: when ``to_location.country_code`` names
a country other than Russia, names, the address and every item's ``name_i18n`` must be free of Cyrillic.

The ware-key character set is written out here again, on purpose, rather than imported from the client: the
emulator stands for CDEK, and a mistake in the client's rule must show up against it, not be copied into it.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

WARE_KEY_MAX = 50
NAME_MAX = 255
AMOUNT_MAX = 999
WARE_KEY = re.compile(r'[A-Za-zА-Яа-я0-9!@"#№$;%^:&?*()_\-+=<>,.{}\[\]\\/ ]{1,50}')
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")

EMPTY, BAD_VALUE, NOT_LATIN = "v2_field_is_empty", "v2_invalid_value", "v2_field_not_latin"

Error = tuple[str, str]  # (code, message)


def order_errors(body: object) -> list[Error]:
    """Everything wrong with an order body, in CDEK's ``(code, message)`` pairs; empty when it may be accepted."""
    if not isinstance(body, dict):
        return [(BAD_VALUE, "The request body is not a JSON object")]
    errors: list[Error] = []
    if body.get("type", 1) == 1 and not _text(body.get("number")):
        errors.append((EMPTY, "Field is empty: number"))
    if not _integer(body.get("tariff_code")):
        errors.append((EMPTY, "Field is empty or not an integer: tariff_code"))
    errors += _recipient_errors(body.get("recipient"))
    errors += _destination_errors(body)
    packages = body.get("packages")
    if not isinstance(packages, list) or not packages:
        errors.append((EMPTY, "Field is empty: packages"))
    else:
        for index, package in enumerate(packages):
            errors += _package_errors(package, f"packages[{index}]")
    if _international(body):
        errors += _latin_errors(body)
    return errors


def _recipient_errors(recipient: object) -> list[Error]:
    if not isinstance(recipient, dict):
        return [(EMPTY, "Field is empty: recipient")]
    errors: list[Error] = []
    name = recipient.get("name")
    if not _text(name):
        errors.append((EMPTY, "Field is empty: recipient.name"))
    elif len(name) > NAME_MAX:
        errors.append((BAD_VALUE, f"Field is longer than {NAME_MAX} characters: recipient.name"))
    phones = recipient.get("phones")
    if not isinstance(phones, list) or not phones:
        errors.append((EMPTY, "Field is empty: recipient.phones"))
        return errors
    for index, phone in enumerate(phones):
        if not isinstance(phone, dict) or not _text(phone.get("number")):
            errors.append((EMPTY, f"Field is empty: recipient.phones[{index}].number"))
    return errors


def _destination_errors(body: dict[str, Any]) -> list[Error]:
    to_location, delivery_point = body.get("to_location"), body.get("delivery_point")
    if to_location is not None and delivery_point is not None:
        return [(BAD_VALUE, "Fields to_location and delivery_point are mutually exclusive")]
    if delivery_point is not None:
        return [] if _text(delivery_point) else [(EMPTY, "Field is empty: delivery_point")]
    if not isinstance(to_location, dict) or not _text(to_location.get("address")):
        return [(EMPTY, "Field is empty: to_location.address")]
    return []


def _package_errors(package: object, where: str) -> list[Error]:
    if not isinstance(package, dict):
        return [(BAD_VALUE, f"Field is not an object: {where}")]
    errors: list[Error] = []
    if not _text(package.get("number")):
        errors.append((EMPTY, f"Field is empty: {where}.number"))
    if not _integer(package.get("weight"), minimum=1):
        errors.append((BAD_VALUE, f"Field must be a whole number of grams, at least 1: {where}.weight"))
    items = package.get("items")
    if not isinstance(items, list) or not items:
        return [*errors, (EMPTY, f"Field is empty: {where}.items")]
    for index, item in enumerate(items):
        errors += _item_errors(item, f"{where}.items[{index}]")
    return errors


def _item_errors(item: object, where: str) -> list[Error]:
    if not isinstance(item, dict):
        return [(BAD_VALUE, f"Field is not an object: {where}")]
    errors: list[Error] = []
    name, key = item.get("name"), item.get("ware_key")
    if not _text(name):
        errors.append((EMPTY, f"Field is empty: {where}.name"))
    elif len(name) > NAME_MAX:
        errors.append((BAD_VALUE, f"Field is longer than {NAME_MAX} characters: {where}.name"))
    if not _text(key):
        errors.append((EMPTY, f"Field is empty: {where}.ware_key"))
    elif len(key) > WARE_KEY_MAX:
        errors.append((BAD_VALUE, f"Field is longer than {WARE_KEY_MAX} characters: {where}.ware_key"))
    elif not WARE_KEY.fullmatch(key):
        errors.append((BAD_VALUE, f"Field has characters that are not allowed: {where}.ware_key"))
    if not _number(_dict(item.get("payment")).get("value")):
        errors.append((EMPTY, f"Field is empty: {where}.payment.value"))
    if not _number(item.get("cost")):
        errors.append((EMPTY, f"Field is empty: {where}.cost"))
    if not _integer(item.get("weight"), minimum=1):
        errors.append((BAD_VALUE, f"Field must be a whole number of grams, at least 1: {where}.weight"))
    amount = item.get("amount")
    if not _integer(amount, minimum=1, maximum=AMOUNT_MAX):
        errors.append((BAD_VALUE, f"Field must be 1..{AMOUNT_MAX}: {where}.amount"))
    return errors


def _international(body: dict[str, Any]) -> bool:
    country = _dict(body.get("to_location")).get("country_code")
    return isinstance(country, str) and country.upper() not in ("", "RU")


def _latin_errors(body: dict[str, Any]) -> list[Error]:
    texts = {
        "sender.name": _dict(body.get("sender")).get("name"),
        "recipient.name": _dict(body.get("recipient")).get("name"),
        "to_location.address": _dict(body.get("to_location")).get("address"),
    }
    for p, package in enumerate(body.get("packages") or []):
        for i, item in enumerate(_dict(package).get("items") or []):
            texts[f"packages[{p}].items[{i}].name_i18n"] = _dict(item).get("name_i18n")
    errors: list[Error] = []
    for where, text in texts.items():
        if where.endswith("name_i18n") and not _text(text):
            errors.append((EMPTY, f"Field is empty (international order): {where}"))
        elif isinstance(text, str) and _CYRILLIC.search(text):
            errors.append((NOT_LATIN, f"Field must be in Latin letters (international order): {where}"))
    return errors


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _integer(value: object, *, minimum: int | None = None, maximum: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
