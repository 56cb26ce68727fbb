r"""The pieces of backpropagation through time that are not the cell: readout, chunks, comparisons.

The BPTT chapter's model (the book's notation, one sequence of T steps)::

    (B1)  a_t = W x_t + U h_{t-1} + b,   h_t = tanh(a_t),   ŷ_t = softmax(V h_t)
    (B2)  E_t = -log ŷ_{t, y_t},         E = Σ_t E_t
    (B3)  ∂E_t/∂z_t = ŷ_t - onehot(y_t)  (z_t = V h_t),   ∂E_t/∂h_t = V^T (ŷ_t - y_t),
          ∂E/∂V = Σ_t (ŷ_t - y_t) h_t^T

The cell's backward pass (``lstm_lib.reference``) takes ``dhs[t] = ∂E_t/∂h_t`` of (B3) and does
the rest. Functions:

* :func:`softmax`, :func:`softmax_readout` -- (B1)-(B3) for a batch, steps without a target
  (``y < 0``) carry no loss.
* :func:`chunked_backward` -- chunked truncated BPTT: forward chunk by chunk carrying the state,
  no gradient across the cuts (what ``state.detach()`` between batches does in PyTorch).
* :func:`gradient_cosine` -- the cosine between two gradient dicts, flattened.
* :func:`loss_term_norms` -- ‖k-th term of ∂E_T/∂U‖ for a loss on h_T, against T - k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["Readout", "chunked_backward", "gradient_cosine", "loss_term_norms", "softmax",
           "softmax_readout"]


def softmax(z) -> np.ndarray:
    """Softmax over the last axis (shifted by the maximum, so large logits do not overflow)."""
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Readout(NamedTuple):
    """The softmax readout of :func:`softmax_readout`.

    Attributes:
        y_hat: (T, N, K) the predicted distributions ŷ_t.
        E_t: (T,) the loss of each step, summed over the batch (0 where no step has a target).
        dz: (T, N, K) ∂E/∂z_t = ŷ_t - onehot(y_t), zero where there is no target.
        dhs: (T, N, H) ∂E_t/∂h_t = V^T (ŷ_t - y_t): the ``dhs`` of ``cell.backward``.
        dV: (K, H) ∂E/∂V = Σ_t (ŷ_t - y_t) h_t^T, summed over the batch.
    """

    y_hat: np.ndarray
    E_t: np.ndarray
    dz: np.ndarray
    dhs: np.ndarray
    dV: np.ndarray


def softmax_readout(hs, V, ys) -> Readout:
    """Readout ŷ_t = softmax(V h_t), cross-entropy losses and their gradients, eqs. (B1)-(B3).

    Args:
        hs: (T, N, H) hidden states. V: (K, H) readout weights.
        ys: (T, N) integer targets in 0 .. K-1; a negative target means "no loss at this step".
    """
    hs, V, ys = np.asarray(hs, dtype=float), np.asarray(V, dtype=float), np.asarray(ys)
    if hs.ndim != 3 or V.ndim != 2 or V.shape[1] != hs.shape[2]:
        raise ValueError(f"hs must be (T, N, H) and V (K, H) with the same H: got hs {hs.shape}, "
                         f"V {V.shape}")
    K = V.shape[0]
    if ys.shape != hs.shape[:2] or not np.issubdtype(ys.dtype, np.integer) or np.any(ys >= K):
        raise ValueError(f"ys must be integers < K = {K} of shape (T, N) = {hs.shape[:2]}: got "
                         f"shape {ys.shape}, dtype {ys.dtype}")
    y_hat = softmax(hs @ V.T)  # (T, N, K)
    scored = ys >= 0
    target = np.where(scored, ys, 0)
    p_target = np.take_along_axis(y_hat, target[..., None], axis=-1)[..., 0]  # (T, N)
    E_t = np.where(scored, -np.log(p_target), 0.0).sum(axis=1)
    dz = y_hat - np.eye(K)[target]
    dz[~scored] = 0.0
    return Readout(y_hat, E_t, dz, dz @ V, np.einsum("tnk,tnh->kh", dz, hs))


def chunked_backward(cell, xs, dhs, k: int) -> dict[str, np.ndarray]:
    """Parameter gradients of chunked truncated BPTT with chunks of ``k`` steps.

    The sequence xs (T, N, D) is cut into chunks of k steps; each chunk runs ``cell.forward``
    from the previous chunk's final state and ``cell.backward`` with its part of ``dhs``
    (T, N, H). The state crosses a cut, the gradient does not; ``k >= T`` is full BPTT.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an int >= 1 (the chunk length), got {k!r}")
    xs, dhs = np.asarray(xs, dtype=float), np.asarray(dhs, dtype=float)
    if dhs.shape[:2] != xs.shape[:2]:
        raise ValueError(f"dhs must be (T, N, H) with (T, N) = {xs.shape[:2]}, got {dhs.shape}")
    grads = {name: np.zeros_like(p) for name, p in cell.params.items()}
    state = None
    for start in range(0, len(xs), k):
        _, cache = cell.forward(xs[start:start + k], state)
        g, _ = cell.backward(dhs[start:start + k], cache)
        grads = {name: grads[name] + g[name] for name in grads}
        state = cache.state_T  # the state crosses the cut, the gradient does not
    return grads


def gradient_cosine(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray],
                    names: Sequence[str] = ("W", "U", "b")) -> float:
    """cos(a, b) of two gradient dicts, each flattened over ``names`` into one vector."""
    missing = [n for n in names if n not in a or n not in b]
    if missing:
        raise ValueError(f"both gradient dicts need the keys {tuple(names)}; missing {missing}")
    va = np.concatenate([np.ravel(a[n]) for n in names])
    vb = np.concatenate([np.ravel(b[n]) for n in names])
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def loss_term_norms(cell, T: int = 60, *, n_seq: int = 20, seed: int = 3) -> np.ndarray:
    """‖k-th term of ∂E_T/∂U‖ against the distance T - k, averaged over ``n_seq`` sequences.

    The loss is E_T = <v, h_T> with a random unit vector v, inputs x_t ~ N(0, 1). The backward
    sweep runs one ``rnn_step_backward`` at a time from h_T; the ``dU`` that step k returns is
    exactly the k-th term of the sum over k of the BPTT chapter. Entry [d] is the mean norm at
    distance d = T - k, d = 0 .. T-1 (the term k = 1, d = T - 1, is zero: U acts on h_0 = 0).
    The terms add up to ``cell.backward``'s dU (tested).
    """
    from lstm_lib.reference import rnn_step_backward

    if getattr(cell, "kind", None) != "rnn":
        raise ValueError(f"cell must be a reference 'rnn' cell, got {cell!r}")
    rng = np.random.default_rng(seed)
    norms = np.zeros(T)
    for _ in range(n_seq):
        _, cache = cell.forward(rng.standard_normal((T, 1, cell.input_size)))
        v = rng.standard_normal((1, cell.hidden_size))
        dh = v / np.linalg.norm(v)  # dE_T/dh_T
        for t in reversed(range(T)):  # step k = t + 1, at distance T - 1 - t
            _, dh, _, dU, _ = rnn_step_backward(dh, cache.steps[t])
            norms[T - 1 - t] += np.linalg.norm(dU) / n_seq
    return norms
