r"""Measuring vanishing and exploding gradients: Jacobian norms through the recurrence.

For a recurrence s_t = F(s_{t-1}, x_t) the gradient of anything computed from h_T reaches an
earlier state s_k through the Jacobian product (chain rule)::

    ∂h_T/∂s_k = ∂h_T/∂s_T · ∂s_T/∂s_{T-1} · ... · ∂s_{k+1}/∂s_k               (J1)

For the vanilla RNN, s_t = h_t = φ(a_t) with a_t = W x_t + U h_{t-1} + b, each factor is
∂h_j/∂h_{j-1} = diag(φ'(a_j)) U, so::

    ∂h_T/∂h_k = Π_{j=k+1}^{T} diag(φ'(a_j)) U        (product ordered j = T, ..., k+1)    (J2)

and with γ = sup |φ'| (1 for tanh, relu and the identity, 1/4 for the sigmoid) and λ1 = the
largest singular value of U, every factor has spectral norm at most γ λ1, hence::

    ‖∂h_T/∂h_k‖₂ ≤ (γ λ1)^{T-k}                                                  (J3)

which goes to 0 when λ1 < 1/γ: the sufficient condition for vanishing gradients of Pascanu,
Mikolov & Bengio (2013). λ1 > 1/γ is necessary for exploding gradients, not sufficient.

Functions:

* :func:`hidden_jacobians`, :func:`hidden_jacobian_norms` -- the exact Jacobians (J1) of a
  :mod:`lstm_lib.reference` cell (any kind), from its hand-written step backward.
* :func:`cell_state_jacobians`, :func:`gate_products` -- the LSTM's ∂c_T/∂s_k and its cell
  path Π f_t (eqs. (L12)-(L14) of the LSTM's BPTT chapter).
* :func:`rnn_jacobian_product` -- (J2) multiplied out for a tanh RNN from its states h_j.
* :func:`rnn_hidden_jacobian_norms` -- (J2) for a vanilla RNN with a choice of nonlinearity
  (``"tanh"``, ``"relu"``, ``"identity"``), straight from ``U``, ``W``, ``b``.
* :func:`sequence_gradient_norms` -- ‖∂h_T/∂x_k‖ for every k of a torch layer
  (``lstm_lib.nn`` or ``torch.nn`` RNN, LSTM, GRU) by one autograd backward pass.
* :func:`set_spectral_radius`, :func:`spectral_radius`, :func:`largest_singular_value`,
  :func:`derivative_bound`, :func:`pascanu_bound` -- the quantities of (J3).
* :func:`random_rnn`, :func:`plot_rnn_jacobian_norms` -- the pure function behind
  :func:`lstm_lib.widgets.gradient_norm_explorer`.

Norms: ``ord="spectral"`` (the largest singular value, the worst-case amplification of a
gradient vector; the default) or ``ord="fro"`` (Frobenius). Lags: the Jacobian to state s_k, k =
0 .. T-1, spans ``T - k`` steps (``lags_of(T)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lstm_lib._checks import check_bool, check_int, check_real, finite_array

__all__ = [
    "NONLINEARITIES",
    "PascanuBound",
    "cell_state_jacobians",
    "derivative_bound",
    "gate_products",
    "hidden_jacobian_norms",
    "hidden_jacobians",
    "lags_of",
    "largest_singular_value",
    "matrix_norms",
    "pascanu_bound",
    "plot_rnn_jacobian_norms",
    "random_rnn",
    "rnn_hidden_jacobian_norms",
    "rnn_jacobian_product",
    "sequence_gradient_norms",
    "set_spectral_radius",
    "spectral_radius",
]

# φ and φ' as functions of the pre-activation a
NONLINEARITIES = ("tanh", "relu", "identity")
_GAMMA = {"tanh": 1.0, "relu": 1.0, "identity": 1.0, "sigmoid": 0.25}
_ORDS = ("spectral", "fro")


def _phi(a: np.ndarray, nonlinearity: str) -> tuple[np.ndarray, np.ndarray]:
    """φ(a) and φ'(a) for a name in NONLINEARITIES."""
    if nonlinearity == "tanh":
        h = np.tanh(a)
        return h, 1.0 - h**2
    if nonlinearity == "relu":
        return np.maximum(a, 0.0), (a > 0).astype(a.dtype)
    if nonlinearity == "identity":
        return a, np.ones_like(a)
    raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")


