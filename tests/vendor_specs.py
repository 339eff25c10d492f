"""The marketplaces' own OpenAPI files, to check what goes over the wire in the e2e tests.

Ozon (``swagger.json``, one OpenAPI 3.0.0 file), Wildberries (four OpenAPI 3.0.1 YAML files) and Yandex Market
(OpenAPI 3.0.3 split over hundreds of YAML files that ``$ref`` each other by relative paths) are all OAS 3.0, so
a body is checked by ``openapi-schema-validator``'s :data:`OAS30Validator` (JSON Schema draft 4 as OAS 3.0 amends
it: ``nullable``, ``format: int32/int64``…), with ``$ref`` resolved through a ``referencing.Registry`` that reads
any spec file on demand by its ``file://`` URI. Formats checked are OAS 3.0's (``date`` and ``date-time`` by
RFC 3339, ``int32``, ``int64``, ``byte``…) and Yandex Market's day-first dates.

What a test gets is a list of readable problems, empty when the body conforms, e.g.
``["$.stocks[0]: 'stock' is a required property"]``.

A request body is checked *closed* by default: a property its schema does not declare is a problem too (the
vendors silently ignore one, as WB does a misspelt ``chrtID``), unless the schema says ``additionalProperties``.
Answers are checked open, as OpenAPI means it: a vendor may add fields.

Where a spec is known to be wrong, a narrow override (:data:`OVERRIDES`) corrects it on load, each with its
reason, and loading fails once the spec no longer says what the override corrects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator, FormatChecker, ValidationError  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from jsonschema.validators import extend  # type: ignore[import-untyped]
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource, Specification

# The vendors' published OpenAPI files, kept outside the repository: a test that needs one skips without it.
SPECS = Path("/work/shared/notes/specs")
OZON = SPECS / "ozon" / "swagger.json"
WILDBERRIES_PRODUCTS = SPECS / "wildberries" / "02-products.yaml"
WILDBERRIES_ORDERS_FBS = SPECS / "wildberries" / "03-orders-fbs.yaml"
YANDEX_MARKET = SPECS / "yandex-market" / "openapi" / "openapi.yaml"

_MESSAGE_MAX = 300  # a problem names the value; a 2000-item array is cut


@dataclass(frozen=True)
class StaleRequired:
    """Fields a spec lists in a schema's ``required`` although the vendor does not require them: dropped."""

    file: Path
    schema: str
    """A JSON pointer to the schema inside ``file``."""
    fields: frozenset[str]
    why: str

    def apply(self, schema: dict[str, Any], document: Any) -> None:
        listed = set(schema.get("required", ()))
        if not self.fields <= listed:
            raise SpecChanged(f"no longer requires {sorted(self.fields - listed)}")
        schema["required"] = [field for field in schema["required"] if field not in self.fields]


@dataclass(frozen=True)
class NullInAnswers:
    """Properties a vendor answers as ``null`` though its spec does not say ``nullable``: each gets
    ``nullable: true`` (a property that is a ``$ref``, which cannot carry it in OAS 3.0, a copy of its target)."""

    file: Path
    schema: str
    fields: frozenset[str]
    why: str

    def apply(self, schema: dict[str, Any], document: Any) -> None:
        properties = schema.get("properties", {})
        gone = sorted(field for field in self.fields if field not in properties)
        if gone:
            raise SpecChanged(f"no longer declares {gone}")
        for field in self.fields:
            declared = properties[field]
            if "$ref" in declared:  # a schema of the same document: its own $refs stay right in the copy
                declared = _pointer(document, declared["$ref"].removeprefix("#"))
            if declared.get("nullable") is True:
                raise SpecChanged(f"now says {field} is nullable")
            properties[field] = {**declared, "nullable": True}


class SpecChanged(Exception):
    """The spec no longer says what an override corrects."""


OVERRIDES: tuple[StaleRequired | NullInAnswers, ...] = (
    StaleRequired(
        OZON,
        "/components/schemas/productv2ProductsStocksRequestStock",
        frozenset({"quant_size", "product_id"}),
        "quant_size was switched off on 26 June 2025 and is no longer among the item's properties; product_id is "
        "optional by the method's own description (send offer_id or product_id; with both, offer_id wins)",
    ),
    NullInAnswers(
        OZON,
        "/components/schemas/v3FbsPosting",
        frozenset({"addressee", "analytics_data", "barcodes", "customer", "delivering_date", "financial_data"}),
        "Ozon answers null for the parts of a posting it has not filled: no customer or addressee outside rFBS, "
        "no barcodes before packaging, analytics_data and financial_data unless asked for in `with`, "
        "delivering_date until it is handed over",
    ),
)


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for part in pointer.removeprefix("/").split("/") if pointer else ():
        key = unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


