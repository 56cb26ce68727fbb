"""The book's reading order: no chapter builds on a chapter that comes after it.

* Every numbered chapter opens with a "Prerequisites" admonition; each chapter it links there
  ({ref}`ch-...`) comes earlier in ``_toc.yml``.
* No chapter before the LSTM chapter (``ch-lstm-gates``) builds, trains or differentiates an
  LSTM-family model in its code, and no chapter before the variants chapter (``ch-variants``)
  one of the variants (GRU, peephole, CIFG).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

LABEL = re.compile(r"^\((ch-[a-z0-9-]+)\)=\s*$", re.M)
PREREQ = re.compile(r":::\{admonition\} Prerequisites\n(.*?)\n:::", re.S)
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?(ch-[a-z0-9-]+)>?`")
CODE = re.compile(r"```(?:\{code-cell\}[^\n]*|python)\n(.*?)```", re.S)
LSTM_FAMILY = re.compile(r"""["'](lstm|gru|gru_cho|peephole|cifg)["']"""
                         r"""|\b(lnn|nn)\.(LSTM|GRU|PeepholeLSTM|CIFG)(Cell)?\b""")
VARIANTS = re.compile(r"""["'](gru|gru_cho|peephole|cifg)["']"""
                      r"""|\b(lnn|nn)\.(GRU|PeepholeLSTM|CIFG)(Cell)?\b""")


def numbered_chapters(toc: dict | None = None) -> list[Path]:
    """The numbered chapters' files, in reading order."""
    toc = toc or yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [ROOT / f"{c['file']}.md" for part in toc["parts"] if part.get("numbered")
            for c in part["chapters"]]


def chapter_label(text: str) -> str | None:
    m = LABEL.search(text)
    return m.group(1) if m else None


def prerequisites(text: str) -> list[str] | None:
    """The chapter labels linked in the Prerequisites admonition (None: no such admonition)."""
    m = PREREQ.search(text)
    return None if m is None else REF.findall(m.group(1))


def order_violations(chapters: list[tuple[str, str]]) -> list[str]:
    """(label, text) pairs in reading order -> one message per prerequisite that comes later."""
    position = {label: k for k, (label, _) in enumerate(chapters)}
    problems = []
    for k, (label, text) in enumerate(chapters):
        links = prerequisites(text)
        if links is None:
            problems.append(f"{label}: no Prerequisites admonition")
            continue
        for ref in links:
            if ref not in position:
                problems.append(f"{label}: prerequisite {ref} is not a numbered chapter")
            elif position[ref] >= k:
                problems.append(f"{label}: prerequisite {ref} comes at or after it in _toc.yml")
    return problems


def early_uses(chapters: list[tuple[str, str]], before: str, pattern: re.Pattern) -> list[str]:
    """Code in the chapters before ``before`` that matches ``pattern``, as messages."""
    found = []
    for label, text in chapters:
        if label == before:
            break
        for body in CODE.findall(text):
            for line in body.splitlines():
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    found.append(f"{label}: {line.strip()}")
    return found


@pytest.fixture(scope="module")
def chapters() -> list[tuple[str, str]]:
    out = []
    for path in numbered_chapters():
        text = path.read_text()
        label = chapter_label(text)
        assert label, f"{path.name} has no (ch-...)= label before its title"
        out.append((label, text))
    return out


def test_every_prerequisite_comes_earlier(chapters):
    assert order_violations(chapters) == []


def test_no_lstm_before_the_lstm_chapter(chapters):
    assert "ch-lstm-gates" in dict(chapters)
    assert early_uses(chapters, "ch-lstm-gates", LSTM_FAMILY) == []


def test_no_variant_before_the_variants_chapter(chapters):
    assert "ch-variants" in dict(chapters)
    assert early_uses(chapters, "ch-variants", VARIANTS) == []


def test_the_checks_catch_a_late_prerequisite_and_an_early_lstm():
    first = ("(ch-a)=\n# A\n:::{admonition} Prerequisites\n* {ref}`ch-b`\n:::\n"
             "```{code-cell} ipython3\nmodel = SequenceModel(\"lstm\", 1, 8, 1)\n```\n")
    second = "(ch-b)=\n# B\n:::{admonition} Prerequisites\n* {ref}`the first <ch-a>`\n:::\n"
    third = "(ch-c)=\n# C\nno admonition\n"
    chapters = [("ch-a", first), ("ch-b", second), ("ch-c", third)]
    assert order_violations(chapters) == [
        "ch-a: prerequisite ch-b comes at or after it in _toc.yml",
        "ch-c: no Prerequisites admonition"]
    assert early_uses(chapters, "ch-b", LSTM_FAMILY) == [
        'ch-a: model = SequenceModel("lstm", 1, 8, 1)']
    assert early_uses(chapters, "ch-a", LSTM_FAMILY) == []
