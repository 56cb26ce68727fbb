"""The fused fast path (lstm_lib.nn.fused): gradcheck, the same results as the generic loop, the
reference BPTT and torch.nn; when it applies; the switch that turns it off."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_nn_layers import MODES, initial_state, make_pair
from test_nn_layers import run as run_layer

from lstm_lib import nn as lnn
from lstm_lib import reference as ref
from lstm_lib.nn import compiled, fused

KINDS = ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG"]
HAS_CELL = {"LSTM", "PeepholeLSTM", "CIFG"}
GATE_BLOCKS = {"RNN": 1, "LSTM": 4, "GRU": 3, "PeepholeLSTM": 4, "CIFG": 3}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _double(*shape, gen, scale=1.0):
    return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()


def _function_inputs(kind, T, N, D, H, *, bias=True, mask=False, relu=False, seed=0,
                     variant=None):
    """(Function, args) for gradcheck of one kind's autograd Function, float64."""
    gen = torch.Generator().manual_seed(seed)
    gH = GATE_BLOCKS[kind] * H
    x, h0 = _double(T, N, D, gen=gen), _double(N, H, gen=gen)
    W, U = _double(gH, D, gen=gen, scale=0.5), _double(gH, H, gen=gen, scale=0.5)
    b_ih = _double(gH, gen=gen) if bias else None
    b_hh = _double(gH, gen=gen) if bias else None
    h_mask = (torch.rand(N, H, generator=gen, dtype=torch.float64) < 0.7) / 0.7 if mask else None
    if kind == "RNN":
        return fused.RNNFunction, (x, h0, W, U, b_ih, b_hh, h_mask, relu)
    if kind == "GRU":
        return fused.GRUFunction, (x, h0, W, U, b_ih, b_hh, h_mask)
    c0 = _double(N, H, gen=gen)
    peep = ((_double(H, gen=gen), _double(H, gen=gen), _double(H, gen=gen))
            if kind == "PeepholeLSTM" else (None, None, None))
    return fused.LSTMFunction, (kind, variant, x, h0, c0, W, U, b_ih, b_hh, *peep, h_mask)


