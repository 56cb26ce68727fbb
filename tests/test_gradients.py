"""lstm_lib.gradients: exact Jacobian norms through the recurrence, their torch version, bounds."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib import reference as ref
from lstm_lib.gradients import (
    derivative_bound,
    hidden_jacobian_norms,
    hidden_jacobians,
    lags_of,
    largest_singular_value,
    matrix_norms,
    pascanu_bound,
    plot_rnn_jacobian_norms,
    random_rnn,
    rnn_hidden_jacobian_norms,
    sequence_gradient_norms,
    set_spectral_radius,
    spectral_radius,
)

KINDS = ("rnn", "lstm", "gru", "peephole", "cifg")


def _numerical_jacobian(cell, xs, k, state0=None, eps=1e-6):
    """∂h_T/∂s_k of sequence 0 by central differences: rerun steps k+1 .. T from a nudged s_k."""
    H = cell.hidden_size
    x1 = xs[:, :1]
    if state0 is not None:
        state0 = tuple(s[:1] for s in state0) if cell.has_cell_state else state0[:1]
    hs, cache = cell.forward(x1, state0)
    if k == 0:
        s0 = cache.state0
    else:
        s0 = (hs[k - 1], cache.cs[k - 1]) if cell.has_cell_state else hs[k - 1]
    flat = np.concatenate(s0, axis=1) if cell.has_cell_state else s0.copy()  # (1, S)

    def h_T(s):
        st = (s[:, :H], s[:, H:]) if cell.has_cell_state else s
        return cell.forward(x1[k:], st)[0][-1, 0]

    J = np.zeros((H, flat.shape[1]))
    for j in range(flat.shape[1]):
        e = np.zeros_like(flat)
        e[0, j] = eps
        J[:, j] = (h_T(flat + e) - h_T(flat - e)) / (2 * eps)
    return J


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (5, 3, 2, 4)])
def test_hidden_jacobians_match_finite_differences(kind, T, N, D, H, rng):
    cell = ref.make_cell(kind, D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    J = hidden_jacobians(cell, xs)
    S = 2 * H if cell.has_cell_state else H
    assert J.shape == (N, T, H, S)
    for k in range(T):
        np.testing.assert_allclose(J[0, k], _numerical_jacobian(cell, xs, k), atol=1e-8)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_hidden_jacobians_with_state0(kind, rng):
    T, N, D, H = 4, 2, 3, 3
    cell = ref.make_cell(kind, D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    state0 = (h0, rng.standard_normal((N, H))) if kind == "lstm" else h0
    J = hidden_jacobians(cell, xs, state0)
    for k in (0, 2):
        np.testing.assert_allclose(J[0, k], _numerical_jacobian(cell, xs, k, state0), atol=1e-8)
    # sequence 1 is independent of sequence 0: its Jacobians equal a batch of one
    one = hidden_jacobians(cell, xs[:, 1:], tuple(s[1:] for s in state0)
                           if kind == "lstm" else h0[1:])
    np.testing.assert_allclose(J[1], one[0], rtol=1e-12, atol=1e-14)


def test_single_sequence_and_norm_kinds(rng):
    cell = ref.make_cell("lstm", 2, 3, rng=rng)
    xs = rng.standard_normal((6, 2))
    J = hidden_jacobians(cell, xs)
    assert J.shape == (6, 3, 6)
    spec = hidden_jacobian_norms(cell, xs)
    fro = hidden_jacobian_norms(cell, xs, ord="fro")
    assert spec.shape == fro.shape == (6,)
    np.testing.assert_allclose(spec, [np.linalg.norm(j, 2) for j in J], rtol=1e-12)
    np.testing.assert_allclose(fro, [np.linalg.norm(j) for j in J], rtol=1e-12)
    assert np.all(spec <= fro + 1e-15)
    np.testing.assert_array_equal(lags_of(6), [6, 5, 4, 3, 2, 1])


def test_rnn_product_equals_reference_cell(rng):
    """Eq. (J2) with φ = tanh is exactly the reference RNN cell's Jacobian."""
    T, N, D, H = 7, 3, 2, 5
    cell = ref.make_cell("rnn", D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    p = cell.params
    for ord in ("spectral", "fro"):
        np.testing.assert_allclose(
            rnn_hidden_jacobian_norms(p["U"], p["W"], p["b"], xs, h0=h0, ord=ord),
            hidden_jacobian_norms(cell, xs, h0, ord=ord), rtol=1e-10)


def test_identity_rnn_is_a_matrix_power(rng):
    """Linear RNN: ∂h_T/∂h_k = U^(T-k) exactly."""
    T, H = 8, 4
    U = rng.standard_normal((H, H))
    W, b = rng.standard_normal((H, 1)), rng.standard_normal(H)
    xs = rng.standard_normal((T, 2, 1))
    norms = rnn_hidden_jacobian_norms(U, W, b, xs, nonlinearity="identity")
    expected = [np.linalg.norm(np.linalg.matrix_power(U, T - k), 2) for k in range(T)]
    np.testing.assert_allclose(norms, np.broadcast_to(expected, (2, T)), rtol=1e-10)


def test_tanh_rnn_with_tiny_weights_is_nearly_linear(rng):
    """Near the origin tanh ≈ identity, so the reference cell's Jacobian ≈ U^(T-k)."""
    T, H = 6, 3
    cell = ref.make_cell("rnn", 1, H, rng=rng)
    U = set_spectral_radius(rng.standard_normal((H, H)), 1.2)
    cell.params.update(U=U, W=1e-4 * np.ones((H, 1)), b=np.zeros(H))
    J = hidden_jacobians(cell, rng.standard_normal((T, 1)))
    for k in range(T):
        np.testing.assert_allclose(J[k], np.linalg.matrix_power(U, T - k), atol=1e-6)


def test_relu_rnn_matches_finite_differences(rng):
    T, H = 5, 4
    p = random_rnn(H, 2, 1.3, seed=3)
    b = p["b"] + 0.5  # most units active
    xs = rng.standard_normal((T, 2))

    def h_T(h0):
        h = h0
        for x in xs:
            h = np.maximum(x @ p["W"].T + h @ p["U"].T + b, 0)
        return h

    h0 = rng.standard_normal(H)
    J = np.stack([(h_T(h0 + e) - h_T(h0 - e)) / 2e-6 for e in 1e-6 * np.eye(H)], axis=1)
    got = rnn_hidden_jacobian_norms(p["U"], p["W"], b, xs, nonlinearity="relu",
                                    h0=h0[None], ord="fro")
    assert got[0] == pytest.approx(np.linalg.norm(J), rel=1e-7)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "identity"])
