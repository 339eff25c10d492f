"""How every CommerceML file from 1C is read: as a stream of chunks, one record at a time, or refused whole.

The stock (:mod:`integrations.commerceml`), catalogue (:mod:`integrations.commerceml_catalogue`) and order
(:mod:`integrations.commerceml_orders`) readers are each a :class:`CommerceMLReader`: they say which elements are
their records (an offer, a product, a document) and what to do with each once it closes; what is common is here.

* **Encoding.** Expat takes the encoding from the XML declaration (windows-1251 included) and a UTF-8 byte-order
  mark as it comes; an encoding it cannot read refuses the file.
* **Namespace.** The schema's namespace (``urn:1C.ru:commerceml_2``, or none) plays no part: tags are read
  without it.
* **Safety.** The standard library's expat-based ``XMLParser`` is made safe as in ``integrations/cbr.py``: a
  document with a ``DOCTYPE`` is refused before any declaration in it is read, so no entity is expanded and
  nothing is fetched.
* **Memory.** The file is fed to the parser in chunks (from bytes or from a file on disk) and never kept as a
  tree: only the record being read is built, and it is dropped once its handler has taken what it needs.
* **Refusals**, in the order a tree of the whole file would give them: a DOCTYPE as soon as it is met; then
  malformed XML anywhere; then another root (and what the reader checks of the file's kind); a
  ``ДатаФормирования`` that is not a date; only then the first record with a problem. A record's problem is kept,
  not raised, and no record is built after it.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import IO, Generic, TypeVar

ROOT = "КоммерческаяИнформация"
_CHUNK = 64 * 1024  # bytes handed to the parser at a time

Package = TypeVar("Package")
RecordHandler = Callable[[ET.Element], None]  # takes a record once it closes; may raise CommerceMLError


class CommerceMLError(Exception):
    """The file is not a usable CommerceML package; nothing in it may be applied.

    ``reason`` is short and human ("offer t1 has a quantity 'abc' that is not a number").
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read(source: bytes | IO[bytes], reader: CommerceMLReader[Package]) -> Package:
    """A whole file through ``reader``, from its bytes or from a binary file read to its end (which the caller
    closes): what the reader makes of it, or :class:`CommerceMLError`."""
    parser = ET.XMLParser(target=reader)  # noqa: S314  # safe: a DOCTYPE is refused, see the module doc
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    while chunk := stream.read(_CHUNK):
        _feed(parser, chunk)
    _feed(parser, None)
    return reader.package()


def _feed(parser: ET.XMLParser, chunk: bytes | None) -> None:
    """One more chunk for the parser, or the end of the file (``None``)."""
    try:
        if chunk is None:
            parser.close()
        else:
            parser.feed(chunk)
    except ET.ParseError as error:
        raise CommerceMLError(f"the file is not well-formed XML ({error})") from None
    except (LookupError, ValueError):  # an unknown or multi-byte encoding in the XML declaration
        raise CommerceMLError("the file is in an encoding that cannot be read") from None


class CommerceMLReader(ABC, Generic[Package]):
    """The parser's target: notes the root as it opens and keeps the path of open elements; builds each record
    (an element for which :meth:`_opens` gives a handler) on its own and hands it to that handler as it closes.
    Nothing else in the file is kept.

    ``_path`` holds the open elements above the record being read, root first, tags without namespace.
    """

    def __init__(self) -> None:
        self._path: list[str] = []
        self._root_tag = ""
        self._root_attributes: dict[str, str] = {}
        self._record: ET.TreeBuilder | None = None  # builds the record being read
        self._record_depth = 0  # its elements open now, itself included
        self._handler: RecordHandler | None = None  # takes it when it closes
        self._problem: CommerceMLError | None = None

    @abstractmethod
    def _opens(self, tag: str, attributes: dict[str, str]) -> RecordHandler | None:
        """An element below the root opens, outside any record (its parents are in ``_path``): the reader may
        note it, and gives the handler for it when it is a record to build, else ``None``."""

    def _check_kind(self) -> None:
        """Raises :class:`CommerceMLError` when the file, a CommerceML document, is not of the reader's kind
        (no package of it, or two); called at the end, before the date and the records' problems."""

    @abstractmethod
    def _package(self, generated_at: datetime | None) -> Package:
        """What was read, once the file is known to be sound."""

    def _reads_records(self) -> bool:
        """Whether records are still worth building: the root is CommerceML's and no record had a problem."""
        return self._problem is None and self._root_tag == ROOT

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        """Stops the parse at a ``DOCTYPE``, before any entity it declares can be defined or expanded."""
        if name.lower() == "html":
            raise CommerceMLError("the file is a web page, not a CommerceML document")
        raise CommerceMLError("the file declares a DOCTYPE, which CommerceML never does")

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        tag = tag.rpartition("}")[2]
        if self._record is not None:
            self._record_depth += 1
            self._record.start(tag, attributes)
            return
        if not self._path:
            self._root_tag, self._root_attributes = tag, attributes
        elif handler := self._opens(tag, attributes):
            self._record, self._record_depth, self._handler = ET.TreeBuilder(), 1, handler
            self._record.start(tag, attributes)
            return
        self._path.append(tag)

    def data(self, text: str) -> None:
        if self._record is not None:
            self._record.data(text)

    def end(self, tag: str) -> None:
        if self._record is None:
            self._path.pop()
            return
        self._record.end(tag.rpartition("}")[2])
        self._record_depth -= 1
        if self._record_depth == 0 and self._handler is not None:
            record, handler, self._record, self._handler = self._record.close(), self._handler, None, None
            try:
                handler(record)
            except CommerceMLError as problem:
                self._problem = problem

    def close(self) -> None:
        """The end of the document: what was read is asked for with :meth:`package`."""

    def package(self) -> Package:
        """The package read, or the refusal of the file."""
        if self._root_tag != ROOT:
            raise CommerceMLError(f"the root element is <{self._root_tag[:40]}>, not <{ROOT}>")
        self._check_kind()
        generated_at = _generated_at(self._root_attributes.get("ДатаФормирования"))
        if self._problem is not None:
            raise self._problem
        return self._package(generated_at)


def flag(raw: str | None) -> bool:
    """A CommerceML yes/no: ``true``, ``1`` or ``да``, any case; anything else, or nothing, is no."""
    return (raw or "").strip().lower() in ("true", "1", "да")


def _generated_at(raw: str | None) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        raise CommerceMLError(f"ДатаФормирования {raw[:30]!r} is not a date and time") from None
