"""Hypothesis strategies for hostile JSON: values no client should send, bodies that are not JSON at all, and
valid bodies with one field changed at a time.

A body is a JSON-able value that may hold :class:`Raw` parts (bytes written into the JSON text as they are:
numbers Python would not write, lone surrogate escapes, invalid UTF-8, deep nesting) and :data:`ORDER`
(the id of an order the test seeded, known only once the service runs).
"""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """JSON text (bytes) put into the body as it is."""

    text: bytes

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 40 else self.text[:30] + b"..." + self.text[-6:]
        return f"Raw({shown!r}, {len(self.text)} bytes)"


class _Seeded:
    def __repr__(self) -> str:
        return "ORDER"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Seeded:
        return self


ORDER: Any = _Seeded()  # the seeded order's id, in a body or a path

NUMBERS = [
    Raw(b"7" * 5000), Raw(b"-" + b"9" * 5000), Raw(b"1" + b"0" * 4299), Raw(str(2**70).encode()),
    Raw(str(-(2**70)).encode()), Raw(str(2**63).encode()), Raw(str(2**63 - 1).encode()), Raw(str(-(2**63) - 1).encode()),
    Raw(b"-0"), Raw(b"-0.0"), Raw(b"1e309"), Raw(b"-1e309"), Raw(b"1E400"), Raw(b"1e-400"), Raw(b"NaN"),
    Raw(b"Infinity"), Raw(b"-Infinity"), Raw(b"0." + b"1" * 5000), Raw(b"1e20"), Raw(b"1.0"), Raw(b"1.5"),
    Raw(b"0.30000000000000004"), Raw(b"1700000000"), Raw(b"-1700000000000"),
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 1, 1.0, 1.5, "", "x", "1", [], {}, [1], [None], {"a": 1}]
NESTING = [
    Raw(b"[" * n + b"]" * n) for n in (100, 900, 990, 1100, 5000)
] + [Raw(b'{"a":' * n + b"1" + b"}" * n) for n in (900, 3000)]  # fmt: skip
ODD_CHARACTERS = [
    "\x00", "\x01", "\x08", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\xad",
    "\u0306", "\u0301", "\u034f", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f",
    "\u202a", "\u202e", "\u2066", "\u2069", "\u061c", "\u2028", "\u2029", "\u3000", "\ufffe", "\uffff",
    "\ufffd", "\U0001f600", "\U000e0001", "\U0010ffff", "\u212b", "\ufb01", "\u0130", "\u1e9e", "ß", " ",
    "'", '"', "\\", "/", "%", "%00", "{", "..", "<", "Й", "И\u0306", "e\u0301", "\uac00\u11a8", "\u0415\u0308",
]  # fmt: skip
SURROGATES = [Raw(b'"\\ud800"'), Raw(b'"A\\udfff"'), Raw(b'"\\udc00\\ud800"'), Raw(b'"\\ud83d"'),
              Raw(b'"x\\ud800y"'), Raw(b'"\\u0000"'), Raw(b'"\\u2028"')]  # fmt: skip
BAD_UTF8 = [Raw(b'"\xff"'), Raw(b'"A\xc3"'), Raw(b'"\xed\xa0\x80"'), Raw(b'"\xc0\xaf"'), Raw(b'"\xf4\x90\x80\x80"'),
            Raw(b'"\x80abc"'), Raw(b'"\xe2\x82"')]  # fmt: skip
TIMES: list[Any] = [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00", "0001-01-01",
    "yesterday", "2026-11-21", "2026-11-21T12:00:00", "2026-11-21T12:00:00Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-02-30T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T12:00:00+24:00", "2026-11-21T12:00:00+23:59",
    "2026-11-21T12:00:00.9999999999Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59-12:00",
    "2026-11-21T12:00:00\x00", "\uff12\uff10\uff12\uff16-11-21", "+002026-11-21T12:00:00Z", "2026-W47-6",
    "2026-11-21T12:00:00 +03:00", "20261121T120000Z", "1700000000", "-62135596800", "253402300800",
]  # fmt: skip
LENGTHS = [64, 65, 128, 129, 255, 256, 500, 501, 4000, 20_000, 70_000]
# aiohttp itself refuses a request line over 8190 bytes (a plain-text 400, before the app): URLs stay below
URL_LENGTHS = [64, 65, 128, 255, 256, 300]
WHOLE_BODIES = [
    b"", b" ", b"\n", b"null", b"true", b"0", b"-0", b"1e309", b"NaN", b"[]", b"{}", b'""', b'"\\ud800"', b"\xff\xfe",
    b"\xef\xbb\xbf{}", b"\xef\xbb\xbf", b"{", b'{"a":', b"}", b'{"a":1}{"b":2}', b'{"a":1,}', b"{'a': 1}",
    b"[" * 30_000, b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b"7" * 5000,
    "{}".encode("utf-16"), "{}".encode("utf-32"), b"\x00", b"\x00{}", b"<xml/>", b"a=1&b=2", b"--x\r\n\r\n",
    b'{"\\ud800": 1}', b'{"": 1}', b'{"a": 1, "a": 2}', b"\xc3\x28", b'{"a":"\xff"}',
]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/json", "application/json", None, "text/plain",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x"]  # fmt: skip


def dump(value: Any, order_id: int) -> bytes:
    """``value`` as JSON bytes: :class:`Raw` parts as they are, :data:`ORDER` as ``order_id``."""
    if isinstance(value, Raw):
        return value.text
    if value is ORDER:
        return str(order_id).encode()
    if isinstance(value, dict):
        items = [_text(key) + b":" + dump(item, order_id) for key, item in value.items()]
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dump(item, order_id) for item in value) + b"]"
    return _text(value)


