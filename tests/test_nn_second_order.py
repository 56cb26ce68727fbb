"""Beyond the first derivative: double backward, batched gradients and torch.func through the
lnn layers, on the fused fast path and on the generic loop, against torch.nn (float64).

The fast path's hand-written backward serves a plain first-order backward; a backward that is
itself differentiated (create_graph=True) or vmapped (is_grads_batched=True) goes through the
generic loop (lstm_lib.nn.fused._backward_by_loop). These tests pin that down: second
derivatives equal torch.nn's, not zero and not refused.
"""

from __future__ import annotations

import pytest
import torch
from test_nn_fused import _uses_fast_path
from torch.func import functional_call

from lstm_lib import nn as lnn

KINDS = ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG"]
TORCH_TWIN = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}
HAS_CELL = {"LSTM", "PeepholeLSTM", "CIFG"}
T, N, D, H = 3, 2, 2, 2


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny float64 problems: one thread is fastest, and the machine is shared."""


@pytest.fixture(params=[True, False], ids=["fast", "loop"])
def path(request):
    """Run the test on the fused fast path (the default) and on the generic loop."""
    with lnn.fast_path(request.param):
        yield request.param


def _layer(kind, **kwargs):
    torch.manual_seed(0)
    return getattr(lnn, kind)(D, H, dtype=torch.float64, **kwargs)


def _pair(kind, **kwargs):
    """An lnn layer and the torch.nn layer with the same weights, float64."""
    torch.manual_seed(0)
    theirs = TORCH_TWIN[kind](D, H, dtype=torch.float64, **kwargs)
    ours = getattr(lnn, kind)(D, H, dtype=torch.float64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _inputs(kind, gen, num_directions=1, num_layers=1, n=N):
    x = torch.randn(T, n, D, generator=gen, dtype=torch.float64, requires_grad=True)
    shape = (num_layers * num_directions, n, H)
    hs = [torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
          for _ in range(2 if kind in HAS_CELL else 1)]
    return x, hs


def _as_function(layer, kind):
    """layer as a function of (x, h0[, c0], *parameters) -> (output, h_n[, c_n])."""
    names = [name for name, _ in layer.named_parameters()]
    k = 2 if kind in HAS_CELL else 1

    def fn(x, *rest):
        hx = tuple(rest[:k]) if k == 2 else rest[0]
        out, hidden = functional_call(layer, dict(zip(names, rest[k:], strict=True)), (x, hx))
        return (out, *hidden) if k == 2 else (out, hidden)

    return fn


# ---- gradgradcheck, every kind, both paths ----------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_gradgradcheck(kind, path):
    layer = _layer(kind)
    x, hs = _inputs(kind, torch.Generator().manual_seed(1))
    assert _uses_fast_path(layer, x) == path
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradgradcheck(_as_function(layer, kind), (x, *hs, *params),
                                        eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_gradgradcheck_stacked_bidirectional_with_dropout_mask(kind, path):
    """Two layers, both directions, recurrent dropout: the mask is drawn once per forward, so
    the check fixes the seed inside the function."""
    layer = _layer(kind, num_layers=2, bidirectional=True, recurrent_dropout=0.3)
    x, hs = _inputs(kind, torch.Generator().manual_seed(2), num_directions=2, num_layers=2, n=1)
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    fn = _as_function(layer, kind)

    def seeded(*args):
        torch.manual_seed(3)
        return fn(*args)

    assert torch.autograd.gradgradcheck(seeded, (x, *hs, *params), eps=1e-6, atol=1e-6,
                                        rtol=1e-5)


@pytest.mark.parametrize("relu", [False, True])
def test_gradgradcheck_rnn_relu_without_bias(relu, path):
    layer = _layer("RNN", bias=False, nonlinearity="relu" if relu else "tanh")
    x, hs = _inputs("RNN", torch.Generator().manual_seed(4))
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradgradcheck(_as_function(layer, "RNN"), (x, *hs, *params),
                                        eps=1e-6, atol=1e-6, rtol=1e-5)


def test_hx_passed_twice_counts_once(path):
    """hx = (h, h): the recomputation must not give h both slots' gradient twice."""
    layer = _layer("LSTM")
    x, (h,) = _inputs("RNN", torch.Generator().manual_seed(5))
    fn = _as_function(layer, "LSTM")
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradgradcheck(lambda x, h, *p: fn(x, h, h, *p), (x, h, *params),
                                        eps=1e-6, atol=1e-6, rtol=1e-5)


