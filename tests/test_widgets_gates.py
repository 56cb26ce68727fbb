"""lstm_lib.widgets, the LSTM gate explorer: the latch cell, the trace, the figure, the widget."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lstm_lib.reference import lstm_step_forward, sigmoid
from lstm_lib.widgets import (
    GATE_BLOCKS,
    GateExplorer,
    gate_explorer,
    latch_params,
    lstm_trace,
    plot_lstm_trace,
)

LATCH_XS = [0, 1, 0, 0, -1, 0, 1, 1]


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_latch_params_shapes_and_blocks():
    p = latch_params(w=10.0, bias=5.0, w_g=5.0, b_o=5.0)
    assert p["W"].shape == (4, 1) and p["U"].shape == (4, 1) and p["b"].shape == (4,)
    assert GATE_BLOCKS == ("i", "f", "g", "o")
    np.testing.assert_array_equal(p["b"], [-5.0, 5.0, 0.0, 5.0])


def test_trace_matches_step_function_and_latches():
    p = latch_params()
    tr = lstm_trace(p, LATCH_XS)
    assert tr["x"].shape == (8, 1) and all(tr[k].shape == (8, 1) for k in "ifgoch")
    h = c = np.zeros((1, 1))
    for t, x in enumerate(LATCH_XS):
        h, c, cache = lstm_step_forward(np.array([[x]], float), h, c, p["W"], p["U"], p["b"])
        for name in GATE_BLOCKS:
            np.testing.assert_allclose(tr[name][t], getattr(cache, name)[0], rtol=0, atol=0)
        np.testing.assert_allclose(tr["c"][t], c[0], rtol=0, atol=0)
        np.testing.assert_allclose(tr["h"][t], h[0], rtol=0, atol=0)
    c = tr["c"][:, 0]
    assert abs(c[0]) < 1e-6                       # nothing stored yet
    assert c[1] > 0.99 and c[3] > 0.97            # stored and kept (it leaks by f = σ(5))
    assert c[4] < 0.01                            # reset
    assert c[7] > 1.9                             # two stores add up: c_t is not bounded by 1
    assert np.all(np.abs(tr["h"]) < 1)
    assert tr["i"][1, 0] == pytest.approx(sigmoid(np.array(5.0)))


def test_trace_rejects_bad_shapes():
    with pytest.raises(ValueError, match="xs must be"):
        lstm_trace(latch_params(), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="W"):
        lstm_trace({"W": np.zeros((3, 1)), "U": np.zeros((3, 1)), "b": np.zeros(3)}, [0.0])


def test_plot_lstm_trace_draws_three_panels():
    fig = plot_lstm_trace(latch_params(), LATCH_XS)
    assert len(fig.axes) == 3
    c_line = [ln for ln in fig.axes[2].get_lines() if ln.get_label() == "$c_t$"][0]
    np.testing.assert_allclose(c_line.get_ydata(), lstm_trace(latch_params(), LATCH_XS)["c"][:, 0])
    again = plot_lstm_trace(latch_params(), LATCH_XS, fig=fig)  # redraw on the same figure
    assert again is fig and len(fig.axes) == 3


def test_plot_lstm_trace_two_units_from_torch_weights():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(1, 2)
    p = {"W": cell.weight_ih.detach().double().numpy(),
         "U": cell.weight_hh.detach().double().numpy(),
         "b": (cell.bias_ih + cell.bias_hh).detach().double().numpy()}
    fig = plot_lstm_trace(p, np.linspace(-1, 1, 6))
    assert len([ln for ln in fig.axes[2].get_lines() if ln.get_marker() == "o"]) == 2


def test_explorer_constructs_and_redraws_on_change():
    pytest.importorskip("ipywidgets")
    ex = gate_explorer(xs=LATCH_XS)
    assert isinstance(ex, GateExplorer)
    assert ex.redraws == 1
    assert set(ex.controls) == {"b_i", "b_f", "b_g", "b_o", "xs"}
    assert ex.controls["b_f"].value == 5.0

    def c_data():
        ax = ex.figure.axes[2]
        return [ln for ln in ax.get_lines() if ln.get_label() == "$c_t$"][0].get_ydata().copy()

    before = c_data()
    ex.controls["b_f"].value = -3.0               # a forget gate that is mostly closed
    assert ex.redraws == 2
    after = c_data()
    assert after[3] < 0.2 * before[3]             # the stored value is gone two steps later
    np.testing.assert_allclose(after, lstm_trace(ex.current_params(), LATCH_XS)["c"][:, 0])

    ex.controls["xs"].value = "1 0 0"
    assert ex.redraws == 3 and len(c_data()) == 3
    ex.controls["xs"].value = "1 zero"            # malformed: a message, no redraw, no crash
    assert ex.redraws == 3 and ex.error
    ex.controls["xs"].value = "0 1"
    assert ex.redraws == 4 and ex.error == ""
