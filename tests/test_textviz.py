"""lstm_lib.textviz: the Python scanner, correlations, the memoryless baseline, colouring."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from lstm_lib import textviz

matplotlib.use("Agg")


def test_indicators_on_a_small_program():
    text = 'x = f("a(b", [1])  # (\n    y = """q\n"""\n'
    ind = textviz.python_indicators(text)
    s, d, n = ind["inside a string"], ind["bracket depth"], ind["indentation"]
    assert s[text.index('"a')] == 1 and s[text.index("(b")] == 1 and s[text.index("x")] == 0
    assert d[text.index("1")] == 2 and d[text.index("a(")] == 1     # brackets in strings ignored
    assert d[text.index("#") + 3] == 0                               # nor in comments
    assert n[text.index("y")] == 4 and n[0] == 0
    assert s[text.index("q")] == 1 and s[text.index("q") + 1] == 1   # triple quote spans lines


def test_escape_and_unterminated_string():
    text = "'a\\'b' c\n'open\nz"
    s = textviz.python_indicators(text)["inside a string"]
    assert s[text.index("b")] == 1 and s[text.index("c")] == 0
    assert s[text.index("z")] == 0


def test_correlations_and_current_char_baseline(rng):
    v = rng.standard_normal(200)
    states = np.stack([v, -2 * v, rng.standard_normal(200), np.zeros(200)], axis=1)
    r = textviz.correlations(states, v)
    np.testing.assert_allclose(r[:2], [1, -1], atol=1e-9)
    assert r[3] == 0
    ids = np.arange(200) % 4
    assert textviz.current_char_r(ids, ids * 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(T, H\)"):
        textviz.correlations(states[:, 0], v)


def test_pick_passage_and_draw():
    text = "\n".join(["a = 1", "def f(x):", "    return '(x)'", "b = [2]"] * 5)
    ind = textviz.python_indicators(text)
    sl = textviz.pick_passage(text, ind, n_lines=3)
    assert text[sl].count("\n") == 2
    ax = textviz.draw_colored_text(text[sl], ind["bracket depth"][sl], title="t")
    assert len(ax.patches) == sl.stop - sl.start
    with pytest.raises(ValueError, match="one entry per character"):
        textviz.draw_colored_text("ab", [1.0])