def _check_square(U, name: str = "U") -> np.ndarray:
    try:
        U = np.asarray(U, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a square matrix of numbers (H, H), got "
                        f"{type(U).__name__}") from None
    if U.ndim != 2 or U.shape[0] != U.shape[1]:
        raise ValueError(f"{name} must be a square matrix (H, H), got shape {U.shape}")
    if U.shape[0] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {U.shape}")
    if not np.all(np.isfinite(U)):
        raise ValueError(f"{name} must be finite")
    return U


def _check_ord(ord: str) -> None:
    if not isinstance(ord, str) or ord not in _ORDS:
        raise ValueError(f"ord must be one of {_ORDS}, got {ord!r}")


# ----------------------------------------------------------------------------- matrix quantities

def spectral_radius(U) -> float:
    """ρ(U) = max |eigenvalue| of a square matrix U (H, H)."""
    return float(np.max(np.abs(np.linalg.eigvals(_check_square(U)))))


def largest_singular_value(U) -> float:
    """λ1 = ‖U‖₂, the largest singular value of a square matrix U (H, H); λ1 ≥ ρ(U)."""
    return float(np.linalg.norm(_check_square(U), 2))


def set_spectral_radius(U, rho: float) -> np.ndarray:
    """A copy of the square matrix U (H, H) scaled so that its spectral radius is ``rho``.

    Scaling multiplies every eigenvalue (and singular value) by the same factor, so the returned
    matrix is ``U * rho / ρ(U)``; the argument is not modified.

    Raises:
        ValueError: U not square / not finite, ``rho`` negative or not finite, or ρ(U) = 0
            (a nilpotent matrix cannot be scaled to a positive radius).
    """
    U = _check_square(U)
    if not (isinstance(rho, int | float | np.floating | np.integer) and not isinstance(rho, bool)
            and np.isfinite(rho) and rho >= 0):
        raise ValueError(f"rho must be a finite number >= 0, got {rho!r}")
    current = spectral_radius(U)
    if current == 0.0:
        if rho == 0:
            return U.copy()
        raise ValueError("U has spectral radius 0 (it is nilpotent); it cannot be scaled to "
                         f"rho = {rho}")
    return U * (float(rho) / current)


def derivative_bound(nonlinearity: str) -> float:
    """γ = sup_a |φ'(a)|: 1 for ``"tanh"``, ``"relu"``, ``"identity"``; 1/4 for ``"sigmoid"``."""
    if not isinstance(nonlinearity, str) or nonlinearity not in _GAMMA:
        raise ValueError(f"nonlinearity must be one of {tuple(_GAMMA)}, got {nonlinearity!r}")
    return _GAMMA[nonlinearity]


class PascanuBound(NamedTuple):
    """The quantities of Pascanu, Mikolov & Bengio (2013) for a recurrent matrix U.

    Attributes:
        lambda1: the largest singular value of U.
        gamma: sup |φ'| of the nonlinearity.
        rate: γ λ1; ‖∂h_T/∂h_k‖₂ ≤ rate^(T-k), eq. (J3).
        vanishing_guaranteed: ``rate < 1`` (λ1 < 1/γ): the gradient surely vanishes.
        exploding_possible: ``rate > 1`` (λ1 > 1/γ): necessary, not sufficient, for explosion.
    """

    lambda1: float
    gamma: float
    rate: float
    vanishing_guaranteed: bool
    exploding_possible: bool

    def bound(self, lags) -> np.ndarray:
        """The upper bound rate^lag of eq. (J3) for each lag (any shape)."""
        lags = finite_array("lags", lags)
        if lags.size and lags.min() < 0:
            raise ValueError(f"lags must be >= 0, got a minimum of {lags.min()}")
        return self.rate ** lags


def pascanu_bound(U, nonlinearity: str = "tanh") -> PascanuBound:
    """λ1, γ and the regime of eq. (J3) for a square recurrent matrix U (H, H)."""
    lambda1, gamma = largest_singular_value(U), derivative_bound(nonlinearity)
    rate = gamma * lambda1
    return PascanuBound(lambda1, gamma, rate, rate < 1.0, rate > 1.0)


