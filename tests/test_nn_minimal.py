"""lnn.MinGRU / lnn.MinLSTM and lstm_lib.nn.scan: the parallel scan and the fused loop equal the
loop.

"Equals" is checked on outputs, final states and every gradient (parameters, input, h_0), for
initial states of any sign, lengths from 1 to 10⁴, float64 (tightly) and float32 (loosely).
The fused mode's own checks (gradcheck, inference path, lengths) are in test_nn_minimal_fused.py.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_lib import nn as lnn
from lstm_lib.nn import scan as S
from lstm_lib.nn.minimal import candidate, log_candidate

LAYERS = [lnn.MinGRU, lnn.MinLSTM]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny tensors: one thread is fastest, and the machine's cores are shared."""


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: the worst difference, relative to the scale of b."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def _run_modes(cls, T, N, D, H, dtype, *, num_layers=1, bidirectional=False, scale=1.0,
               device="cpu", seed=0):
    """Outputs, h_n and all gradients of one model in every scan mode, with a signed h_0."""
    torch.manual_seed(seed)
    model = cls(D, H, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype,
                device=device)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
    dirs = 2 if bidirectional else 1
    x = torch.randn(T, N, D, dtype=dtype, device=device)
    h0 = 3 * torch.randn(num_layers * dirs, N, H, dtype=dtype, device=device)  # any sign
    w_out = torch.randn(T, N, dirs * H, dtype=dtype, device=device)
    w_h = torch.randn(num_layers * dirs, N, H, dtype=dtype, device=device)
    results = {}
    for mode in S_MODES:
        model.scan = mode
        model.zero_grad()
        x_ = x.clone().requires_grad_()
        h0_ = h0.clone().requires_grad_()
        out, h_n = model(x_, h0_)
        ((out * w_out).sum() + (h_n * w_h).sum()).backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        results[mode] = {"output": out.detach(), "h_n": h_n.detach(), "x": x_.grad,
                         "h0": h0_.grad, **grads}
    return results["parallel"], results["sequential"], results["fused"]


S_MODES = ("parallel", "sequential", "fused")  # "auto" is "fused" on a CPU


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("T", [1, 2, 127, 128, 129, 300])
def test_parallel_equals_sequential_float64(cls, T):
    par, seq, fused = _run_modes(cls, T, 3, 4, 5, torch.float64)
    assert set(par) == {"output", "h_n", "x", "h0", "weight_ih_l0", "bias_ih_l0"}
    for name in par:
        assert _rel(par[name], seq[name]) < 1e-12, name
        assert _rel(fused[name], seq[name]) < 1e-12, name
        assert _rel(fused[name], par[name]) < 1e-12, name


@pytest.mark.parametrize("cls", LAYERS)
def test_parallel_equals_sequential_float32(cls):
    par, seq, fused = _run_modes(cls, 300, 3, 4, 5, torch.float32)
    for name in par:
        assert _rel(par[name], seq[name]) < 1e-4, name
        assert _rel(fused[name], seq[name]) < 1e-5, name


@pytest.mark.parametrize("cls", LAYERS)
def test_parallel_equals_sequential_stacked_bidirectional_large_weights(cls):
    """Two layers, both directions, weights ×20: gates saturate, g's both branches are used."""
    par, seq, fused = _run_modes(cls, 40, 2, 3, 4, torch.float64, num_layers=2,
                                 bidirectional=True, scale=20.0)
    assert len(par) == 4 + 2 * 2 * 2
    for name in par:
        assert torch.isfinite(par[name]).all(), name
        assert _rel(par[name], seq[name]) < 1e-10, name
        assert _rel(fused[name], seq[name]) < 1e-12, name  # same formulas, same rounding


@pytest.mark.parametrize("cls, dtype, tol", [(lnn.MinGRU, torch.float64, 1e-12),
                                             (lnn.MinLSTM, torch.float32, 1e-4)])
