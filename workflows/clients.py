"""Who a client is across our orders and the systems we tell of them: one key from the phone, else the e-mail.

RetailCRM knows the clients we make by it (their ``externalId``) and 1C by the same (a ``Контрагент``'s ``Ид``),
so one person is one client in each, whichever channel the order came from and however the phone was written.
"""

from __future__ import annotations

import hashlib


def client_key(phone: str, email: str) -> str:
    """The client's key: from the phone's digits (a Russian number written ``8…`` is the same as ``+7…``), else
    from the e-mail (blanks and case aside), hashed — the same for every order of one person, and no personal
    data in it. With neither, it is the key of an empty e-mail, shared by all such clients: a caller that may have
    neither decides first what to do then."""
    digits = "".join(char for char in phone if char.isdigit())
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    basis = f"phone:{digits}" if digits else f"email:{email.strip().lower()}"
    return "storeops-client-" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def has_contact(phone: str, email: str) -> bool:
    """Whether :func:`client_key` has a phone or an e-mail to go by."""
    return any(char.isdigit() for char in phone) or bool(email.strip())


RUSSIAN_NATIONAL_DIGITS = 10
SHORTEST_PHONE = 5  # fewer digits than this are no phone (a placeholder, an extension)


def phone_key(phone: str) -> str | None:
    """The phone as it is compared and looked up: its digits with the country code, a Russian number always as
    ``7`` and its ten digits (``+7 (916) 123-45-67``, ``8 916 123 45 67`` and ``(916) 123-45-67`` have one key);
    a number written with ``+`` keeps its digits as written. ``None`` for text with fewer than
    :data:`SHORTEST_PHONE` digits."""
    text = phone.strip()
    digits = "".join(char for char in text if char.isdigit())
    if len(digits) < SHORTEST_PHONE:
        return None
    if text.startswith("+"):
        return digits
    if len(digits) == RUSSIAN_NATIONAL_DIGITS + 1 and digits[0] in "78":
        return "7" + digits[1:]
    if len(digits) == RUSSIAN_NATIONAL_DIGITS:  # a Russian number written without its country code
        return "7" + digits
    return digits
