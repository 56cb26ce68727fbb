"""lstm_lib.diagrams: every kind draws with its labels, highlights recolour exactly their path,
the written values are the reference cell's numbers, and bad arguments get clear errors."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

from lstm_lib import diagrams
from lstm_lib import reference as ref


@pytest.fixture(autouse=True)
def agg():
    """Draw off screen, and close every figure a test opened."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


LSTM_LABELS = {"$x_t$", "$h_{t-1}$", "$c_{t-1}$", "$f_t$", "$i_t$", "$g_t$", "$o_t$", "$c_t$",
               "$h_t$"}
LABELS = {
    "rnn": {"$x_t$", "$h_{t-1}$", "$h_t$"},
    "lstm": LSTM_LABELS,
    "peephole": LSTM_LABELS | {"$p_f$", "$p_i$", "$p_o$"},
    "cifg": LSTM_LABELS,
    "gru": {"$x_t$", "$h_{t-1}$", "$h_t$", "$r_t$", "$z_t$", "$n_t$"},
    "gru_cho": {"$x_t$", "$h_{t-1}$", "$h_t$", "$r_t$", "$z_t$", "$n_t$"},
}
GATES = {"rnn": (), "lstm": "figo", "peephole": "figo", "cifg": "figo", "gru": "rzn",
         "gru_cho": "rzn"}


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def by_gid(ax, gid):
    found = [t for t in ax.texts if t.get_gid() == gid]
    assert len(found) == 1, f"expected one text with gid {gid!r}, found {len(found)}"
    return found[0]


def patch(ax, gid):
    found = [p for p in ax.patches if p.get_gid() == gid]
    assert len(found) == 1, f"expected one patch with gid {gid!r}, found {len(found)}"
    return found[0]


def forward(kind, N=1, H=1, D=1, T=4, seed=0):
    """A reference cell of ``kind`` (``gru_cho``: reset_after=False) run on a random sequence."""
    options = {"reset_after": False} if kind == "gru_cho" else {}
    cell = ref.make_cell("gru" if kind == "gru_cho" else kind, D, H, rng=seed, **options)
    xs = np.random.default_rng(seed).standard_normal((T, N, D))
    return cell, cell.forward(xs)[1]


@pytest.mark.parametrize("kind", diagrams.KINDS)
def test_every_kind_draws_its_full_label_set(kind):
    ax = diagrams.draw_cell(kind)
    assert LABELS[kind] <= set(texts(ax))
    assert not ax.axison and ax.get_aspect() == 1.0
    # readable: every text at least 11 pt in the default figure
    assert min(t.get_fontsize() for t in ax.texts) >= 11


def test_gru_conventions_differ_in_the_drawing():
    pytorch, cho = diagrams.draw_cell("gru"), diagrams.draw_cell("gru_cho")
    assert "$U_n$" in texts(pytorch) and "$U_n$" not in texts(cho)
    assert any("PyTorch" in s for s in texts(pytorch))
    assert any("Cho" in s for s in texts(cho))


def test_cifg_draws_one_minus_and_no_input_gate_block():
    ax = diagrams.draw_cell("cifg")
    gids = {p.get_gid() for p in ax.patches}
    assert "op:one_minus" in gids and "block:i" not in gids
    assert "block:i" in {p.get_gid() for p in diagrams.draw_cell("lstm").patches}


@pytest.mark.parametrize("kind", diagrams.KINDS)
def test_every_allowed_highlight_draws(kind):
    for name in diagrams.HIGHLIGHTS[kind]:
        ax = diagrams.draw_cell(kind, highlight=name)
        assert ax.texts


@pytest.mark.parametrize("kind", ["lstm", "peephole", "cifg", "gru", "gru_cho"])
def test_highlight_colours_exactly_its_gate(kind):
    grey_text = to_rgba(diagrams.COLORS["grey_text"])
    grey = to_rgba(diagrams.COLORS["grey"])
    for gate in GATES[kind]:
        ax = diagrams.draw_cell(kind, highlight=gate)
        strong = to_rgba(diagrams.COLORS[gate])
        for other in GATES[kind]:
            label = to_rgba(by_gid(ax, f"label:{other}").get_color())
            block_gid = f"block:{other}" if not (kind == "cifg" and other == "i") \
                else "op:one_minus"
            edge = tuple(patch(ax, block_gid).get_edgecolor())
            if other == gate:
                assert label == strong and edge == strong, (kind, gate)
            elif (kind, gate, other) == ("cifg", "i", "f"):  # i_t = 1 - f_t: f's σ feeds i
                assert label == grey_text and edge == strong
            else:
                assert label == grey_text and edge == grey, (kind, gate, other)