def test_parallel_equals_sequential_over_ten_thousand_steps(cls, dtype, tol):
    par, seq, fused = _run_modes(cls, 10_000, 2, 2, 3, dtype)
    for name in par:
        assert _rel(par[name], seq[name]) < tol, name
        assert _rel(fused[name], seq[name]) < min(tol, 1e-5), name


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 3e-3)])
def test_both_modes_stay_finite_and_agree_at_huge_pre_activations(cls, dtype, tol):
    """Weights ×1000: σ rounds to exactly 0 or 1, f and i may both be 0. The log-space scan
    loses about chunk · |log a_t| units of roundoff here (|log a_t| ~ 10³; module doc of scan),
    hence float32's looser tolerance."""
    par, seq, fused = _run_modes(cls, 50, 2, 3, 4, dtype, scale=1000.0)
    for name in par:
        assert torch.isfinite(par[name]).all() and torch.isfinite(seq[name]).all(), name
        assert torch.isfinite(fused[name]).all(), name
        assert _rel(par[name], seq[name]) < tol, name
        assert _rel(fused[name], seq[name]) < min(tol, 1e-6), name


@pytest.mark.parametrize("cls", LAYERS)
def test_initial_state_of_any_sign_is_carried_exactly(cls):
    """With W = 0 and b chosen, the state decays by a known factor: h_t = a^t h0 + (1 - a^t) g."""
    model = cls(1, 2, dtype=torch.float64)
    H = 2
    with torch.no_grad():
        model.weight_ih_l0.zero_()
        model.bias_ih_l0.zero_()  # z = 1/2 (GRU); f = i, f' = 1/2 (LSTM); candidate g(0) = 1/2
    h0 = torch.tensor([[[-5.0, 7.0]]], dtype=torch.float64)
    t = torch.arange(1, 31, dtype=torch.float64).view(-1, 1, 1)
    expected = 0.5 ** t * h0 + (1 - 0.5 ** t) * 0.5
    for mode in S_MODES:
        model.scan = mode
        out, h_n = model(torch.zeros(30, 1, 1, dtype=torch.float64), h0)
        torch.testing.assert_close(out, expected.expand(30, 1, H), rtol=1e-14, atol=1e-15)
        torch.testing.assert_close(h_n, expected[-1:], rtol=1e-14, atol=1e-15)


def test_layers_compute_the_issue_equations():
    """One step of each layer, written out from the equations with its own parameters."""
    torch.manual_seed(1)
    D, H, N = 3, 4, 5
    x, h0 = torch.randn(1, N, D, dtype=torch.float64), torch.randn(1, N, H, dtype=torch.float64)
    g = lambda a: torch.where(a >= 0, a + 0.5, torch.sigmoid(a))  # noqa: E731
    gru = lnn.MinGRU(D, H, dtype=torch.float64)
    k = x[0] @ gru.weight_ih_l0.T + gru.bias_ih_l0
    z = torch.sigmoid(k[:, :H])
    torch.testing.assert_close(gru(x, h0)[0][0], (1 - z) * h0[0] + z * g(k[:, H:]))
    lstm = lnn.MinLSTM(D, H, dtype=torch.float64)
    k = x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0
    f, i = torch.sigmoid(k[:, :H]), torch.sigmoid(k[:, H:2 * H])
    expected = f / (f + i) * h0[0] + i / (f + i) * g(k[:, 2 * H:])
    torch.testing.assert_close(lstm(x, h0)[0][0], expected)


def test_candidate_and_its_log():
    a = torch.linspace(-200, 200, 4001, dtype=torch.float64, requires_grad=True)
    g = candidate(a)
    assert (g > 0).all()
    torch.testing.assert_close(log_candidate(a), torch.log(g))
    (grad,) = torch.autograd.grad(log_candidate(a).sum(), a)
    assert torch.isfinite(grad).all()  # the discarded branch sends no NaN
    torch.testing.assert_close(grad, torch.where(a >= 0, 1 / (a + 0.5), torch.sigmoid(-a)))


# ---- the scan module -------------------------------------------------------------------------

