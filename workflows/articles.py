"""An article (SKU) as every entrance takes it: one rule, whether it names stock from 1C or a line of an order.

An article is compared by its text, so two articles that look the same must be the same text: it is
normalised to NFC, and characters that do not show — control characters (Cc), format characters such as the
zero-width space, the byte order mark or a right-to-left mark (Cf), line and paragraph separators (Zl, Zp) —
are refused, as are an empty article and one longer than :data:`MAX_SKU_LENGTH` characters.
"""

from __future__ import annotations

import unicodedata

MAX_SKU_LENGTH = 255
_INVISIBLE = {"Cc": "a control character", "Cf": "a format character", "Zl": "a line separator",
              "Zp": "a paragraph separator"}  # fmt: skip


def check_sku(text: str) -> str:
    """``text`` as an article, normalised to NFC. Raises :class:`ValueError` saying what is wrong."""
    if 0 < len(text) <= MAX_SKU_LENGTH and text.isprintable() and unicodedata.is_normalized("NFC", text):
        # most articles (a 1C snapshot checks 100 000): printable holds no character of categories C or Z but the
        # space, so none of the refused ones, and the text is already in NFC
        return text
    return checked_in_full(text)


def checked_in_full(text: str) -> str:
    """:func:`check_sku` without its shortcut for printable NFC text, character by character."""
    value = unicodedata.normalize("NFC", text)
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_SKU_LENGTH:
        raise ValueError(f"must be at most {MAX_SKU_LENGTH} characters (has {len(value)})")
    for char in value:
        kind = _INVISIBLE.get(unicodedata.category(char))
        if kind is not None:
            raise ValueError(f"must not contain {kind} (U+{ord(char):04X})")
    return value
