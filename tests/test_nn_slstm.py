"""lnn.SLSTM: shapes and names, equality with the reference cell, the stabiliser, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib import reference as ref
from lstm_lib.nn import compiled, slstm_fused
from lstm_lib.nn.slstm_fused import SLSTMFunction

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


# ---- the fused path (lstm_lib.nn.slstm_fused) against the generic per-step loop ----------------
@pytest.fixture(params=["compiled", "python"])
def loops(request):
    """The fused path's time loops in C++ (_slstm_steps.cpp; skipped where it cannot be built)
    or in Python (torch ops)."""
    if request.param == "compiled":
        if not slstm_fused.compiled_available(torch.zeros(1)):
            pytest.skip(f"the compiled sLSTM loops are not available: {slstm_fused._error}")
        yield "compiled"
    else:
        with compiled.use_compiled(False):
            yield "python"


def _fused(t: torch.Tensor) -> bool:
    """Whether ``t``'s autograd graph holds the fused sLSTM node (SLSTMFunction)."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if "SLSTMFunction" in fn.name():
            return True
        todo.extend(f for f, _ in fn.next_functions)
    return False


def _outputs_and_grads(layer, x, hx, weights, *, fast: bool):
    """Outputs, final states and the gradients of a weighted sum of all of them with respect to
    the input, the initial state and every parameter, with the fast path on or off."""
    with lnn.fast_path(fast):
        out, state = layer(x, hx)
        loss = (out * weights[0]).sum() + sum((s * w).sum()
                                              for s, w in zip(state, weights[1:], strict=True))
        wrt = [x, *(hx or ()), *layer.parameters()]
        return [out, *state, *torch.autograd.grad(loss, wrt)], _fused(out)


def _initial_state(kind, L, N, H, gen):
    """(h_0, c̄_0, n̄_0, m_0): n̄_0 positive, zero (empty memory), half zero, or with negatives."""
    h, c, m = (torch.randn(L, N, H, dtype=torch.float64, generator=gen) for _ in range(3))
    n = torch.rand(L, N, H, dtype=torch.float64, generator=gen) * 3 + 0.1
    if kind == "zero":
        n = torch.zeros_like(n)
    elif kind == "half_zero":
        n[torch.rand(n.shape, generator=gen) < 0.5] = 0.0
    elif kind == "negative":
        n = n - 1.5
    return tuple(s.requires_grad_() for s in (h, c, n, m))


