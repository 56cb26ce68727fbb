"""lstm_lib.diagrams' modern kind "mingru": its labels, that h_{t-1} feeds no gate, its values."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from lstm_lib import diagrams
from lstm_lib import reference as ref


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def gid(ax, name):
    (found,) = [a for a in list(ax.texts) + list(ax.patches) + list(ax.lines)
                if a.get_gid() == name]
    return found


def fmt(v):
    return f"{float(v):.2f}".replace("-", "\u2212")


def test_mingru_draws_its_labels_and_blocks():
    ax = diagrams.draw_cell("mingru")
    assert {"$x_t$", "$h_{t-1}$", "$h_t$", "$z_t$", r"$\tilde h_t$"} <= set(texts(ax))
    gids = {p.get_gid() for p in ax.patches}
    assert {"block:z", "block:g", "op:one_minus", "op:mix"} <= gids
    assert "block:r" not in gids and "block:U_n" not in gids      # no reset gate, no U
    assert "mingru" in diagrams.MODERN_KINDS and "mingru" not in diagrams.KINDS


def test_h_prev_feeds_the_candidate_in_the_gru_but_not_in_the_mingru():
    grey = to_rgba(diagrams.COLORS["grey"])
    gru = diagrams.draw_cell("gru", highlight="n")
    assert to_rgba(gid(gru, "wire:h_prev").get_color()) != grey
    ax = diagrams.draw_cell("mingru", highlight="g")
    assert to_rgba(gid(ax, "wire:h_prev").get_color()) == grey
    assert to_rgba(gid(ax, "wire:x").get_color()) == to_rgba(diagrams.COLORS["g"])
    assert tuple(gid(ax, "block:z").get_edgecolor()) == grey
    assert tuple(gid(ax, "block:g").get_edgecolor()) == to_rgba(diagrams.COLORS["g"])


def test_mingru_highlight_z_and_backward():
    ax = diagrams.draw_cell("mingru", highlight="z")
    assert to_rgba(gid(ax, "label:z").get_color()) == to_rgba(diagrams.COLORS["z"])
    assert to_rgba(gid(ax, "label:g").get_color()) == to_rgba(diagrams.COLORS["grey_text"])
    back = diagrams.draw_cell("mingru", highlight="backward")
    d = r"\mathrm{d}"
    assert {f"${d}h_t$", f"${d}h_{{t-1}}$", f"${d}x_t$", r"$\odot\, (1 - z_t)$"} <= set(
        texts(back))


def test_mingru_values_are_the_reference_cells_numbers():
    cell = ref.make_cell("mingru", 1, 2, rng=3)
    hs, cache = cell.forward(np.random.default_rng(4).standard_normal((3, 1, 1)))
    ax = diagrams.draw_cell("mingru", values=cache, t=1, unit=1)
    assert gid(ax, "value:h").get_text() == fmt(hs[1, 0, 1])          # h_t, not h̃_t
    assert gid(ax, "value:h_prev").get_text() == fmt(hs[0, 0, 1])
    assert gid(ax, "value:g").get_text() == fmt(cache.gates["h"][1, 0, 1])
    assert gid(ax, "value:z").get_text() == fmt(cache.gates["z"][1, 0, 1])


def test_mingru_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"highlight for kind 'mingru' must be .*got 'r'"):
        diagrams.draw_cell("mingru", highlight="r")
    with pytest.raises(ValueError, match=r"kind must be one of .*got 'mingru'"):
        diagrams.draw_unrolled("mingru", steps=2)


def test_slstm_draws_the_exponential_gate_and_the_normaliser():
    ax = diagrams.draw_cell("slstm")
    labels = set(texts(ax))
    assert {r"$\bar c_{t-1}$", r"$\bar c_t$", "$i'_t$", "$f'_t$", "$z_t$", "$o_t$"} <= labels
    assert "$g_t$" not in labels and "$c_t$" not in labels
    assert gid(ax, "block:i").get_gid() and r"$\exp$" in labels
    gids = {p.get_gid() for p in ax.patches}
    assert "block:norm" in gids and "block:tanh_c" not in gids      # c̄ / n̄ instead of tanh
    assert "block:tanh_c" in {p.get_gid() for p in diagrams.draw_cell("lstm").patches}
    back = diagrams.draw_cell("slstm", highlight="backward")
    assert r"$\odot\, f'_t$" in texts(back)


def test_slstm_values_are_the_stabilised_step():
    cell = ref.make_cell("slstm", 1, 2, rng=5)
    hs, cache = cell.forward(np.random.default_rng(6).standard_normal((4, 1, 1)))
    ax = diagrams.draw_cell("slstm", values=cache, t=2, unit=0)
    step = cache.steps[2]
    assert gid(ax, "value:i").get_text() == fmt(step.i_s[0, 0])       # i' = exp(ĩ − m)
    assert gid(ax, "value:f").get_text() == fmt(step.f_s[0, 0])
    assert gid(ax, "value:g").get_text() == fmt(step.z[0, 0])
    assert gid(ax, "value:c").get_text() == fmt(cache.cs[2, 0, 0])     # c̄_t
    assert gid(ax, "value:h").get_text() == fmt(hs[2, 0, 0])
    with pytest.raises(ValueError, match=r"highlight for kind 'slstm' must be .*got 'z'"):
        diagrams.draw_cell("slstm", highlight="z")