def matrix_norms(J: np.ndarray, ord: str = "spectral") -> np.ndarray:
    """Norms of a stack of matrices J (..., M, K): spectral (largest singular value) or Frobenius.

    Returns an array of shape J.shape[:-2].
    """
    _check_ord(ord)
    J = finite_array("J", J)  # the SVD of a NaN matrix fails with a bare LinAlgError
    if J.ndim < 2:
        raise ValueError(f"J must be a stack of matrices (..., M, K), got shape {J.shape}")
    return _norms(J, ord)


def _norms(J: np.ndarray, ord: str) -> np.ndarray:
    """matrix_norms of computed Jacobians: a matrix that overflowed gets the norm inf."""
    finite = np.isfinite(J).all(axis=(-2, -1))  # J.shape[:-2]
    if not finite.all():
        out = np.full(J.shape[:-2], np.inf)
        out[finite] = _norms(J[finite], ord)
        return out
    if ord == "fro":
        return np.sqrt(np.sum(J**2, axis=(-2, -1)))
    return np.linalg.svd(J, compute_uv=False)[..., 0]


def lags_of(T: int) -> np.ndarray:
    """The lags T - k of the states s_k, k = 0 .. T-1, in that order: (T,) = T, T-1, ..., 1."""
    T = check_int("T", T, minimum=1)
    return T - np.arange(T)


# ----------------------------------------------------------------------------- reference cells

def _as_sequence(xs, D: int) -> tuple[np.ndarray, bool]:
    """xs as (T, N, D) float64; also whether it was a single sequence (T, D)."""
    xs = finite_array("xs", xs)
    single = xs.ndim == 2
    if single:
        xs = xs[:, None, :]
    if xs.ndim != 3 or xs.shape[0] < 1 or xs.shape[1] < 1 or xs.shape[2] != D:
        raise ValueError(f"xs must be (T, N, D) or (T, D) with T, N >= 1 and D = {D}, got shape "
                         f"{np.shape(xs) if not single else np.shape(xs[:, 0])}")
    return xs, single


def hidden_jacobians(cell, xs, state0=None) -> np.ndarray:
    r"""The exact Jacobians ∂h_T/∂s_k, k = 0 .. T-1, of a reference cell, eq. (J1).

    s_k is the cell's state after step k: h_k for ``"rnn"`` and ``"gru"``, the pair
    (h_k, c_k) for the LSTM kinds, so the Jacobian is (H, H) or (H, 2H) (columns ∂/∂h_k, then
    ∂/∂c_k). k = 0 is the initial state. A loss that depends on h_T has dL/ds_k = dL/dh_T ·
    ∂h_T/∂s_k, so these are exactly the matrices that carry (or fail to carry) its gradient.

    Method: reverse-mode, with the cell's own hand-written step backward. Each sequence is
    repeated H times along the batch and the backward pass starts from dh_T = the identity
    (row n of copy n is e_n), so after going back through step k+1 the state gradient holds the
    rows of ∂h_T/∂s_k. Exact up to rounding; cost H backward passes run as one batch.

    Args:
        cell: a :mod:`lstm_lib.reference` cell (``make_cell(kind, D, H)``).
        xs: (T, N, D) sequences, or (T, D) for one.
        state0: initial state as ``cell.forward`` takes it (``h0`` (N, H) or ``(h0, c0)``).

    Returns:
        (N, T, H, S) with S = H (RNN, GRU) or 2H (LSTM kinds); (T, H, S) for a (T, D) input.
        Entry [n, k] is ∂h_T/∂s_k of sequence n.
    """
    return _state_jacobians(cell, xs, state0, of="h")


