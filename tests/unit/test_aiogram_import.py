"""aiogram imported with its types and methods built when first used (bot/telegram/aiogram_import.py) validates
and dumps as aiogram imported as it is: the JSON schema of every Telegram type and method, for validation and for
serialization, is the same either way; and the import leaves them unbuilt (else it saves nothing). Each import runs
in a fresh interpreter: this test process has loaded aiogram already."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SCHEMAS = """
import json, sys, warnings
if sys.argv[1] == "deferred":
    from bot.telegram.aiogram_import import import_aiogram
    import_aiogram()
import aiogram.methods, aiogram.types
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

class Whole(GenerateJsonSchema):
    def handle_invalid_for_json_schema(self, schema, error_info):  # an InputFile field: said as it is
        return {"invalid": error_info}

models = {
    f"{package.__name__}.{name}": model
    for package in (aiogram.types, aiogram.methods)
    for name in package.__all__
    if isinstance(model := getattr(package, name), type) and issubclass(model, BaseModel)
    and not getattr(model, "__abstractmethods__", None)
}
unbuilt = sorted(name for name, model in models.items() if not model.__pydantic_complete__)
warnings.simplefilter("ignore")  # defaults aiogram fills in later (Default(...)) are not JSON
_, schema = models_json_schema(
    [(model, mode) for model in models.values() for mode in ("validation", "serialization")], schema_generator=Whole
)
print(json.dumps({"models": sorted(models), "unbuilt": unbuilt, "schemas": schema["$defs"]}, default=repr))
"""


def imported(how: str) -> dict[str, list[str] | dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCHEMAS, how],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list[str] | dict[str, object]] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_types_and_methods_built_when_first_used_have_the_schemas_aiogram_builds_at_import() -> None:
    deferred, eager = imported("deferred"), imported("eager")
    assert eager["unbuilt"] == []
    assert len(deferred["models"]) > 500  # every type and method
    assert deferred["unbuilt"] == deferred["models"]  # none was built by the import
    assert {"aiogram.types.Update", "aiogram.types.Message", "aiogram.methods.SendMessage"} <= set(deferred["unbuilt"])
    ours, theirs = deferred["schemas"], eager["schemas"]
    assert isinstance(ours, dict)
    assert isinstance(theirs, dict)
    assert len(ours) > 700  # each model's, as validated and as dumped where they differ, and what they hold
    assert sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)) == []
