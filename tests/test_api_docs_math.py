"""The library reference typesets the docstrings' equations and accepts no invalid docstring.

``tools/docstring_math.py`` turns the plain-text equation blocks of ``lstm_lib``'s docstrings into
``.. math::`` blocks; ``tools/api_docs.py`` runs it on every docstring and warns (which fails the
strict build) about a docstring that is not valid reStructuredText. The browser test checks that
MathJax typesets the result without an error.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import lstm_lib
from tools.api_docs import make_safe, process_docstring
from tools.docstring_math import equations_as_math, is_equation, to_tex

DOC = """One LSTM step.

Forward::

    (L1)  i_t = σ(W_i x_t + U_i h_{t-1} + b_i)          input gate
    (L5)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    (L7)  dc = dc_next + dh ⊙ o_t ⊙ (1 - tanh²(c_t))     the total dL/dc_t
          + more_terms

Equivalent to::

    for t in range(T):
        h, c = step(x[t], h, c)
""".splitlines()


def _math_blocks(lines: list[str]) -> list[list[str]]:
    blocks, current = [], None
    for line in lines:
        if line.strip() == ".. math::":
            current = []
            blocks.append(current)
        elif current is not None and line.strip() == r"\end{align}":
            current = None
        elif current is not None and line.strip() not in ("", ":nowrap:", r"\begin{align}"):
            current.append(line.strip())
    return blocks


def test_an_equation_block_becomes_an_aligned_math_block_with_tags_and_comments():
    out = equations_as_math(DOC)
    (rows,) = _math_blocks(out)
    assert "Forward:" in out and "Forward::" not in out  # the opener keeps one colon
    assert rows[0] == r"i_t &= \sigma(W_i x_t + U_i h_{t-1} + b_i) && \text{input gate} \tag{L1} \\"
    assert rows[1] == r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t \tag{L5} \\"
    assert rows[2].startswith(r"dc &= dc_{next} + dh \odot o_t \odot (1 - \tanh^2(c_t)) && ")
    assert rows[3] == r"&\quad + more_{terms}"  # a continuation line, aligned after the '='
    assert "    for t in range(T):" in out and "Equivalent to::" in out  # code stays literal


def test_a_paragraph_of_equations_is_math_but_the_summary_and_prose_are_not():
    lines = ["z_t = σ(W_z x_t + b_z) is the summary line.", "",
             "z_t = σ(W_z x_t + b_z)", "h̃_t = g(W_h x_t + b_h),   g(a) = a + 1/2 (a ≥ 0)", "",
             "The gate z_t = σ(a) opens when a > 0.", "so does this line = x_t."]
    out = equations_as_math(lines)
    (rows,) = _math_blocks(out)
    assert rows == [r"z_t &= \sigma(W_z x_t + b_z) \\",
                    r"\tilde{h}_t &= g(W_h x_t + b_h), \quad g(a) = a + 1/2 (a \ge 0)"]
    assert out[0] == lines[0] and lines[-2] in out and lines[-1] in out


@pytest.mark.parametrize("line, expected", [
    ("(L1)  i_t = σ(W_i x_t + b_i)", True),
    ("(C2)  g ← g · min(1, θ / ‖g‖)", True),
    ("h, c = step(x[t], h, c)", False),          # code
    ("out = torch.cat(parts)", False),           # code: an attribute
    ("Returns the state = h_t.", False),         # prose: words before '='
    ("order=2:  n_k = δ_k(eps) / (2 eps)", False),
])
def test_what_counts_as_an_equation(line, expected):
    assert is_equation(line) is expected


def test_words_inside_a_formula_become_text_and_code_names_typewriter():
    assert to_tex("∂c_T/∂c_k = Π_t diag(f_t) + (every path through some h_j)") == (
        r"\partial c_T/\partial c_k = \prod_t \operatorname{diag}(f_t) + "
        r"\text{ (every path through some } h_j)")
    assert to_tex("weight_ih_l0 ⊙ x_t") == r"\mathtt{weight\_ih\_l0} \odot x_t"
    assert to_tex("ĩ_t = exp(z̃_t)") == r"\tilde{i}_t = \exp(\tilde{z}_t)"


def _library_docstrings():
    seen = set()
    for info in pkgutil.walk_packages(lstm_lib.__path__, "lstm_lib."):
        module = importlib.import_module(info.name)
        objects = [(info.name, module)] + [
            (f"{info.name}.{name}", obj) for name, obj in vars(module).items()
            if (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", "") == info.name]
        for name, obj in objects:
            if isinstance(obj.__doc__, str) and id(obj) not in seen:
                seen.add(id(obj))
                yield name, inspect.cleandoc(obj.__doc__).splitlines()


def test_every_library_docstring_is_valid_and_its_equation_blocks_are_complete_tex():
    converted = 0
    for name, lines in _library_docstrings():
        safe, problems = process_docstring(name, lines)
        assert problems == [], f"{name}: {problems}"
        for rows in _math_blocks(safe):
            converted += 1
            tex = " ".join(rows)
            assert not re.search(r"[σ⊙∂Π∑²′−≤≥←‖θλ\u0303]", tex), f"{name}: {tex}"
            assert tex.count("{") == tex.count("}"), tex  # parentheses may not: (0, 1]
    assert converted >= 10  # the reference's (L), (G), (R) blocks and the layers' equations


def test_an_invalid_docstring_is_reported_not_hidden():
    safe, problems = process_docstring("lstm_lib.fake", ["Text", "    unexpectedly indented",
                                                         "  and back"])
    assert problems and "unexpected unindent" in " ".join(problems)


def test_a_norm_at_the_start_of_a_line_is_not_a_line_block():
    assert make_safe(["|a - n| <= 1e-4"]) == [r"\|a - n\| <= 1e-4"]
    assert make_safe(["| a line block"]) == ["| a line block"]