# ---- gradcheck of each autograd Function ------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (4, 3, 2, 5)])
@pytest.mark.parametrize("mask", [False, True])
def test_function_gradcheck(kind, T, N, D, H, mask):
    fn, args = _function_inputs(kind, T, N, D, H, mask=mask)
    assert torch.autograd.gradcheck(fn.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_function_gradcheck_without_bias(kind):
    fn, args = _function_inputs(kind, 3, 2, 3, 4, bias=False, seed=1)
    assert torch.autograd.gradcheck(fn.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", ["LSTM", "PeepholeLSTM"])
@pytest.mark.parametrize("variant", ["NIAF", "NOAF"])
@pytest.mark.parametrize("compiled_loops", [True, False])
def test_function_gradcheck_without_an_activation(kind, variant, compiled_loops):
    """Greff's NIAF and NOAF as flags of the LSTM Function, on the compiled and Python loops."""
    fn, args = _function_inputs(kind, 4, 3, 2, 5, mask=True, seed=3, variant=variant)
    with compiled.use_compiled(compiled_loops):
        assert torch.autograd.gradcheck(fn.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_rnn_function_gradcheck_relu():
    fn, args = _function_inputs("RNN", 4, 3, 2, 5, relu=True, seed=2)
    assert torch.autograd.gradcheck(fn.apply, args, eps=1e-6, atol=1e-8, rtol=1e-6)


# ---- the fast path against the generic loop ---------------------------------------------------
def both_paths(layer, x, hx, seed=None, **kwargs):
    """run() of test_nn_layers with the fast path on, then off (the same dropout draws)."""
    results = []
    for fast in (True, False):
        if seed is not None:
            torch.manual_seed(seed)
        with lnn.fast_path(fast):
            results.append(run_layer(layer, x, hx, **kwargs))
    return results


def assert_same(a, b, tol=1e-10):
    for u, v in zip([*a[0], *a[1]], [*b[0], *b[1]], strict=True):
        torch.testing.assert_close(u, v, atol=tol, rtol=tol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fast_path_equals_generic_loop(kind, num_layers, bidirectional, batch_first, with_hx,
                                       bias):
    torch.manual_seed(0)
    layer = getattr(lnn, kind)(3, 4, num_layers, bias=bias, batch_first=batch_first,
                               bidirectional=bidirectional, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    T, N = 5, 2
    x = torch.randn((N, T, 3) if batch_first else (T, N, 3), generator=gen, dtype=torch.float64,
                    requires_grad=True)
    L = num_layers * (2 if bidirectional else 1)
    hx = None
    if with_hx:
        h = torch.randn(L, N, 4, generator=gen, dtype=torch.float64, requires_grad=True)
        hx = (h, torch.randn(L, N, 4, generator=gen, dtype=torch.float64,
                             requires_grad=True)) if kind in HAS_CELL else h
    fast, generic = both_paths(layer, x, hx)
    assert_same(fast, generic)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_equals_generic_loop_with_all_dropouts(kind):
    """Between-layer, input and recurrent (variational) dropout: the same masks on both paths."""
    layer = getattr(lnn, kind)(3, 4, 2, dropout=0.3, bidirectional=True, input_dropout=0.2,
                               recurrent_dropout=0.4, dtype=torch.float64)
    x = torch.randn(6, 3, 3, dtype=torch.float64, requires_grad=True)
    fast, generic = both_paths(layer, x, None, seed=7)
    assert_same(fast, generic)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_equals_generic_loop_unbatched_and_relu(kind):
    kwargs = {"nonlinearity": "relu"} if kind == "RNN" else {}
    layer = getattr(lnn, kind)(3, 4, 2, dtype=torch.float64, **kwargs)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    fast, generic = both_paths(layer, x, None)
    assert_same(fast, generic)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_float32_close_to_generic(kind):
    layer = getattr(lnn, kind)(5, 16, 2, bidirectional=True)
    x = torch.randn(20, 4, 5, requires_grad=True)
    fast, generic = both_paths(layer, x, None)
    assert_same(fast, generic, tol=1e-4)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_each_path_matches_torch(mode, fast, bidirectional, with_hx):
    """The grid of test_nn_layers, forced onto each path."""
    ours, theirs = make_pair(mode, num_layers=2, bidirectional=bidirectional)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    hx = initial_state(mode, (2 * (2 if bidirectional else 1), 2, 4), gen) if with_hx else None
    with lnn.fast_path(fast):
        res_ours, grads_ours = run_layer(ours, x, hx)
    res_theirs, grads_theirs = run_layer(theirs, x, hx)
    assert_same((res_ours, grads_ours), (res_theirs, grads_theirs), tol=1e-9)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "peephole", "cifg", "gru"])
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (5, 3, 4, 6)])
def test_fast_path_matches_reference_bptt(kind, T, N, D, H, rng):
    """The fused Functions are the book's equations: forward and BPTT equal lstm_lib.reference."""
    name = {"rnn": "RNN", "lstm": "LSTM", "peephole": "PeepholeLSTM", "cifg": "CIFG",
            "gru": "GRU"}[kind]
    layer = getattr(lnn, name)(D, H, dtype=torch.float64)
    cell = ref.make_cell(kind, D, H)
    cell.params.update(lnn.to_reference_params(layer))
    xs, h0, c0 = (rng.standard_normal((T, N, D)), rng.standard_normal((N, H)),
                  rng.standard_normal((N, H)))
    has_c = name in HAS_CELL
    hs_ref, cache = cell.forward(xs, (h0, c0) if has_c else h0)
    x = torch.from_numpy(xs).requires_grad_()
    hx = (tuple(torch.from_numpy(s)[None] for s in (h0, c0)) if has_c
          else torch.from_numpy(h0)[None])
    with lnn.fast_path(True):
        hs, _ = layer(x, hx)
    assert type(hs.grad_fn).__name__.endswith("FunctionBackward")  # the fused node
    np.testing.assert_allclose(hs.detach().numpy(), hs_ref, atol=1e-12)
    dhs = rng.standard_normal((T, N, H))
    grads_ref, dxs_ref = cell.backward(dhs, cache)
    (hs * torch.from_numpy(dhs)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), dxs_ref, atol=1e-10)
    p = dict(layer.named_parameters())
    grads = {"W": p["weight_ih_l0"].grad, "U": p["weight_hh_l0"].grad,
             "b": p["bias_ih_l0"].grad}
    if kind == "peephole":
        grads.update(p_i=p["peephole_i_l0"].grad, p_f=p["peephole_f_l0"].grad,
                     p_o=p["peephole_o_l0"].grad)
    if kind == "gru":
        grads["b_hn"] = p["bias_hh_l0"].grad[2 * H:]
    assert grads.keys() == grads_ref.keys()
    for k, v in grads.items():
        np.testing.assert_allclose(v.numpy(), grads_ref[k], atol=1e-10, err_msg=k)


