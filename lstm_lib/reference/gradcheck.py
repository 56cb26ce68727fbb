"""Numerical gradient check of a reference cell's hand-written backward pass.

The check builds the scalar loss

    L = Σ_t Σ_n,j dhs[t, n, j] · h_t[n, j]   (+ dh_T · h_T + dc_T · c_T if dstate_T is given)

whose gradient with respect to hs is exactly ``dhs``, so ``cell.backward(dhs, cache)`` must
return dL/dθ. Every entry θ_k of every parameter, of the inputs and of the initial state is
perturbed and dL/dθ_k is estimated by a centred difference, by default of fourth order
(``order=4``, the five-point stencil; δ_k(s) = L(θ + s e_k) - L(θ - s e_k))::

    order=2:  n_k = δ_k(eps) / (2 eps)                           error O(eps²) + O(u / eps)
    order=4:  n_k = (8 δ_k(eps) - δ_k(2 eps)) / (12 eps)         error O(eps⁴) + O(u / eps)

with u ≈ 1e-16 the float64 rounding unit. The second term is what limits the classic order=2,
eps=1e-6 check: an absolute error near 1e-10, so a true gradient entry of 1e-4 already shows a
relative error of 1e-6. Fourth order lets eps grow to 1e-4 at no cost in truncation, which
brings the absolute error down to about 1e-11.

The error of one entry is |a - n| / max(|a| + |n|, tiny), a the analytic and n the numerical
value; the check returns the worst over all entries. ``tiny`` (1e-4) keeps entries that are zero
up to rounding from counting as 100 % errors: below it the check is in effect absolute,
|a - n| <= 1e-4 · (the reported error).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from lstm_lib.reference._cell import Cell
from lstm_lib.reference._common import (
    as_float_array,
    as_generator,
    check_positive_number,
    check_sequence,
)

_TINY = 1e-4


@dataclass(frozen=True, eq=False)
class GradcheckReport:
    """Per-array results of :func:`gradcheck_report`.

    Attributes:
        errors: name -> worst relative error over that array's entries. Names are the
            parameter names, ``"xs"``, ``"h0"`` and, for the LSTM kinds, ``"c0"``.
        analytic: name -> the gradient from ``cell.backward``.
        numeric: name -> the centred-difference gradient.
    """

    errors: dict[str, float]
    analytic: dict[str, np.ndarray]
    numeric: dict[str, np.ndarray]

    @property
    def worst(self) -> float:
        """The largest relative error over everything checked (what :func:`gradcheck` returns)."""
        return max(self.errors.values())

    def __str__(self) -> str:
        width = max(len(name) for name in self.errors)
        lines = [f"{'array':<{width}}  {'shape':<12}  worst relative error"]
        for name, err in self.errors.items():
            lines.append(f"{name:<{width}}  {str(self.analytic[name].shape):<12}  {err:.2e}")
        return "\n".join(lines)


def relative_error(analytic, numeric, tiny: float = _TINY) -> np.ndarray:
    """Entrywise |a - n| / max(|a| + |n|, tiny).

    ``tiny`` stops entries that are zero up to rounding from counting as 100 % errors: below it
    the error is in effect absolute, |a - n| / tiny (see the module docstring).

    Shapes: ``analytic`` and ``numeric`` must have the same shape (no broadcasting); returns an
    array of that shape. An entry where either is NaN or inf has error ``inf``: unlike the rest
    of ``lstm_lib.reference``, which refuses non-finite input, this function exists to measure
    gradients that may be broken, so it reports them as infinitely wrong instead of raising.
    """
    analytic, numeric = as_float_array(analytic, "analytic"), as_float_array(numeric, "numeric")
    if analytic.shape != numeric.shape:
        raise ValueError(f"analytic and numeric must have the same shape (no broadcasting): "
                         f"got {analytic.shape} and {numeric.shape}")
    tiny = check_positive_number(tiny, "tiny")
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), tiny)
    # a gradient that is NaN or inf is infinitely wrong: reported, not refused (this is the
    # tool that measures broken gradients)
    return np.where(np.isfinite(analytic) & np.isfinite(numeric), err, np.inf)


def gradcheck_report(cell: Cell, xs, state0=None, *, eps: float = 1e-4, order: int = 4,
                     rng=None, dhs=None, dstate_T=None, tiny: float = _TINY) -> GradcheckReport:
    """Compare ``cell.backward`` with centred differences, entry by entry; see the module doc.

    Args:
        cell: a reference cell; its ``params`` are not changed (a copy is perturbed).
        xs: (T, N, D) inputs.
        state0: the initial state (``h0`` or ``(h0, c0)``); zeros if ``None``. Its gradient is
            checked either way.
        eps: the step of the centred difference.
        order: 4 (default, five-point stencil) or 2 (the classic (L(θ+eps) - L(θ-eps)) / 2eps,
            best with eps near 1e-6).
        rng: generator or seed for ``dhs`` when it is not given.
        dhs: (T, N, H) weights of the loss, dL/dh_t; standard normal if ``None``.
        dstate_T: gradient injected beyond the sequence, as in :meth:`Cell.backward`.
        tiny: floor of the denominator of the relative error.

    Returns:
        A :class:`GradcheckReport`; ``.worst`` is the number :func:`gradcheck` returns.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a lstm_lib.reference cell (see make_cell), got "
                        f"{type(cell).__name__}")
    if isinstance(order, bool) or order not in (2, 4):
        raise ValueError(f"order must be 2 or 4: expected 2 or 4, got {order!r}")
    eps = check_positive_number(eps, "eps")
    tiny = check_positive_number(tiny, "tiny")
    xs = check_sequence(xs, cell.input_size).copy()
    T, N, _ = xs.shape
    H = cell.hidden_size
    state0 = cell._state_tuple(state0, N, ("h0", "c0"), "state0")
    dstate_T = cell._state_tuple(dstate_T, N, ("dh_T", "dc_T"), "dstate_T")
    if dhs is None:
        dhs = as_generator(rng).standard_normal((T, N, H))

    names = ("h0", "c0", "n0", "m0")[:len(state0)]  # the sLSTM's state has four arrays
    hs, cache = cell.forward(xs, cell._pack_state(state0))
    grads, dxs, dstate0 = cell.backward(dhs, cache, dstate_T=cell._pack_state(dstate_T),
                                        return_dstate0=True)
    dstate0 = dstate0 if isinstance(dstate0, tuple) else (dstate0,)
    analytic = {**grads, "xs": dxs, **dict(zip(names, dstate0, strict=True))}
    dhs = np.asarray(dhs, dtype=np.float64)

    probe = copy.deepcopy(cell)  # perturbed entry by entry; the caller's cell stays as it is
    probe.params = {name: np.array(p, dtype=np.float64) for name, p in cell.params.items()}
    inputs = {"xs": xs, **{name: s.copy() for name, s in zip(names, state0, strict=True)}}

    def run():  # hs and the final state, with whatever is currently perturbed
        _, c = probe.forward(inputs["xs"], probe._pack_state(tuple(inputs[k] for k in names)))
        final = c.state_T
        return c.hs, (final if isinstance(final, tuple) else (final,))

    def delta(arr, k, s):  # L(θ + s e_k) - L(θ - s e_k), perturbing arr in place and restoring
        old = arr[k]
        arr[k] = old + s
        hs_plus, final_plus = run()
        arr[k] = old - s
        hs_minus, final_minus = run()
        arr[k] = old
        # Differences of the outputs first: they are small, so no large L cancels.
        total = np.sum(dhs * (hs_plus - hs_minus))
        for d, fp, fm in zip(dstate_T, final_plus, final_minus, strict=True):
            total += np.sum(d * (fp - fm))
        return total

    def numerical_gradient(arr):
        grad = np.zeros(arr.shape)
        for k in np.ndindex(arr.shape):
            if order == 2:
                grad[k] = delta(arr, k, eps) / (2 * eps)
            else:
                grad[k] = (8 * delta(arr, k, eps) - delta(arr, k, 2 * eps)) / (12 * eps)
        return grad

    numeric = {name: numerical_gradient(probe.params[name]) for name in cell.params}
    numeric.update({name: numerical_gradient(arr) for name, arr in inputs.items()})
    errors = {name: float(relative_error(analytic[name], numeric[name], tiny).max())
              for name in numeric}
    return GradcheckReport(errors=errors, analytic=analytic, numeric=numeric)


def gradcheck(cell: Cell, xs, state0=None, *, eps: float = 1e-4, order: int = 4, rng=None,
              dhs=None, dstate_T=None) -> float:
    """The worst relative error between ``cell.backward`` and centred differences.

    Checks every entry of every parameter, of ``xs`` and of the initial state; below about
    1e-7 the backward pass is right (CS231n expects "on the order of e-7"). Arguments as in
    :func:`gradcheck_report`, which also gives the error per array.

    Example::

        cell = make_cell("lstm", 3, 4, rng=0)
        assert gradcheck(cell, np.random.default_rng(1).standard_normal((5, 2, 3))) < 1e-6
    """
    return gradcheck_report(cell, xs, state0, eps=eps, order=order, rng=rng, dhs=dhs,
                            dstate_T=dstate_T).worst
