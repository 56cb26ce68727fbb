"""The LSTM and two variants (peephole, CIFG): step forward/backward pairs and the cells.

The equation labels are the book's: chapter "The cell state and the gates" shows (L1)-(L6),
chapter "Backpropagation through time for the LSTM" derives (L7)-(L11) and the Jacobians
(L12)-(L14) (computed by :func:`lstm_lib.gradients.cell_state_jacobians`), with the same tags.

LSTM forward, one step (gate blocks stacked i, f, g, o in W, U, b, as in PyTorch)::

    (L1)  i_t = σ(W_i x_t + U_i h_{t-1} + b_i)          input gate
    (L2)  f_t = σ(W_f x_t + U_f h_{t-1} + b_f)          forget gate
    (L3)  g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)       candidate
    (L4)  o_t = σ(W_o x_t + U_o h_{t-1} + b_o)          output gate
    (L5)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    (L6)  h_t = o_t ⊙ tanh(c_t)

LSTM backward, one step. dh = dL/dh_t (the loss at step t plus what step t+1 sent back) and
dc_next = the part of dL/dc_t that step t+1 sent back along the cell; a_* are the
pre-activations of (L1)-(L4), σ' = σ(1 - σ), tanh' = 1 - tanh²::

    (L7)   dc = dc_next + dh ⊙ o_t ⊙ (1 - tanh²(c_t))        the total dL/dc_t, via (L6)
    (L8)   da_i = dc ⊙ g_t ⊙ i_t(1 - i_t)
           da_f = dc ⊙ c_{t-1} ⊙ f_t(1 - f_t)
           da_g = dc ⊙ i_t ⊙ (1 - g_t²)
           da_o = dh ⊙ tanh(c_t) ⊙ o_t(1 - o_t)
    (L9)   dc_{t-1} = dc ⊙ f_t                                 the additive path through (L5)
    (L10)  dx_t = W^T da,  dh_{t-1} = U^T da,  da = [da_i; da_f; da_g; da_o]
    (L11)  dW = da x_t^T,  dU = da h_{t-1}^T,  db = da         (summed over the batch)

One-step Jacobians of the state pair (h_t, c_t), and the many-step cell path::

    (L12)  ∂c_t/∂c_{t-1} = diag(f_t)     (h_{t-1} held: it is a separate part of the state)
           ∂c_t/∂h_{t-1} = diag(c_{t-1} ⊙ σ'_f) U_f + diag(g_t ⊙ σ'_i) U_i
                           + diag(i_t ⊙ tanh'_g) U_g
    (L13)  ∂h_t/∂c_{t-1} = diag(o_t ⊙ (1 - tanh²c_t)) diag(f_t)
           ∂h_t/∂h_{t-1} = diag(tanh c_t ⊙ σ'_o) U_o + diag(o_t ⊙ (1 - tanh²c_t)) ∂c_t/∂h_{t-1}
    (L14)  ∂c_T/∂c_k = Π_{t=k+1}^T diag(f_t) + (every path that leaves the cell through some h_j)

Peephole LSTM (Gers & Schmidhuber 2000, diagonal peepholes p_i, p_f, p_o, each (H,))::

    (P1)  i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
    (P2)  f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
    (P3)  o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)     (uses the new c_t)

with (L3), (L5), (L6) unchanged. CIFG, the coupled input-forget gate (Greff et al. 2017)::

    (C1)  i_t = 1 - f_t,   so   c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ g_t

Its W, U, b stack three blocks, f, g, o: PyTorch's i, f, g, o with the i block removed, so a
CIFG's W equals an LSTM's ``W[H:]`` (the test of (C1) builds exactly that LSTM).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell
from lstm_lib.reference._common import (
    check_caches,
    check_like_hs,
    check_truncate,
    checked_step_backward,
    checked_step_forward,
    sigmoid,
)

LSTMStepCache = namedtuple("LSTMStepCache", "x h_prev c_prev i f g o c W U")
PeepholeStepCache = namedtuple("PeepholeStepCache", "x h_prev c_prev i f g o c W U p_i p_f p_o")
CIFGStepCache = namedtuple("CIFGStepCache", "x h_prev c_prev i f g o c W U")


@checked_step_forward(blocks=4)
def lstm_step_forward(x, h_prev, c_prev, W, U, b):
    """One LSTM step, eqs. (L1)-(L6).

    Shapes: x (N, D); h_prev, c_prev (N, H); W (4H, D); U (4H, H); b (4H,).
    Returns h, c (each (N, H)) and the cache for lstm_step_backward.
    """
    a = x @ W.T + h_prev @ U.T + b  # (N, 4H) pre-activations of (L1)-(L4)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # blocks i, f, g, o, each (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)  # (L1)-(L4)
    c = f * c_prev + i * g  # (L5)
    h = o * np.tanh(c)  # (L6)
    return h, c, LSTMStepCache(x, h_prev, c_prev, i, f, g, o, c, W, U)


@checked_step_backward(LSTMStepCache)
def lstm_step_backward(dh, dc_next, cache):
    """Backward of lstm_step_forward, eqs. (L7)-(L11).

    Shapes: dh (N, H), the total dL/dh_t; dc_next (N, H), the dL/dc_t that step t+1 sent
    back along the cell (zeros at the last step). Returns dx (N, D), dh_prev (N, H),
    dc_prev (N, H), dW (4H, D), dU (4H, H), db (4H,).
    """
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)  # (L7): the total dL/dc_t, c_t feeds h_t and c_{t+1}
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)  # (L8), (N, 4H)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)  # (L10), (L9), (L11)


def lstm_backward(dhs, caches, truncate=None):
    """Backpropagation through time of the LSTM, full or truncated, by lstm_step_backward.

    Args:
        dhs: (T, N, H) dL/dh_t for t = 1 .. T; the loss reaches the cell states only through h.
        caches: the T step caches of lstm_step_forward, in time order (``ForwardCache.steps``).
        truncate: ``None`` for full BPTT; an int k >= 1: each loss term's gradient flows back
            through at most k steps (h and c alike), and what would reach the state before them
            is dropped.

    Returns dxs (T, N, D), dh0, dc0 (N, H), dW (4H, D), dU (4H, H), db (4H,); equal to
    ``LSTMCell.backward(dhs, cache, truncate=truncate, return_dstate0=True)``.
    """
    caches = check_caches(caches, LSTMStepCache)
    T = len(caches)
    x, h_prev, _, _, _, _, _, _, W, U = caches[0]
    dhs = check_like_hs(dhs, (T, *np.shape(h_prev)))
    check_truncate(truncate)
    dxs = np.zeros((T, *x.shape))
    dh0, dc0 = np.zeros(h_prev.shape), np.zeros(h_prev.shape)
    dW, dU, db = np.zeros(W.shape), np.zeros(U.shape), np.zeros(W.shape[0])

    def step(s, dh, dc):  # the chain rule through step s; parameter gradients add up over time
        dx, dh_prev, dc_prev, dW_s, dU_s, db_s = lstm_step_backward(dh, dc, caches[s])
        dxs[s] += dx
        dW[...] += dW_s
        dU[...] += dU_s
        db[...] += db_s
        return dh_prev, dc_prev

    if truncate is None:  # one sweep; dc carries the cell path back from step t + 1
        dh, dc = np.zeros(dh0.shape), np.zeros(dc0.shape)
        for t in reversed(range(T)):
            dh, dc = step(t, dhs[t] + dh, dc)
        dh0, dc0 = dh, dc
    else:  # every loss term gets its own window of `truncate` steps
        for t in reversed(range(T)):
            dh, dc = dhs[t], np.zeros(dc0.shape)
            for s in range(t, max(t - truncate, -1), -1):  # steps t, t-1, ..., t-k+1
                dh, dc = step(s, dh, dc)
            if t < truncate:  # the window reached the initial state
                dh0 += dh
                dc0 += dc
    return dxs, dh0, dc0, dW, dU, db


@checked_step_forward(blocks=4)
def peephole_step_forward(x, h_prev, c_prev, W, U, b, p_i, p_f, p_o):
    """One peephole LSTM step, eqs. (P1), (P2), (L3), (L5), (P3), (L6).

    Shapes: x (N, D); h_prev, c_prev (N, H); W (4H, D); U (4H, H); b (4H,); p_i, p_f, p_o (H,).
    Returns h, c (each (N, H)) and the cache for peephole_step_backward.
    """
    a = x @ W.T + h_prev @ U.T + b  # (N, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    i = sigmoid(a_i + p_i * c_prev)  # the gates that decide on c_{t-1} look at it
    f = sigmoid(a_f + p_f * c_prev)
    g = np.tanh(a_g)
    c = f * c_prev + i * g
    o = sigmoid(a_o + p_o * c)  # the output gate looks at the new cell state
    h = o * np.tanh(c)
    return h, c, PeepholeStepCache(x, h_prev, c_prev, i, f, g, o, c, W, U, p_i, p_f, p_o)


@checked_step_backward(PeepholeStepCache)
def peephole_step_backward(dh, dc_next, cache):
    """Backward of peephole_step_forward.

    As (L7)-(L11), with the peephole paths added: c_t also reaches h_t through o_t (P3), and
    c_{t-1} also reaches c_t through i_t and f_t (P1, P2)::

        dc       = dc_next + dh ⊙ o_t ⊙ (1 - tanh²(c_t)) + da_o ⊙ p_o
        dc_{t-1} = dc ⊙ f_t + da_i ⊙ p_i + da_f ⊙ p_f
        dp_i = Σ_n da_i ⊙ c_{t-1},  dp_f = Σ_n da_f ⊙ c_{t-1},  dp_o = Σ_n da_o ⊙ c_t

    Shapes: dh, dc_next (N, H), as for lstm_step_backward. Returns dx (N, D), dh_prev, dc_prev
    (N, H), dW (4H, D), dU (4H, H), db (4H,), dp_i, dp_f, dp_o (H,).
    """
    x, h_prev, c_prev, i, f, g, o, c, W, U, p_i, p_f, p_o = cache
    tanh_c = np.tanh(c)
    da_o = dh * tanh_c * o * (1 - o)
    dc = dc_next + dh * o * (1 - tanh_c**2) + da_o * p_o  # (N, H): the total dL/dc_t
    da_i = dc * g * i * (1 - i)
    da_f = dc * c_prev * f * (1 - f)
    da_g = dc * i * (1 - g**2)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (N, 4H)
    dc_prev = dc * f + da_i * p_i + da_f * p_f
    return (da @ W, da @ U, dc_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0),
            (da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0), (da_o * c).sum(axis=0))


@checked_step_forward(blocks=3)
def cifg_step_forward(x, h_prev, c_prev, W, U, b):
    """One CIFG step: eqs. (L2)-(L6) with (C1), i_t = 1 - f_t.

    Shapes: x (N, D); h_prev, c_prev (N, H); W (3H, D); U (3H, H); b (3H,), blocks f, g, o.
    Returns h, c (each (N, H)) and the cache for cifg_step_backward.
    """
    a = x @ W.T + h_prev @ U.T + b  # (N, 3H)
    a_f, a_g, a_o = np.split(a, 3, axis=1)
    f, g, o = sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    i = 1 - f  # (C1): what is forgotten is replaced
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, CIFGStepCache(x, h_prev, c_prev, i, f, g, o, c, W, U)


@checked_step_backward(CIFGStepCache)
def cifg_step_backward(dh, dc_next, cache):
    """Backward of cifg_step_forward.

    As (L7)-(L11), except that f_t now acts twice in c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ g_t::

        da_f = dc ⊙ (c_{t-1} - g_t) ⊙ f_t(1 - f_t),   da_g = dc ⊙ (1 - f_t) ⊙ (1 - g_t²)

    Shapes: dh, dc_next (N, H), as for lstm_step_backward. Returns dx (N, D), dh_prev, dc_prev
    (N, H), dW (3H, D), dU (3H, H), db (3H,).
    """
    x, h_prev, c_prev, i, f, g, o, c, W, U = cache
    tanh_c = np.tanh(c)
    dc = dc_next + dh * o * (1 - tanh_c**2)  # (L7): the total dL/dc_t
    da = np.concatenate([dc * (c_prev - g) * f * (1 - f), dc * i * (1 - g**2),
                         dh * tanh_c * o * (1 - o)], axis=1)  # (N, 3H)
    return da @ W, da @ U, dc * f, da.T @ x, da.T @ h_prev, da.sum(axis=0)


class _LSTMKind(Cell):
    """The parts the three LSTM kinds share: a cell state and gate read-out."""

    has_cell_state = True

    def _step_gates(self, step_cache):
        return {"i": step_cache.i, "f": step_cache.f, "g": step_cache.g, "o": step_cache.o}


class LSTMCell(_LSTMKind):
    """LSTM cell, eqs. (L1)-(L6); ``params``: W (4H, D), U (4H, H), b (4H,), blocks i, f, g, o.

    Loads ``torch.nn.LSTMCell`` / ``torch.nn.LSTM`` weights (b = bias_ih + bias_hh).
    """

    kind = "lstm"
    gates = ("i", "f", "g", "o")
    torch_cell = "LSTMCell"

    def _step_forward(self, x, state, p):
        h, c, cache = lstm_step_forward.__wrapped__(x, *state, p["W"], p["U"], p["b"])
        return (h, c), cache

    def _step_backward(self, dstate, step_cache):
        dx, dh_prev, dc_prev, dW, dU, db = lstm_step_backward.__wrapped__(*dstate, step_cache)
        return dx, (dh_prev, dc_prev), {"W": dW, "U": dU, "b": db}


class PeepholeLSTMCell(_LSTMKind):
    """Peephole LSTM cell, eqs. (P1)-(P3); ``params``: the LSTM's W, U, b and p_i, p_f, p_o (H,).

    The peepholes are initialised like the other weights, U(-1/sqrt(H), 1/sqrt(H)); with all three
    set to zero the cell equals :class:`LSTMCell`.
    """

    kind = "peephole"
    gates = ("i", "f", "g", "o")

    def param_shapes(self):
        H = self.hidden_size
        return {**super().param_shapes(), "p_i": (H,), "p_f": (H,), "p_o": (H,)}

    def _step_forward(self, x, state, p):
        h, c, cache = peephole_step_forward.__wrapped__(x, *state, p["W"], p["U"], p["b"],
                                            p["p_i"], p["p_f"], p["p_o"])
        return (h, c), cache

    def _step_backward(self, dstate, step_cache):
        dx, dh_prev, dc_prev, dW, dU, db, dp_i, dp_f, dp_o = peephole_step_backward.__wrapped__(
            *dstate, step_cache)
        return dx, (dh_prev, dc_prev), {"W": dW, "U": dU, "b": db,
                                        "p_i": dp_i, "p_f": dp_f, "p_o": dp_o}

    def _no_torch_reason(self):
        return ("a 'peephole' cell cannot load a torch state_dict: torch.nn.LSTM has no "
                "peephole weights p_i, p_f, p_o (set params directly, or load an 'lstm' cell)")


class CIFGCell(_LSTMKind):
    """CIFG cell, eqs. (L2)-(L6) with (C1) i_t = 1 - f_t.

    ``params``: W (3H, D), U (3H, H), b (3H,), blocks f, g, o: PyTorch's LSTM order with the
    input-gate block dropped, so the blocks line up with an LSTM's ``W[H:]``. The forward
    cache's ``gates`` still include ``"i"`` (= 1 - f) for plots.
    """

    kind = "cifg"
    gates = ("f", "g", "o")

    def _step_forward(self, x, state, p):
        h, c, cache = cifg_step_forward.__wrapped__(x, *state, p["W"], p["U"], p["b"])
        return (h, c), cache

    def _step_backward(self, dstate, step_cache):
        dx, dh_prev, dc_prev, dW, dU, db = cifg_step_backward.__wrapped__(*dstate, step_cache)
        return dx, (dh_prev, dc_prev), {"W": dW, "U": dU, "b": db}

    def _no_torch_reason(self):
        return ("a 'cifg' cell cannot load a torch state_dict: torch.nn.LSTM has an independent "
                "input gate (4 gate blocks), the CIFG ties i = 1 - f (3 blocks)")