@pytest.mark.parametrize("T", [1, 5, 128, 129, 1000])
@pytest.mark.parametrize("chunk", [None, 16, 128])
def test_parallel_scan_handles_signed_b_and_h0(T, chunk):
    torch.manual_seed(T)
    a = torch.rand(T, 3, 2, dtype=torch.float64) * 0.99 + 0.01
    b = torch.randn(T, 3, 2, dtype=torch.float64)
    b[::3] = 0.0  # exact zeros: log 0 must not poison anything
    h0 = torch.randn(3, 2, dtype=torch.float64)
    args = [v.clone().requires_grad_() for v in (a, b, h0)]
    h_par = S.parallel_scan(*args, chunk=chunk)
    g_par = torch.autograd.grad(h_par.sum(), args)
    h_seq = S.sequential_scan(a, b, h0)
    args = [v.clone().requires_grad_() for v in (a, b, h0)]
    g_seq = torch.autograd.grad(S.sequential_scan(*args).sum(), args)
    torch.testing.assert_close(h_par, h_seq, rtol=1e-11, atol=1e-12)
    for gp, gs in zip(g_par, g_seq, strict=True):
        assert torch.isfinite(gp).all()
        torch.testing.assert_close(gp, gs, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("chunk", [None, 3])
def test_scan_backward_passes_torch_gradcheck_with_broadcasting(chunk):
    """The hand-written backward (S4) against finite differences, b and h0 broadcast."""
    torch.manual_seed(0)
    T = 8
    log_a = torch.nn.functional.logsigmoid(torch.randn(T, 2, 3, dtype=torch.float64))
    log_b = torch.randn(T, 1, 3, dtype=torch.float64)  # broadcast over N
    h0 = torch.randn(3, dtype=torch.float64)  # broadcast over N
    args = tuple(v.requires_grad_() for v in (log_a, log_b, h0))
    assert torch.autograd.gradcheck(lambda *v: S.parallel_scan_log(*v, chunk=chunk), args)
    a = torch.rand(T, 2, 3, dtype=torch.float64) + 0.1
    b = torch.randn(T, 2, 3, dtype=torch.float64)
    args = tuple(v.detach().clone().requires_grad_() for v in (a, b, h0))
    assert torch.autograd.gradcheck(lambda *v: S.parallel_scan(*v, chunk=chunk), args)


def test_heinsen_scan_is_the_unchunked_parallel_scan_and_differentiable():
    torch.manual_seed(3)
    log_a = torch.nn.functional.logsigmoid(torch.randn(50, 2, dtype=torch.float64))
    log_b = torch.randn(50, 2, dtype=torch.float64)
    h0 = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    h = S.heinsen_scan(log_a, log_b, h0)
    torch.testing.assert_close(h, S.sequential_scan(log_a.exp(), log_b.exp(), h0))
    (dh0,) = torch.autograd.grad(h[-1].sum(), h0)
    torch.testing.assert_close(dh0, log_a.sum(0).exp())  # dh_T/dh_0 = A_T


def test_sequential_scan_is_the_recurrence():
    a = torch.tensor([[0.5], [2.0], [1.0]])
    b = torch.tensor([[1.0], [-1.0], [3.0]])
    h = S.sequential_scan(a, b, torch.tensor([4.0]))
    assert h.flatten().tolist() == [3.0, 5.0, 8.0]  # 0.5*4+1, 2*3-1, 1*5+3


def test_log_scan_stays_finite_where_the_products_underflow():
    """A* = Π a_t = e^(-5000) underflows, yet every h_t is a fine number, as the loop says."""
    T = 1000
    log_a = torch.full((T, 1), -5.0, dtype=torch.float64)
    log_b = torch.randn(T, 1, dtype=torch.float64)
    h = S.parallel_scan_log(log_a, log_b, torch.tensor([-2.0], dtype=torch.float64),
                            chunk=None)
    expected = S.sequential_scan(log_a.exp(), log_b.exp(), torch.tensor([-2.0],
                                                                          dtype=torch.float64))
    assert torch.isfinite(h).all()
    torch.testing.assert_close(h, expected, rtol=1e-12, atol=0)


def test_chunking_improves_float32_precision():
    torch.manual_seed(0)
    T = 4000
    log_a = torch.nn.functional.logsigmoid(torch.randn(T, 4, 8, dtype=torch.float64))
    log_b = torch.randn(T, 4, 8, dtype=torch.float64)
    truth = S.sequential_scan(log_a.exp(), log_b.exp())
    err = {c: _rel(S.parallel_scan_log(log_a.float(), log_b.float(), chunk=c).double(), truth)
           for c in (None, 128)}
    assert err[128] < err[None] / 3
    assert err[128] < 2e-5


def test_scan_refuses_bad_arguments():
    a, b = torch.rand(4, 2), torch.rand(4, 2)
    a_bad = a.clone()
    a_bad[1, 0] = -1.0
    with pytest.raises(ValueError, match=r"a must be positive .* got min\(a\) = -1"):
        S.parallel_scan(a_bad, b)
    with pytest.raises(ValueError, match="same length T on dim 0: got 4 and 3"):
        S.sequential_scan(a, b[:3])
    with pytest.raises(TypeError, match="b must be a floating-point tensor, got dtype "
                                        "torch.int64"):
        S.parallel_scan(a, torch.ones(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"log_a must have time on dim 0 with T >= 1"):
        S.parallel_scan_log(torch.zeros(0, 2), torch.zeros(0, 2))
    with pytest.raises(ValueError, match="chunk must be None or a positive int, got 0"):
        S.parallel_scan_log(a, b, chunk=0)
    with pytest.raises(TypeError, match="a must be a torch.Tensor, got list"):
        S.sequential_scan([1.0], b)


# ---- interface: lnn.GRU's ---------------------------------------------------------------------

@pytest.mark.parametrize("cls, g", [(lnn.MinGRU, 2), (lnn.MinLSTM, 3)])
def test_parameter_names_and_shapes_as_documented(cls, g):
    model = cls(3, 4, num_layers=2, bidirectional=True)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (g * 4, 3), "bias_ih_l0": (g * 4,),
        "weight_ih_l0_reverse": (g * 4, 3), "bias_ih_l0_reverse": (g * 4,),
        "weight_ih_l1": (g * 4, 8), "bias_ih_l1": (g * 4,),
        "weight_ih_l1_reverse": (g * 4, 8), "bias_ih_l1_reverse": (g * 4,)}
    assert f"({g}*hidden_size, input_size)" in cls.__doc__
    assert {name for name, _ in cls(3, 4, bias=False).named_parameters()} == {"weight_ih_l0"}
    bound = 1 / 4 ** 0.5
    assert all(p.abs().max() <= bound for p in model.parameters())


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("scan", S_MODES)
def test_shapes_batch_first_and_unbatched(cls, scan):
    torch.manual_seed(0)
    model = cls(3, 4, num_layers=2, batch_first=True, scan=scan)
    x = torch.randn(5, 7, 3)  # (N, T, D)
    h0 = torch.randn(2, 5, 4)
    out, h_n = model(x, h0)
    assert out.shape == (5, 7, 4) and h_n.shape == (2, 5, 4)
    torch.testing.assert_close(h_n[-1], out[:, -1])
    out1, h1 = model(x[2], h0[:, 2])  # unbatched: (T, D), h0 (num_layers, H)
    assert out1.shape == (7, 4) and h1.shape == (2, 4)
    torch.testing.assert_close(out1, out[2])
    torch.testing.assert_close(h1, h_n[:, 2])
    out0, _ = model(x)  # hx=None means zeros
    torch.testing.assert_close(out0, model(x, torch.zeros(2, 5, 4))[0])


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("scan", S_MODES)
def test_lengths_and_packed_sequences_equal_separate_runs(cls, scan):
    torch.manual_seed(0)
    model = cls(3, 4, bidirectional=True, scan=scan).double()
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    out, h_n = model(x, h0, lengths=lengths)
    packed_out, packed_h = model(pack_padded_sequence(x, lengths, enforce_sorted=False), h0)
    torch.testing.assert_close(packed_h, h_n)
    for n, L in enumerate(lengths.tolist()):
        o, h = model(x[:L, n:n + 1], h0[:, n:n + 1])
        torch.testing.assert_close(out[:L, n:n + 1], o)
        torch.testing.assert_close(h_n[:, n:n + 1], h)
        assert (out[L:, n] == 0).all()
    assert torch.equal(packed_out.data, pack_padded_sequence(out, lengths,
                                                             enforce_sorted=False).data)


@pytest.mark.parametrize("cls", LAYERS)
def test_zero_batch_gives_empty_outputs(cls):
    model = cls(3, 4)
    out, h_n = model(torch.zeros(5, 0, 3))
    assert out.shape == (5, 0, 4) and h_n.shape == (1, 0, 4)


@pytest.mark.parametrize("cls", LAYERS)
def test_dropout_between_layers_only_in_training(cls):
    torch.manual_seed(0)
    model = cls(3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 3)
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])
    model.train()
    assert not torch.equal(model(x)[0], model(x)[0])


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the test compares whatever is raised
        return type(e), str(e)
    return None


