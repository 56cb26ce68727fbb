"""lstm_lib.tied_gates: with tied weights i = σ(logit f + b_i - b_f); hold xor overwrite."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from lstm_lib import reference as ref
from lstm_lib import tied_gates as tg

matplotlib.use("Agg")


def test_tied_input_gate_is_a_function_of_the_forget_gate(rng):
    D, H = 3, 4
    cell = ref.make_cell("lstm", D, H, rng=rng)
    W0 = cell.params["W"].copy()
    tied = tg.tie_input_to_forget(cell)
    np.testing.assert_array_equal(cell.params["W"], W0)  # the original is untouched
    gates = tied.forward(rng.standard_normal((7, 2, D)))[1].gates
    b = tied.params["b"]
    logit = np.log(gates["f"]) - np.log1p(-gates["f"])
    np.testing.assert_allclose(gates["i"], ref.sigmoid(logit + b[:H] - b[H:2 * H]), atol=1e-10)


def test_hold_alone_is_possible_with_tied_weights():
    # b_i - b_f = -10 and a forget logit of 5: f = σ(5) ≈ 0.993, i = σ(-5) ≈ 0.007
    f = ref.sigmoid(np.array([[5.0]]))
    i = ref.sigmoid(np.array([[5.0 - 10.0]]))
    assert round(float(f[0, 0]), 3) == 0.993 and round(float(i[0, 0]), 3) == 0.007
    assert not tg.hold_and_overwrite({"f": f, "i": i})[0]
    both = {"f": np.array([[0.95], [0.05]]), "i": np.array([[0.05], [0.95]])}
    assert tg.hold_and_overwrite(both).tolist() == [True]


def test_tied_cells_never_do_both_and_free_ones_can(rng):
    D, H = 4, 8
    cell = ref.make_cell("lstm", D, H, rng=3)
    for k in ("W", "U"):
        cell.params[k] = 1.5 * cell.params[k] * np.sqrt(H)
    xs = 2 * rng.standard_normal((50, 20, D))
    assert not tg.hold_and_overwrite(tg.tie_input_to_forget(cell).forward(xs)[1].gates).any()
    assert tg.hold_and_overwrite(cell.forward(xs)[1].gates).any()


def test_plot_and_errors(rng):
    gates = {"f": rng.uniform(size=(5, 2, 3)), "i": rng.uniform(size=(5, 2, 3))}
    axes = tg.plot_gate_pairs({"a": gates, "b": gates}, unit=2)
    assert len(axes) == 2 and axes[0].get_xlim() == (0, 1)
    with pytest.raises(ValueError, match="unit must be"):
        tg.plot_gate_pairs({"a": gates}, unit=3)
    with pytest.raises(ValueError, match="'lstm' cell"):
        tg.tie_input_to_forget(ref.make_cell("gru", 2, 3))
    with pytest.raises(ValueError, match="thresholds"):
        tg.hold_and_overwrite(gates, low=0.9, high=0.1)
    with pytest.raises(ValueError, match="one shape"):
        tg.hold_and_overwrite({"f": np.zeros((2, 3)), "i": np.zeros((2, 4))})
