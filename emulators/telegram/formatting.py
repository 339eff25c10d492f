"""``parse_mode`` as the Bot API applies it: formatted text in, plain text and entities out, or a 400.

Real Telegram refuses a message whose markup does not parse (``Bad Request: can't parse entities: ...``); an
unescaped ``<`` in an HTML text or a bare ``.`` in MarkdownV2 is a classic production failure, so the emulator
parses as strictly as Telegram does for the common constructs: HTML (``b i u s a code pre blockquote tg-spoiler
tg-emoji`` and their aliases), legacy ``Markdown`` and ``MarkdownV2``. Offsets and lengths of entities are in UTF-16
code units, as in the Bot API; error offsets are in UTF-8 bytes of the source, as Telegram reports them.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from emulators.telegram.params import bad_request

Entity = dict[str, Any]

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {"text_link": "TextUrl", "custom_emoji": "CustomEmoji"}


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (how the Bot API measures entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def parse_entities(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """The plain text and entities Telegram stores for ``text`` sent with ``parse_mode`` (``None``: as is)."""
    mode = (parse_mode or "").lower()
    try:
        if not mode:
            return text, []
        if mode == "html":
            return _Html(text).result()
        if mode == "markdown":
            return _markdown(text)
        if mode == "markdownv2":
            return _MarkdownV2(text).result()
    except _Unparsable as failure:
        raise bad_request(f"can't parse entities: {failure}") from None
    raise bad_request("unsupported parse_mode")


def formatted(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[Entity]]:
    """The stored text and entities: parsed from ``parse_mode``, else the ``entities`` sent (if a list)."""
    if parse_mode:
        return parse_entities(text, parse_mode)
    return text, entities if isinstance(entities, list) else []


class _Unparsable(Exception):
    pass


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode())


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda entity: (entity["offset"], -entity["length"]))


class _Html(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(index + 1)
        self._text: list[str] = []
        self._length = 0
        self._entities: list[Entity] = []
        self._open: list[tuple[str, str, int, Entity]] = []  # tag, entity type ("" = none), start, extra fields

    def result(self) -> tuple[str, list[Entity]]:
        self.feed(self._source)
        self.close()
        if self._open:
            raise _Unparsable(f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"')
        return "".join(self._text), _sorted(self._entities)

    def _here(self) -> int:
        line, column = self.getpos()
        return _byte_offset(self._source, self._line_starts[line - 1] + column)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        kind = _HTML_TAGS.get(tag)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise _Unparsable(f'Unsupported start tag "{tag}" at byte offset {self._here()}')
        extra: Entity = {}
        language = attributes.get("class") or ""
        if tag == "code" and self._open and self._open[-1][0] == "pre" and language.startswith("language-"):
            self._open[-1][3]["language"] = language.removeprefix("language-")
            kind = ""  # <pre><code class="language-x"> is one pre entity with a language
        elif tag == "a":
            extra["url"] = attributes.get("href") or ""
        elif tag == "tg-emoji":
            extra["custom_emoji_id"] = attributes.get("emoji-id") or ""
        self._open.append((tag, kind, self._length, extra))

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            raise _Unparsable(f"Unexpected end tag at byte offset {self._here()}")
        expected, kind, start, extra = self._open[-1]
        if expected != tag:
            raise _Unparsable(
                f'Unmatched end tag at byte offset {self._here()}, expected "</{expected}>", found "</{tag}>"'
            )
        self._open.pop()
        if kind and self._length > start:
            self._entities.append({"type": kind, "offset": start, "length": self._length - start, **extra})

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        self._length += utf16_len(data)


def _markdown(source: str) -> tuple[str, list[Entity]]:
    """Legacy ``Markdown``: ``*bold*``, ``_italic_``, ```code```, fenced pre, ``[text](url)``; no nesting."""
    text: list[str] = []
    length = 0
    entities: list[Entity] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and source[i + 1 : i + 2] in ("_", "*", "`", "["):
            text.append(source[i + 1])
            length += 1
            i += 2
            continue
        if char not in "*_`[":
            text.append(char)
            length += utf16_len(char)
            i += 1
            continue
        extra: Entity = {}
        if source.startswith("```", i):
            end, inner, kind = source.find("```", i + 3), source[i + 3 : source.find("```", i + 3)], "pre"
            first_line, newline, rest = inner.partition("\n")
            if newline and first_line and " " not in first_line:
                extra["language"], inner = first_line, rest
            after = end + 3
        elif char == "[":
            close = source.find("]", i + 1)
            end = source.find(")", close) if close > 0 and source[close + 1 : close + 2] == "(" else -1
            inner, kind, after = source[i + 1 : close], "text_link", end + 1
            extra["url"] = source[close + 2 : end]
        else:
            end = source.find(char, i + 1)
            inner, after = source[i + 1 : end], end + 1
            kind = {"*": "bold", "_": "italic", "`": "code"}[char]
        if end < 0:
            raise _Unparsable(f"Can't find end of the entity starting at byte offset {_byte_offset(source, i)}")
        if inner:
            entities.append({"type": kind, "offset": length, "length": utf16_len(inner), **extra})
        text.append(inner)
        length += utf16_len(inner)
        i = after
    return "".join(text), _sorted(entities)


class _MarkdownV2:
    """``MarkdownV2``: nested ``*bold* _italic_ __underline__ ~strike~ ||spoiler||``, links, code, quotes."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._text: list[str] = []
        self._length = 0
        self._entities: list[Entity] = []
        self._open: list[tuple[str, int, int]] = []  # entity type, start (UTF-16), source index
        self._quote_start: int | None = None

    def result(self) -> tuple[str, list[Entity]]:
        source, i = self._source, 0
        while i < len(source):
            char = source[i]
            line_start = i == 0 or source[i - 1] == "\n"
            if char == "\\" and i + 1 < len(source) and 0 < ord(source[i + 1]) < 127:
                self._emit(source[i + 1])
                i += 2
            elif char == "`":
                i = self._code(i)
            elif char == "_" and source.startswith("__", i):
                self._toggle("underline", i)
                i += 2
            elif char == "|" and source.startswith("||", i):
                self._toggle("spoiler", i)
                i += 2
            elif char in "*_~":
                self._toggle({"*": "bold", "_": "italic", "~": "strikethrough"}[char], i)
                i += 1
            elif char == "[" or (char == "!" and source.startswith("![", i)):
                self._open.append(("text_link" if char == "[" else "custom_emoji", self._length, i))
                i += 1 if char == "[" else 2
            elif char == "]" and self._open and self._open[-1][0] in ("text_link", "custom_emoji"):
                i = self._link_end(i)
            elif char == ">" and line_start:
                if self._quote_start is None:
                    self._quote_start = self._length
                i += 1
            elif char in _V2_RESERVED or char == "\\":
                raise _Unparsable(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            else:
                if char == "\n" and self._quote_start is not None and source[i + 1 : i + 2] != ">":
                    self._close_quote()
                self._emit(char)
                i += 1
        if self._open:
            kind, _start, index = self._open[-1]
            raise _Unparsable(f"Can't find end of {self._name(kind)} entity at byte offset {self._at(index)}")
        if self._quote_start is not None:
            self._close_quote()
        return "".join(self._text), _sorted(self._entities)

    def _emit(self, text: str) -> None:
        self._text.append(text)
        self._length += utf16_len(text)

    def _at(self, index: int) -> int:
        return _byte_offset(self._source, index)

    @staticmethod
    def _name(kind: str) -> str:
        return _V2_NAMES.get(kind, kind.capitalize())

    def _add(self, kind: str, start: int, **extra: str) -> None:
        if self._length > start:
            self._entities.append({"type": kind, "offset": start, "length": self._length - start, **extra})

    def _toggle(self, kind: str, index: int) -> None:
        if not any(open_kind == kind for open_kind, _, _ in self._open):
            self._open.append((kind, self._length, index))
            return
        top, start, top_index = self._open.pop()
        if top != kind:
            raise _Unparsable(f"Can't find end of {self._name(top)} entity at byte offset {self._at(top_index)}")
        self._add(kind, start)

    def _close_quote(self) -> None:
        assert self._quote_start is not None
        self._add("blockquote", self._quote_start)
        self._quote_start = None

    def _until(self, index: int, closer: str, kind: str, start_index: int) -> tuple[str, int]:
        """The unescaped text from ``index`` up to ``closer`` (inside which only ``\\`` escapes), and where it ends."""
        source, text = self._source, []
        while index < len(source):
            if source[index] == "\\" and index + 1 < len(source):
                text.append(source[index + 1])
                index += 2
            elif source.startswith(closer, index):
                return "".join(text), index + len(closer)
            else:
                text.append(source[index])
                index += 1
        raise _Unparsable(f"Can't find end of {self._name(kind)} entity at byte offset {self._at(start_index)}")

    def _code(self, index: int) -> int:
        start = self._length
        if not self._source.startswith("```", index):
            inner, after = self._until(index + 1, "`", "code", index)
            self._emit(inner)
            self._add("code", start)
            return after
        inner, after = self._until(index + 3, "```", "pre", index)
        first_line, newline, rest = inner.partition("\n")
        extra = {"language": first_line} if newline and first_line and " " not in first_line else {}
        self._emit(rest if extra else inner)
        self._add("pre", start, **extra)
        return after

    def _link_end(self, index: int) -> int:
        kind, start, open_index = self._open.pop()
        if self._source[index + 1 : index + 2] != "(":
            raise _Unparsable(f"Can't find end of {self._name(kind)} entity at byte offset {self._at(open_index)}")
        url, after = self._until(index + 2, ")", kind, open_index)
        if kind == "custom_emoji":
            self._add(kind, start, custom_emoji_id=url.partition("id=")[2])
        else:
            self._add(kind, start, url=url)
        return after
