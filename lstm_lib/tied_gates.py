"""The "input gate with the forget gate's weights" error, as something you can measure.

A set of LSTM equations copied into many posts writes the input gate with the forget gate's
weights. If the i block of W and U equals the f block, the two pre-activations differ only by the
bias, a_i = a_f + b_i - b_f, so::

    i_t = σ(logit(f_t) + b_i - b_f)                   (a fixed increasing function of f_t)

A unit can then still *hold* (f ≈ 1, i ≈ 0: b_i - b_f = -10 gives f = σ(5) ≈ 0.993 with
i = σ(-5) ≈ 0.007), or *overwrite* (f ≈ 0, i ≈ 1, with b_i - b_f = +10), but not both in
different situations: that needs f and i to move in opposite directions.

Functions:

* :func:`tie_input_to_forget` -- a copy of a reference LSTM cell whose i block of W and U is the
  f block (the error), biases kept.
* :func:`hold_and_overwrite` -- per unit, whether its (f_t, i_t) pairs reach both corners.
* :func:`plot_gate_pairs` -- scatter of (f_t, i_t) of one unit, one panel per cell.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["hold_and_overwrite", "plot_gate_pairs", "tie_input_to_forget"]


def tie_input_to_forget(cell):
    """A copy of an ``"lstm"`` reference cell with W_i = W_f and U_i = U_f (b unchanged).

    Args:
        cell: a :mod:`lstm_lib.reference` cell of kind ``"lstm"`` (blocks i, f, g, o).

    Returns:
        a new cell of the same sizes; ``cell`` is not modified.
    """
    from lstm_lib.reference import make_cell

    if getattr(cell, "kind", None) != "lstm":
        raise ValueError(f"cell must be a reference 'lstm' cell (make_cell('lstm', D, H)), got "
                         f"{getattr(cell, 'kind', type(cell).__name__)!r}")
    H = cell.hidden_size
    tied = make_cell("lstm", cell.input_size, H)
    tied.params = {k: np.array(v, dtype=np.float64) for k, v in cell.params.items()}
    for k in ("W", "U"):
        tied.params[k][:H] = tied.params[k][H:2 * H]  # the i block := the f block
    return tied


def hold_and_overwrite(gates: Mapping, *, low: float = 0.2, high: float = 0.8) -> np.ndarray:
    """Per unit: does it both *hold* (f > high, i < low) and *overwrite* (f < low, i > high)?

    Args:
        gates: ``{"i": ..., "f": ...}`` arrays of the same shape (..., H), e.g.
            ``ForwardCache.gates`` (T, N, H); every leading axis counts as one more situation.
        low, high: the thresholds of the two corners, 0 < low < high < 1.

    Returns:
        (H,) booleans.
    """
    if not 0 < low < high < 1:
        raise ValueError(f"thresholds must satisfy 0 < low < high < 1, got low={low}, "
                         f"high={high}")
    f, i = (np.asarray(gates[k], dtype=np.float64) for k in ("f", "i"))
    if f.shape != i.shape or f.ndim < 1:
        raise ValueError(f"gates['f'] and gates['i'] must have one shape (..., H), got "
                         f"{f.shape} and {i.shape}")
    f, i = f.reshape(-1, f.shape[-1]), i.reshape(-1, i.shape[-1])
    hold = ((f > high) & (i < low)).any(axis=0)
    overwrite = ((f < low) & (i > high)).any(axis=0)
    return hold & overwrite


def plot_gate_pairs(panels: Mapping, *, unit: int = 0, axes=None):
    """Scatter i_t against f_t of one unit, one panel per entry of ``panels``.

    Args:
        panels: ``{title: gates}`` with gates as for :func:`hold_and_overwrite`.
        unit: the hidden unit to show.
        axes: a sequence of ``len(panels)`` Axes, or ``None`` for a new row of subplots.

    Returns:
        the list of Axes (limits [0, 1] on both, the corners "hold" and "overwrite" marked).
    """
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("panels must have at least one {title: gates} entry, got none")
    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True,
                               squeeze=False)
        axes = list(axes[0])
    if len(axes) != len(panels):
        raise ValueError(f"axes must hold one Axes per panel: expected {len(panels)}, got "
                         f"{len(axes)}")
    for ax, (title, gates) in zip(axes, panels.items(), strict=True):
        f, i = np.asarray(gates["f"]), np.asarray(gates["i"])
        if not 0 <= unit < f.shape[-1]:
            raise ValueError(f"unit must be in [0, {f.shape[-1]}), got {unit}")
        ax.scatter(f[..., unit].ravel(), i[..., unit].ravel(), s=4, alpha=0.4)
        corner = {"color": "#555555", "zorder": 3,
                  "bbox": {"facecolor": "white", "alpha": 0.8, "edgecolor": "none"}}
        ax.text(0.97, 0.03, "hold", ha="right", va="bottom", **corner)
        ax.text(0.03, 0.97, "overwrite", ha="left", va="top", **corner)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"$f_t$ (unit {unit})", title=title)
        ax.title.set_fontsize(10)
    axes[0].set_ylabel(f"$i_t$ (unit {unit})")
    return list(axes)
