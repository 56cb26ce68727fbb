"""Matplotlib helpers for the book: each takes ``ax=None`` and returns what it drew on.

* :func:`plot_history` -- train and validation loss of a ``fit`` run, with baselines.
* :func:`plot_gates` -- gate activations / cell states over time as heatmaps (H rows, T columns).
* :func:`plot_sequence` -- a forecast against the truth and the persistence baseline.
* :func:`plot_gradient_norms` -- gradient norm against lag, log scale (vanishing gradients).

A consistent look comes from the fixed colours in ``COLORS`` and ``KIND_COLORS`` passed to each
call; no helper changes ``matplotlib.rcParams`` or any other global state. ``book_style()`` is an
opt-in context manager with the book's rc settings. With ``ax=None`` a new figure is created
with ``plt.subplots``; otherwise only the given Axes is drawn on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np

from lstm_lib._checks import check_bool, check_int, check_real, finite_array

__all__ = ["COLORS", "KIND_COLORS", "book_style", "plot_history", "plot_gates", "plot_sequence",
           "plot_gradient_norms"]

COLORS = {
    "train": "#1f77b4",
    "val": "#d62728",
    "baseline": "#555555",
    "truth": "#222222",
    "prediction": "#1f77b4",
    "persistence": "#999999",
}
# one colour per cell kind, the same in every chapter
KIND_COLORS = {
    "rnn": "#7f7f7f",
    "lstm": "#1f77b4",
    "gru": "#2ca02c",
    "peephole": "#9467bd",
    "cifg": "#ff7f0e",
    "torch-rnn": "#7f7f7f",
    "torch-lstm": "#1f77b4",
    "torch-gru": "#2ca02c",
}
_BASELINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1)))
_GATE_NAMES = {"i", "f", "o", "r", "z", "i_t", "f_t", "o_t", "r_t", "z_t"}

_RC = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
}


@contextmanager
def book_style():
    """Temporarily apply the book's rc settings (``with book_style(): ...``); restores on exit."""
    with plt.rc_context(_RC):
        yield


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots()
    elif not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    out = np.empty_like(values)
    acc = values[0]
    for k, v in enumerate(values):
        acc = smoothing * acc + (1 - smoothing) * v
        out[k] = acc
    return out


def _baselines(baseline) -> list[tuple[str, float]]:
    """``[(label, value)]`` of a number, a pair ``(label, value)`` or ``{label: value}``."""
    if baseline is None:
        return []
    if isinstance(baseline, Mapping):
        return [(str(k), check_real(f"baseline[{k!r}]", v)) for k, v in baseline.items()]
    if isinstance(baseline, tuple) and len(baseline) == 2 and isinstance(baseline[0], str):
        return [(baseline[0], check_real("baseline[1]", baseline[1]))]
    return [("baseline", check_real("baseline", baseline))]


def _series(name: str, a) -> np.ndarray:
    """A finite 1-D series; (T, 1) and (1, T) are flattened, any other 2-D shape refused."""
    arr = finite_array(name, a)
    if arr.ndim > 1 and sum(d > 1 for d in arr.shape) > 1:
        raise ValueError(f"{name} must be one series (T,), got shape {arr.shape}")
    return arr.ravel()


def _history_dict(history) -> dict:
    """A History or its to_dict(), with the lists plot_history reads present and finite."""
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a lstm_lib.train.History or its to_dict(), got "
                        f"{type(history).__name__}")
    h = dict(history)
    missing = [k for k in ("step", "train_loss") if k not in h]
    if missing:
        raise ValueError(f"history lacks {missing}: pass a History or History.to_dict()")
    for a, b in (("step", "train_loss"), ("val_step", "val_loss")):
        if len(h.get(a, [])) != len(h.get(b, [])):
            raise ValueError(f"history[{a!r}] and history[{b!r}] must have the same length, "
                             f"got {len(h.get(a, []))} and {len(h.get(b, []))}")
    return h