def test_highlight_c_colours_the_cell_line_only():
    ax = diagrams.draw_cell("lstm", highlight="c")
    strong = to_rgba(diagrams.COLORS["c"])
    lines = {ln.get_gid(): to_rgba(ln.get_color()) for ln in ax.lines}
    assert lines["wire:c_prev"] == lines["wire:c"] == strong
    assert lines["wire:f"] == lines["wire:h"] == to_rgba(diagrams.COLORS["grey"])
    assert to_rgba(by_gid(ax, "label:c_prev").get_color()) == strong
    assert to_rgba(by_gid(ax, "label:f").get_color()) == to_rgba(diagrams.COLORS["grey_text"])
    # the thicker line: highlighted wires are drawn wider than in the plain drawing
    plain = {ln.get_gid(): ln.get_linewidth() for ln in diagrams.draw_cell("lstm").lines}
    assert ax.lines[[ln.get_gid() for ln in ax.lines].index("wire:c")].get_linewidth() \
        > plain["wire:c"]


def test_highlight_f_colours_the_inputs_up_to_the_forget_gate_only():
    ax = diagrams.draw_cell("lstm", highlight="f")
    lines = {ln.get_gid(): to_rgba(ln.get_color()) for ln in ax.lines}
    strong, grey = to_rgba(diagrams.COLORS["f"]), to_rgba(diagrams.COLORS["grey"])
    assert lines["wire:h_prev"] == lines["wire:x"] == lines["wire:in_f"] == strong
    assert lines["wire:in_i"] == lines["wire:in2"] == lines["wire:o"] == grey


@pytest.mark.parametrize("kind", diagrams.KINDS)
def test_backward_view_reverses_the_flow(kind):
    ax = diagrams.draw_cell(kind, highlight="backward")
    s = set(texts(ax))
    d = r"\mathrm{d}"
    assert {f"${d}h_t$", f"${d}h_{{t-1}}$", f"${d}x_t$"} <= s
    if kind in ("lstm", "peephole", "cifg"):
        assert {f"${d}c_t$", f"${d}c_{{t-1}}$", r"$\odot\, f_t$"} <= s
    back = [ln for ln in ax.lines if (ln.get_gid() or "").startswith("back:")]
    assert back and all(to_rgba(ln.get_color()) == to_rgba(diagrams.COLORS["backward"])
                        for ln in back)
    # reversed: the backward copy of the x_t wire runs downwards, away from the cell
    fwd = next(ln for ln in ax.lines if ln.get_gid() == "wire:x")
    bwd = next(ln for ln in back if ln.get_gid() == "back:wire:x")
    assert fwd.get_ydata()[-1] > fwd.get_ydata()[0] and bwd.get_ydata()[-1] < bwd.get_ydata()[0]


def _expected_values(kind, cache, t, sample=0, unit=0):
    """The numbers the drawing must show, computed here from the cache's raw arrays."""
    step = cache.steps[t]
    v = {"x": step.x[sample, 0], "h_prev": step.h_prev[sample, unit],
         "h": cache.hs[t, sample, unit]}
    names = {"rnn": "", "gru": "rzn", "gru_cho": "rzn"}.get(kind, "figo")
    for name in names:
        v[name] = getattr(step, name)[sample, unit]
    if kind in ("lstm", "peephole", "cifg"):
        v["c_prev"], v["c"] = step.c_prev[sample, unit], step.c[sample, unit]
    if kind == "peephole":
        v.update({p: getattr(step, p)[unit] for p in ("p_f", "p_i", "p_o")})
    return {k: f"{float(x):.2f}".replace("-", "\u2212") for k, x in v.items()}


@pytest.mark.parametrize("kind", diagrams.KINDS)
@pytest.mark.parametrize("t", [0, 2])
def test_values_are_the_reference_cells_numbers(kind, t):
    _, cache = forward(kind)
    ax = diagrams.draw_cell(kind, values=cache, t=t)
    want = _expected_values(kind, cache, t)
    got = {t_.get_gid()[len("value:"):]: t_.get_text() for t_ in ax.texts
           if (t_.get_gid() or "").startswith("value:")}
    assert got == want
    assert any(f"step {t + 1} of 4" in s for s in texts(ax))


def test_values_pick_sample_and_unit_and_match_a_fresh_forward():
    cell, cache = forward("lstm", N=3, H=4, D=2, T=3, seed=1)
    ax = diagrams.draw_cell("lstm", values=cache, t=1, sample=2, unit=3)
    # recomputed independently: run the first two steps again on sample 2 only
    hs, again = cell.forward(cache.xs[:2, 2:3])
    assert by_gid(ax, "value:f").get_text() == f"{again.gates['f'][1, 0, 3]:.2f}".replace(
        "-", "\u2212")
    assert by_gid(ax, "value:h").get_text() == f"{hs[1, 0, 3]:.2f}".replace("-", "\u2212")
    assert any("unit 3 of H = 4" in s and "sample 2" in s for s in texts(ax))


