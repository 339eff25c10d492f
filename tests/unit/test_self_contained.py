"""The repository stands on its own: no file cites a document or a tracker its reader does not have.

Design notes, contracts, vendor notes and issue numbers live outside the repository, so a sentence that leans
on them ("see DESIGN §6", "(issue 6)", "API_NOTES §2", a path into a notes folder) tells a reader nothing. Say
the fact itself, name the public source (a vendor's documentation or published OpenAPI file, an RFC), or point
to a file in the repository (README.md, docs/*.md).

Every file ``git ls-files`` lists is read, except third-party files copied in unchanged. The only allowance is
the line of ``tests/vendor_specs.py`` that builds the path to the vendors' published OpenAPI files, which the
e2e tests read from outside the repository.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
THIS = "tests/unit/test_self_contained.py"  # spells out the patterns, so it is not read

# Third-party files kept byte for byte as published (app/web/static/vendor/README.md says where from).
THIRD_PARTY = frozenset(
    {
        "app/web/static/vendor/LICENSE",
        "app/web/static/vendor/LICENSE.preact",
        "app/web/static/vendor/htm-preact-standalone.mjs",
    }
)

# (path, the line exactly, stripped): code that must name the outside folder, and nothing else.
ALLOWED = frozenset(
    {
        ("tests/vendor_specs.py", 'SPECS = Path("/work/shared/notes/specs")'),
    }
)

CITATION = re.compile(
    r"""
      \bDESIGN\b                        # DESIGN.md, "DESIGN §6"
    | \bCONTRACT\b                      # CONTRACT.md
    | \bAPI_NOTES\b
    | \bCLIENT_TESTING\b
    | \bSTYLE\.md\b
    | \b(?i:issue|ticket)s?\s+\#?\d     # "(issue 6)", "issue #12", "tickets 3 and 4"
    | \bPR\s*\#\d
    | \.\./shared\b
    | /shared/notes\b
    | \bnotes/
    | \bspecs/                          # specs/ozon/swagger.json and the like
    | \b(?i:the|our)\s+notes\b          # "the notes document …", "the notes' figure"
    | §                                 # a section of some document (an RFC's is allowed, below)
    """,
    re.VERBOSE,
)
PUBLIC_SECTION = re.compile(r"\bRFC\s*\d+\s*§\s*[\d.]+")  # RFC 9110 §10.2.3: anyone can read it


def citations(path: str, text: str) -> list[str]:
    """``path:line: the line`` for each line of ``text`` that cites something outside the repository."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if (path, line.strip()) in ALLOWED:
            continue
        if CITATION.search(PUBLIC_SECTION.sub("", line)):
            found.append(f"{path}:{number}: {line.strip()}")
    return found


def tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout ({error})")
    return [path for path in listed.split("\0") if path]


def test_no_file_cites_a_document_or_tracker_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        if path == THIS or path in THIRD_PARTY:
            continue
        try:
            text = (ROOT / path).read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):  # deleted in the work tree, or binary (an image)
            continue
        found += citations(path, text)
    assert not found, "say the fact, or point to a file in the repository, instead of:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "PostgreSQL is the path for load (DESIGN §6).",
        "Routing (DESIGN.md §3): a line is reserved",
        '"""JSON views, in the shapes CONTRACT.md promises."""',
        "What WB serves (API_NOTES §1, the official specs):",
        "# as CLIENT_TESTING asks",
        "Formatting follows STYLE.md.",
        "the real service wired to them (issue 6)",
        "fixed in Issue #12",
        "see ../shared/notes/specs/ozon/swagger.json",
        "What Ozon serves (``specs/ozon/swagger.json``):",
        "because the notes document the catalog's fields",
        "At most 250 offers (the notes' figure, unverified).",
        "as the bank does (§5)",
    ],
)
def test_a_citation_is_found(line: str) -> None:
    assert citations("x.py", f"ok\n{line}\n") == [f"x.py:2: {line}"]


@pytest.mark.parametrize(
    "line",
    [
        "The value is a number of seconds or an HTTP date (RFC 9110 §10.2.3).",
        "What WB serves (its API documentation and published OpenAPI files):",
        "the contract the pages rely on",  # a word, not a document
        "Stock messages arrive in parallel: each notes the time",
        '"backlog": "the pump\'s capacity"',
        "await client.status('../webhooks')",
        "a delivered task 0, gives task 2 back",
    ],
)
def test_plain_prose_passes(line: str) -> None:
    assert citations("x.py", line) == []


def test_the_outside_path_is_allowed_only_on_its_own_line_of_vendor_specs() -> None:
    line = 'SPECS = Path("/work/shared/notes/specs")'
    assert citations("tests/vendor_specs.py", line) == []
    assert citations("tests/conftest.py", line) != []
    assert citations("tests/vendor_specs.py", f"# read from {line}") != []