def plot_history(history, ax=None, baseline=None, log=True, *, metric: str = "loss",
                 smoothing: float = 0.0, label: str | None = None):
    """Training and validation curves of a ``fit`` run.

    Args:
        history: a :class:`lstm_lib.train.History` or its ``to_dict()``.
        ax: Axes to draw on; ``None`` makes a new figure.
        baseline: a number (drawn as a dashed line labelled "baseline"), a pair
            ``(label, value)``, or ``{label: value}`` for several (e.g. predict-the-mean).
        log: log-scale y axis (when all plotted values are positive).
        metric: ``"loss"`` (train per step and validation) or the name of a validation metric
            (e.g. ``"accuracy"``; validation only).
        smoothing: exponential moving average factor in [0, 1) for the train curve; with
            ``smoothing > 0`` the raw curve is drawn faintly behind it (unlabelled).
        label: prefix for the legend labels, to compare runs on one Axes (``"lstm train"``).

    Returns:
        the Axes. Lines are labelled "train", "validation" and the baseline labels.
    """
    h = _history_dict(history)
    log = check_bool("log", log)
    smoothing = check_real("smoothing", smoothing, minimum=0.0)
    if not smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__}")
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, got {type(metric).__name__}")
    baselines = _baselines(baseline)
    ax = _axes(ax)
    prefix = f"{label} " if label else ""
    color = KIND_COLORS.get(label, None) if label else None
    values: list[float] = []
    if metric == "loss":
        steps = np.asarray(h["step"])
        loss = finite_array("history['train_loss']", h["train_loss"], ndim=1)
        if len(loss):
            if smoothing > 0:
                ax.plot(steps, loss, color=color or COLORS["train"], alpha=0.25, lw=0.8,
                        label="_nolegend_")
                loss = _ema(loss, smoothing)
            ax.plot(steps, loss, color=color or COLORS["train"], lw=1.2,
                    label=f"{prefix}train")
            values += loss.tolist()
        val_x, val_y = h.get("val_step", []), h.get("val_loss", [])
    else:
        metrics = h.get("val_metrics", {})
        if metric not in metrics:
            raise ValueError(f"metric {metric!r} was not recorded; recorded: "
                             f"{['loss', *metrics]}")
        val_x, val_y = h["val_step"], metrics[metric]
    if len(val_y) != len(val_x):
        raise ValueError(f"history: {len(val_x)} val_step for {len(val_y)} {metric} values")
    val_y = finite_array(f"history's validation {metric}", val_y, ndim=1)
    if len(val_y):
        ax.plot(val_x, val_y, "o-", color=color or COLORS["val"], ms=3, lw=1.2,
                label=f"{prefix}validation")
        values += list(val_y)
    for k, (name, value) in enumerate(baselines):
        ax.axhline(value, color=COLORS["baseline"], lw=1,
                   ls=_BASELINE_STYLES[k % len(_BASELINE_STYLES)], label=name)
        values.append(value)
    if log and values and min(values) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.legend()
    return ax


def _gate_array(name: str, a) -> np.ndarray:
    a = finite_array(f"gates[{name!r}]", a)
    if a.ndim == 3 and a.shape[1] == 1:  # (T, 1, H): one sequence of a time-major batch
        a = a[:, 0]
    if a.ndim == 1:  # (T,): a single unit
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"gates[{name!r}] must be (T, H) (or (T, 1, H)); got {a.shape}")
    return a