def test_bad_kind_gate_and_t_name_the_argument():
    with pytest.raises(ValueError, match=r"kind must be one of .*'lstm'.*got 'lstmm'"):
        diagrams.draw_cell("lstmm")
    with pytest.raises(ValueError, match=r"highlight for kind 'lstm' must be .*'f'.*got 'r'"):
        diagrams.draw_cell("lstm", highlight="r")
    with pytest.raises(ValueError, match=r"highlight for kind 'gru'.*cell path.*got 'c'"):
        diagrams.draw_cell("gru", highlight="c")
    with pytest.raises(ValueError, match=r"highlight for kind 'rnn'.*got 'c'"):
        diagrams.draw_cell("rnn", highlight="c")
    _, cache = forward("lstm")
    with pytest.raises(ValueError, match=r"t must be an int in 0\.\.3 .*T = 4.*got 4"):
        diagrams.draw_cell("lstm", values=cache, t=4)
    with pytest.raises(ValueError, match=r"t must be .*got -1"):
        diagrams.draw_cell("lstm", values=cache, t=-1)
    with pytest.raises(ValueError, match=r"unit must be .*H = 1.*got 1"):
        diagrams.draw_cell("lstm", values=cache, unit=1)
    with pytest.raises(ValueError, match=r"values must come from a 'gru' cell.*got a cache of "
                                         r"kind 'lstm'"):
        diagrams.draw_cell("gru", values=cache)
    _, cho = forward("gru_cho")
    with pytest.raises(ValueError, match=r"reset_after=True.*got a cache of kind 'gru_cho'"):
        diagrams.draw_cell("gru", values=cho)
    with pytest.raises(TypeError, match=r"values must be a lstm_lib.reference ForwardCache"):
        diagrams.draw_cell("lstm", values={"f": 1})
    with pytest.raises(ValueError, match=r"values cannot be combined with highlight"):
        diagrams.draw_cell("lstm", values=cache, highlight="backward")
    with pytest.raises(ValueError, match=r"steps must be an int in 1\.\.8: got 0"):
        diagrams.draw_unrolled("rnn", steps=0)
    with pytest.raises(ValueError, match=r"kind must be one of .*got 'x'"):
        diagrams.draw_stacked("x")


def test_draws_on_a_given_axes_and_scales_text_with_it(agg):
    fig, (a, b) = agg.subplots(1, 2, figsize=(10, 3))
    assert diagrams.draw_cell("lstm", ax=a) is a
    big = diagrams.draw_cell("lstm")
    # a smaller Axes gives the same picture, smaller: the text shrinks with it
    ratio = by_gid(a, "label:f").get_fontsize() / by_gid(big, "label:f").get_fontsize()
    assert 0.2 < ratio < 0.9


def test_drawing_does_not_depend_on_the_backend():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    drawn = []
    for canvas in (FigureCanvasAgg, FigureCanvasSVG):
        fig = Figure(figsize=(7, 4))
        canvas(fig)
        ax = diagrams.draw_cell("peephole", ax=fig.add_subplot(), highlight="i")
        buf = io.BytesIO()
        fig.savefig(buf, format="svg" if canvas is FigureCanvasSVG else "png")
        assert buf.tell() > 1000
        drawn.append([(t.get_text(), t.get_position(), t.get_fontsize(), t.get_color())
                      for t in ax.texts])
    assert drawn[0] == drawn[1]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_layouts_draw_with_labels(kind):
    ax = diagrams.draw_unrolled(kind, steps=3)
    s = set(texts(ax))
    assert {"$x_{t-1}$", "$x_t$", "$x_{t+1}$", "$h_{t-1}$", "$h_t$", "$h_{t+1}$"} <= s
    assert ("$c_t$" in s) == (kind == "lstm")
    ax = diagrams.draw_stacked(kind, layers=2)
    s = set(texts(ax))
    assert {"$x_t$", "$h^{(1)}_t$", "$h^{(2)}_t$"} <= s
    ax = diagrams.draw_bidirectional(kind, steps=3)
    s = set(texts(ax))
    assert {"$x_t$", r"$[\overrightarrow{h}_t;\,\overleftarrow{h}_t]$",
            r"$\overrightarrow{h}_t$", r"$\overleftarrow{h}_{t+1}$"} <= s
