"""lnn.SLSTM: shapes and names, equality with the reference cell, the stabiliser, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib import reference as ref

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_cell(layer, k=0):
    """The reference "slstm" cell with layer k's weights (b = b_ih + b_hh)."""
    sd = {name: getattr(layer, f"{name}_l{k}") for name in
          ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    H = layer.hidden_size
    return ref.make_cell("slstm", sd["weight_ih"].shape[1], H).load_torch_state_dict(sd)


def test_parameters_are_named_and_shaped_like_torch_lstm():
    layer = lnn.SLSTM(3, 5, num_layers=2)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in
                      torch.nn.LSTM(3, 5, num_layers=2).state_dict().items()}
    assert all(p.abs().max() <= 1 / np.sqrt(5) for p in layer.parameters())
    assert set(dict(lnn.SLSTM(3, 5, bias=False).named_parameters())) == {"weight_ih_l0",
                                                                        "weight_hh_l0"}


@pytest.mark.parametrize(("N", "T", "D", "H"), [(1, 1, 1, 1), (3, 7, 2, 4)])
def test_matches_the_reference_cell_outputs_state_and_gradients(N, T, D, H, rng):
    torch.manual_seed(0)
    layer = lnn.SLSTM(D, H).double()
    cell = reference_cell(layer)
    xs = rng.standard_normal((T, N, D))
    hs_ref, cache = cell.forward(xs)
    x = torch.tensor(xs, requires_grad=True)
    out, state = layer(x)
    np.testing.assert_allclose(out.detach().numpy(), hs_ref, atol=1e-12)
    for a, b in zip(state, cache.state_T, strict=True):
        np.testing.assert_allclose(a[0].detach().numpy(), b, atol=1e-12)
    dhs = rng.standard_normal(hs_ref.shape)
    (out * torch.from_numpy(dhs)).sum().backward()
    grads, dxs = cell.backward(dhs, cache)
    np.testing.assert_allclose(x.grad.numpy(), dxs, atol=1e-12)
    np.testing.assert_allclose(layer.weight_hh_l0.grad.numpy(), grads["U"], atol=1e-12)
    np.testing.assert_allclose(layer.weight_ih_l0.grad.numpy(), grads["W"], atol=1e-12)
    np.testing.assert_allclose(layer.bias_ih_l0.grad.numpy(), grads["b"], atol=1e-12)


def test_stabilised_equals_unstabilised_with_gradients_at_small_preactivations():
    torch.manual_seed(1)
    layer = lnn.SLSTM(3, 4, num_layers=2).double()
    plain = lnn.SLSTM(3, 4, num_layers=2, stabilised=False).double()
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(25, 2, 3, dtype=torch.float64)
    results = []
    for model in (layer, plain):
        out, _ = model(x)
        grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        results.append((out, grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-12)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_at_preactivations_of_1e3(dtype):
    torch.manual_seed(2)
    layer = lnn.SLSTM(2, 3).to(dtype)
    plain = lnn.SLSTM(2, 3, stabilised=False).to(dtype)
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(1e3 * np.sqrt(3))                   # entries up to ±1e3
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(40, 4, 2, dtype=dtype)
    assert not torch.isfinite(plain(x)[0]).all()       # exp(ĩ) overflows without m
    out, (h, c, n, m) = layer(x)
    assert torch.isfinite(out).all() and out.abs().max() <= 1
    assert all(torch.isfinite(s).all() for s in (c, n, m)) and n.min() >= 1 - 1e-6
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_two_layers_feed_the_first_layers_output_to_the_second(rng):
    torch.manual_seed(3)
    layer = lnn.SLSTM(2, 3, num_layers=2).double()
    first, second = lnn.SLSTM(2, 3).double(), lnn.SLSTM(3, 3).double()
    sd = layer.state_dict()
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in sd.items() if "_l0" in k})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if "_l1" in k})
    x = torch.from_numpy(rng.standard_normal((5, 2, 2)))
    out, state = layer(x)
    mid, state0 = first(x)
    torch.testing.assert_close(out, second(mid)[0])
    torch.testing.assert_close(state[1][0], state0[1][0])


def test_hx_batch_first_and_unbatched(rng):
    torch.manual_seed(4)
    layer = lnn.SLSTM(2, 3).double()
    x = torch.from_numpy(rng.standard_normal((8, 2, 2)))
    out, state = layer(x)
    out1, state1 = layer(x[:3])
    out2, state2 = layer(x[3:], state1)                # chunks carry (h, c, n, m)
    torch.testing.assert_close(torch.cat([out1, out2]), out)
    for a, b in zip(state2, state, strict=True):
        torch.testing.assert_close(a, b)
    bf = lnn.SLSTM(2, 3, batch_first=True).double()
    bf.load_state_dict(layer.state_dict())
    torch.testing.assert_close(bf(x.transpose(0, 1))[0], out.transpose(0, 1))
    single, (h, *_rest) = layer(x[:, 0])
    torch.testing.assert_close(single, out[:, 0])
    assert h.shape == (1, 3)


def test_bad_input_raises_like_torch():
    layer = lnn.SLSTM(2, 3)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. "
                                           "Expected 2, got 4"):
        layer(torch.zeros(5, 1, 4))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        layer(torch.zeros(5, 1, 1, 2))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        layer(torch.zeros(5, 1, 2, dtype=torch.float64))
    zeros = torch.zeros(1, 1, 3)
    with pytest.raises(ValueError, match=r"hx must be the tuple \(h_0, c_0, n_0, m_0\)"):
        layer(torch.zeros(5, 1, 2), (zeros, zeros))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[2\] size \(1, 1, 3\), got \[1, 2, "):
        layer(torch.zeros(5, 1, 2), (zeros, zeros, torch.zeros(1, 2, 3), zeros))
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        lnn.SLSTM(2, 0)
    with pytest.raises(TypeError, match="num_layers should be of type int"):
        lnn.SLSTM(2, 3, num_layers=1.5)
