"""The numpy minGRU / minLSTM cells: gradient checks, the equations, and lnn equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref
from lstm_lib.reference.minimal import candidate, candidate_grad

KINDS = ("mingru", "minlstm")


def _state0(rng, N, H):
    return 2 * rng.standard_normal((N, H))  # negative entries included


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (3, 5, 4, 6)])
def test_backward_passes_gradcheck(kind, N, T, D, H, rng):
    cell = ref.make_cell(kind, D, H, rng=rng)
    cell.params = {k: 2 * v for k, v in cell.params.items()}  # both branches of g get used
    xs = rng.standard_normal((T, N, D))
    report = ref.gradcheck_report(cell, xs, _state0(rng, N, H), rng=rng,
                                  dstate_T=rng.standard_normal((N, H)))
    assert set(report.errors) == {"W", "b", "xs", "h0"}
    assert report.worst < 1e-7, str(report)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_catches_a_wrong_backward(kind, rng, monkeypatch):
    """The check is not vacuous: dropping the gate's path from dh_prev is detected."""
    import lstm_lib.reference.minimal as m

    name = f"{kind}_step_backward"
    right = getattr(m, name)

    def wrong(dh, cache):
        dx, dh_prev, dW, db = right(dh, cache)
        return dx, dh, dW, db  # as if h_{t-1} passed through unscaled

    monkeypatch.setattr(m, name, wrong)
    cell = ref.make_cell(kind, 2, 3, rng=rng)
    assert ref.gradcheck(cell, rng.standard_normal((4, 2, 2)), rng=rng) > 1e-2


def test_candidate_is_positive_continuous_and_its_derivative_is_right():
    a = np.linspace(-30, 30, 2001)
    g = candidate(a)
    assert (g > 0).all()
    np.testing.assert_allclose(candidate([-1e-12, 0.0, 1e-12]), 0.5, atol=1e-11)
    np.testing.assert_allclose(g[a >= 0], a[a >= 0] + 0.5)
    np.testing.assert_allclose(g[a < 0], 1 / (1 + np.exp(-a[a < 0])))
    a = a[np.abs(a) > 1e-3]  # away from the kink at 0
    numeric = (candidate(a + 1e-6) - candidate(a - 1e-6)) / 2e-6
    np.testing.assert_allclose(candidate_grad(a), numeric, rtol=1e-6, atol=1e-9)


def test_mingru_step_is_the_equations(rng):
    D, H, N = 3, 4, 5
    W, b = rng.standard_normal((2 * H, D)), rng.standard_normal(2 * H)
    x, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    h, _ = ref.mingru_step_forward(x, h_prev, W, b)
    z = 1 / (1 + np.exp(-(x @ W[:H].T + b[:H])))
    a_h = x @ W[H:].T + b[H:]
    h_tilde = np.where(a_h >= 0, a_h + 0.5, 1 / (1 + np.exp(-a_h)))
    np.testing.assert_allclose(h, (1 - z) * h_prev + z * h_tilde, rtol=1e-14)


def test_minlstm_step_is_the_equations_and_a_convex_mix(rng):
    D, H, N = 3, 4, 5
    W, b = rng.standard_normal((3 * H, D)), rng.standard_normal(3 * H)
    x, h_prev = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    h, cache = ref.minlstm_step_forward(x, h_prev, W, b)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    f, i = sig(x @ W[:H].T + b[:H]), sig(x @ W[H:2 * H].T + b[H:2 * H])
    np.testing.assert_allclose(cache.f_n + cache.i_n, 1.0, rtol=1e-15)
    np.testing.assert_allclose(h, f / (f + i) * h_prev + i / (f + i) * cache.h_tilde, rtol=1e-14)
    lo, hi = np.minimum(h_prev, cache.h_tilde), np.maximum(h_prev, cache.h_tilde)
    assert ((lo - 1e-12 <= h) & (h <= hi + 1e-12)).all()