@pytest.mark.parametrize("cls", LAYERS)
@pytest.mark.parametrize("case", [
    "dim4", "input_size", "dtype", "hx_tuple", "hx_dims", "hx_size", "hx_dtype", "empty_time",
    "lengths_range", "lengths_shape", "lengths_unbatched", "packed_hx_tuple"])
def test_bad_input_raises_like_lnn_gru(cls, case):
    """The same exception type and message as lnn.GRU (its mode name replaced)."""
    x, h = torch.zeros(5, 2, 3), torch.zeros(1, 2, 4)
    calls = {
        "dim4": lambda m: m(torch.zeros(5, 2, 3, 1)),
        "input_size": lambda m: m(torch.zeros(5, 2, 7)),
        "dtype": lambda m: m(x.double()),
        "hx_tuple": lambda m: m(x, (h, h)),
        "hx_dims": lambda m: m(x, torch.zeros(2, 4)),
        "hx_size": lambda m: m(x, torch.zeros(1, 3, 4)),
        "hx_dtype": lambda m: m(x, h.double()),
        "empty_time": lambda m: m(torch.zeros(0, 2, 3)),
        "lengths_range": lambda m: m(x, lengths=torch.tensor([6, 1])),
        "lengths_shape": lambda m: m(x, lengths=torch.tensor([5])),
        "lengths_unbatched": lambda m: m(x[:, 0], lengths=torch.tensor([5])),
        "packed_hx_tuple": lambda m: m(pack_padded_sequence(x, torch.tensor([5, 3])), (h,)),
    }
    ours, gru = _error(lambda: calls[case](cls(3, 4))), _error(lambda: calls[case](lnn.GRU(3, 4)))
    assert ours is not None and gru is not None
    name = cls.__name__
    assert ours[0] is gru[0]
    assert ours[1] == gru[1].replace("GRU", name), (ours[1], gru[1])


