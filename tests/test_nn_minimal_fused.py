"""The fused minGRU / minLSTM loop (``scan="fused"``, lstm_lib.nn.minimal_fused) against the old
formulas: the autograd loop of mingru_step / minlstm_step (``scan="sequential"``) and the
log-space scan (``scan="parallel"``), in float64, outputs and every gradient; torch's gradcheck
of the hand-written backward; the no-grad inference path; and what ``scan="auto"`` picks.
"""

from __future__ import annotations

import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib.nn import minimal
from lstm_lib.nn.minimal_fused import fused_minimal

LAYERS = [lnn.MinGRU, lnn.MinLSTM]
KINDS = {lnn.MinGRU: "mingru", lnn.MinLSTM: "minlstm"}
F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny tensors: one thread is fastest, and the machine's cores are shared."""


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: the worst difference, relative to the scale of b."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def _results(model, x, h0, lengths, weights):
    """Output, h_n and the gradients of x, h0 and every parameter, for one scan mode."""
    model.zero_grad()
    x_ = x.clone().requires_grad_()
    h0_ = None if h0 is None else h0.clone().requires_grad_()
    out, h_n = model(x_, h0_, lengths=lengths)
    ((out * weights[0]).sum() + (h_n * weights[1]).sum()).backward()
    r = {"output": out.detach(), "h_n": h_n.detach(), "x": x_.grad}
    if h0 is not None:
        r["h0"] = h0_.grad
    r.update({name: p.grad.clone() for name, p in model.named_parameters()})
    return r


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("h0_given", [True, False])
@pytest.mark.parametrize("batch_first, bidirectional, num_layers, bias, use_lengths", [
    (False, False, 1, True, False),
    (True, False, 1, False, False),
    (False, True, 2, True, True),
    (True, True, 2, True, True),
])
def test_fused_equals_sequential_and_parallel_float64(cls, h0_given, batch_first, bidirectional,
                                                      num_layers, bias, use_lengths):
    torch.manual_seed(0)
    T, N, D, H = 23, 4, 3, 5
    model = cls(D, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                bidirectional=bidirectional, dtype=F64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(6.0)  # gates from saturated to open, both branches of g, |k| beyond 20
    dirs = 2 if bidirectional else 1
    x = torch.randn((N, T, D) if batch_first else (T, N, D), dtype=F64)
    h0 = 3 * torch.randn(num_layers * dirs, N, H, dtype=F64) if h0_given else None
    lengths = torch.tensor([23, 1, 9, 17]) if use_lengths else None
    out_shape = (N, T, dirs * H) if batch_first else (T, N, dirs * H)
    weights = (torch.randn(out_shape, dtype=F64), torch.randn(num_layers * dirs, N, H,
                                                              dtype=F64))
    runs = {}
    for mode in ("sequential", "parallel", "fused", "auto"):
        model.scan = mode
        runs[mode] = _results(model, x, h0, lengths, weights)
    assert set(runs["fused"]) == set(runs["sequential"])
    for name, expected in runs["sequential"].items():
        assert torch.isfinite(runs["fused"][name]).all(), name
        assert _rel(runs["fused"][name], expected) < 1e-12, name
        assert _rel(runs["fused"][name], runs["parallel"][name]) < 1e-10, name
        assert torch.equal(runs["auto"][name], runs["fused"][name]), name  # auto = fused on cpu


@pytest.mark.parametrize("kind, g", [("mingru", 2), ("minlstm", 3)])
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_fused_backward_passes_gradcheck(kind, g, scale):
    """The hand-written backward (F2)-(F3) against finite differences, in x, W, b and h_0.

    scale 30 puts pre-activations beyond softplus's threshold 20 on both sides (where the
    derivative is the one of F.softplus's formula) and in both branches of g."""
    torch.manual_seed(1)
    T, N, D, H = 6, 2, 3, 2
    x = torch.randn(T, N, D, dtype=F64)
    W = scale * torch.randn(g * H, D, dtype=F64)
    b = scale * torch.randn(g * H, dtype=F64)
    h0 = 2 * torch.randn(N, H, dtype=F64)
    args = tuple(v.requires_grad_() for v in (x, W, b, h0))
    assert torch.autograd.gradcheck(lambda *v: fused_minimal(kind, *v), args)
    # without a bias, and with h_0 the only input that needs a gradient
    assert torch.autograd.gradcheck(lambda x_, W_, h0_: fused_minimal(kind, x_, W_, None, h0_),
                                    (x, W, h0))
    assert torch.autograd.gradcheck(lambda h0_: fused_minimal(kind, x.detach(), W.detach(),
                                                              b.detach(), h0_), (h0,))


def test_fused_minlstm_overflow_guard_passes_gradcheck_and_equals_sequential():
    """Pre-activations below −707 (float64): e^{−k} would overflow, the softplus form is used."""
    torch.manual_seed(2)
    T, N, D, H = 5, 2, 2, 2
    x = torch.randn(T, N, D, dtype=F64)
    W = torch.randn(3 * H, D, dtype=F64)
    b = torch.tensor([-800.0, 3.0, -790.0, -2.0, 1.0, -1.0], dtype=F64)  # blocks f, i, h̃
    h0 = torch.randn(N, H, dtype=F64)
    args = tuple(v.requires_grad_() for v in (x, W, b, h0))
    assert torch.autograd.gradcheck(lambda *v: fused_minimal("minlstm", *v), args)
    model = lnn.MinLSTM(D, H, dtype=F64)
    with torch.no_grad():
        model.weight_ih_l0.copy_(W)
        model.bias_ih_l0.copy_(b)
    weights = (torch.randn(T, N, H, dtype=F64), torch.randn(1, N, H, dtype=F64))
    runs = {}
    for mode in ("sequential", "fused"):
        model.scan = mode
        runs[mode] = _results(model, x.detach(), h0.detach().unsqueeze(0), None, weights)
    for name, expected in runs["sequential"].items():
        assert _rel(runs["fused"][name], expected) < 1e-12, name
    with torch.no_grad():  # the inference loop's guard, in place in the pre-activations
        out, _ = model(x.detach(), h0.detach().unsqueeze(0))
    assert _rel(out, runs["sequential"]["output"]) < 1e-12


@pytest.mark.parametrize("cls", LAYERS)
def test_fused_gradient_at_zero_pre_activation_is_autograds(cls):
    """k = 0 exactly (W = 0, b = 0): g has a kink there; the fused backward gives what autograd
    gives for the formulas of the sequential mode (relu′(0) = 0), not some other one-sided
    derivative."""
    model = cls(2, 3, dtype=F64)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.randn(4, 2, 2, dtype=F64)
    h0 = torch.randn(1, 2, 3, dtype=F64)
    weights = (torch.randn(4, 2, 3, dtype=F64), torch.randn(1, 2, 3, dtype=F64))
    runs = {}
    for mode in ("sequential", "fused"):
        model.scan = mode
        runs[mode] = _results(model, x, h0, None, weights)
    for name, expected in runs["sequential"].items():
        torch.testing.assert_close(runs["fused"][name], expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_inference_path_equals_training_path_and_keeps_nothing(cls, dtype):
    torch.manual_seed(3)
    model = cls(3, 4, num_layers=2, dtype=dtype, scan="fused")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x = torch.randn(9, 5, 3, dtype=dtype)
    x_copy = x.clone()
    h0 = torch.randn(2, 5, 4, dtype=dtype)
    out, h_n = model(x, h0)  # training path: the autograd Function
    assert out.grad_fn is not None
    with torch.no_grad():
        out_ng, h_n_ng = model(x, h0)
    with torch.inference_mode():
        out_im, _ = model(x, h0)
    for other in (out_ng, out_im):
        assert other.grad_fn is None
        torch.testing.assert_close(other, out.detach(), rtol=0, atol=0)
    torch.testing.assert_close(h_n_ng, h_n.detach(), rtol=0, atol=0)
    assert torch.equal(x, x_copy)  # the in-place gate arithmetic touches only scratch memory
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), before[name]), name


