"""The chapters carry the lesson, not plumbing (issue: "narrative, not plumbing").

* every shown code cell is at most ``MAX_SHOWN_LINES`` non-blank lines;
* all chapters together define at most ``MAX_DEFS`` functions or classes in their code cells
  (what is left is the lesson itself: the stubs of the implement-it exercises);
* every exercise solution is hidden behind a dropdown;
* every hidden check cell says what it checks in a first comment line.
"""

from __future__ import annotations

import re

import pytest

from tests.test_reading_order import numbered_chapters

MAX_SHOWN_LINES = 25
MAX_DEFS = 10
CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)
HIDDEN = ("remove-cell", "remove-input")
SOLUTION = re.compile(r":::\{(solution|solution-start)\}[^\n]*\n((?::[a-z-]+:[^\n]*\n)*)")


def cells(text: str) -> list[tuple[list[str], str]]:
    """(code lines, tag lines) for each code cell of a MyST notebook."""
    out = []
    for body in CELL.findall(text):
        tags = " ".join(ln for ln in body.splitlines() if ln.startswith(":"))
        code = [ln for ln in body.splitlines() if not ln.startswith(":") and ln.strip()]
        out.append((code, tags))
    return out


def is_hidden(tags: str) -> bool:
    return any(tag in tags for tag in HIDDEN)


@pytest.fixture(scope="module")
def chapters() -> dict[str, str]:
    return {p.stem: p.read_text() for p in numbered_chapters()}


def test_shown_code_cells_are_short(chapters):
    long = [(name, len(code), code[0]) for name, text in chapters.items()
            for code, tags in cells(text) if not is_hidden(tags) and len(code) > MAX_SHOWN_LINES]
    assert long == []


def test_few_functions_are_defined_in_chapters(chapters):
    defs = [(name, ln.strip()) for name, text in chapters.items() for code, _ in cells(text)
            for ln in code if re.match(r"\s*(def|class) ", ln)]
    assert len(defs) <= MAX_DEFS, defs


def test_every_solution_is_a_dropdown(chapters):
    for name, text in chapters.items():
        for kind, options in SOLUTION.findall(text):
            assert ":class: dropdown" in options, f"{name}: a {kind} is shown open"


def test_hidden_check_cells_say_what_they_check(chapters):
    for name, text in chapters.items():
        for code, tags in cells(text):
            if "remove-cell" in tags and any(ln.lstrip().startswith("assert") for ln in code):
                assert code[0].lstrip().startswith("#"), f"{name}: unlabelled check {code[:2]}"


def test_the_cell_parser_sees_tags_and_hidden_cells():
    text = ("```{code-cell} ipython3\n:tags: [remove-cell]\n\n# checks\nassert 1\n```\n"
            "```{code-cell} ipython3\nx = 1\n\ny = 2\n```\n")
    (hidden_code, hidden_tags), (shown_code, shown_tags) = cells(text)
    assert is_hidden(hidden_tags) and hidden_code == ["# checks", "assert 1"]
    assert not is_hidden(shown_tags) and shown_code == ["x = 1", "y = 2"]