def plot_gates(gates: Mapping, tokens: Sequence | None = None, ax=None, *,
               cmap: str = "viridis", diverging_cmap: str = "RdBu_r", colorbar: bool = True):
    """Heatmaps of per-step activations, one row of axes per entry of ``gates``.

    Args:
        gates: ``{name: array (T, H)}`` such as ``{"f": f_t, "i": i_t, "o": o_t, "c": c_t}``
            (tensors are fine). Values in [0, 1] (sigmoid gates) use ``cmap`` on [0, 1]; others
            (``g_t``, ``c_t``, ``h_t``) a diverging map centred on 0.
        tokens: T labels for the time axis (e.g. the characters of the input).
        ax: ``None`` (a new figure, one row per gate, shared time axis), one Axes (only with a
            single gate) or a sequence of ``len(gates)`` Axes.

    Returns:
        the list of Axes (time on x, hidden unit on y).
    """
    if not isinstance(gates, Mapping):
        raise TypeError(f"gates must be a dict {{name: array (T, H)}}, got "
                        f"{type(gates).__name__}")
    if not gates:
        raise ValueError("gates is empty")
    colorbar = check_bool("colorbar", colorbar)
    arrays = {name: _gate_array(name, a) for name, a in gates.items()}
    T = {a.shape[0] for a in arrays.values()}
    if len(T) != 1:
        raise ValueError(f"all gates need the same T; got shapes "
                         f"{ {k: a.shape for k, a in arrays.items()} }")
    (T,) = T
    if 0 in next(iter(arrays.values())).shape:
        raise ValueError(f"gates need T >= 1 steps and H >= 1 units, got shapes "
                         f"{ {k: a.shape for k, a in arrays.items()} }")
    if tokens is not None and not hasattr(tokens, "__len__"):
        raise TypeError(f"tokens must be a sequence of T labels, got {type(tokens).__name__}")
    if tokens is not None and len(tokens) != T:
        raise ValueError(f"tokens must have T = {T} entries, got {len(tokens)}")
    if ax is None:
        H_total = sum(a.shape[1] for a in arrays.values())
        height = min(2.0 + 0.12 * H_total + 0.4 * len(arrays), 12)
        _, axes = plt.subplots(len(arrays), 1, sharex=True, squeeze=False,
                               figsize=(max(6.4, 0.18 * T), height))
        axes = list(axes[:, 0])
    elif hasattr(ax, "imshow"):
        if len(arrays) != 1:
            raise ValueError(f"a single Axes takes one gate; got {len(arrays)}: pass "
                             f"{len(arrays)} Axes or ax=None")
        axes = [ax]
    else:
        axes = list(np.ravel(ax))
        if len(axes) != len(arrays):
            raise ValueError(f"need one Axes per gate: {len(arrays)} gates, {len(axes)} Axes")
    for a_x, (name, a) in zip(axes, arrays.items(), strict=True):
        if name in _GATE_NAMES or (a.min() >= 0 and a.max() <= 1):
            kw = {"cmap": cmap, "vmin": 0.0, "vmax": 1.0}
        else:
            m = float(np.abs(a).max()) or 1.0
            kw = {"cmap": diverging_cmap, "vmin": -m, "vmax": m}
        im = a_x.imshow(a.T, aspect="auto", interpolation="nearest", origin="lower", **kw)
        a_x.set_ylabel(name)
        a_x.grid(False)
        if colorbar:
            a_x.figure.colorbar(im, ax=a_x, pad=0.01, fraction=0.03)
    if tokens is not None:
        axes[-1].set_xticks(range(T))
        axes[-1].set_xticklabels([repr(t)[1:-1] if isinstance(t, str) else str(t)
                                  for t in tokens], fontsize=7)
    axes[-1].set_xlabel("t")
    return axes