@pytest.mark.parametrize("kind", KINDS)
def test_cell_has_only_input_weights_and_records_its_gates(kind, rng):
    cell = ref.make_cell(kind, 3, 4, rng=rng)
    g = 2 if kind == "mingru" else 3
    assert {k: v.shape for k, v in cell.params.items()} == {"W": (g * 4, 3), "b": (g * 4,)}
    hs, cache = cell.forward(rng.standard_normal((6, 2, 3)))
    assert hs.shape == (6, 2, 4)
    names = {"z", "h"} if kind == "mingru" else {"f", "i", "f_n", "i_n", "h"}
    assert set(cache.gates) == names
    assert all(v.shape == (6, 2, 4) for v in cache.gates.values())
    assert (cache.gates["h"] > 0).all()  # the positive candidate


@pytest.mark.parametrize("kind, layer", [("mingru", "MinGRU"), ("minlstm", "MinLSTM")])
@pytest.mark.parametrize("scan", ["parallel", "sequential"])
@pytest.mark.parametrize("bias", [True, False])
def test_reference_equals_lnn_layer_outputs_and_gradients(kind, layer, scan, bias, rng):
    torch = pytest.importorskip("torch")
    from lstm_lib import nn as lnn

    T, N, D, H = 7, 3, 4, 5
    torch.manual_seed(0)
    model = getattr(lnn, layer)(D, H, bias=bias, scan=scan).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4)  # large pre-activations: both branches of g, gates near 0 and 1
    cell = ref.make_cell(kind, D, H).load_torch_state_dict(model.state_dict())
    xs, h0 = rng.standard_normal((T, N, D)), _state0(rng, N, H)
    dhs = rng.standard_normal((T, N, H))

    hs, cache = cell.forward(xs, h0)
    grads, dxs, dh0 = cell.backward(dhs, cache, return_dstate0=True)

    x = torch.from_numpy(xs).requires_grad_()
    h0_t = torch.from_numpy(h0).unsqueeze(0).requires_grad_()
    out, h_n = model(x, h0_t)
    (out * torch.from_numpy(dhs)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), hs, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(h_n[0].detach().numpy(), hs[-1], rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), dxs, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(h0_t.grad[0].numpy(), dh0, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(model.weight_ih_l0.grad.numpy(), grads["W"], rtol=1e-9,
                               atol=1e-11)
    if bias:
        np.testing.assert_allclose(model.bias_ih_l0.grad.numpy(), grads["b"], rtol=1e-9,
                                   atol=1e-11)


@pytest.mark.parametrize("kind", KINDS)
def test_load_refuses_a_state_dict_of_another_shape_or_kind(kind, rng):
    cell = ref.make_cell(kind, 3, 4, rng=rng)
    g = 2 if kind == "mingru" else 3
    with pytest.raises(ValueError, match=r"expected keys \['weight_ih_l0', 'bias_ih_l0'\]"):
        cell.load_torch_state_dict({"weight_ih_l0": np.zeros((g * 4, 3)),
                                    "weight_hh_l0": np.zeros((g * 4, 4))})
    with pytest.raises(ValueError, match=rf"must have shape \({g}H, D\): expected "
                                         rf"\({g * 4}, 3\), got \(8, 2\)"):
        cell.load_torch_state_dict({"weight_ih_l0": np.zeros((8, 2))})


@pytest.mark.parametrize("kind", KINDS)
def test_reference_rejects_bad_input(kind, rng):
    cell = ref.make_cell(kind, 3, 4, rng=rng)
    with pytest.raises(ValueError, match=r"xs.shape\[-1\] must equal D = input_size: "
                                         r"expected 3, got 2"):
        cell.forward(np.zeros((2, 1, 2)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\): expected \(1, 4\), "
                                         r"got \(1, 3\)"):
        cell.forward(np.zeros((2, 1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="xs must be finite"):
        cell.forward(np.full((2, 1, 3), np.nan))
    with pytest.raises(ValueError, match=r"params of a '\w+' cell must have exactly the keys "
                                         r"\['W', 'b'\]"):
        cell.params = {**cell.params, "U": np.zeros((4, 4))}
        cell.forward(np.zeros((2, 1, 3)))
