"""The inference path (lstm_lib.nn.inference): the same forward as the training path, taken only
when no gradient is needed."""

import itertools

import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib.nn import inference

LAYERS = ([("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {}),
           ("CIFG", {}), ("PeepholeLSTM", {})]
          + [("LSTM", {"variant": v}) for v in lnn.VARIANTS]
          + [("PeepholeLSTM", {"variant": v}) for v in ("NIG", "NOAF", "FGR")])
IDS = [name + "-" + "-".join(f"{v}" for v in kw.values()) for name, kw in LAYERS]
# num_layers, bidirectional, batch_first, bias
OPTIONS = [(1, False, False, True), (2, True, True, True), (2, False, False, False)]


def _states(hidden):
    return hidden if isinstance(hidden, tuple) else (hidden,)


def _random_hx(name, L, N, H, dtype):
    h0 = torch.randn(L, N, H, dtype=dtype)
    if name == "RNN" or name == "GRU":
        return h0
    return h0, torch.randn(L, N, H, dtype=dtype)


@pytest.fixture
def calls(monkeypatch):
    """Counts of the shortcut calls: {"stack": n, "layer": n}."""
    seen = {"stack": 0, "layer": 0}
    run_stack, run_layer = inference.run_stack, inference.run_layer

    def stack(*a, **k):
        seen["stack"] += 1
        return run_stack(*a, **k)

    def layer(*a, **k):
        seen["layer"] += 1
        return run_layer(*a, **k)

    monkeypatch.setattr(inference, "run_stack", stack)
    monkeypatch.setattr(inference, "run_layer", layer)
    return seen


def _make(name, kw, options, dtype, dropout=0.0):
    num_layers, bidirectional, batch_first, bias = options
    torch.manual_seed(0)
    m = getattr(lnn, name)(5, 4, num_layers=num_layers, bias=bias, batch_first=batch_first,
                           bidirectional=bidirectional, dropout=dropout, dtype=dtype, **kw)
    with torch.no_grad():  # larger weights than the init, so that every term matters
        for p in m.parameters():
            p.mul_(2.0)
    return m


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("name, kw", LAYERS, ids=IDS)
def test_inference_equals_training_forward(name, kw, options, dtype, tol, calls):
    m = _make(name, kw, options, dtype).eval()
    num_layers, bidirectional, batch_first, _ = options
    L = num_layers * (2 if bidirectional else 1)
    x = torch.randn(3, 6, 5, dtype=dtype)  # (N, T, D) with batch_first, else (T, N, D)
    N = 3 if batch_first else 6
    for hx in (None, _random_hx(name, L, N, 4, dtype)):
        out_train, hid_train = m(x.requires_grad_(), hx)  # the training path: grad needed
        assert out_train.requires_grad
        assert calls == {"stack": 0, "layer": 0}
        with torch.no_grad():
            out, hid = m(x, hx)
        assert calls["stack"] + calls["layer"] > 0, "the inference path was not taken"
        torch.testing.assert_close(out, out_train.detach(), rtol=tol, atol=tol)
        for a, b in zip(_states(hid), _states(hid_train), strict=True):
            torch.testing.assert_close(a, b.detach(), rtol=tol, atol=tol)
        calls.update(stack=0, layer=0)


@pytest.mark.parametrize("name, kw", LAYERS, ids=IDS)
def test_unbatched_and_inference_mode(name, kw, calls):
    m = _make(name, kw, (2, True, False, True), torch.float64, dropout=0.3).eval()
    x = torch.randn(6, 5, dtype=torch.float64)  # unbatched (T, D)
    with lnn.fast_path(False), torch.no_grad():
        want, want_h = m(x)  # the generic loop, the definition
    assert calls == {"stack": 0, "layer": 0}
    with torch.inference_mode():
        out, hid = m(x)
    assert calls["stack"] + calls["layer"] > 0
    assert out.shape == want.shape == (6, 8)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(_states(hid), _states(want_h), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_frozen_model_takes_the_inference_path_with_grad_mode_on(calls):
    m = _make("LSTM", {}, (1, False, False, True), torch.float64).requires_grad_(False)
    x = torch.randn(4, 2, 5, dtype=torch.float64)
    out, _ = m(x)
    assert calls["stack"] == 1 and not out.requires_grad
    m.weight_hh_l0.requires_grad_(True)
    out, _ = m(x)
    assert calls["stack"] == 1 and out.requires_grad  # a gradient is needed: training path


@pytest.mark.parametrize("name", ["LSTM", "GRU", "CIFG"])
def test_training_mode_with_dropout_keeps_the_layers_own_dropout(name, calls):
    m = _make(name, {}, (2, False, False, True), torch.float64, dropout=0.5).train()
    x = torch.randn(4, 2, 5, dtype=torch.float64)
    torch.manual_seed(1)
    with torch.no_grad():
        out, _ = m(x)
    assert calls["stack"] == 0  # torch's kernel would draw its own masks
    torch.manual_seed(1)
    with torch.no_grad(), lnn.fast_path(False):
        want, _ = m(x)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


def test_recurrent_dropout_mask_in_the_lean_loop(calls):
    m = _make("PeepholeLSTM", {}, (1, True, False, True), torch.float64)
    m.recurrent_dropout = 0.5
    m.train()
    x = torch.randn(5, 3, 5, dtype=torch.float64)
    torch.manual_seed(2)
    with torch.no_grad():
        out, _ = m(x)
    assert calls["layer"] == 2
    torch.manual_seed(2)
    with torch.no_grad(), lnn.fast_path(False):
        want, _ = m(x)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


def test_cifg_on_torchs_kernel_is_the_coupled_gate():
    """σ(-a_f) = 1 - f_t: the negated forget block is (C1)'s input gate, checked against the
    step function itself at saturating pre-activations."""
    m = _make("CIFG", {}, (1, False, False, True), torch.float64).eval()
    with torch.no_grad():
        m.bias_ih_l0[:4] = torch.tensor([30.0, -30.0, 0.0, 5.0])
    x = torch.randn(8, 3, 5, dtype=torch.float64)
    with torch.no_grad():
        out, (h_n, c_n) = m(x)
        h = c = torch.zeros(3, 4, dtype=torch.float64)
        for t in range(8):
            h, c, _ = lnn.functional.cifg_cell(x[t], h, c, m.weight_ih_l0, m.weight_hh_l0,
                                               m.bias_ih_l0, m.bias_hh_l0)
            torch.testing.assert_close(out[t], h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_n[0], c, rtol=1e-12, atol=1e-12)


def test_not_taken_for_lengths_gates_or_fast_path_off(calls):
    m = _make("PeepholeLSTM", {}, (1, False, False, True), torch.float64).eval()
    g = _make("GRU", {}, (1, False, False, True), torch.float64).eval()
    x = torch.randn(4, 2, 5, dtype=torch.float64)
    with torch.no_grad():
        for layer in (m, g):
            layer(x, lengths=torch.tensor([4, 2]))
            layer(x, return_gates=True)
            with lnn.fast_path(False):
                layer(x)
    assert calls == {"stack": 0, "layer": 0}


def test_gradients_unchanged_when_needed():
    """With a gradient needed the layers keep the training path: gradients equal the generic
    loop's (the inference path could not give any)."""
    for name, kw in [("LSTM", {}), ("PeepholeLSTM", {"variant": "NOG"})]:
        m = _make(name, kw, (1, False, False, True), torch.float64)
        x = torch.randn(4, 2, 5, dtype=torch.float64, requires_grad=True)
        (gx,) = torch.autograd.grad(m(x)[0].sum(), x)
        with lnn.fast_path(False):
            (want,) = torch.autograd.grad(m(x)[0].sum(), x)
        torch.testing.assert_close(gx, want, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("name, kw", LAYERS, ids=IDS)
def test_inference_on_cuda_equals_training_forward(name, kw):
    for options in itertools.islice(OPTIONS, 2):
        m = _make(name, kw, options, torch.float32).cuda().eval()
        x = torch.randn(3, 6, 5, device="cuda")
        want = m(x.requires_grad_())[0].detach()
        with torch.no_grad():
            out = m(x)[0]
        torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", ["NIG", "NFG", "NOG"])
@pytest.mark.parametrize("bias", [True, False])
def test_constant_gate_ablations_run_on_torchs_kernel(variant, bias, calls):
    """A gate fixed at 1 is a zero-weight block with bias +inf (σ(+inf) = 1 exactly)."""
    m = _make("LSTM", {"variant": variant}, (2, True, False, bias), torch.float64).eval()
    x = torch.randn(6, 3, 5, dtype=torch.float64)
    with torch.no_grad():
        out, (h_n, c_n) = m(x)
        with lnn.fast_path(False):
            want, (want_h, want_c) = m(x)
    assert calls == {"stack": 1, "layer": 0}
    assert torch.isfinite(out).all()
    for a, b in ((out, want), (h_n, want_h), (c_n, want_c)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert all(torch.isfinite(p).all() for p in m.parameters())  # the layer's own are untouched
