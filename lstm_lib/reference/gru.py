"""The GRU in its two conventions: step forward/backward pairs and the cell.

Gate blocks are stacked r, z, n in W, U, b, as in PyTorch. Both conventions use PyTorch's role
of z_t (z_t = 1 keeps the old state); many texts, and colah's figure, swap z_t and 1 - z_t.

PyTorch / cuDNN convention (``reset_after=True``, the default)::

    (G1)  r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                     reset gate
    (G2)  z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                     update gate
    (G3)  n_t = tanh(W_n x_t + b_n + r_t ⊙ (U_n h_{t-1} + b_hn))    candidate
    (G4)  h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

The reset gate multiplies U_n h_{t-1} + b_hn *after* the matrix product, so b_hn enters as
r_t ⊙ b_hn, a bias rescaled by the reset gate at every step: it cannot be merged into b_n (nor
into the single bias b), and the cell keeps it as a separate parameter ``b_hn`` (H,). Compared
with torch: b_r = b_ir + b_hr, b_z = b_iz + b_hz, b_n = b_in, b_hn = torch's b_hn.

Original convention, Cho et al. 2014 (``reset_after=False``), with one bias b_n::

    (G3') n_t = tanh(W_n x_t + U_n (r_t ⊙ h_{t-1}) + b_n)

Backward, one step, given dh = dL/dh_t; a_* are pre-activations::

    (G5)  dn = dh ⊙ (1 - z_t),  dz = dh ⊙ (h_{t-1} - n_t),  da_z = dz ⊙ z_t(1 - z_t)
    (G6)  da_n = dn ⊙ (1 - n_t²)
    (G7)  (G3):  dr = da_n ⊙ (U_n h_{t-1} + b_hn)
          (G3'): dr = (U_n^T da_n) ⊙ h_{t-1}
    (G8)  da_r = dr ⊙ r_t(1 - r_t),   da = [da_r; da_z; da_n]
    (G9)  (G3):  dh_{t-1} = dh ⊙ z_t + U_r^T da_r + U_z^T da_z + U_n^T (r_t ⊙ da_n)
          (G3'): dh_{t-1} = dh ⊙ z_t + U_r^T da_r + U_z^T da_z + r_t ⊙ (U_n^T da_n)
          dh ⊙ z_t is the direct path h_{t-1} -> h_t (the GRU's "carousel": over many steps
          the gradient along it is scaled by Π z_t); the rest goes through the gates and n_t.
    (G10) dx_t = W^T da,  dW = da x_t^T,  db = da;  the U blocks r, z get da_r h_{t-1}^T and
          da_z h_{t-1}^T, the n block gets (r_t ⊙ da_n) h_{t-1}^T under (G3), with
          db_hn = r_t ⊙ da_n, and da_n (r_t ⊙ h_{t-1})^T under (G3')   (summed over the batch)
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from lstm_lib.reference._cell import Cell
from lstm_lib.reference._common import checked_step_backward, checked_step_forward, sigmoid

GRUStepCache = namedtuple("GRUStepCache", "x h_prev r z n hn W U")
GRUChoStepCache = namedtuple("GRUChoStepCache", "x h_prev r z n W U")


@checked_step_forward(blocks=3)
def gru_step_forward(x, h_prev, W, U, b, b_hn):
    """One GRU step in PyTorch's convention (reset after the product), eqs. (G1)-(G4).

    Shapes: x (N, D); h_prev (N, H); W (3H, D); U (3H, H); b (3H,); b_hn (H,).
    Returns h (N, H) and the cache for gru_step_backward.
    """
    a_r, a_z, a_n = np.split(x @ W.T + b, 3, axis=1)  # (N, H) each, input parts
    u_r, u_z, u_n = np.split(h_prev @ U.T, 3, axis=1)  # (N, H) each, recurrent parts
    r = sigmoid(a_r + u_r)
    z = sigmoid(a_z + u_z)
    hn = u_n + b_hn  # U_n h_{t-1} + b_hn, which r_t scales
    n = np.tanh(a_n + r * hn)
    h = (1 - z) * n + z * h_prev
    return h, GRUStepCache(x, h_prev, r, z, n, hn, W, U)


@checked_step_backward(GRUStepCache)
def gru_step_backward(dh, cache):
    """Backward of gru_step_forward, eqs. (G5)-(G10), the (G3) branches.

    Shapes: dh (N, H), the total dL/dh_t; cache as returned by gru_step_forward, with
    hn = U_n h_{t-1} + b_hn (N, H). ``dh * z`` in dh_prev is the direct (carousel) path, (G9).
    Returns dx (N, D), dh_prev (N, H), dW (3H, D), dU (3H, H), db (3H,), db_hn (H,).
    """
    x, h_prev, r, z, n, hn, W, U = cache
    da_n = dh * (1 - z) * (1 - n**2)  # (G5), (G6)
    da_z = dh * (h_prev - n) * z * (1 - z)
    da_r = da_n * hn * r * (1 - r)  # (G7), (G8)
    dhn = da_n * r  # gradient on U_n h_{t-1} + b_hn
    dax = np.concatenate([da_r, da_z, da_n], axis=1)  # (N, 3H), on x @ W.T + b
    dah = np.concatenate([da_r, da_z, dhn], axis=1)  # (N, 3H), on h_prev @ U.T
    dh_prev = dh * z + dah @ U  # (G9)
    return dax @ W, dh_prev, dax.T @ x, dah.T @ h_prev, dax.sum(axis=0), dhn.sum(axis=0)


@checked_step_forward(blocks=3)
def gru_cho_step_forward(x, h_prev, W, U, b):
    """One GRU step in Cho et al.'s convention (reset before the product), (G1), (G2), (G3'), (G4).

    Shapes: x (N, D); h_prev (N, H); W (3H, D); U (3H, H); b (3H,).
    Returns h (N, H) and the cache for gru_cho_step_backward.
    """
    H = h_prev.shape[1]
    a_r, a_z, a_n = np.split(x @ W.T + b, 3, axis=1)  # (N, H) each
    u_r, u_z = np.split(h_prev @ U[:2 * H].T, 2, axis=1)  # (N, H) each
    r = sigmoid(a_r + u_r)
    z = sigmoid(a_z + u_z)
    n = np.tanh(a_n + (r * h_prev) @ U[2 * H:].T)  # the reset gate acts before U_n
    h = (1 - z) * n + z * h_prev
    return h, GRUChoStepCache(x, h_prev, r, z, n, W, U)


@checked_step_backward(GRUChoStepCache)
def gru_cho_step_backward(dh, cache):
    """Backward of gru_cho_step_forward, eqs. (G5)-(G10), the (G3') branches.

    Shapes: dh (N, H), the total dL/dh_t.
    Returns dx (N, D), dh_prev (N, H), dW (3H, D), dU (3H, H), db (3H,).
    """
    x, h_prev, r, z, n, W, U = cache
    H = h_prev.shape[1]
    U_rz, U_n = U[:2 * H], U[2 * H:]
    da_n = dh * (1 - z) * (1 - n**2)  # (G5), (G6)
    da_z = dh * (h_prev - n) * z * (1 - z)
    drh = da_n @ U_n  # (N, H), gradient on r_t ⊙ h_{t-1}
    da_r = drh * h_prev * r * (1 - r)  # (G7), (G8)
    da_rz = np.concatenate([da_r, da_z], axis=1)  # (N, 2H)
    dax = np.concatenate([da_rz, da_n], axis=1)  # (N, 3H), on x @ W.T + b
    dh_prev = dh * z + drh * r + da_rz @ U_rz  # (G9)
    dU = np.concatenate([da_rz.T @ h_prev, da_n.T @ (r * h_prev)], axis=0)  # (3H, H)
    return dax @ W, dh_prev, dax.T @ x, dU, dax.sum(axis=0)


class GRUCell(Cell):
    """GRU cell; ``params``: W (3H, D), U (3H, H), b (3H,), blocks r, z, n.

    Args:
        reset_after: ``True`` (default) for PyTorch's convention, eqs. (G1)-(G4), with the extra
            parameter ``b_hn`` (H,) that sits inside the reset product; ``False`` for Cho et
            al. 2014, eq. (G3'), with no ``b_hn``.

    Only ``reset_after=True`` loads torch weights (``torch.nn.GRUCell`` / ``torch.nn.GRU``):
    b = bias_ih + (bias_hh's r and z blocks, zero for n) and b_hn = bias_hh's n block.
    """

    kind = "gru"
    gates = ("r", "z", "n")
    torch_cell = "GRUCell"

    def __init__(self, input_size: int, hidden_size: int, rng=None, *, reset_after: bool = True):
        if not isinstance(reset_after, bool):
            raise TypeError(f"reset_after must be a bool: expected True or False, "
                            f"got {reset_after!r}")
        self.reset_after = reset_after
        if not reset_after:
            self.torch_cell = None  # torch has no Cho-convention GRU
        super().__init__(input_size, hidden_size, rng)

    def __repr__(self):
        return f"{super().__repr__()[:-1]}, reset_after={self.reset_after})"

    def param_shapes(self):
        shapes = super().param_shapes()
        if self.reset_after:
            shapes["b_hn"] = (self.hidden_size,)
        return shapes

    def _step_forward(self, x, state, p):
        (h_prev,) = state
        if self.reset_after:
            h, cache = gru_step_forward.__wrapped__(x, h_prev, p["W"], p["U"], p["b"], p["b_hn"])
        else:
            h, cache = gru_cho_step_forward.__wrapped__(x, h_prev, p["W"], p["U"], p["b"])
        return (h,), cache

    def _step_backward(self, dstate, step_cache):
        (dh,) = dstate
        if self.reset_after:
            dx, dh_prev, dW, dU, db, db_hn = gru_step_backward.__wrapped__(dh, step_cache)
            return dx, (dh_prev,), {"W": dW, "U": dU, "b": db, "b_hn": db_hn}
        dx, dh_prev, dW, dU, db = gru_cho_step_backward.__wrapped__(dh, step_cache)
        return dx, (dh_prev,), {"W": dW, "U": dU, "b": db}

    def _step_gates(self, step_cache):
        return {"r": step_cache.r, "z": step_cache.z, "n": step_cache.n}

    def _check_cache(self, cache):
        super()._check_cache(cache)
        if isinstance(cache.steps[0], GRUStepCache) != self.reset_after:
            raise ValueError(f"cache comes from a GRU of the other convention: expected "
                             f"reset_after={self.reset_after}, got reset_after="
                             f"{not self.reset_after}")

    def _params_from_torch(self, weight_ih, weight_hh, bias_ih, bias_hh):
        H = self.hidden_size
        b = bias_ih.copy()
        b[:2 * H] += bias_hh[:2 * H]  # r and z: the two biases simply add
        return {"W": weight_ih, "U": weight_hh, "b": b, "b_hn": bias_hh[2 * H:].copy()}

    def _no_torch_reason(self):
        return ("a 'gru' cell with reset_after=False cannot load a torch state_dict: torch.nn.GRU "
                "applies the reset gate after U_n h (reset_after=True); use that convention")
