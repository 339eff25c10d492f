"""House rule, checked: no function in the product is longer than a screen (60 lines), so each one can be read
whole. The import rules between the layers are checked by import-linter (``make test``), not here."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

PRODUCT = ("app", "bot", "workflows", "integrations", "storage")
LIMIT = 60


def long_functions(source: str, path: str, limit: int = LIMIT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append(f"{path}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_in_the_product_is_longer_than_60_lines() -> None:
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found += long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "split these:\n" + "\n".join(found)


def test_the_check_sees_a_long_function() -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(LIMIT))
    assert long_functions(f"async def f():\n{body}\n", "x.py") == ["x.py:1 f (61 lines)"]
    assert long_functions(f"def g():\n{body[: body.rindex(chr(10))]}\n", "x.py") == []