@cache
def _document(path: Path) -> Any:
    """A spec file parsed (JSON or YAML), with the overrides for it applied. Read once per test session."""
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    for override in OVERRIDES:
        if override.file.resolve() != path:
            continue
        try:
            override.apply(_pointer(document, override.schema), document)
        except (SpecChanged, LookupError) as retired:
            raise AssertionError(
                f"{path}#{override.schema}: {retired or 'gone'}; drop or mend its override in tests/vendor_specs.py"
            ) from retired
    return document


def _retrieve(uri: str) -> Resource[Any]:
    """A spec file by its ``file://`` URI, as the registry asks for it when a ``$ref`` leads there."""
    # An OpenAPI document is no JSON Schema: only JSON pointers into it are followed, no ``id`` inside it.
    return Specification.OPAQUE.create_resource(_document(Path(unquote(urlsplit(uri).path))))


def _escape(key: str) -> str:
    return quote(key.replace("~", "~0").replace("/", "~1"), safe="")


_OAS30_PROPERTIES = OAS30Validator.VALIDATORS["properties"]


def _closed_properties(
    validator: Any, properties: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``properties`` as usual, and a problem for each property the schema does not declare (no
    ``additionalProperties`` given). Request schemas are checked this way; none of the ones tested composes
    objects with ``allOf``, where a branch would not know the other branches' properties."""
    yield from _OAS30_PROPERTIES(validator, properties, instance, schema)
    if not validator.is_type(instance, "object") or "additionalProperties" in schema:
        return
    if any(keyword in schema for keyword in ("allOf", "anyOf", "oneOf")):
        raise NotImplementedError("a closed check of a composed schema: check it with closed=False")
    undeclared = [key for key in instance if key not in properties]
    if undeclared:
        yield ValidationError(f"{', '.join(map(repr, undeclared))} not among the properties the spec declares")


_ClosedOAS30Validator = extend(OAS30Validator, validators={"properties": _closed_properties})

_RFC3339 = Draft7Validator.FORMAT_CHECKER.checkers
_FORMATS = FormatChecker(formats=())
_FORMATS.checkers = {"date": _RFC3339["date"], "date-time": _RFC3339["date-time"], **oas30_format_checker.checkers}


def _written_as(layout: str) -> Callable[[object], bool]:
    def conforms(value: object) -> bool:
        return not isinstance(value, str) or datetime.strptime(value, layout).strftime(layout) == value

    return conforms


# Yandex Market's own formats: its dates are written day first, in Moscow time without an offset
_FORMATS.checks("date-dd-MM-yyyy", raises=ValueError)(_written_as("%d-%m-%Y"))
_FORMATS.checks("date-dd-MM-yyyy-HH-mm-ss", raises=ValueError)(_written_as("%d-%m-%Y %H:%M:%S"))


def _readable(error: ValidationError) -> str:
    if error.context:  # oneOf/anyOf: say why the likeliest branch failed
        error = best_match(error.context)
    message = error.message if len(error.message) <= _MESSAGE_MAX else error.message[:_MESSAGE_MAX] + "…"
    return f"{error.json_path}: {message}"


class VendorSpec:
    """One vendor's OpenAPI document, from its entry file; ``$ref`` to other files are followed relative to the
    file they are in. Locations are ``file://`` URIs with a JSON pointer fragment."""

    def __init__(self, entry: Path) -> None:
        if not entry.exists():
            pytest.skip(f"the vendor's OpenAPI is not at {entry}")
        self.entry = entry.resolve()
        self.uri = self.entry.as_uri()
        # (referencing's classes are attrs ones, whose fields mypy does not see through its own decorator)
        self.registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]

    def __repr__(self) -> str:
        return f"VendorSpec({self.entry})"

    # -- finding a schema --------------------------------------------------------------------------------------

    def _node(self, uri: str) -> tuple[str, Any]:
        """The node at ``uri``, following ``$ref`` (a Path Item, a Response… is as often a reference as not)."""
        while True:
            base, fragment = urldefrag(uri)
            node = _pointer(_document(Path(unquote(urlsplit(base).path))), fragment)
            if not isinstance(node, dict) or "$ref" not in node:
                return uri, node
            uri = urljoin(uri, node["$ref"])
            if "#" not in uri:  # a whole file
                uri += "#"

    def _walk(self, *keys: str) -> tuple[str, Any]:
        uri, node = self._node(self.uri + "#")
        for key in keys:
            if key not in node:
                raise KeyError(f"{uri}: no {key!r} (has {sorted(node)})")
            uri, node = self._node(f"{uri}/{_escape(key)}")
        return uri, node

    def request_schema(self, path: str, method: str, media_type: str = "application/json") -> str:
        """Where the schema of ``method path``'s request body is."""
        uri, _ = self._walk("paths", path, method.lower(), "requestBody", "content", media_type, "schema")
        return uri

    def response_schema(self, path: str, method: str, status: int, media_type: str = "application/json") -> str:
        """Where the schema of ``method path``'s answer with HTTP ``status`` is (else ``NXX``, else ``default``)."""
        _, responses = self._walk("paths", path, method.lower(), "responses")
        key = next((k for k in (str(status), f"{status // 100}XX", "default") if k in responses), None)
        if key is None:
            raise KeyError(f"{method.upper()} {path}: the spec lists no answer {status} (only {sorted(responses)})")
        uri, _ = self._walk("paths", path, method.lower(), "responses", key, "content", media_type, "schema")
        return uri

    def component(self, name: str) -> str:
        """Where the schema ``name`` is: under ``components/schemas`` of the entry file, or in its own file
        ``components/schemas/<name>.yaml`` beside it (Yandex Market's layout)."""
        _, root = self._node(self.uri + "#")
        if name in root.get("components", {}).get("schemas", {}):
            return f"{self.uri}#/components/schemas/{_escape(name)}"
        own_file = self.entry.parent / "components" / "schemas" / f"{name}.yaml"
        if own_file.exists():
            return own_file.as_uri() + "#"
        raise KeyError(f"{self.entry}: no schema {name!r}")

    def schema(self, location: str) -> Any:
        """The schema at a location (its ``$ref`` followed), to read a constraint from it."""
        return self._node(location)[1]

    # -- checking ----------------------------------------------------------------------------------------------

    def problems(self, location: str, instance: Any, *, closed: bool = False) -> list[str]:
        """What in ``instance`` the schema at ``location`` does not allow, as ``"$.json.path: message"``."""
        validator_class = _ClosedOAS30Validator if closed else OAS30Validator
        validator = validator_class({"$ref": location}, registry=self.registry, format_checker=_FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda error: (list(error.absolute_path), error.message))
        # a null where the spec wants a type is said twice ("None for not nullable", "None is not of type …")
        return [_readable(error) for error in errors if error.message != "None for not nullable"]

    def request_problems(self, path: str, method: str, body: Any, *, closed: bool = True) -> list[str]:
        """A request body against ``method path``'s request schema; closed unless told otherwise."""
        return self.problems(self.request_schema(path, method), body, closed=closed)

    def response_problems(self, path: str, method: str, status: int, body: Any) -> list[str]:
        """An answer's body against the schema the spec gives ``method path`` for HTTP ``status``."""
        return self.problems(self.response_schema(path, method, status), body)

    def component_problems(self, name: str, instance: Any, *, closed: bool = False) -> list[str]:
        return self.problems(self.component(name), instance, closed=closed)

    def query_problems(self, path: str, method: str, query: Mapping[str, Sequence[str]]) -> list[str]:
        """A request's query (each name with its values, repeated names as several) against ``method path``'s query
        parameters: a name the spec does not declare (nor lists among its ``x-aliases``) is a problem, as is a value
        its schema does not allow. An array parameter is checked as the list of its values; text that a number's
        schema asks for is read as that number first."""
        uri, operation = self._walk("paths", path, method.lower())
        declared: dict[str, str] = {}
        for index in range(len(operation.get("parameters", []))):
            where, parameter = self._node(f"{uri}/parameters/{index}")
            if parameter.get("in") == "query":
                for name in (parameter["name"], *parameter.get("x-aliases", ())):
                    declared[name] = f"{where}/schema"
        problems: list[str] = []
        for name, values in query.items():
            if name not in declared:
                problems.append(f"?{name}: not among the query parameters the spec declares")
                continue
            location, schema = self._node(declared[name])
            if schema.get("type") == "array":
                item = self._node(f"{location}/items")[1]
                instance: Any = [_as_typed(value, item) for value in values]
            else:
                instance = _as_typed(values[-1], schema) if len(values) == 1 else list(values)
            problems += [f"?{name}{problem[1:]}" for problem in self.problems(location, instance)]
        return problems


def _as_typed(value: str, schema: Mapping[str, Any]) -> Any:
    """A query value as the JSON value its schema types: numbers and booleans from their text."""
    kind = schema.get("type")
    if kind == "integer" and value.lstrip("-").isdigit():
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value
