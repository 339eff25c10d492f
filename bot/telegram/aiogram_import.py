"""aiogram imported with its Telegram types and methods left to be built when first used.

aiogram declares every type of the Bot API (some 400) and every method (some 190) as a pydantic model. Its types
are declared ``defer_build``, but ``aiogram.types`` then calls ``model_rebuild`` on each of them to resolve the names
their modules import only for the type checker, and that builds every validator and serializer there and then: some
100 MB of a service that reads updates and sends a handful of methods (docs/footprint.md). Here the import is
done with that rebuild leaving each type as declared, deferred, and with each method deferred too: the names a type's
annotations use are put in its module, where pydantic looks for them when it builds the type, on the first
validation or instantiation of that type, or of a model holding it. What a model validates and how it dumps is the
same either way (``tests/unit/test_aiogram_import.py`` holds the two to the same JSON schema for every type and
method); only when it is built changes.

Should pydantic or aiogram change what this relies on (``model_rebuild``'s ``_types_namespace``, pydantic's default
configuration), aiogram is imported as it is, eagerly.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

TYPES_PACKAGE = "aiogram.types."


def import_aiogram() -> None:
    """Import aiogram, unless it is already: types and methods built when first used."""
    if "aiogram" in sys.modules:
        return
    with _types_left_deferred(), _models_deferred():
        import aiogram  # noqa: F401


@contextlib.contextmanager
def _types_left_deferred() -> Iterator[None]:
    """While aiogram imports, its types' ``model_rebuild(_types_namespace=…)`` puts the names in the type's module
    instead of building it; any other rebuild is done as usual."""
    rebuild = BaseModel.__dict__["model_rebuild"]

    def leave_deferred(
        cls: type[BaseModel], /, *, _types_namespace: dict[str, Any] | None = None, **options: Any
    ) -> Any:
        if _types_namespace is None or cls.__pydantic_complete__ or not cls.__module__.startswith(TYPES_PACKAGE):
            return rebuild.__func__(cls, _types_namespace=_types_namespace, **options)
        names = vars(sys.modules[cls.__module__])
        for name, value in _types_namespace.items():
            names.setdefault(name, value)
        return None

    BaseModel.model_rebuild = classmethod(leave_deferred)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]


@contextlib.contextmanager
def _models_deferred() -> Iterator[None]:
    """Models declared meanwhile (aiogram's methods) are built when first used, as with ``defer_build=True``."""
    try:
        from pydantic._internal._config import config_defaults
    except ImportError:  # pragma: no cover - a pydantic without it: the methods are built at import
        yield
        return
    before = config_defaults.get("defer_build", False)
    config_defaults["defer_build"] = True
    try:
        yield
    finally:
        config_defaults["defer_build"] = before
