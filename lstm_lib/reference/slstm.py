"""The sLSTM of xLSTM (Beck et al. 2024), one head: forward and hand-written backward, numpy.

Pre-activations a = W x_t + U h_{t-1} + b, blocks stacked i, f, z, o (like torch's i, f, g, o)::

    (S1)  ĩ_t, f̃_t, z̃_t, õ_t = blocks of a                       each (N, H)
    (S2)  i_t = exp(ĩ_t),  f_t = σ(f̃_t),  z_t = tanh(z̃_t),  o_t = σ(õ_t)
    (S3)  c_t = f_t ⊙ c_{t-1} + i_t ⊙ z_t                         the cell, unbounded
    (S4)  n_t = f_t ⊙ n_{t-1} + i_t                               the normaliser
    (S5)  h_t = o_t ⊙ c_t / n_t

exp(ĩ) overflows float64 at ĩ ≈ 710, so the cell carries stabilised copies c̄_t = c_t e^{-m_t},
n̄_t = n_t e^{-m_t} with the stabiliser state

    (S6)  m_t = max(log f_t + m_{t-1}, ĩ_t)
    (S7)  i'_t = exp(ĩ_t - m_t),  f'_t = exp(log f_t + m_{t-1} - m_t)     both in (0, 1]
    (S8)  c̄_t = f'_t ⊙ c̄_{t-1} + i'_t ⊙ z_t,  n̄_t = f'_t ⊙ n̄_{t-1} + i'_t,  h_t = o_t ⊙ c̄_t / n̄_t

Multiplying (S8) by e^{m_t} gives (S3)-(S4) back for *any* sequence m_t, so h_t = o_t c_t / n_t
exactly: the stabiliser only rescales numerator and denominator alike.

An element whose normaliser n̄_{t-1} is 0 holds nothing yet (n counts the input weight written so
far, positive once anything was written; the zero initial state is empty): there the step starts
afresh, m_t = ĩ_t and f'_t = 0 (c̄_{t-1} is ignored), so exp(log f + m_{t-1} - ĩ_t) is never
formed and cannot overflow. n = 0 is a boundary, so dL/dn̄_0 there is the one-sided 0. Since one
of i', f' is 1, n̄_t >= 1 from the first step on (n̄_1 = 1), and c̄_t / n̄_t is a convex mix of
the z's: |h_t| <= 1.

The backward (S9)-(S14) differentiates everything, the max included; the m-terms cancel in the
gradient of any loss on h (see the chapter ``ch-lstm-today``), so it equals the gradient of
(S3)-(S5). The state is the tuple (h, c̄, n̄, m); ``Cell`` names them h0, c0, n0, m0.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell, ForwardCache
from lstm_lib.reference._common import (
    check_array,
    check_sequence,
    checked_step_backward,
    checked_step_forward,
    sigmoid,
)

SLSTMStepCache = namedtuple(
    "SLSTMStepCache", "x h_prev c_prev n_prev m_prev i_raw f_raw z o i_s f_s c n m take_f W U")

STATE_NAMES = ("h0", "c0", "n0", "m0")


@checked_step_forward(blocks=4)
def slstm_step_forward(x, h_prev, c_prev, n_prev, m_prev, W, U, b):
    """One stabilised sLSTM step, (S1), (S2), (S6)-(S8).

    Shapes: x (N, D); h_prev, c_prev, n_prev, m_prev (N, H); W (4H, D); U (4H, H); b (4H,).
    Returns h, c, n, m (each (N, H); c, n are the stabilised c̄, n̄) and the step cache.
    """
    a = x @ W.T + h_prev @ U.T + b                          # (N, 4H) pre-activations
    i_raw, f_raw, z_raw, o_raw = np.split(a, 4, axis=1)
    log_f = -np.logaddexp(0.0, -f_raw)                      # log σ(f̃), no overflow
    first = n_prev == 0                                     # nothing stored yet: m_t = ĩ_t
    take_f = ~first & (log_f + m_prev >= i_raw)             # which branch of the max won
    m = np.where(take_f, log_f + m_prev, i_raw)                                 # (S6)
    i_s = np.exp(i_raw - m)                                                     # (S7)
    f_s = np.where(first, 0.0, np.exp(np.where(first, 0.0, log_f + m_prev - m)))  # empty: 0
    z, o = np.tanh(z_raw), sigmoid(o_raw)
    c = f_s * c_prev + i_s * z                                                  # (S8)
    n = f_s * n_prev + i_s
    h = o * c / n
    return h, c, n, m, SLSTMStepCache(x, h_prev, c_prev, n_prev, m_prev, i_raw, f_raw, z, o,
                                      i_s, f_s, c, n, m, take_f, W, U)


@checked_step_backward(SLSTMStepCache)
def slstm_step_backward(dh, dc_next, dn_next, dm_next, cache):
    """Backward of :func:`slstm_step_forward`: (S9)-(S14).

    dh, dc_next, dn_next, dm_next (N, H): dL/dh_t (total), and what step t + 1 sends to c̄_t,
    n̄_t, m_t. Returns dx, dh_prev, dc_prev, dn_prev, dm_prev, dW, dU, db.
    """
    (x, h_prev, c_prev, n_prev, m_prev, i_raw, f_raw, z, o, i_s, f_s, c, n, m, take_f,
     W, U) = cache
    q = c / n                                                # h = o q
    dq = dh * o
    dc = dc_next + dq / n                                    # (S9) total dL/dc̄_t
    dn = dn_next - dq * q / n                                # (S10) total dL/dn̄_t
    # (S11) through the exponents of i' and f' (d exp(u) = exp(u) du)
    du_i = (dc * z + dn) * i_s                               # u_i = ĩ - m
    du_f = (dc * c_prev + dn * n_prev) * f_s                 # u_f = log f + m_prev - m
    dm = dm_next - du_i - du_f                               # (S12) total dL/dm_t
    # (S13) the max of (S6) routes dm to the winning branch
    d_log_f = du_f + dm * take_f
    d_i_raw = du_i + dm * ~take_f
    dm_prev = du_f + dm * take_f
    da = np.concatenate([d_i_raw,                            # (S14) the four blocks
                         d_log_f * sigmoid(-f_raw),          # d log σ(a) / da = 1 - σ(a)
                         dc * i_s * (1 - z**2),
                         dh * q * o * (1 - o)], axis=1)      # (N, 4H)
    return (da @ W, da @ U, dc * f_s, dn * f_s, dm_prev,
            da.T @ x, da.T @ h_prev, da.sum(axis=0))


def slstm_unstabilised_forward(xs, W, U, b):
    """(S1)-(S5) as written, with zero initial state: overflows for large ĩ (for comparisons).

    Shapes: xs (T, N, D); W (4H, D); U (4H, H); b (4H,). Returns hs (T, N, H).
    """
    xs = np.asarray(xs, dtype=np.float64)
    N, H = xs.shape[1], U.shape[1]
    h, c, n, hs = np.zeros((N, H)), np.zeros((N, H)), np.zeros((N, H)), []
    for x in xs:
        i_raw, f_raw, z_raw, o_raw = np.split(x @ W.T + h @ U.T + b, 4, axis=1)
        i, f = np.exp(i_raw), sigmoid(f_raw)
        c = f * c + i * np.tanh(z_raw)
        n = f * n + i
        h = sigmoid(o_raw) * c / n
        hs.append(h)
    return np.stack(hs)


class SLSTMCell(Cell):
    """The sLSTM, one head, full recurrent matrix U; gates stacked (i, f, z, o).

    The state is the tuple (h, c̄, n̄, m), zeros by default. ``cache.cs`` holds c̄_t,
    ``cache.gates`` the activations ``i`` (= exp(ĩ), unstabilised; may be inf), ``f``, ``z``,
    ``o``, and ``n`` (n̄_t) and ``m`` (m_t).
    """

    kind = "slstm"
    gates = ("i", "f", "z", "o")
    has_cell_state = True
    torch_cell = "LSTMCell"  # the same four-block layout loads, though the equations differ

    def _step_forward(self, x, state, p):
        h, c, n, m, cache = slstm_step_forward.__wrapped__(x, *state, p["W"], p["U"], p["b"])
        return (h, c, n, m), cache

    def _step_backward(self, dstate, sc):
        dx, dh, dc, dn, dm, dW, dU, db = slstm_step_backward.__wrapped__(*dstate, sc)
        return dx, (dh, dc, dn, dm), {"W": dW, "U": dU, "b": db}

    def _step_gates(self, sc):
        with np.errstate(over="ignore"):
            i = np.exp(sc.i_raw)
        return {"i": i, "f": sigmoid(sc.f_raw), "z": sc.z, "o": sc.o, "n": sc.n, "m": sc.m}

    def forward(self, xs, state0=None):
        """Run over xs (T, N, D) from ``state0`` = (h0, c0, n0, m0) (zeros if ``None``).

        Returns hs (T, N, H) and an ``SLSTMForwardCache`` (a ``ForwardCache`` with n0, m0).
        """
        xs = check_sequence(xs, self.input_size).copy()
        state = tuple(s.copy() for s in self._state_tuple(state0, xs.shape[1], STATE_NAMES,
                                                           "state0"))
        p = self._checked_params()
        state0, states, steps = state, [], []
        for x in xs:  # x: (N, D)
            state, sc = self._step_forward(x, state, p)
            states.append(state)
            steps.append(sc)
        step_gates = [self._step_gates(sc) for sc in steps]
        gates = {k: np.stack([g[k] for g in step_gates]) for k in step_gates[0]}
        cache = SLSTMForwardCache(
            kind=self.kind, xs=xs, h0=state0[0], c0=state0[1],
            hs=np.stack([s[0] for s in states]), cs=np.stack([s[1] for s in states]),
            gates=gates, steps=tuple(steps), n0=state0[2], m0=state0[3])
        return cache.hs, cache

    def _pack_state(self, state: tuple):
        return tuple(state)

    def _state_tuple(self, state, N: int, names, arg: str) -> tuple:
        """(h, c̄, n̄, m) as a checked tuple of (N, H) arrays; ``None`` gives zeros."""
        H = self.hidden_size
        names = tuple(f"d{k}_T" if names[0].startswith("d") else f"{k}0" for k in "hcnm")
        if state is None:
            return tuple(np.zeros((N, H)) for _ in range(4))
        if not isinstance(state, (tuple, list)) or len(state) != 4:
            got = (f"a {type(state).__name__} of length {len(state)}"
                   if isinstance(state, (tuple, list)) else type(state).__name__)
            raise ValueError(f"{arg} of an 'slstm' cell must be a 4-tuple: expected "
                             f"({', '.join(names)}), each of shape (N, H) = {(N, H)}, got {got}")
        return tuple(check_array(s, (N, H), name, "(N, H)")
                     for s, name in zip(state, names, strict=True))

    def _params_from_torch(self, weight_ih, weight_hh, bias_ih, bias_hh):
        return {"W": weight_ih, "U": weight_hh, "b": bias_ih + bias_hh}


class SLSTMForwardCache(ForwardCache):
    """A :class:`ForwardCache` with the sLSTM's extra initial state n̄_0, m_0."""

    def __init__(self, *, n0, m0, **fields):
        super().__init__(**fields)
        object.__setattr__(self, "n0", n0)
        object.__setattr__(self, "m0", m0)

    @property
    def state0(self):
        return (self.h0, self.c0, self.n0, self.m0)

    @property
    def state_T(self):
        """(h_T, c̄_T, n̄_T, m_T): pass it as the next chunk's ``state0``."""
        return (self.hs[-1], self.cs[-1], self.gates["n"][-1], self.gates["m"][-1])
