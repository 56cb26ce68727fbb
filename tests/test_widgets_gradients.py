"""lstm_lib.widgets, the gradient norm explorer: construction and redraw on every control."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

pytest.importorskip("ipywidgets")

from lstm_lib.widgets import GradientNormExplorer, gradient_norm_explorer  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _labels(explorer):
    return explorer.figure.axes[0].get_legend_handles_labels()[1]


def test_explorer_draws_the_default_view():
    ex = gradient_norm_explorer(T=10, H=4)
    assert isinstance(ex, GradientNormExplorer)
    assert ex.redraws == 1
    assert set(ex.controls) == {"rho", "nonlinearity", "T", "H"}
    assert _labels(ex)[0] == "ρ = 1"
    assert ex.figure.axes[0].get_yscale() == "log"
    assert ex.widget.children[-1] is ex.output


@pytest.mark.parametrize("name, value", [("rho", 2.5), ("nonlinearity", "identity"),
                                         ("nonlinearity", "relu"), ("T", 15), ("H", 6)])
def test_changing_a_control_redraws(name, value):
    ex = GradientNormExplorer(T=10, H=4, n_seq=2)
    ex.controls[name].value = value
    assert ex.redraws == 2
    ax = ex.figure.axes[0]
    assert len(ex.figure.axes) == 1  # redrawn in place, not stacked
    if name == "rho":
        assert _labels(ex)[0] == "ρ = 2.5"
    if name == "nonlinearity":
        assert ax.get_title().startswith(value)
    if name == "T":
        assert len(ax.get_lines()[0].get_ydata()) == 15
    if name == "H":
        assert "H = 6" in ax.get_title()


def test_explorer_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        gradient_norm_explorer(nonlinearity="sigmoid")