@pytest.mark.parametrize("cls", LAYERS)
def test_auto_runs_the_fused_loop_on_cpu_and_the_named_modes_do_not(cls, monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return fused_minimal(*args, **kwargs)

    monkeypatch.setattr(minimal, "fused_minimal", spy)
    model = cls(3, 4)
    x = torch.randn(6, 2, 3)
    assert model.scan == "auto"
    model(x)
    assert calls == [KINDS[cls]]
    for mode in ("parallel", "sequential"):
        model.scan = mode
        model(x)
    assert calls == [KINDS[cls]]  # the chapter's two modes are what they say
    model.scan = "fused"
    model(x)
    assert len(calls) == 2


def test_fused_minimal_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match=r"kind must be one of \('mingru', 'minlstm'\), got "
                                         r"'gru'"):
        fused_minimal("gru", torch.zeros(2, 1, 3), torch.zeros(4, 3), None, torch.zeros(1, 2))


@pytest.mark.parametrize("cls", LAYERS)
def test_a_graph_differentiated_twice_gives_the_same_gradients(cls):
    """The backward must leave its saved tensors as they were (retain_graph, second pass)."""
    torch.manual_seed(4)
    model = cls(3, 4, dtype=F64, scan="fused")
    x = torch.randn(7, 2, 3, dtype=F64, requires_grad=True)
    out, _ = model(x)
    first = torch.autograd.grad(out.square().sum(), [x, *model.parameters()], retain_graph=True)
    second = torch.autograd.grad(out.square().sum(), [x, *model.parameters()])
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("cls", LAYERS)
def test_auto_falls_back_where_the_fused_loop_does_not_apply(cls, monkeypatch):
    """lnn.fast_path(False) and autocast: "parallel", the default before the fused mode; a
    torch.func transform: "sequential", the only mode torch.func can trace."""
    torch.manual_seed(5)
    model = cls(3, 4)
    x = torch.randn(6, 2, 3)
    assert model.resolved_scan(x) == "fused"
    with lnn.fast_path(False):
        assert model.resolved_scan(x) == "parallel"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.resolved_scan(x) == "parallel"
    model.scan = "fused"
    assert model.resolved_scan(x) == "fused"  # a named mode is what it says

    model.scan = "auto"
    params = dict(model.named_parameters())
    grads = torch.func.grad(lambda p: torch.func.functional_call(model, p, (x,))[0].sum())(params)
    model(x)[0].sum().backward()  # the fused loop, by autograd
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", LAYERS)
def test_fused_under_autocast_computes_in_the_parameters_dtype(cls):
    torch.manual_seed(6)
    model = cls(3, 4, scan="fused")
    x = torch.randn(6, 2, 3)
    expected, h_expected = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, h_n = model(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(h_n, h_expected, rtol=0, atol=0)
