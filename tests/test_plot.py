"""lstm_lib.plot: each helper returns the Axes it drew on, with the expected artists."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lstm_lib.plot import (
    KIND_COLORS,
    book_style,
    plot_gates,
    plot_gradient_norms,
    plot_history,
    plot_sequence,
)
from lstm_lib.train import History


@pytest.fixture(autouse=True)
def agg():
    """Draw off screen, and close every figure a test opened."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _history(with_val=True):
    steps = list(range(1, 21))
    h = History(step=steps, train_loss=[1.0 / s for s in steps], grad_norm=[1.0] * 20,
                time=[0.1 * s for s in steps])
    if with_val:
        h.val_step, h.val_loss = [10, 20], [0.2, 0.1]
        h.val_metrics = {"accuracy": [0.5, 0.9]}
        h.best_step = 20
    return h


def _labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def test_history_plot_returns_axes_with_lines(agg):
    ax = _history().plot(baseline=0.167)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert _labels(ax) == ["train", "validation", "baseline"]
    train, val, base = ax.get_lines()
    np.testing.assert_allclose(train.get_xdata(), range(1, 21))
    np.testing.assert_allclose(val.get_ydata(), [0.2, 0.1])
    np.testing.assert_allclose(base.get_ydata(), [0.167, 0.167])
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == _labels(ax)


def test_history_plot_on_given_axes_from_dict(agg):
    _, ax = agg.subplots()
    out = plot_history(_history().to_dict(), ax=ax, log=False,
                       baseline={"predict the mean": 0.5, "chance": 0.7}, label="lstm")
    assert out is ax
    assert _labels(ax) == ["lstm train", "lstm validation", "predict the mean", "chance"]
    assert ax.get_lines()[0].get_color() == KIND_COLORS["lstm"]
    assert ax.get_yscale() == "linear"


def test_history_plot_metric_and_smoothing(agg):
    ax = plot_history(_history(), metric="accuracy", baseline=("chance", 0.25))
    assert _labels(ax) == ["validation", "chance"]
    assert ax.get_ylabel() == "accuracy"
    ax2 = plot_history(_history(with_val=False), smoothing=0.9)
    assert _labels(ax2) == ["_nolegend_", "train"]  # raw faint, smoothed labelled
    with pytest.raises(ValueError, match="metric 'mae' was not recorded"):
        plot_history(_history(), metric="mae")


def test_history_plot_negative_values_stay_linear(agg):
    h = _history()
    h.train_loss[0] = -1.0  # e.g. a log-likelihood-type custom loss
    assert plot_history(h).get_yscale() == "linear"


def test_plot_gates_heatmaps(agg):
    rng = np.random.default_rng(0)
    T, Hd = 6, 4
    gates = {"f": rng.random((T, Hd)), "i": torch.rand(T, 1, Hd),
             "c": rng.standard_normal((T, Hd)) * 3}
    axes = plot_gates(gates, tokens=list("hello!"))
    assert len(axes) == 3
    for ax, name in zip(axes, gates, strict=True):
        (im,) = ax.get_images()
        assert im.get_array().shape == (Hd, T)  # hidden units on y, time on x
        assert ax.get_ylabel() == name
    assert axes[0].get_images()[0].get_clim() == (0.0, 1.0)
    lo, hi = axes[2].get_images()[0].get_clim()
    assert hi > 0 and lo == pytest.approx(-hi)  # diverging, centred on 0
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == list("hello!")


def test_plot_gates_axes_arguments(agg):
    fig, ax = agg.subplots()
    assert plot_gates({"o": np.zeros((3, 2))}, ax=ax, colorbar=False) == [ax]
    with pytest.raises(ValueError, match="a single Axes takes one gate"):
        plot_gates({"o": np.zeros((3, 2)), "f": np.zeros((3, 2))}, ax=ax)
    with pytest.raises(ValueError, match="same T"):
        plot_gates({"o": np.zeros((3, 2)), "f": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="tokens must have T = 3 entries, got 2"):
        plot_gates({"o": np.zeros((3, 2))}, tokens="ab")
    with pytest.raises(ValueError, match=r"must be \(T, H\)"):
        plot_gates({"o": np.zeros((3, 2, 2))})


def test_plot_sequence_with_persistence(agg):
    truth = np.sin(np.arange(10.0))
    ax = plot_sequence(truth, {"lstm": truth + 0.1, "dense": truth - 0.1}, persistence=True,
                       horizon=2, context=np.zeros(5), title="forecast")
    assert _labels(ax) == ["context", "truth", "persistence (t - 2)", "lstm", "dense"]
    pers = ax.get_lines()[2]
    np.testing.assert_allclose(pers.get_xdata(), np.arange(2, 10))
    np.testing.assert_allclose(pers.get_ydata(), truth[:-2])
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.arange(-5, 0))
    assert ax.get_title() == "forecast"
    with pytest.raises(ValueError, match="predictions\\['prediction'\\] has 3 values"):
        plot_sequence(truth, np.zeros(3))


def test_plot_gradient_norms_semilogy(agg):
    lags = np.arange(1, 11)
    norms = {"RNN": 0.5 ** lags, "LSTM": np.exp(-0.01 * lags) * np.ones((5, 1))}
    ax = plot_gradient_norms(lags, norms)
    assert ax.get_yscale() == "log"
    assert _labels(ax) == ["RNN", "LSTM"]
    assert ax.get_lines()[1].get_color() == KIND_COLORS["lstm"]
    assert len(ax.collections) == 1  # the 10-90 % band of the (R, K) entry
    with pytest.raises(ValueError, match="must end in K = len\\(lags\\) = 10"):
        plot_gradient_norms(lags, {"x": np.ones(3)})


def test_helpers_leave_rcparams_alone(agg):
    before = dict(matplotlib.rcParams)
    plot_history(_history(), baseline=0.1)
    plot_gates({"f": np.zeros((2, 2))})
    plot_sequence(np.arange(4.0), persistence=True)
    plot_gradient_norms([1, 2], {"a": [1.0, 0.1]})
    assert dict(matplotlib.rcParams) == before
    with book_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert dict(matplotlib.rcParams) == before