def cell_state_jacobians(cell, xs, state0=None) -> np.ndarray:
    r"""The exact Jacobians ∂c_T/∂s_k, k = 0 .. T-1, of an LSTM-kind reference cell.

    As :func:`hidden_jacobians`, but the backward pass starts from the final *cell* state c_T.
    s_k = (h_k, c_k), so entry [n, k] is (H, 2H): columns ``[:, :H]`` are ∂c_T/∂h_k (c_k held),
    columns ``[:, H:]`` are ∂c_T/∂c_k (h_k held). One step back (k = T-1) the latter is exactly
    diag(f_T), eq. (L12) of the book; over many steps it is the cell path
    diag(Π_{t=k+1}^T f_t) (:func:`gate_products`) plus every path that leaves the cell through
    h_j and re-enters through U_i, U_f, U_g, eq. (L14).

    Args:
        cell: a :mod:`lstm_lib.reference` cell with a cell state (``"lstm"``, ``"peephole"``,
            ``"cifg"``).
        xs: (T, N, D) sequences, or (T, D) for one.
        state0: ``(h0, c0)``, each (N, H), or ``None`` for zeros.

    Returns:
        (N, T, H, 2H); (T, H, 2H) for a (T, D) input.
    """
    return _state_jacobians(cell, xs, state0, of="c")


def gate_products(gates) -> np.ndarray:
    r"""Π_{t=k+1}^{T} g_t for k = 0 .. T-1: the cell path of eq. (L14) for g = f.

    Args:
        gates: (T, ...) gate activations in [0, 1], entry [t] belonging to step t + 1, as
            ``ForwardCache.gates["f"]`` (T, N, H).

    Returns:
        An array of the same shape; entry [k] = gates[k] * gates[k+1] * ... * gates[T-1], the
        factor by which the cell path scales dL/dc_T on its way back to c_k (k = 0: to c_0).
    """
    gates = np.asarray(gates, dtype=np.float64)
    if gates.ndim < 1 or gates.shape[0] < 1 or not np.all((gates >= 0) & (gates <= 1)):
        raise ValueError(f"gates must be a (T, ...) array with T >= 1 and every entry in [0, 1], "
                         f"got shape {gates.shape}")
    return np.cumprod(gates[::-1], axis=0)[::-1]


def _state_jacobians(cell, xs, state0, of: str) -> np.ndarray:
    """∂h_T/∂s_k (``of="h"``) or ∂c_T/∂s_k (``of="c"``) for k = 0 .. T-1, by reverse mode."""
    from lstm_lib.reference import Cell

    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a lstm_lib.reference cell (make_cell(...)), got "
                        f"{type(cell).__name__}")
    if of == "c" and not cell.has_cell_state:
        raise ValueError(f"cell must have a cell state ('lstm', 'peephole' or 'cifg') for "
                         f"cell_state_jacobians, got kind {cell.kind!r}")
    H = cell.hidden_size
    xs, single = _as_sequence(xs, cell.input_size)
    T, N, _ = xs.shape
    big = np.repeat(xs, H, axis=1)  # (T, N*H, D): sequence n occupies rows n*H .. n*H+H-1
    if state0 is not None:  # repeat each sequence's initial state H times, like the inputs
        if cell.has_cell_state and (not isinstance(state0, tuple | list) or len(state0) != 2):
            raise ValueError("state0 of an LSTM kind must be a pair (h0, c0), each (N, H)")
        parts = tuple(state0) if cell.has_cell_state else (state0,)
        repeated = []
        for name, s in zip(("h0", "c0"), parts, strict=False):
            s = finite_array(name, s)
            if s.shape != (N, H):
                raise ValueError(f"{name} must be (N, H) = {(N, H)}, got shape {s.shape}")
            repeated.append(np.repeat(s, H, axis=0))
        state0 = tuple(repeated) if cell.has_cell_state else repeated[0]
    _, cache = cell.forward(big, state0)
    n_state = 2 if cell.has_cell_state else 1
    eye = np.tile(np.eye(H), (N, 1))  # (N*H, H): copy n of each sequence seeds dh_T (dc_T) = e_n
    dstate = [np.zeros((N * H, H)) for _ in range(n_state)]
    dstate[0 if of == "h" else 1] = eye
    dstate = tuple(dstate)
    out = np.empty((N, T, H, n_state * H))
    for t in reversed(range(T)):  # step t: s_t -> s_{t+1}; going back gives ∂h_T/∂s_t (∂c_T/∂s_t)
        _, dstate, _ = cell._step_backward(dstate, cache.steps[t])
        out[:, t] = np.concatenate(dstate, axis=1).reshape(N, H, n_state * H)
    return out[0] if single else out