@pytest.mark.parametrize("cls", LAYERS)
def test_bad_constructor_arguments_raise_like_lnn_gru(cls):
    for args, kwargs in [((0, 4), {}), ((3, 0), {}), ((3, 4), {"num_layers": 0}),
                         ((3.0, 4), {}), ((3, 4), {"bias": 1}), ((3, 4), {"dropout": 2.0}),
                         ((3, 4), {"batch_first": "yes"})]:
        ours = _error(lambda a=args, k=kwargs: cls(*a, **k))
        theirs = _error(lambda a=args, k=kwargs: lnn.GRU(*a, **k))
        assert ours is not None and ours == theirs, (args, kwargs, ours, theirs)
    with pytest.raises(ValueError, match=r"scan must be one of \('parallel', 'sequential', "
                                         r"'fused', 'auto'\), got 'fast'"):
        cls(3, 4, scan="fast")
    model = cls(3, 4)
    assert model.scan == "auto"  # the default
    with pytest.raises(ValueError, match="scan must be one of"):
        model.scan = "loop"
    assert model.scan == "auto"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", LAYERS)
def test_parallel_equals_sequential_on_cuda(cls):
    par, seq, fused = _run_modes(cls, 1000, 4, 3, 8, torch.float64, device="cuda")
    for name in par:
        assert par[name].device.type == "cuda" and fused[name].device.type == "cuda"
        assert _rel(par[name], seq[name]) < 1e-11, name
        assert _rel(fused[name], seq[name]) < 1e-12, name
