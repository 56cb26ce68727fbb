"""lstm_lib.gradients.cell_state_jacobians and gate_products: the LSTM cell path, (L12)-(L14).

(L12) one step back with h_{t-1} held, ∂c_t/∂c_{t-1} = diag(f_t) exactly; (L14) over many steps
∂c_T/∂c_k = diag(Π f_t) + the paths through h, which vanish when U_i = U_f = U_g = 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import gradients as lgrad
from lstm_lib import reference as ref


@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (2, 6, 3, 4)])
def test_cell_state_jacobians_match_finite_differences(N, T, D, H, rng):
    cell = ref.make_cell("lstm", D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    state0 = (rng.standard_normal((N, H)), rng.standard_normal((N, H)))
    J = lgrad.cell_state_jacobians(cell, xs, state0)
    assert J.shape == (N, T, H, 2 * H)
    hs, cache = cell.forward(xs, state0)
    hs_all = np.concatenate([state0[0][None], hs])  # h_0 .. h_T
    cs_all = np.concatenate([state0[1][None], cache.cs])
    k, eps = T // 2, 1e-6
    for part in (0, 1):  # perturb h_k, then c_k
        for j in range(H):
            e = np.zeros((N, H))
            e[:, j] = eps
            plus = [hs_all[k], cs_all[k]]
            minus = [hs_all[k], cs_all[k]]
            plus[part], minus[part] = plus[part] + e, minus[part] - e
            c_plus = cell.forward(xs[k:], tuple(plus))[1].cs[-1]
            c_minus = cell.forward(xs[k:], tuple(minus))[1].cs[-1]
            np.testing.assert_allclose(J[:, k, :, part * H + j], (c_plus - c_minus) / (2 * eps),
                                       rtol=1e-6, atol=1e-8)


def test_one_step_back_is_diag_f_and_cut_recurrence_gives_the_cell_path(rng):
    T, D, H = 12, 3, 5
    cell = ref.make_cell("lstm", D, H, rng=rng)
    xs = rng.standard_normal((T, D))
    J = lgrad.cell_state_jacobians(cell, xs)  # (T, H, 2H)
    f = cell.forward(xs[:, None])[1].gates["f"][:, 0]  # (T, H)
    np.testing.assert_allclose(J[T - 1, :, H:], np.diag(f[T - 1]), atol=1e-15)  # (L12)
    assert not np.allclose(J[0, :, H:], np.diag(lgrad.gate_products(f)[0]), atol=1e-8)
    cell.params["U"][: 3 * H] = 0.0  # U_i = U_f = U_g = 0: only the cell path is left, (L14)
    J = lgrad.cell_state_jacobians(cell, xs)
    f = cell.forward(xs[:, None])[1].gates["f"][:, 0]
    P = lgrad.gate_products(f)
    for k in range(T):
        np.testing.assert_allclose(J[k, :, H:], np.diag(P[k]), atol=1e-15)


def test_gate_products_and_hidden_jacobians_unchanged(rng):
    g = rng.uniform(0.1, 1.0, size=(4, 2, 3))
    P = lgrad.gate_products(g)
    np.testing.assert_allclose(P[0], g.prod(axis=0))
    np.testing.assert_allclose(P[-1], g[-1])
    np.testing.assert_allclose(P[1], g[1] * g[2] * g[3])
    cell = ref.make_cell("lstm", 2, 3, rng=rng)
    xs = rng.standard_normal((5, 2))
    Jh = lgrad.hidden_jacobians(cell, xs)
    Jc = lgrad.cell_state_jacobians(cell, xs)
    # h_T = o_T tanh(c_T) and o_T does not depend on c_{T-1} with h_{T-1} held, so
    # ∂h_T/∂c_{T-1} = diag(o_T (1 - tanh² c_T)) ∂c_T/∂c_{T-1}
    _, cache = cell.forward(xs[:, None])
    o, c = cache.gates["o"][-1, 0], cache.cs[-1, 0]
    np.testing.assert_allclose(Jh[-1, :, 3:], np.diag(o * (1 - np.tanh(c) ** 2)) @ Jc[-1, :, 3:],
                               atol=1e-15)


def test_bad_input_named():
    with pytest.raises(ValueError, match="cell state"):
        lgrad.cell_state_jacobians(ref.make_cell("rnn", 2, 3), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="cell must be"):
        lgrad.cell_state_jacobians("lstm", np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"gates must be"):
        lgrad.gate_products(np.array([0.5, 1.5]))