def test_pascanu_bound_holds(nonlinearity, rng):
    p = random_rnn(16, 1, 1.5, seed=1)
    xs = rng.standard_normal((30, 4, 1))
    norms = rnn_hidden_jacobian_norms(p["U"], p["W"], p["b"], xs, nonlinearity=nonlinearity)
    pb = pascanu_bound(p["U"], nonlinearity)
    assert np.all(norms <= pb.bound(lags_of(30)) * (1 + 1e-9))


def test_pascanu_quantities(rng):
    U = rng.standard_normal((6, 6))
    pb = pascanu_bound(U, "sigmoid")
    assert pb.lambda1 == pytest.approx(np.linalg.svd(U, compute_uv=False)[0])
    assert pb.gamma == 0.25 and pb.rate == pytest.approx(0.25 * pb.lambda1)
    assert pb.vanishing_guaranteed == (pb.rate < 1) and pb.exploding_possible == (pb.rate > 1)
    small = pascanu_bound(0.1 * np.eye(3))
    assert small.vanishing_guaranteed and not small.exploding_possible
    np.testing.assert_allclose(small.bound([0, 1, 2]), [1, 0.1, 0.01])
    assert derivative_bound("tanh") == 1.0 and derivative_bound("sigmoid") == 0.25
    assert largest_singular_value(U) >= spectral_radius(U)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        derivative_bound("softplus")