def plot_sequence(truth, predictions=None, *, t=None, persistence=False, horizon: int = 1,
                  context=None, ax=None, title: str | None = None):
    """A forecast: the true series, model predictions and the persistence baseline.

    Args:
        truth: (T,) true values at times ``t``.
        predictions: an array (T,) (labelled "prediction") or ``{label: array (T,)}``.
        t: (T,) time stamps; default ``0 .. T-1``.
        persistence: ``True`` draws the persistence forecast ``y_hat[t] = truth[t - horizon]``
            (from ``truth`` itself, so it starts ``horizon`` steps late); an array (T,) is drawn
            as given.
        horizon: steps ahead for the persistence forecast.
        context: (T0,) observed values before ``t[0]``, drawn in grey (the model's input).
        title: axes title.

    Returns:
        the Axes.
    """
    horizon = check_int("horizon", horizon, minimum=1)
    y = _series("truth", truth)
    if len(y) == 0:
        raise ValueError("truth is empty")
    t = np.arange(len(y)) if t is None else finite_array("t", t, ndim=1)
    if len(t) != len(y):
        raise ValueError(f"t and truth must have the same length, got {len(t)} and {len(y)}")
    if not (persistence is None or isinstance(persistence, bool)):
        persistence = _series("persistence", persistence)
        if not 0 < len(persistence) <= len(y):
            raise ValueError(f"persistence must have 1 .. T = {len(y)} values, got "
                             f"{len(persistence)}")
    if predictions is not None:
        if not isinstance(predictions, Mapping):
            predictions = {"prediction": predictions}
        predictions = {name: _series(f"predictions[{name!r}]", p)
                       for name, p in predictions.items()}
    ax = _axes(ax)
    if context is not None:
        c = _series("context", context)
        step = (t[1] - t[0]) if len(t) > 1 else 1
        tc = t[0] - step * np.arange(len(c), 0, -1)
        ax.plot(tc, c, color=COLORS["persistence"], lw=1, label="context")
    ax.plot(t, y, color=COLORS["truth"], lw=1.5, label="truth")
    if persistence is True:
        if not 0 < horizon < len(y):
            raise ValueError(f"horizon must be in [1, T) = [1, {len(y)}), got {horizon}")
        ax.plot(t[horizon:], y[:-horizon], color=COLORS["persistence"], lw=1, ls="--",
                label=f"persistence (t - {horizon})")
    elif persistence is not False and persistence is not None:
        p = persistence
        ax.plot(t[-len(p):], p, color=COLORS["persistence"], lw=1, ls="--", label="persistence")
    if predictions is not None:
        cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", [COLORS["prediction"]])
        for k, (name, p) in enumerate(predictions.items()):
            if len(p) != len(y):
                raise ValueError(f"predictions[{name!r}] has {len(p)} values, truth has {len(y)}")
            color = KIND_COLORS.get(name, COLORS["prediction"] if k == 0 else cycle[k % len(cycle)])
            ax.plot(t, p, color=color, lw=1.2, label=name)
    if title:
        ax.set_title(title)
    ax.set_xlabel("t")
    ax.legend()
    return ax


def plot_gradient_norms(lags, norms_by_label: Mapping, ax=None, *, band: bool = True,
                        xlabel: str = "lag k",
                        ylabel: str = r"$\|\partial h_T / \partial h_{T-k}\|$"):
    """Gradient norm against lag on a log y axis, one line per label (e.g. per cell kind).

    Args:
        lags: (K,) lags.
        norms_by_label: ``{label: norms}`` with norms (K,), or (R, K) for R runs / sequences:
            then the median is drawn with a 10-90 % band (``band=True``).
        ax: Axes or ``None``.

    Returns:
        the Axes (y on a log scale; one labelled line per entry).
    """
    lags = finite_array("lags", lags, ndim=1)
    band = check_bool("band", band)
    if not isinstance(norms_by_label, Mapping) or not norms_by_label:
        raise ValueError(f"norms_by_label must be a non-empty dict {{label: norms}}, got "
                         f"{norms_by_label!r:.80}")
    arrays = {}
    for label, norms in norms_by_label.items():
        n = finite_array(f"norms_by_label[{label!r}]", norms)  # clip an overflow first
        if n.size and n.min() < 0:
            raise ValueError(f"norms_by_label[{label!r}] holds negative values (min "
                             f"{n.min():.3g}); a norm is >= 0")
        arrays[label] = n
    ax = _axes(ax)
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for k, (label, n) in enumerate(arrays.items()):
        if n.ndim == 0 or n.shape[-1] != len(lags):
            raise ValueError(f"norms_by_label[{label!r}] must end in K = len(lags) = {len(lags)};"
                             f" got shape {n.shape}")
        color = KIND_COLORS.get(str(label).lower(), cycle[k % len(cycle)])
        if n.ndim == 2:
            mid = np.median(n, axis=0)
            if band:
                lo, hi = np.percentile(n, [10, 90], axis=0)
                ax.fill_between(lags, lo, hi, color=color, alpha=0.2, lw=0)
        elif n.ndim == 1:
            mid = n
        else:
            raise ValueError(f"norms_by_label[{label!r}] must be (K,) or (R, K), got {n.shape}")
        ax.semilogy(lags, mid, color=color, lw=1.5, label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax
