"""The BPTT chapters' derivations, checked against lstm_lib.reference's backward passes.

chapters/02_bptt_rnn.md: dE_t/dU as a sum over k of Jacobian products; truncate=k cuts the
gradient of each loss exactly after k steps. chapters/06_bptt_lstm.md: the one-step LSTM Jacobian
blocks, the cell path dc_T/dc_k = diag(prod f_t) (exact when U_i = U_f = U_g = 0), and the GRU's
dh_T/dh_k = diag(prod z_t) when U = 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref
from lstm_lib.reference import sigmoid


def rnn_jacobian_sum(cell, cache, t, dE_dht):
    """dE_t/dU and dE_t/dW as sum_k delta_k^(t) h_{k-1}^T, x_k^T, for N = 1 (eq-bptt-e3, ch. 02)."""
    U = cell.params["U"]
    h = np.concatenate([cache.h0, cache.hs[:, 0]])  # (T+1, H), h[k] = h_k
    x = cache.xs[:, 0]
    dU, dW = np.zeros_like(U), np.zeros_like(cell.params["W"])
    P = np.eye(U.shape[0])  # dh_t/dh_k, built from k = t downwards
    for k in range(t, 0, -1):
        delta = (1 - h[k] ** 2) * (P.T @ dE_dht)
        dU += np.outer(delta, h[k - 1])
        dW += np.outer(delta, x[k - 1])
        P = P @ (np.diag(1 - h[k] ** 2) @ U)  # times dh_k/dh_{k-1}
    return dU, dW


@pytest.mark.parametrize("t", [1, 3, 6])
def test_rnn_gradient_is_the_sum_of_jacobian_products(t, rng):
    T, D, H = 6, 3, 5
    cell = ref.make_cell("rnn", D, H, rng=rng)
    _, cache = cell.forward(rng.standard_normal((T, 1, D)), rng.standard_normal((1, H)))
    dE_dht = rng.standard_normal(H)
    dhs = np.zeros((T, 1, H))
    dhs[t - 1, 0] = dE_dht
    grads, _ = cell.backward(dhs, cache)
    dU, dW = rnn_jacobian_sum(cell, cache, t, dE_dht)
    np.testing.assert_allclose(dU, grads["U"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dW, grads["W"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("k", [1, 3])
def test_truncated_gradient_of_one_loss_stops_after_k_steps(kind, k, rng):
    T, N, D, H, t = 8, 2, 3, 4, 6
    cell = ref.make_cell(kind, D, H, rng=rng)
    _, cache = cell.forward(rng.standard_normal((T, N, D)))
    dhs = np.zeros((T, N, H))
    dhs[t - 1] = rng.standard_normal((N, H))
    _, dxs_trunc = cell.backward(dhs, cache, truncate=k)
    _, dxs_full = cell.backward(dhs, cache)
    reached = np.flatnonzero(np.abs(dxs_trunc).max(axis=(1, 2))) + 1
    assert list(reached) == list(range(t - k + 1, t + 1))
    np.testing.assert_allclose(dxs_trunc[t - k:t], dxs_full[t - k:t], rtol=1e-12, atol=1e-15)


def lstm_cell_jacobians(cell, xs):
    """dc_T/dc_k, k = 0 .. T-1, with h_k held fixed; xs (T, 1, D). Also the forget gates."""
    H = cell.hidden_size
    _, cache = cell.forward(np.repeat(xs, H, axis=1))
    dh, dc = np.zeros((H, H)), np.eye(H)
    J = np.empty((len(xs), H, H))
    for t in reversed(range(len(xs))):
        _, dh, dc, *_ = ref.lstm_step_backward(dh, dc, cache.steps[t])
        J[t] = dc
    return J, cache.gates["f"][:, 0]


def test_lstm_cell_jacobian_matches_finite_differences(rng):
    T, D, H, k, eps = 7, 3, 4, 2, 1e-6
    cell = ref.make_cell("lstm", D, H, rng=rng)
    xs = rng.standard_normal((T, 1, D))
    J, _ = lstm_cell_jacobians(cell, xs)
    hs, cache = cell.forward(xs)
    for j in range(H):
        e = np.zeros((1, H))
        e[0, j] = eps
        plus = cell.forward(xs[k:], (hs[k - 1], cache.cs[k - 1] + e))[1].cs[-1, 0]
        minus = cell.forward(xs[k:], (hs[k - 1], cache.cs[k - 1] - e))[1].cs[-1, 0]
        np.testing.assert_allclose(J[k][:, j], (plus - minus) / (2 * eps), atol=1e-8)


def test_lstm_one_step_jacobian_blocks(rng):
    """dc_t/dc_{t-1} = diag(f_t) and dc_t/dh_{t-1} as in eq. (eq-lstm-jac-c) of chapter 5."""
    N, D, H = 1, 3, 4
    p = ref.make_cell("lstm", D, H, rng=rng).params
    x, h_prev, c_prev = (rng.standard_normal((N, D)), rng.standard_normal((N, H)),
                         rng.standard_normal((N, H)))
    _, _, cache = ref.lstm_step_forward(x, h_prev, c_prev, p["W"], p["U"], p["b"])
    U_i, U_f, U_g, _ = np.split(p["U"], 4)
    i, f, g = cache.i[0], cache.f[0], cache.g[0]
    dc_dh = (np.diag(c_prev[0] * f * (1 - f)) @ U_f + np.diag(g * i * (1 - i)) @ U_i
             + np.diag(i * (1 - g**2)) @ U_g)
    for j in range(H):  # row j of each block: backward from dc_t = e_j, dh_t = 0
        e = np.zeros((N, H))
        e[0, j] = 1.0
        _, dh_prev, dc_prev, *_ = ref.lstm_step_backward(np.zeros((N, H)), e, cache)
        np.testing.assert_allclose(dc_prev[0], np.diag(f)[j], atol=1e-15)
        np.testing.assert_allclose(dh_prev[0], dc_dh[j], rtol=1e-12, atol=1e-15)


def test_lstm_cell_path_is_exact_without_recurrent_inputs_to_the_cell(rng):
    T, D, H = 12, 3, 5
    cell = ref.make_cell("lstm", D, H, rng=rng)
    cell.params["U"][: 3 * H] = 0.0  # U_i = U_f = U_g = 0; U_o stays
    J, f = lstm_cell_jacobians(cell, rng.standard_normal((T, 1, D)))
    for k in range(T):
        np.testing.assert_allclose(J[k], np.diag(np.prod(f[k:], axis=0)), rtol=1e-12, atol=1e-16)
    cell.params["b"][H: 2 * H] = 50.0  # f = 1: the 1997 constant error carousel
    J, f = lstm_cell_jacobians(cell, rng.standard_normal((T, 1, D)))
    assert np.all(f == 1.0) and np.all(J == np.eye(H))


def test_lstm_cell_path_is_not_the_whole_jacobian_in_general(rng):
    T, D, H = 12, 3, 5
    cell = ref.make_cell("lstm", D, H, rng=rng)
    J, f = lstm_cell_jacobians(cell, rng.standard_normal((T, 1, D)))
    np.testing.assert_allclose(J[T - 1], np.diag(f[T - 1]), atol=1e-15)  # one step: diag(f_T)
    assert not np.allclose(J[0], np.diag(np.prod(f, axis=0)), atol=1e-8)


def test_gru_carousel_is_diag_z_when_U_is_zero(rng):
    T, D, H = 10, 3, 4
    cell = ref.make_cell("gru", D, H, rng=rng)
    cell.params["U"][:] = 0.0
    xs = rng.standard_normal((T, 1, D))
    _, cache = cell.forward(np.repeat(xs, H, axis=1))
    dh = np.eye(H)
    z = cache.gates["z"][:, 0]
    for t in reversed(range(T)):  # after step t + 1: dh = dh_T/dh_t
        _, dh, *_ = ref.gru_step_backward(dh, cache.steps[t])
        np.testing.assert_allclose(dh, np.diag(np.prod(z[t:], axis=0)), rtol=1e-12, atol=1e-16)
    # and z_t really is sigma(W_z x_t + b_z) here
    W_z, b_z = np.split(cell.params["W"], 3)[1], np.split(cell.params["b"], 3)[1]
    np.testing.assert_allclose(z, sigmoid(xs[:, 0] @ W_z.T + b_z), rtol=1e-12)