def test_set_spectral_radius(rng):
    U = rng.standard_normal((5, 5))
    before = U.copy()
    V = set_spectral_radius(U, 0.9)
    assert spectral_radius(V) == pytest.approx(0.9)
    np.testing.assert_array_equal(U, before)  # not modified in place
    np.testing.assert_allclose(V / U, np.full_like(U, V[0, 0] / U[0, 0]))  # a pure scaling
    assert np.all(set_spectral_radius(U, 0) == 0)
    with pytest.raises(ValueError, match=r"square matrix \(H, H\), got shape \(2, 3\)"):
        set_spectral_radius(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="rho must be a finite number >= 0"):
        set_spectral_radius(U, -1.0)
    with pytest.raises(ValueError, match="rho must be a finite number >= 0"):
        set_spectral_radius(U, float("nan"))
    with pytest.raises(ValueError, match="nilpotent"):
        set_spectral_radius(np.array([[0.0, 1.0], [0.0, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="finite"):
        set_spectral_radius(np.array([[np.inf]]), 1.0)


def test_random_rnn(rng):
    p = random_rnn(8, 3, 2.5, seed=4)
    assert p["W"].shape == (8, 3) and p["U"].shape == (8, 8) and p["b"].shape == (8,)
    assert spectral_radius(p["U"]) == pytest.approx(2.5)
    q = random_rnn(8, 3, 0.5, seed=4)
    np.testing.assert_allclose(q["U"] * 5, p["U"])  # same seed: the radii differ by a scale


def test_argument_validation(rng):
    cell = ref.make_cell("rnn", 2, 3, rng=rng)
    with pytest.raises(TypeError, match="lstm_lib.reference cell"):
        hidden_jacobians(object(), np.zeros((3, 1, 2)))
    with pytest.raises(ValueError, match=r"xs must be \(T, N, D\) or \(T, D\)"):
        hidden_jacobians(cell, np.zeros((3, 1, 5)))
    with pytest.raises(ValueError, match=r"h0 must be \(N, H\)"):
        hidden_jacobians(cell, np.zeros((3, 2, 2)), np.zeros((1, 3)))
    lstm = ref.make_cell("lstm", 2, 3, rng=rng)
    with pytest.raises(ValueError, match="pair"):
        hidden_jacobians(lstm, np.zeros((3, 1, 2)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="ord must be one of"):
        hidden_jacobian_norms(cell, np.zeros((3, 1, 2)), ord="nuc")
    U = np.eye(3)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn_hidden_jacobian_norms(U, np.ones((3, 1)), np.zeros(3), np.zeros((2, 1)),
                                  nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"W must be \(H, D\) with H = 3"):
        rnn_hidden_jacobian_norms(U, np.ones((2, 1)), np.zeros(3), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"b must be \(H,\)"):
        rnn_hidden_jacobian_norms(U, np.ones((3, 1)), np.zeros(2), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="stack of matrices"):
        matrix_norms(np.ones(3))


# ----------------------------------------------------------------------------- torch layers

def _autograd_input_jacobian_norms(layer, x):
    """‖∂h_T/∂x_k‖_F by torch.autograd.functional.jacobian, one sequence at a time."""
    out = []
    for n in range(x.shape[1]):
        def h_T(xn, n=n):
            return layer(xn[:, None])[0][-1, 0]

        J = torch.autograd.functional.jacobian(h_T, x[:, n].clone())  # (H, T, D)
        out.append(J.pow(2).sum(dim=(0, 2)).sqrt())
    return torch.stack(out).numpy()


@pytest.mark.parametrize("cls", [lnn.RNN, lnn.LSTM, lnn.GRU, torch.nn.RNN, torch.nn.LSTM,
                                 torch.nn.GRU])
def test_sequence_gradient_norms_match_autograd_jacobian(cls):
    torch.manual_seed(0)
    layer = cls(2, 3, num_layers=2).double()
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    got = sequence_gradient_norms(layer, x)
    assert got.shape == (2, 6)
    np.testing.assert_allclose(got, _autograd_input_jacobian_norms(layer, x), rtol=1e-10)


def test_sequence_gradient_norms_lnn_equals_torch_and_reference():
    """The same weights in lnn.LSTM, torch.nn.LSTM and the numpy reference give the same norms."""
    torch.manual_seed(1)
    tl = torch.nn.LSTM(2, 4).double()
    ll = lnn.LSTM(2, 4).double()
    ll.load_state_dict(tl.state_dict())
    x = torch.randn(9, 3, 2, dtype=torch.float64)
    a, b = sequence_gradient_norms(tl, x), sequence_gradient_norms(ll, x)
    np.testing.assert_allclose(a, b, rtol=1e-10)
    # reference: ∂h_T/∂x_k from the dxs of a backward pass seeded with each e_n
    cell = ref.make_cell("lstm", 2, 4)
    cell.load_torch_state_dict({k.replace("_l0", ""): v for k, v in tl.state_dict().items()})
    xs = x.numpy()
    for n in range(3):
        big = np.repeat(xs[:, n:n + 1], 4, axis=1)
        _, cache = cell.forward(big)
        _, dxs = cell.backward(np.zeros((9, 4, 4)), cache, dstate_T=(np.eye(4), np.zeros((4, 4))))
        np.testing.assert_allclose(a[n], np.sqrt((dxs**2).sum(axis=(1, 2))), rtol=1e-10)


def test_sequence_gradient_norms_batch_first_spectral_and_mode():
    torch.manual_seed(2)
    layer = lnn.GRU(3, 5, batch_first=True, dropout=0.0).double()
    layer.train()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    fro = sequence_gradient_norms(layer, x)
    spec = sequence_gradient_norms(layer, x, ord="spectral")
    assert layer.training  # mode restored
    tm = lnn.GRU(3, 5).double()
    tm.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(fro, sequence_gradient_norms(tm, x.transpose(0, 1)), rtol=1e-12)
    assert np.all(spec <= fro * (1 + 1e-12)) and spec.shape == (2, 7)
    # numpy input and float32 layer
    f32 = lnn.RNN(3, 5)
    assert sequence_gradient_norms(f32, np.zeros((4, 1, 3))).shape == (1, 4)
    assert x.grad is None


def test_sequence_gradient_norms_rnn_decays_with_lag():
    torch.manual_seed(0)
    rnn = lnn.RNN(1, 16)
    with torch.no_grad():
        U = rnn.weight_hh_l0.detach().double().numpy()
        rnn.weight_hh_l0.copy_(torch.from_numpy(set_spectral_radius(U, 0.5)))
    norms = sequence_gradient_norms(rnn, torch.randn(40, 2, 1))
    assert np.all(norms[:, 0] < 1e-6 * norms[:, -1])


def test_sequence_gradient_norms_validation():
    with pytest.raises(ValueError, match="unidirectional"):
        sequence_gradient_norms(torch.nn.LSTM(2, 3, bidirectional=True), torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match=r"\(T, N, D\) sequence batch"):
        sequence_gradient_norms(lnn.RNN(2, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        sequence_gradient_norms(lnn.RNN(2, 3, batch_first=True), torch.zeros(0, 4, 2))
    with pytest.raises(ValueError, match="ord must be one of"):
        sequence_gradient_norms(lnn.RNN(2, 3), torch.zeros(4, 1, 2), ord="max")


# ----------------------------------------------------------------------------- the figure

def test_plot_rnn_jacobian_norms():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = plot_rnn_jacobian_norms([0.5, 3.0], "tanh", T=10, H=4, n_seq=2)
    labels = ax.get_legend_handles_labels()[1]
    assert labels[0] == "ρ = 0.5" and labels[2] == "ρ = 3" and len(labels) == 4
    assert ax.get_yscale() == "log"
    y = ax.get_lines()[0].get_ydata()
    assert len(y) == 10 and y[0] < y[-1]  # ρ = 0.5 vanishes: the longest lag is smallest
    ax2 = plot_rnn_jacobian_norms(1.0, "identity", T=5, H=3, bound=False)
    assert len(ax2.get_lines()) == 2  # the curve and the line at 1
    with pytest.raises(ValueError, match="nonlinearity"):
        plot_rnn_jacobian_norms(1.0, "softsign")
    with pytest.raises(ValueError, match="at least one"):
        plot_rnn_jacobian_norms([])
    plt.close("all")


def test_rnn_jacobian_product_is_the_ordered_product_and_matches_backward(rng):
    from lstm_lib import gradients as G

    T, D, H = 6, 2, 4
    cell = ref.make_cell("rnn", D, H, rng=rng)
    xs = rng.standard_normal((T, 1, D))
    hs, cache = cell.forward(xs)
    h = np.concatenate([cache.h0, hs[:, 0]])  # (T+1, H)
    U = cell.params["U"]
    np.testing.assert_array_equal(G.rnn_jacobian_product(U, h, 3, 3), np.eye(H))
    J = np.diag(1 - h[5] ** 2) @ U @ np.diag(1 - h[4] ** 2) @ U @ np.diag(1 - h[3] ** 2) @ U
    np.testing.assert_allclose(G.rnn_jacobian_product(U, h, 5, 2), J, rtol=1e-12)
    # the exact Jacobians of the reference cell's backward: dh_T/dh_k
    exact = G.hidden_jacobians(cell, xs[:, 0])
    for k in range(T):
        np.testing.assert_allclose(G.rnn_jacobian_product(U, h, T, k), exact[k], atol=1e-13)
    with pytest.raises(ValueError, match="0 <= k <= t"):
        G.rnn_jacobian_product(U, h, 2, 3)
    with pytest.raises(ValueError, match=r"hs must be \(T\+1, H\)"):
        G.rnn_jacobian_product(U, h[:, :2], 2, 1)
