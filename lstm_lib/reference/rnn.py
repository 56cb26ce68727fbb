"""The vanilla (Elman) RNN: one step forward and backward, and the cell over a sequence.

Forward, one step::

    (R1)  h_t = tanh(W x_t + U h_{t-1} + b)

Backward, one step, with a_t the pre-activation of (R1) and dh = dL/dh_t::

    (R2)  da = dh ⊙ (1 - h_t²)
    (R3)  dx_t = W^T da,   dh_{t-1} = U^T da
    (R4)  dW = da x_t^T,   dU = da h_{t-1}^T,   db = da        (summed over the batch)

Over a sequence (backpropagation through time), with dhs[t] = ∂E_t/∂h_t the loss's own term::

    (R5)  dh_t = dhs_t + U^T da_{t+1},   da_{T+1} = 0       (the total ∂E/∂h_t)

and the parameter gradients of (R4) summed over t = 1 .. T. Truncated to a window of k steps,
each loss term's gradient flows back through steps t, t-1, ..., t-k+1 only.

In code a batch is rows, so W x_t is ``x @ W.T`` and W^T da is ``da @ W``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell
from lstm_lib.reference._common import (
    check_array,
    check_caches,
    check_like_hs,
    check_sequence,
    check_truncate,
    checked_step_backward,
    checked_step_forward,
)

RNNStepCache = namedtuple("RNNStepCache", "x h_prev h W U")


@checked_step_forward(blocks=1)
def rnn_step_forward(x, h_prev, W, U, b):
    """One vanilla RNN step, eq. (R1).

    Shapes: x (N, D); h_prev (N, H); W (H, D); U (H, H); b (H,).
    Returns h (N, H) and the cache for rnn_step_backward.
    """
    h = np.tanh(x @ W.T + h_prev @ U.T + b)  # (N, H)
    return h, RNNStepCache(x, h_prev, h, W, U)


@checked_step_backward(RNNStepCache)
def rnn_step_backward(dh, cache):
    """Backward of rnn_step_forward, eqs. (R2)-(R4).

    Shapes: dh (N, H), the total dL/dh_t (from the loss at t and from step t+1).
    Returns dx (N, D), dh_prev (N, H), dW (H, D), dU (H, H), db (H,).
    """
    x, h_prev, h, W, U = cache
    da = dh * (1 - h**2)  # (N, H), tanh' = 1 - tanh²
    return da @ W, da @ U, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def rnn_forward(xs, h0, W, U, b):
    """The RNN over a sequence: eq. (R1) for t = 1 .. T.

    Shapes: xs (T, N, D); h0 (N, H); W (H, D); U (H, H); b (H,).
    Returns hs (T, N, H), the states h_1 .. h_T, and the list of T step caches for
    :func:`rnn_backward`.
    """
    xs, h, W, U, b = _checked_sequence_args(xs, h0, W, U, b)
    hs, caches = [], []
    for x in xs:  # x: (N, D)
        h, cache = rnn_step_forward(x, h, W, U, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs), caches


def _checked_sequence_args(xs, h0, W, U, b):
    """The arguments of :func:`rnn_forward`, checked: U (H, H) fixes H, W (H, D) fixes D."""
    U = np.asarray(U)
    if U.ndim != 2 or U.shape[0] != U.shape[1]:
        raise ValueError(f"U must be a square matrix (H, H): expected ndim 2 with equal sides, "
                         f"got shape {U.shape}")
    H = U.shape[0]
    U = check_array(U, (H, H), "U", "(H, H)")
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (H, D): expected ndim 2, got shape {W.shape}")
    W = check_array(W, (H, W.shape[1]), "W", "(H, D) with H = U.shape[0]")
    b = check_array(b, (H,), "b", "(H,)")
    xs = check_sequence(xs, W.shape[1])
    h0 = check_array(h0, (xs.shape[1], H), "h0", "(N, H)")
    return xs, h0, W, U, b


def rnn_backward(dhs, caches, truncate=None):
    """Backpropagation through time for :func:`rnn_forward`, eqs. (R2)-(R5).

    Args:
        dhs: (T, N, H) ∂E_t/∂h_t, the gradient the loss at step t sends to h_t directly.
        caches: the T step caches of :func:`rnn_forward`.
        truncate: ``None`` for full BPTT; an int k >= 1 for a window of k steps per loss term
            (the gradient of E_t reaches h_{t-k} no more). Any k >= T is full BPTT.

    Returns dxs (T, N, D), dh0 (N, H), dW (H, D), dU (H, H), db (H,).
    """
    caches = check_caches(caches, RNNStepCache)
    T = len(caches)
    dhs = check_like_hs(dhs, (T, *np.shape(caches[0].h)))
    check_truncate(truncate)
    x0, h0, _, W, U = caches[0]
    dxs = np.zeros((T,) + x0.shape)  # (T, N, D)
    grads = [np.zeros_like(h0), np.zeros_like(W), np.zeros_like(U), np.zeros(U.shape[0])]

    def step_back(t, dh):  # one step (R2)-(R4); accumulates dx_t, dW, dU, db
        dx, dh_prev, *dparams = rnn_step_backward(dh, caches[t])
        dxs[t] += dx
        for g, dp in zip(grads[1:], dparams, strict=True):
            g += dp
        return dh_prev

    if truncate is None:  # full BPTT: one sweep carries every loss term back (R5)
        dh = np.zeros_like(h0)
        for t in reversed(range(T)):
            dh = step_back(t, dh + dhs[t])
        grads[0] += dh
    else:  # each loss term E_t gets its own window: steps t, t-1, ..., t-k+1
        for t in reversed(range(T)):
            dh = dhs[t]
            for s in range(t, max(t - truncate, -1), -1):
                dh = step_back(s, dh)
            if t < truncate:  # the window reached h_0
                grads[0] += dh
    dh0, dW, dU, db = grads
    return dxs, dh0, dW, dU, db


class RNNCell(Cell):
    """Vanilla RNN cell, eq. (R1); ``params``: W (H, D), U (H, H), b (H,).

    Loads ``torch.nn.RNNCell`` / ``torch.nn.RNN`` weights (tanh nonlinearity).
    """

    kind = "rnn"
    gates = ()  # no gates: W, U, b are a single block
    torch_cell = "RNNCell"

    def _step_forward(self, x, state, p):
        (h_prev,) = state
        h, cache = rnn_step_forward.__wrapped__(x, h_prev, p["W"], p["U"], p["b"])
        return (h,), cache

    def _step_backward(self, dstate, step_cache):
        (dh,) = dstate
        dx, dh_prev, dW, dU, db = rnn_step_backward.__wrapped__(dh, step_cache)
        return dx, (dh_prev,), {"W": dW, "U": dU, "b": db}