# ---- when the fast path applies ------------------------------------------------------------
def _uses_fast_path(layer, *args, **kwargs):
    out = layer(*args, **kwargs)[0]
    out = out.data if isinstance(out, torch.nn.utils.rnn.PackedSequence) else out
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__.endswith("FunctionBackward"):
            return True
        stack.extend(n for n, _ in node.next_functions)
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_layers_take_the_fast_path_by_default(kind):
    layer = getattr(lnn, kind)(3, 4, recurrent_dropout=0.2)
    assert lnn.fast_path_enabled()
    assert _uses_fast_path(layer, torch.randn(5, 2, 3))


def test_fast_path_does_not_apply_where_unsupported():
    x = torch.randn(5, 2, 3)
    layer = lnn.LSTM(3, 4)
    assert not _uses_fast_path(layer, x, return_gates=True)
    assert not _uses_fast_path(layer, x, lengths=torch.tensor([5, 3]))
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3]))
    assert not _uses_fast_path(layer, packed)
    assert _uses_fast_path(lnn.LSTM(3, 4, variant="NIAF"), x)  # a flag of the LSTM's loops
    assert _uses_fast_path(lnn.PeepholeLSTM(3, 4, variant="NOAF"), x)
    assert not _uses_fast_path(lnn.PeepholeLSTM(3, 4, variant="NIG"), x)
    assert _uses_fast_path(lnn.PeepholeLSTM(3, 4, variant="FGR"), x)  # flag 16 of the loops
    assert _uses_fast_path(lnn.LSTM(3, 4, variant="FGR"), x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not _uses_fast_path(layer, x)


def test_switch_call_and_context_manager():
    assert lnn.fast_path_enabled()
    with lnn.fast_path(False):
        assert not lnn.fast_path_enabled()
        assert not _uses_fast_path(lnn.GRU(3, 4), torch.randn(5, 2, 3))
        with lnn.fast_path(True):
            assert lnn.fast_path_enabled()
        assert not lnn.fast_path_enabled()
    assert lnn.fast_path_enabled()
    try:
        lnn.fast_path(False)  # a plain call sets it for the process, like set_grad_enabled
        assert not lnn.fast_path_enabled()
    finally:
        lnn.fast_path(True)
    with pytest.raises(TypeError, match="enabled must be a bool, got 0"):
        lnn.fast_path(0)


def test_environment_variable_turns_it_off():
    code = "from lstm_lib import nn as lnn; print(lnn.fast_path_enabled())"
    for value, expected in [("0", "False"), ("1", "True")]:
        env = {**os.environ, "LSTM_LIB_FAST": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_stays_on_the_input_device(kind):
    """On 'meta' any CPU-made tensor in the fused code would fail; so it runs on cuda too."""
    layer = getattr(lnn, kind)(3, 4, num_layers=2, bidirectional=True,
                               recurrent_dropout=0.2).to("meta")
    out, _ = layer(torch.empty(5, 2, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (5, 2, 8)


def test_no_grad_and_inference_mode():
    layer = lnn.LSTM(3, 4)
    x = torch.randn(5, 2, 3)
    expected = layer(x)[0].detach()
    with torch.no_grad():
        torch.testing.assert_close(layer(x)[0], expected)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x)[0], expected)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_on_cuda_equals_generic(kind):
    layer = getattr(lnn, kind)(3, 4, 2, bidirectional=True, recurrent_dropout=0.3,
                               dtype=torch.float64).cuda()
    x = torch.randn(5, 2, 3, dtype=torch.float64, device="cuda", requires_grad=True)
    fast, generic = both_paths(layer, x, None, seed=3)
    assert_same(fast, generic)