def _text(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def odd_text(max_pieces: int = 8, lengths: list[int] = LENGTHS) -> st.SearchStrategy[str]:
    """Short strings made of odd characters and arbitrary text, and very long ones."""
    pieces = st.sampled_from(ODD_CHARACTERS) | st.text(max_size=4)
    joined = st.lists(pieces, max_size=max_pieces).map("".join)
    return joined | st.builds(lambda n, c: c * n, st.sampled_from(lengths), st.sampled_from(["A", "Я", "\U0001f600"]))


def hostile_value() -> st.SearchStrategy[Any]:
    """A value no field of the API takes as it is: a wrong type, an odd number, deep nesting, broken text, a bad time."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
        max_leaves=6,
    )
    kinds = [WRONG_TYPES, NUMBERS, NESTING, SURROGATES + BAD_UTF8, TIMES]
    return st.one_of(*(st.sampled_from(kind) for kind in kinds), odd_text(), json_values)


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to a valid ``value``: the same with an odd character, a number just off, the other type."""
    if isinstance(value, bool) or value is None or value is ORDER:
        return st.sampled_from(WRONG_TYPES)
    if isinstance(value, int):
        return st.sampled_from([value - 1, value + 1, -value, float(value), str(value), Raw(f"{value}.0".encode()),
                                Raw(f"{value}e0".encode()), [value], value * 10**12])  # fmt: skip
    if isinstance(value, str) and _is_time(value):
        return st.sampled_from(TIMES)
    if isinstance(value, str):
        return _near_text(value)
    if isinstance(value, list):
        return st.sampled_from([[], value * 2, value * 600, [value], [*value, None], value[::-1]])
    return st.sampled_from([[], [value], {}, {"note": SURROGATES[0]}, {**value, "": SURROGATES[1]}])


def _is_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _near_text(value: str) -> st.SearchStrategy[Any]:
    """The text with an odd character, a lone surrogate or invalid UTF-8 in it; longer; another case or shape."""
    odd = st.sampled_from(ODD_CHARACTERS)
    escaped = json.dumps(value).encode()[:-1]  # the value's JSON text without its closing quote
    return st.one_of(
        odd.map(lambda c: value + c), odd.map(lambda c: c + value), odd.map(lambda c: value[:1] + c + value[1:]),
        st.sampled_from(LENGTHS).map(lambda n: (value * n)[: max(n, 1)]), st.just(value.upper()),
        st.just(value.lower()), st.just(f" {value} "), st.just([value]), st.just({"value": value}),
        st.sampled_from([b"\\ud800", b"\\udfff", b"\\u0000", b"\xff"]).map(lambda e: Raw(escaped + e + b'"')),
    )  # fmt: skip


def _places(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside ``value``: the path of each key of a mapping and each item of a list."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        found.append((*at, key))
        found.extend(_places(child, (*at, key)))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """``valid`` with one field replaced (by a hostile or a nearly valid value), removed, or one field added."""
    body = deepcopy(valid)
    places = _places(body)
    action = draw(st.sampled_from(["near", "hostile", "remove", "add"]))
    if action == "add":
        containers = [()] + [p for p in places if isinstance(_at(body, p), dict | list)]
        target = _at(body, draw(st.sampled_from(containers)))
        extra = draw(hostile_value() | st.sampled_from(WRONG_TYPES))
        if isinstance(target, list):
            target.append(extra)
        else:
            target[draw(st.sampled_from(["extra", "", "\x00", "__proto__", "sku", "Qty"]) | odd_text(3))] = extra
        return body
    path = draw(st.sampled_from(places))
    parent = _at(body, path[:-1])
    if action == "remove":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(near(parent[path[-1]]) if action == "near" else hostile_value())
    return body


def garbage_body() -> st.SearchStrategy[Any]:
    """A body that is not JSON, not UTF-8, empty, or JSON of any shape."""
    return st.one_of(
        st.sampled_from(WHOLE_BODIES), st.binary(max_size=64), odd_text().map(lambda t: t.encode("utf-8", "surrogatepass")),
        hostile_value(),
    )  # fmt: skip


def path_segment(*special: str) -> st.SearchStrategy[str]:
    """A path segment, percent-encoded: odd text, numbers in other scripts, bytes that are not UTF-8."""
    raw = st.sampled_from(["%ff", "%c3", "%ed%a0%80", "%00", "%0a", "%25", "%2F", "%2e%2e", "..", "%c0%af", *special])
    text = (odd_text(4, URL_LENGTHS) | st.sampled_from(["0", "-1", "1.0", "1e3", "\u0663", "\u00b2", "9" * 19, "9" * 2000,
                                           str(2**63), str(2**63 - 1), " 1", "1 ", "+1", "0x1"]))  # fmt: skip
    return raw | text.filter(bool).map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""))


def query_value(*special: str) -> st.SearchStrategy[str]:
    """A query value, percent-encoded (or not: raw ``%`` and bytes that are not UTF-8)."""
    listed = st.sampled_from([*TIMES, *special]).map(lambda t: quote(t, safe=""))
    return listed | path_segment() | st.sampled_from(["%", "%zz", "&", "=", "a=b", "%ff%fe", ""])


@st.composite
def bodies(draw: st.DrawFn, valid: Any) -> Any:
    """Mostly ``valid`` with one field changed, sometimes garbage, now and then ``valid`` itself.

    (Drawn by weight: ``one_of`` would flatten the many branches of the garbage and starve the mutations.)
    """
    kind = draw(st.sampled_from(["mutated"] * 7 + ["garbage"] * 2 + ["valid"]))
    if kind == "mutated":
        return draw(mutated(valid))
    return draw(garbage_body()) if kind == "garbage" else valid