def hidden_jacobian_norms(cell, xs, state0=None, *, ord: str = "spectral") -> np.ndarray:
    """‖∂h_T/∂s_k‖ for k = 0 .. T-1 of a reference cell (see :func:`hidden_jacobians`).

    Args:
        cell, xs, state0: as :func:`hidden_jacobians`.
        ord: ``"spectral"`` (largest singular value) or ``"fro"`` (Frobenius).

    Returns:
        (N, T) norms, entry [n, k] for the state s_k at lag T - k (:func:`lags_of`); (T,) for a
        (T, D) input.
    """
    _check_ord(ord)
    return _norms(hidden_jacobians(cell, xs, state0), ord)


def rnn_jacobian_product(U, hs, t: int, k: int) -> np.ndarray:
    """∂h_t/∂h_k of a tanh RNN, eq. (J2) multiplied out factor by factor (one sequence).

    Args:
        U: (H, H) the recurrent matrix.
        hs: (T+1, H) the states h_0, h_1, ..., h_T of one sequence (``hs[j]`` is h_j), e.g.
            ``np.concatenate([cache.h0, cache.hs[:, 0]])``.
        t, k: 0 <= k <= t <= T.

    Returns:
        (H, H) diag(1 - h_t²) U · diag(1 - h_{t-1}²) U ⋯ diag(1 - h_{k+1}²) U, ordered from
        j = t on the left down to j = k + 1 on the right (tanh'(a_j) = 1 - h_j²); the identity
        if k = t.
    """
    U = _check_square(U)
    hs = finite_array("hs", hs)
    if hs.ndim != 2 or hs.shape[1] != U.shape[0]:
        raise ValueError(f"hs must be (T+1, H) with H = {U.shape[0]}, got shape {hs.shape}")
    t, k = check_int("t", t), check_int("k", k)
    if not 0 <= k <= t < len(hs):
        raise ValueError(f"need integers 0 <= k <= t <= T = {len(hs) - 1}, got t={t!r}, k={k!r}")
    P = np.eye(U.shape[0])
    for j in range(t, k, -1):  # j = t, t-1, ..., k+1: each new factor goes on the right
        P = P @ (np.diag(1 - hs[j] ** 2) @ U)
    return P


def rnn_hidden_jacobian_norms(U, W, b, xs, *, nonlinearity: str = "tanh", h0=None,
                              ord: str = "spectral") -> np.ndarray:
    """‖∂h_T/∂h_k‖, k = 0 .. T-1, of h_t = φ(W x_t + U h_{t-1} + b), by the product (J2).

    Runs the forward pass with the chosen φ, then accumulates M_k = ∂h_T/∂h_k backwards:
    M_{T} = I, M_{k} = M_{k+1} diag(φ'(a_{k+1})) U. With ``nonlinearity="tanh"`` this equals
    :func:`hidden_jacobian_norms` of a reference ``"rnn"`` cell with the same weights.

    Args:
        U: (H, H). W: (H, D). b: (H,).
        xs: (T, N, D) or (T, D).
        nonlinearity: ``"tanh"``, ``"relu"`` or ``"identity"`` (then ∂h_T/∂h_k = U^(T-k)).
        h0: (N, H) initial state, zeros if ``None``.
        ord: ``"spectral"`` or ``"fro"``.

    Returns:
        (N, T) norms, [n, k] at lag T - k; (T,) for a (T, D) input.
    """
    _check_ord(ord)
    U = _check_square(U)
    H = U.shape[0]
    W = finite_array("W", W)
    b = finite_array("b", b)
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if W.ndim != 2 or W.shape[0] != H:
        raise ValueError(f"W must be (H, D) with H = {H}, got shape {W.shape}")
    if b.shape != (H,):
        raise ValueError(f"b must be (H,) = ({H},), got shape {b.shape}")
    xs, single = _as_sequence(xs, W.shape[1])
    T, N, _ = xs.shape
    h = np.zeros((N, H)) if h0 is None else finite_array("h0", h0)
    if h.shape != (N, H):
        raise ValueError(f"h0 must be (N, H) = {(N, H)}, got {h.shape}")
    dphis = np.empty((T, N, H))
    for t in range(T):
        h, dphis[t] = _phi(xs[t] @ W.T + h @ U.T + b, nonlinearity)
    M = np.broadcast_to(np.eye(H), (N, H, H)).copy()  # ∂h_T/∂h_T
    out = np.empty((N, T))
    for t in reversed(range(T)):  # ∂h_T/∂h_{t} = ∂h_T/∂h_{t+1} diag(φ'(a_{t+1})) U
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow's norm is inf
            M = (M * dphis[t][:, None, :]) @ U  # (N, H, H)
        out[:, t] = _norms(M, ord)
    return out[0] if single else out


