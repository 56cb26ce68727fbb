"""minGRU and minLSTM (Feng et al. 2024): step forward/backward pairs and the cells.

The gates read x_t only, never h_{t-1}, so there is no U: ``params`` are W (gH, D) and b (gH,).
The candidate uses the papers' positive activation

    g(a) = a + 1/2 (a ≥ 0),  σ(a) (a < 0);    g'(a) = 1 (a ≥ 0),  σ(a)(1 − σ(a)) (a < 0).

minGRU forward, one step (blocks z, h̃ in W and b)::

    (M1)  z_t = σ(W_z x_t + b_z)
    (M2)  h̃_t = g(W_h x_t + b_h)
    (M3)  h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

minLSTM forward, one step (blocks f, i, h̃)::

    (M4)  f_t = σ(W_f x_t + b_f),   i_t = σ(W_i x_t + b_i),   h̃_t = g(W_h x_t + b_h)
    (M5)  f′_t = f_t / (f_t + i_t),   i′_t = i_t / (f_t + i_t)
    (M6)  h_t = f′_t ⊙ h_{t-1} + i′_t ⊙ h̃_t

Backward, one step, dh = dL/dh_t (the loss at t plus what step t+1 sent back); a_* are the
pre-activations::

    (M7)   minGRU:  dh_{t-1} = dh ⊙ (1 − z_t)
                    da_z = dh ⊙ (h̃_t − h_{t-1}) ⊙ z_t(1 − z_t),   da_h = dh ⊙ z_t ⊙ g'(a_h)
    (M8)   minLSTM: dh_{t-1} = dh ⊙ f′_t,   da_h = dh ⊙ i′_t ⊙ g'(a_h)
                    with s = f + i, ∂f′/∂f = i/s², ∂i′/∂f = −i/s² (and f, i swapped):
                    df = dh ⊙ (h_{t-1} − h̃_t) ⊙ i/s²,   di = −dh ⊙ (h_{t-1} − h̃_t) ⊙ f/s²
                    da_f = df ⊙ f(1 − f),   da_i = di ⊙ i(1 − i)
    (M9)   dx_t = W^T da,   dW = da x_t^T,   db = da      (summed over the batch)

dh_{t-1} is the only path back in time, and it is a gate, never a matrix: the gradient from h_T
to h_k is Π (1 − z_t) (minGRU) or Π f′_t (minLSTM), elementwise. That is what makes the
recurrence a parallel scan (:mod:`lstm_lib.nn.scan`), and also what it gives up: no U, so no
nonlinear mixing of the state between steps.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell
from lstm_lib.reference._common import (
    as_float_array,
    check_array,
    checked_step_backward,
    checked_step_forward,
    sigmoid,
)

MinGRUStepCache = namedtuple("MinGRUStepCache", "x h_prev a_h z h_tilde W")
MinLSTMStepCache = namedtuple("MinLSTMStepCache", "x h_prev a_h f i f_n i_n h_tilde W")


def candidate(a):
    """g(a) = a + 1/2 for a ≥ 0, σ(a) for a < 0 (positive, continuous at 0); any shape."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(a >= 0, a + 0.5, sigmoid(a))


def candidate_grad(a):
    """g'(a) = 1 for a ≥ 0, σ(a)(1 − σ(a)) for a < 0; any shape."""
    s = sigmoid(a)
    return np.where(np.asarray(a) >= 0, 1.0, s * (1 - s))


@checked_step_forward(blocks=2)
def mingru_step_forward(x, h_prev, W, b):
    """One minGRU step, eqs. (M1)-(M3).

    Shapes: x (N, D); h_prev (N, H); W (2H, D); b (2H,).
    Returns h (N, H) and the cache for mingru_step_backward.
    """
    a_z, a_h = np.split(x @ W.T + b, 2, axis=1)  # (N, H) each
    z = sigmoid(a_z)
    h_tilde = candidate(a_h)
    h = (1 - z) * h_prev + z * h_tilde
    return h, MinGRUStepCache(x, h_prev, a_h, z, h_tilde, W)


@checked_step_backward(MinGRUStepCache)
def mingru_step_backward(dh, cache):
    """Backward of mingru_step_forward, eqs. (M7), (M9).

    Shapes: dh (N, H), the total dL/dh_t.
    Returns dx (N, D), dh_prev (N, H), dW (2H, D), db (2H,).
    """
    x, h_prev, a_h, z, h_tilde, W = cache
    da_z = dh * (h_tilde - h_prev) * z * (1 - z)
    da_h = dh * z * candidate_grad(a_h)
    da = np.concatenate([da_z, da_h], axis=1)  # (N, 2H)
    return da @ W, dh * (1 - z), da.T @ x, da.sum(axis=0)