# ---- a gradient penalty trains on torch.nn's gradient -----------------------------------------
def _penalty_grads(layer, x, hx):
    """WGAN-GP style: the weight gradient of ||dL/dx||², L = sum(output²)."""
    out, _ = layer(x, hx)
    (dx,) = torch.autograd.grad(out.pow(2).sum(), x, create_graph=True)
    penalty = dx.pow(2).sum()
    return torch.autograd.grad(penalty, [x, *layer.parameters()])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_gradient_penalty_matches_torch(kind, num_layers, bidirectional, path):
    ours, theirs = _pair(kind, num_layers=num_layers, bidirectional=bidirectional)
    x, hs = _inputs(kind, torch.Generator().manual_seed(6), 1 + bidirectional, num_layers)
    hx = tuple(hs) if kind in HAS_CELL else hs[0]
    expected = _penalty_grads(theirs, x, hx)
    got = _penalty_grads(ours, x, hx)
    assert max(g.norm() for g in expected[1:]) > 1e-3  # a real signal, not two zeros
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", ["PeepholeLSTM", "CIFG"])
def test_gradient_penalty_fast_equals_loop(kind):
    layer = _layer(kind)
    x, hs = _inputs(kind, torch.Generator().manual_seed(7))
    fast = _penalty_grads(layer, x, tuple(hs))
    with lnn.fast_path(False):
        slow = _penalty_grads(layer, x, tuple(hs))
    assert max(g.norm() for g in slow[1:]) > 1e-3
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_hessian_vector_product_matches_torch(kind, path):
    ours, theirs = _pair(kind)
    x, hs = _inputs(kind, torch.Generator().manual_seed(8))
    hx = tuple(hs) if kind in HAS_CELL else hs[0]
    gen = torch.Generator().manual_seed(9)
    vs = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in ours.parameters()]

    def hvp(layer):
        params = list(layer.parameters())
        loss = layer(x, hx)[0].tanh().sum()
        grads = torch.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, vs, strict=True))
        return torch.autograd.grad(dot, params)

    for a, b in zip(hvp(ours), hvp(theirs), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


def test_plain_backward_keeps_the_hand_written_bptt(monkeypatch):
    """Ordinary training must not pay for the recomputation."""
    from lstm_lib.nn import fused

    def refuse(*args, **kwargs):
        raise AssertionError("a first-order backward went through the generic loop")

    monkeypatch.setattr(fused, "_backward_by_loop", refuse)
    for kind in KINDS:
        layer = _layer(kind)
        layer(torch.randn(T, N, D, dtype=torch.float64))[0].sum().backward()


# ---- batched gradients and torch.func ---------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_with_batched_grad(kind, path):
    layer = _layer(kind)
    x, hs = _inputs(kind, torch.Generator().manual_seed(10))
    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(_as_function(layer, kind), (x, *hs, *params), eps=1e-6,
                                    atol=1e-8, rtol=1e-6, check_batched_grad=True)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_is_grads_batched_matches_torch(kind, path):
    ours, theirs = _pair(kind)
    x, hs = _inputs(kind, torch.Generator().manual_seed(11))
    hx = tuple(hs) if kind in HAS_CELL else hs[0]
    vs = torch.randn(5, T, N, H, generator=torch.Generator().manual_seed(12),
                     dtype=torch.float64)

    def batched(layer):
        out = layer(x, hx)[0]
        return torch.autograd.grad(out, [x, *hs, *layer.parameters()], vs,
                                   is_grads_batched=True)

    for a, b in zip(batched(ours), batched(theirs), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_torch_func_grad_and_jacrev_match_torch(kind, path):
    ours, theirs = _pair(kind)
    x = torch.randn(T, N, D, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    for fn in (torch.func.grad(lambda x, m: m(x)[0].pow(2).sum()),
               torch.func.jacrev(lambda x, m: m(x)[0])):
        torch.testing.assert_close(fn(x, ours), fn(x, theirs), atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_vmap_over_the_forward(kind, path):
    """torch.nn's CPU kernels have no batching rule (aten::lstm.input); lnn's loop does, so
    vmap over sequences gives what a Python loop over them gives."""
    layer = _layer(kind)
    xs = torch.randn(4, T, N, D, generator=torch.Generator().manual_seed(14),
                     dtype=torch.float64)
    got = torch.func.vmap(lambda x: layer(x)[0])(xs)
    torch.testing.assert_close(got, torch.stack([layer(x)[0] for x in xs]))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_forward_mode_ad_matches_torch(kind, path):
    """Forward-mode AD (its first use loads torch's jit decompositions, hence the filter)."""
    import torch.autograd.forward_ad as fwAD

    ours, theirs = _pair(kind)
    gen = torch.Generator().manual_seed(15)
    x, v = (torch.randn(T, N, D, generator=gen, dtype=torch.float64) for _ in range(2))

    def jvp(layer):
        with fwAD.dual_level():
            return fwAD.unpack_dual(layer(fwAD.make_dual(x, v))[0]).tangent

    torch.testing.assert_close(jvp(ours), jvp(theirs), atol=1e-10, rtol=1e-8)