# ----------------------------------------------------------------------------- torch layers

def sequence_gradient_norms(layer, x, *, ord: str = "fro") -> np.ndarray:
    r"""‖∂h_T/∂x_k‖ for every step k of a torch recurrent layer, by one autograd backward pass.

    h_T is the top layer's output at the last step, ``output[-1]`` (``output[:, -1]`` with
    ``batch_first=True``). The full Jacobian ∂h_T/∂x_k (H, D) of every step comes out of a single
    backward pass: each sequence is repeated H times along the batch, and copy n backpropagates
    e_n, i.e. the scalar Σ_n h_T[copy n, n] -- valid because a recurrent layer treats the
    sequences of a batch independently. For an RNN ∂h_T/∂x_k = ∂h_T/∂h_k diag(φ'(a_k)) W, so its
    decay with the lag T - k follows the state Jacobians (J1).

    Works with :mod:`lstm_lib.nn` and :mod:`torch.nn` ``RNN``, ``LSTM``, ``GRU`` (and any module
    called as ``layer(x)`` that returns ``output`` or ``(output, state)`` with output
    (T, N, H) / (N, T, H)); unidirectional only. The layer is run in eval mode (no dropout) and
    its mode is restored.

    Args:
        layer: the recurrent layer.
        x: (T, N, D) tensor or array ((N, T, D) if ``layer.batch_first``); cast to the layer's
            dtype and device.
        ord: ``"fro"`` (Frobenius, the default) or ``"spectral"``.

    Returns:
        (N, T) numpy array; entry [n, k - 1] is ‖∂h_T/∂x_k‖ for k = 1 .. T (lag T - k).

    Example::

        rnn = lnn.RNN(1, 64)
        norms = sequence_gradient_norms(rnn, torch.randn(200, 8, 1))   # (8, 200)
        lags = 200 - np.arange(1, 201)
    """
    import torch

    _check_ord(ord)
    if not isinstance(layer, torch.nn.Module):
        raise TypeError(f"layer must be a torch.nn.Module (a recurrent layer), got "
                        f"{type(layer).__name__}")
    if getattr(layer, "bidirectional", False):
        raise ValueError("sequence_gradient_norms needs a unidirectional layer: the backward "
                         "direction's output at the last step has seen only x_T")
    params = list(layer.parameters())
    device = params[0].device if params else torch.device("cpu")
    dtype = next((p.dtype for p in params if p.is_floating_point()), torch.get_default_dtype())
    batch_first = bool(getattr(layer, "batch_first", False))
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if x.ndim != 3 or 0 in x.shape:
        layout = "(N, T, D)" if batch_first else "(T, N, D)"
        raise ValueError(f"x must be a non-empty {layout} sequence batch, got shape "
                         f"{tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"x must hold real numbers, got dtype {x.dtype}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError("x must be finite: it holds NaN or infinite values")
    x = x.to(device=device, dtype=dtype)
    if batch_first:
        x = x.transpose(0, 1)  # (T, N, D)
    T, N, D = x.shape
    was_training = layer.training
    layer.eval()
    try:
        with torch.enable_grad():
            H = _output_size(layer, x[:, :1])
            big = x.repeat_interleave(H, dim=1).detach().requires_grad_(True)  # (T, N*H, D)
            out = _output(layer, big.transpose(0, 1) if batch_first else big)
            h_T = out[:, -1] if batch_first else out[-1]  # (N*H, H)
            seed = torch.eye(H, device=device, dtype=dtype).repeat(N, 1)  # (N*H, H)
            (grad,) = torch.autograd.grad((h_T * seed).sum(), big)
    finally:
        layer.train(was_training)
    J = grad.detach().cpu().double().numpy().reshape(T, N, H, D).transpose(1, 0, 2, 3)
    return _norms(J, ord)  # (N, T)


def _output(layer, x):
    out = layer(x)
    return out[0] if isinstance(out, tuple | list) else out


def _output_size(layer, x1) -> int:
    """H, the output feature size of the layer (probed on one sequence if not an attribute)."""
    H = getattr(layer, "hidden_size", None)
    if H is None or getattr(layer, "proj_size", 0):
        import torch

        with torch.no_grad():
            H = _output(layer, x1).shape[-1]
    return int(H)


# ----------------------------------------------------------------------------- the explorer

def random_rnn(H: int = 32, D: int = 1, rho: float = 1.0, *, input_scale: float = 1.0,
               seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of a vanilla RNN with a Gaussian recurrent matrix of spectral radius ``rho``.

    U has i.i.d. N(0, 1) entries rescaled by :func:`set_spectral_radius`; W has N(0,
    input_scale²) entries; b = 0. Returns ``{"W": (H, D), "U": (H, H), "b": (H,)}``, the
    ``params`` layout of a reference ``"rnn"`` cell.
    """
    H, D = check_int("H", H, minimum=1), check_int("D", D, minimum=1)
    input_scale = check_real("input_scale", input_scale, minimum=0.0)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    U = set_spectral_radius(rng.standard_normal((H, H)), rho)
    return {"W": input_scale * rng.standard_normal((H, D)), "U": U, "b": np.zeros(H)}


def plot_rnn_jacobian_norms(rhos: float | Sequence[float] = (0.5, 0.9, 1.0, 1.5, 3.0),
                            nonlinearity: str = "tanh", *, T: int = 60, H: int = 32,
                            n_seq: int = 8, seed: int = 0, bound: bool = True, ax=None):
    """‖∂h_T/∂h_k‖₂ against the lag T - k for random RNNs, one line per spectral radius.

    For each ρ in ``rhos``: :func:`random_rnn` (H units, D = 1, the same seed, so the radii
    differ only by a scale), ``n_seq`` input sequences x_t ~ N(0, 1), and
    :func:`rnn_hidden_jacobian_norms`; the median over sequences is drawn with a 10-90 % band.
    With ``bound=True`` the Pascanu bound (γ λ1)^lag (J3) of each ρ is drawn dotted in the same
    colour. The y axis is logarithmic; values are clipped to [1e-30, 1e30] for display.

    Returns:
        the Axes.
    """
    import matplotlib

    rhos = [rhos] if np.isscalar(rhos) else list(rhos)
    if not rhos:
        raise ValueError("rhos must name at least one spectral radius")
    rhos = [check_real(f"rhos[{k}]", r, minimum=0.0) for k, r in enumerate(rhos)]
    T = check_int("T", T, minimum=1)
    H = check_int("H", H, minimum=1)
    n_seq = check_int("n_seq", n_seq, minimum=1)
    bound = check_bool("bound", bound)
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    lags = lags_of(T)
    data_rng = np.random.default_rng(seed + 1)
    xs = data_rng.standard_normal((T, n_seq, 1))
    lo_clip, hi_clip = 1e-30, 1e30
    cmap = matplotlib.colormaps["viridis"]
    for k, rho in enumerate(rhos):
        p = random_rnn(H, 1, rho, seed=seed)
        norms = rnn_hidden_jacobian_norms(p["U"], p["W"], p["b"], xs, nonlinearity=nonlinearity)
        norms = np.clip(norms, lo_clip, hi_clip)
        color = cmap(k / max(1, len(rhos) - 1) * 0.9)
        lo, mid, hi = np.percentile(norms, [10, 50, 90], axis=0)
        ax.fill_between(lags, lo, hi, color=color, alpha=0.2, lw=0)
        ax.semilogy(lags, mid, color=color, lw=1.8, label=f"ρ = {rho:g}")
        if bound:
            pb = pascanu_bound(p["U"], nonlinearity)
            ax.semilogy(lags, np.clip(pb.bound(lags), lo_clip, hi_clip), ":", color=color,
                        lw=1.2, label=f"bound (γλ1)^lag, λ1 = {pb.lambda1:.2f}")
    ax.axhline(1.0, color="#555555", lw=0.8, ls="--")
    ax.set_xlabel("lag T − k")
    ax.set_ylabel("‖∂h_T/∂h_k‖₂")
    ax.set_title(f"{nonlinearity} RNN, H = {H}: median and 10–90 % of {n_seq} sequences")
    ax.legend(fontsize=8, ncol=2)
    return ax