@checked_step_forward(blocks=3)
def minlstm_step_forward(x, h_prev, W, b):
    """One minLSTM step, eqs. (M4)-(M6).

    Shapes: x (N, D); h_prev (N, H); W (3H, D); b (3H,).
    Returns h (N, H) and the cache for minlstm_step_backward.
    """
    a_f, a_i, a_h = np.split(x @ W.T + b, 3, axis=1)  # (N, H) each
    f, i = sigmoid(a_f), sigmoid(a_i)
    f_n, i_n = f / (f + i), i / (f + i)  # f′_t, i′_t: they sum to 1
    h_tilde = candidate(a_h)
    h = f_n * h_prev + i_n * h_tilde
    return h, MinLSTMStepCache(x, h_prev, a_h, f, i, f_n, i_n, h_tilde, W)


@checked_step_backward(MinLSTMStepCache)
def minlstm_step_backward(dh, cache):
    """Backward of minlstm_step_forward, eqs. (M8), (M9).

    Shapes: dh (N, H), the total dL/dh_t.
    Returns dx (N, D), dh_prev (N, H), dW (3H, D), db (3H,).
    """
    x, h_prev, a_h, f, i, f_n, i_n, h_tilde, W = cache
    s2 = (f + i) ** 2
    dmix = dh * (h_prev - h_tilde)  # dL/df′ − dL/di′
    da_f = dmix * i / s2 * f * (1 - f)
    da_i = -dmix * f / s2 * i * (1 - i)
    da_h = dh * i_n * candidate_grad(a_h)
    da = np.concatenate([da_f, da_i, da_h], axis=1)  # (N, 3H)
    return da @ W, dh * f_n, da.T @ x, da.sum(axis=0)


class _MinimalCell(Cell):
    """Shared by the two minimal cells: W and b only, and loading lnn.MinGRU/MinLSTM weights."""

    def param_shapes(self):
        gH, D = len(self.gates) * self.hidden_size, self.input_size
        return {"W": (gH, D), "b": (gH,)}

    def load_torch_state_dict(self, state_dict):
        """Take the weights of a one-layer, one-direction ``lnn.MinGRU`` / ``lnn.MinLSTM``.

        Keys ``weight_ih_l0`` and, unless the layer has bias=False, ``bias_ih_l0`` (or
        ``weight_ih``, ``bias_ih``); values are tensors or arrays. W = weight_ih, b = bias_ih
        (zeros without it). Returns ``self``.
        """
        keys = set(state_dict)
        suffix = "_l0" if "weight_ih_l0" in keys else ""
        names = (f"weight_ih{suffix}", f"bias_ih{suffix}")
        layer = "lnn.MinGRU" if self.kind == "mingru" else "lnn.MinLSTM"
        if names[0] not in keys or keys - set(names):
            raise ValueError(f"state_dict of a one-layer, one-direction {layer} expected: "
                             f"expected keys {list(names)} (bias optional), got {sorted(keys)}")
        shapes = self.param_shapes()
        g = len(self.gates)
        W = check_array(as_float_array(state_dict[names[0]], f"state_dict[{names[0]!r}]"),
                        shapes["W"], f"state_dict[{names[0]!r}]", f"({g}H, D)").copy()
        b = (check_array(as_float_array(state_dict[names[1]], f"state_dict[{names[1]!r}]"),
                         shapes["b"], f"state_dict[{names[1]!r}]", f"({g}H,)").copy()
             if names[1] in keys else np.zeros(shapes["b"]))
        self.params = {"W": W, "b": b}
        return self


class MinGRUCell(_MinimalCell):
    """minGRU cell, eqs. (M1)-(M3); ``params``: W (2H, D), b (2H,), blocks z, h̃ (``"h"``).

    Loads the weights of a one-layer ``lnn.MinGRU`` (``load_torch_state_dict``).
    """

    kind = "mingru"
    gates = ("z", "h")

    def _step_forward(self, x, state, p):
        (h_prev,) = state
        h, cache = mingru_step_forward(x, h_prev, p["W"], p["b"])
        return (h,), cache

    def _step_backward(self, dstate, step_cache):
        (dh,) = dstate
        dx, dh_prev, dW, db = mingru_step_backward(dh, step_cache)
        return dx, (dh_prev,), {"W": dW, "b": db}

    def _step_gates(self, step_cache):
        return {"z": step_cache.z, "h": step_cache.h_tilde}


class MinLSTMCell(_MinimalCell):
    """minLSTM cell, eqs. (M4)-(M6); ``params``: W (3H, D), b (3H,), blocks f, i, h̃ (``"h"``).

    ``cache.gates`` holds ``f``, ``i`` (before normalising), ``f_n``, ``i_n`` (f′, i′) and
    ``h`` (h̃). Loads the weights of a one-layer ``lnn.MinLSTM``.
    """

    kind = "minlstm"
    gates = ("f", "i", "h")

    def _step_forward(self, x, state, p):
        (h_prev,) = state
        h, cache = minlstm_step_forward(x, h_prev, p["W"], p["b"])
        return (h,), cache

    def _step_backward(self, dstate, step_cache):
        (dh,) = dstate
        dx, dh_prev, dW, db = minlstm_step_backward(dh, step_cache)
        return dx, (dh_prev,), {"W": dW, "b": db}

    def _step_gates(self, step_cache):
        return {"f": step_cache.f, "i": step_cache.i, "f_n": step_cache.f_n,
                "i_n": step_cache.i_n, "h": step_cache.h_tilde}
