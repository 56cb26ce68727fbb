"""The vanilla (Elman) RNN: one step forward and backward, and the cell over a sequence.

Forward, one step::

    (R1)  h_t = tanh(W x_t + U h_{t-1} + b)

Backward, one step, with a_t the pre-activation of (R1) and dh = dL/dh_t::

    (R2)  da = dh ⊙ (1 - h_t²)
    (R3)  dx_t = W^T da,   dh_{t-1} = U^T da
    (R4)  dW = da x_t^T,   dU = da h_{t-1}^T,   db = da        (summed over the batch)

In code a batch is rows, so W x_t is ``x @ W.T`` and W^T da is ``da @ W``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell

RNNStepCache = namedtuple("RNNStepCache", "x h_prev h W U")


def rnn_step_forward(x, h_prev, W, U, b):
    """One vanilla RNN step, eq. (R1).

    Shapes: x (N, D); h_prev (N, H); W (H, D); U (H, H); b (H,).
    Returns h (N, H) and the cache for rnn_step_backward.
    """
    h = np.tanh(x @ W.T + h_prev @ U.T + b)  # (N, H)
    return h, RNNStepCache(x, h_prev, h, W, U)


def rnn_step_backward(dh, cache):
    """Backward of rnn_step_forward, eqs. (R2)-(R4).

    Shapes: dh (N, H), the total dL/dh_t (from the loss at t and from step t+1).
    Returns dx (N, D), dh_prev (N, H), dW (H, D), dU (H, H), db (H,).
    """
    x, h_prev, h, W, U = cache
    da = dh * (1 - h**2)  # (N, H), tanh' = 1 - tanh²
    return da @ W, da @ U, da.T @ x, da.T @ h_prev, da.sum(axis=0)


class RNNCell(Cell):
    """Vanilla RNN cell, eq. (R1); ``params``: W (H, D), U (H, H), b (H,).

    Loads ``torch.nn.RNNCell`` / ``torch.nn.RNN`` weights (tanh nonlinearity).
    """

    kind = "rnn"
    gates = ()  # no gates: W, U, b are a single block
    torch_cell = "RNNCell"

    def _step_forward(self, x, state, p):
        (h_prev,) = state
        h, cache = rnn_step_forward(x, h_prev, p["W"], p["U"], p["b"])
        return (h,), cache

    def _step_backward(self, dstate, step_cache):
        (dh,) = dstate
        dx, dh_prev, dW, dU, db = rnn_step_backward(dh, step_cache)
        return dx, (dh_prev,), {"W": dW, "U": dU, "b": db}