@pytest.mark.parametrize("state_grads", [False, True])
@pytest.mark.parametrize("hx_kind", [None, "positive", "zero", "half_zero", "negative"])
@pytest.mark.parametrize(("num_layers", "bias"), [(1, True), (2, True), (2, False)])
def test_fused_path_equals_the_generic_loop_outputs_and_all_gradients(num_layers, bias, hx_kind,
                                                                     state_grads, loops):
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(5)
    T, N, D, H = 9, 4, 3, 5
    layer = lnn.SLSTM(D, H, num_layers=num_layers, bias=bias).double()
    x = torch.randn(T, N, D, dtype=torch.float64, generator=gen).requires_grad_()
    hx = None if hx_kind is None else _initial_state(hx_kind, num_layers, N, H, gen)
    # a loss on the final c̄, n̄, m too makes the stabiliser's gradient dm_t non-zero
    weights = [torch.randn(T, N, H, dtype=torch.float64, generator=gen)] + [
        torch.randn(num_layers, N, H, dtype=torch.float64, generator=gen) * state_grads
        for _ in range(4)]
    fast, used = _outputs_and_grads(layer, x, hx, weights, fast=True)
    slow, used_slow = _outputs_and_grads(layer, x, hx, weights, fast=False)
    assert used and not used_slow
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_fused_path_batch_first_and_unbatched_equal_the_generic_loop(rng, loops):
    torch.manual_seed(6)
    layer = lnn.SLSTM(2, 3, num_layers=2, batch_first=True).double()
    for x in (torch.from_numpy(rng.standard_normal((4, 6, 2))),  # (N, T, D)
              torch.from_numpy(rng.standard_normal((6, 2)))):    # unbatched (T, D)
        x.requires_grad_()
        weights = [torch.randn(x.shape[:-1] + (3,), dtype=torch.float64)] + [
            torch.randn((2, 4, 3) if x.dim() == 3 else (2, 3), dtype=torch.float64)
            for _ in range(4)]
        fast, used = _outputs_and_grads(layer, x, None, weights, fast=True)
        slow, _ = _outputs_and_grads(layer, x, None, weights, fast=False)
        assert used
        for a, b in zip(fast, slow, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hx_kind", [None, "positive", "half_zero", "negative"])
def test_no_grad_path_equals_the_generic_loop_and_keeps_no_graph(hx_kind, loops):
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    layer = lnn.SLSTM(3, 4, num_layers=2).double()
    x = torch.randn(8, 5, 3, dtype=torch.float64, generator=gen)
    hx = None if hx_kind is None else tuple(s.detach() for s in
                                            _initial_state(hx_kind, 2, 5, 4, gen))
    with torch.no_grad():
        out, state = layer(x, hx)
        with lnn.fast_path(False):
            out_ref, state_ref = layer(x, hx)
    assert out.grad_fn is None
    for a, b in zip((out, *state), (out_ref, *state_ref), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # no gradient needed without no_grad either: nothing requires grad
    layer.requires_grad_(False)
    torch.testing.assert_close(layer(x, hx)[0], out_ref, rtol=0, atol=1e-12)


def test_fused_path_gradcheck_and_gradgradcheck(loops):
    torch.manual_seed(8)
    layer = lnn.SLSTM(2, 3).double()
    W, U, b_ih, b_hh = layer._layer(0)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    h0, c0, m0 = (torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    n0 = (torch.rand(2, 3, dtype=torch.float64) + 0.5).requires_grad_()
    fn = SLSTMFunction.apply
    inputs = (x, h0, c0, n0, m0, W, U, b_ih, b_hh)
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("state_grads", [False, True])
def test_fused_path_at_preactivations_of_1e3_equals_the_generic_loop(state_grads, loops):
    torch.manual_seed(9)
    layer = lnn.SLSTM(2, 3).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(1e3 * np.sqrt(3))                   # ĩ up to ~1e4: exp(ĩ) overflows
    x = torch.randn(30, 4, 2, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(30, 4, 3, dtype=torch.float64)] + [
        torch.randn(1, 4, 3, dtype=torch.float64) * state_grads for _ in range(4)]
    fast, used = _outputs_and_grads(layer, x, None, weights, fast=True)
    slow, _ = _outputs_and_grads(layer, x, None, weights, fast=False)
    assert used and all(torch.isfinite(a).all() for a in fast)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_empty_memory_at_the_zero_state_takes_no_gradient_from_c0_n0_m0(loops):
    torch.manual_seed(10)
    layer = lnn.SLSTM(2, 3).double()
    zeros = [torch.zeros(1, 2, 3, dtype=torch.float64, requires_grad=True) for _ in range(4)]
    zeros[1].data.fill_(5.0)                           # c̄_0 ignored where n̄_0 = 0
    zeros[3].data.fill_(40.0)                          # m_0 ignored too
    out, _ = layer(torch.randn(3, 2, 2, dtype=torch.float64), tuple(zeros))
    assert _fused(out)
    out.square().sum().backward()
    assert zeros[0].grad.abs().max() > 0               # h_0 still reaches U h_0
    for s in zeros[1:]:
        assert torch.equal(s.grad, torch.zeros_like(s))


def test_fused_path_falls_back_where_it_does_not_apply():
    torch.manual_seed(11)
    x = torch.randn(3, 2, 2, dtype=torch.float64)
    plain = lnn.SLSTM(2, 3, stabilised=False).double()
    assert not _fused(plain(x)[0])                     # (S3)-(S5) as written
    layer = lnn.SLSTM(2, 3).double()
    assert _fused(layer(x)[0])
    with lnn.fast_path(False):
        assert not _fused(layer(x)[0])
    out, (h, c, n, m) = layer(torch.zeros(3, 0, 2, dtype=torch.float64))  # empty batch
    assert out.shape == (3, 0, 3) and h.shape == (1, 0, 3)


def test_fused_path_in_float32_agrees_with_the_generic_loop(loops):
    torch.manual_seed(12)
    layer = lnn.SLSTM(3, 6, num_layers=2)
    x = torch.randn(20, 5, 3, requires_grad=True)
    weights = [torch.randn(20, 5, 6)] + [torch.randn(2, 5, 6) for _ in range(4)]
    fast, used = _outputs_and_grads(layer, x, None, weights, fast=True)
    slow, _ = _outputs_and_grads(layer, x, None, weights, fast=False)
    assert used
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_fused_path_batched_gradients_go_through_the_generic_loop():
    torch.manual_seed(13)
    layer = lnn.SLSTM(2, 3).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    out, _ = layer(x)
    assert _fused(out)
    basis = torch.eye(out.numel(), dtype=torch.float64).view(-1, *out.shape)[:5]
    (batched,) = torch.autograd.grad(out, x, basis, is_grads_batched=True, retain_graph=True)
    for k in range(5):
        (one,) = torch.autograd.grad(out, x, basis[k], retain_graph=True)
        torch.testing.assert_close(batched[k], one, rtol=0, atol=1e-12)


def test_without_the_compiled_loops_a_warning_and_the_python_loops(tmp_path, monkeypatch):
    bad = tmp_path / "_slstm_steps.cpp"
    bad.write_text("this is not C++\n")
    monkeypatch.setattr(slstm_fused, "_SOURCE", bad)
    monkeypatch.setattr(slstm_fused, "_loaded", None)
    monkeypatch.setattr(slstm_fused, "_error", None)
    monkeypatch.setattr(compiled, "_enabled", True)
    with pytest.warns(RuntimeWarning, match="compiled sLSTM loops .* could not be built"):
        assert not slstm_fused.compiled_available(torch.zeros(1))
    assert slstm_fused._error
    torch.manual_seed(14)
    layer = lnn.SLSTM(2, 3).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    out, _ = layer(x)                                  # the Python loops serve
    with lnn.fast_path(False):
        torch.testing.assert_close(out, layer(x)[0], rtol=0, atol=1e-12)


def test_fused_path_on_the_meta_device_gives_shapes():
    layer = lnn.SLSTM(2, 3, num_layers=2, device="meta")
    x = torch.empty(5, 4, 2, device="meta", requires_grad=True)
    out, (h, c, n, m) = layer(x)
    assert _fused(out) and out.shape == (5, 4, 3) and m.shape == (2, 4, 3)
    out.sum().backward()
    assert x.grad.shape == x.shape and layer.weight_hh_l1.grad.shape == (12, 3)
    with torch.no_grad():
        assert layer(x)[0].shape == (5, 4, 3)
