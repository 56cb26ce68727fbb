"""The compiled LSTM loops (lstm_lib/nn/_steps.cpp via lstm_lib.nn.compiled) against the Python
loops of lstm_lib.nn.fused and the generic per-step loop: same outputs and gradients for every
cell family and flag, the fallback when the kernel cannot be built, and that the layers really
take the compiled loops."""

import shutil

import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib.nn import compiled, fused

needs_compiler = pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                                    reason="no C++ compiler: the layers use the Python loops")

# (layer class, variant): every combination the loops have a flag for
CASES = [("LSTM", None), ("CIFG", None), ("PeepholeLSTM", None), ("LSTM", "NIAF"),
         ("LSTM", "NOAF"), ("PeepholeLSTM", "NIAF"), ("PeepholeLSTM", "NOAF"), ("LSTM", "NIG"),
         ("LSTM", "NFG"), ("LSTM", "NOG"), ("LSTM", "FGR"), ("PeepholeLSTM", "FGR")]


def _layer(name, variant, **kw):
    kwargs = {} if variant is None else {"variant": variant}
    return getattr(lnn, name)(3, 5, **kwargs, **kw)


def _run(m, x, hx, seed=0):
    """Outputs and the gradients of every input and parameter (a fixed seed, so that dropout
    masks are the same in every run)."""
    torch.manual_seed(seed)
    out, (h_n, c_n) = m(x, hx)
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    loss = (out * w).sum() + h_n.square().sum() + c_n.sin().sum()
    inputs = [x, *hx, *m.parameters()]
    return [out, h_n, c_n, *torch.autograd.grad(loss, inputs)]


def _calls(monkeypatch):
    """Count the calls of the compiled loops."""
    seen = {"forward": 0, "backward": 0}
    fwd, bwd = compiled.lstm_forward, compiled.lstm_backward

    def forward(*a):
        seen["forward"] += 1
        return fwd(*a)

    def backward(*a):
        seen["backward"] += 1
        return bwd(*a)
    monkeypatch.setattr(compiled, "lstm_forward", forward)
    monkeypatch.setattr(compiled, "lstm_backward", backward)
    return seen


@needs_compiler
def test_the_kernel_builds_here():
    assert compiled.available(), compiled.error()
    assert compiled.available(torch.device("cpu"))
    assert not compiled.available(torch.device("meta"))  # CPU only


@needs_compiler
@pytest.mark.parametrize("name, variant", CASES)
@pytest.mark.parametrize("layout", ["plain", "deep"])
def test_compiled_equals_python_loops_and_generic_loop(name, variant, layout, monkeypatch):
    """float64: the compiled loops, the Python loops and the generic autograd loop agree to
    rounding, outputs and every gradient; 'deep' adds two layers, both directions, batch_first,
    recurrent dropout (a mask inside the loops) and a non-contiguous initial state."""
    torch.manual_seed(0)
    deep = layout == "deep"
    kw = dict(num_layers=2, bidirectional=True, batch_first=True, recurrent_dropout=0.3) \
        if deep else {}
    m = _layer(name, variant, dtype=torch.float64, **kw)
    L = 4 if deep else 1
    x = torch.randn(*((4, 6) if deep else (6, 4)), 3, dtype=torch.float64, requires_grad=True)
    hx = tuple(torch.randn(4, L, 5, dtype=torch.float64).transpose(0, 1).requires_grad_()
               for _ in range(2))  # (L, 4, 5) views of (4, L, 5): not contiguous
    seen = _calls(monkeypatch)
    got = _run(m, x, hx)
    assert seen == {"forward": L, "backward": L}, "the compiled loops were not taken"
    with compiled.use_compiled(False):
        python = _run(m, x, hx)
    assert seen == {"forward": L, "backward": L}
    with lnn.fast_path(False):
        generic = _run(m, x, hx)
    for k, (a, b, c) in enumerate(zip(got, python, generic, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=f"result {k} vs python")
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12, msg=f"result {k} vs generic")


@needs_compiler
@pytest.mark.parametrize("name, variant", [("LSTM", None), ("PeepholeLSTM", "NOAF"),
                                           ("CIFG", None), ("PeepholeLSTM", "FGR")])
def test_compiled_float32_matches_python_loops(name, variant):
    torch.manual_seed(1)
    m = _layer(name, variant)
    x = torch.randn(20, 8, 3, requires_grad=True)
    hx = tuple(torch.randn(1, 8, 5, requires_grad=True) for _ in range(2))
    got = _run(m, x, hx)
    with compiled.use_compiled(False):
        want = _run(m, x, hx)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@needs_compiler
@pytest.mark.parametrize("flags", [0, 1, 2, 4, 8, 6, 10, 16, 18])
def test_other_dtypes_take_the_aten_calls_bit_for_bit(flags):
    """bfloat16 (and a non-contiguous G) run the Python loops' ATen calls from C++: the same
    bits as the Python loops."""
    torch.manual_seed(2)
    T, N, H = 5, 3, 4
    gH = (3 if flags & 1 else 4) * H
    for dtype, contiguous in ((torch.bfloat16, True), (torch.float64, False)):
        G = torch.randn(T, N, gH, dtype=dtype)

        def copy(G, contiguous=contiguous):
            if contiguous:
                return G.clone()
            return torch.empty(T, N, 2 * gH, dtype=G.dtype)[..., ::2].copy_(G)
        h0, c0 = torch.randn(N, H, dtype=dtype), torch.randn(N, H, dtype=dtype)
        U = torch.randn(gH, H, dtype=dtype) * 0.3
        p_i, p_f, p_o = (torch.randn(H, dtype=dtype) if flags & 2 else None for _ in range(3))
        p_if = torch.stack([p_i, p_f]) if flags & 2 else None
        mask = (torch.rand(N, H) > 0.3).to(dtype)
        fgr = bool(flags & 16)
        R = torch.randn(3 * H, 3 * H, dtype=dtype) * 0.3 if fgr else None
        q0 = torch.rand(N, 3 * H, dtype=dtype) if fgr else None
        outs = []
        for loop in (compiled.lstm_forward, fused._lstm_forward_loop):
            Gk = copy(G)
            assert Gk.is_contiguous() == contiguous
            outs.append((Gk, *loop(Gk, h0, c0, U.t(), p_if, p_o, mask,
                                   None if R is None else R.t(), q0, flags)))
        for a, b in zip(*outs, strict=True):
            assert torch.equal(a, b)
        Gk, C, TC, Y = outs[0]
        dY, dh, dc = torch.randn_like(Y), torch.randn_like(h0), torch.randn_like(c0)
        dq = torch.randn(N, 3 * H, dtype=dtype) if fgr else None
        back = [loop(Gk, C, TC, c0, U, p_i, p_f, p_o, mask, R, dY, dh, dc, dq, flags)
                for loop in (compiled.lstm_backward, fused._lstm_backward_loop)]
        assert back[0][3].shape == ((N, 3 * H) if fgr else (N, 0))
        for a, b in zip(*back, strict=True):
            assert torch.equal(a, b)


@needs_compiler
def test_unknown_flags_are_refused():
    G = torch.zeros(2, 1, 4)
    z = torch.zeros(1, 1)
    with pytest.raises(RuntimeError, match="unsupported flags 3"):
        compiled.lstm_forward(G, z, z, torch.zeros(1, 4), None, None, None, None, None, 3)
    with pytest.raises(RuntimeError, match="FGR needs R_t and q0"):
        compiled.lstm_forward(G, z, z, torch.zeros(1, 4), None, None, None, None, None, 16)


@needs_compiler
def test_gradcheck_through_the_compiled_loops():
    torch.manual_seed(3)
    m = lnn.PeepholeLSTM(2, 3, variant="NIAF", dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(1, 2, 3, dtype=torch.float64)

    def f(x, c0, *params):
        out, (h, c) = torch.func.functional_call(
            m, dict(zip([n for n, _ in m.named_parameters()], params, strict=True)),
            (x, (h0, c0)))
        return out, c
    assert torch.autograd.gradcheck(f, (x, c0, *m.parameters()))


@needs_compiler
def test_saturated_and_constant_gates_stay_exact():
    """Pre-activations of ±100 and the +inf bias of NIG/NOG: σ is 0 or 1 exactly, no NaN."""
    torch.manual_seed(4)
    for variant in ("NIG", "NOG", None):
        m = _layer("LSTM", variant, dtype=torch.float64)
        x = (100 * torch.randn(5, 3, 3, dtype=torch.float64)).requires_grad_()
        hx = tuple(torch.zeros(1, 3, 5, dtype=torch.float64, requires_grad=True)
                   for _ in range(2))
        got = _run(m, x, hx)
        with lnn.fast_path(False):
            want = _run(m, x, hx)
        for a, b in zip(got, want, strict=True):
            assert torch.isfinite(a).all()
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@needs_compiler
def test_inference_of_the_peephole_lstm_takes_the_compiled_forward(monkeypatch):
    torch.manual_seed(5)
    m = lnn.PeepholeLSTM(3, 5, num_layers=2, variant="NOAF")
    x = torch.randn(7, 4, 3)
    seen = _calls(monkeypatch)
    with torch.no_grad():
        out, (h, c) = m(x)
    assert seen == {"forward": 2, "backward": 0}
    with torch.no_grad(), compiled.use_compiled(False):
        want, (h2, c2) = m(x)
    torch.testing.assert_close(out, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(c, c2, rtol=1e-6, atol=1e-6)


# ---- FGR (flag 16): the gate recurrence R q_{t-1}, its initial gates q0 and their gradients ----
def _fgr_args(peep, seed, T=4, N=3, D=2, H=3):
    """LSTMFunction's arguments for FGR (float64, every tensor requiring grad), R not small so
    that the gate recurrence matters."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.5):
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()
    p = (r(H), r(H), r(H)) if peep else (None, None, None)
    return ("PeepholeLSTM" if peep else "LSTM", "FGR", r(T, N, D), r(N, H), r(N, H),
            r(4 * H, D), r(4 * H, H), r(4 * H), r(4 * H), *p, None, r(3 * H, 3 * H, scale=0.8),
            torch.rand(N, 3 * H, generator=g, dtype=torch.float64).requires_grad_())


def _fgr_grads(args, h_mask=None):
    """Outputs (out, h_T, c_T, q_T) and the gradients of every tensor input, q0 included."""
    args = list(args)
    args[12] = h_mask
    outs = fused.LSTMFunction.apply(*args)
    ws = [torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o) for o in outs]
    loss = sum((o * w).sum() for o, w in zip(outs, ws, strict=True)) + outs[3].square().sum()
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    return [*outs, *torch.autograd.grad(loss, inputs)]


@needs_compiler
@pytest.mark.parametrize("peep", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("H", [3, 64])
def test_fgr_function_compiled_python_and_generic_agree(peep, masked, H):
    """The Function itself, with a nonzero initial q0 and a gradient on q_T: compiled == Python
    loops to 1e-12, == the generic loop (_recompute_lstm) to 1e-10, dR and dq0 included.
    H = 64 takes the kernel's two products per step (kFGRSplit), H = 3 the combined one."""
    args = _fgr_args(peep, seed=7, H=H)
    mask = (torch.rand(3, H, generator=torch.Generator().manual_seed(1)) > 0.3).double() \
        if masked else None
    got = _fgr_grads(args, mask)
    with compiled.use_compiled(False):
        python = _fgr_grads(args, mask)
    tensors = [a for a in args[2:] if isinstance(a, torch.Tensor)]
    outs = fused._recompute_lstm(*args[:12], mask, *args[13:])
    ws = [torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o) for o in outs]
    loss = sum((o * w).sum() for o, w in zip(outs, ws, strict=True)) + outs[3].square().sum()
    generic = [*outs, *torch.autograd.grad(loss, tensors)]
    assert len(got) == len(generic) == 4 + 9 + (3 if peep else 0)  # outputs, gradients
    assert got[-1].abs().max() > 1e-3  # dq0: the initial gates matter
    for k, (a, b, c) in enumerate(zip(got, python, generic, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=f"result {k} vs python")
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12, msg=f"result {k} vs generic")


@pytest.mark.parametrize("peep", [False, True])
@pytest.mark.parametrize("use", [True, False], ids=["compiled", "python"])
def test_fgr_function_gradcheck(peep, use):
    if use and not compiled.available():
        pytest.skip("no compiled loops here")
    args = _fgr_args(peep, seed=8, T=3, N=2, H=2)
    idx = [k for k, a in enumerate(args) if isinstance(a, torch.Tensor)]

    def f(*tensors):
        full = list(args)
        for k, t in zip(idx, tensors, strict=True):
            full[k] = t
        return fused.LSTMFunction.apply(*full)
    with compiled.use_compiled(use):
        assert torch.autograd.gradcheck(f, tuple(args[k] for k in idx))


@needs_compiler
@pytest.mark.parametrize("name", ["LSTM", "PeepholeLSTM"])
def test_fgr_layer_takes_the_fused_path_and_second_order_is_exact(name, monkeypatch):
    torch.manual_seed(9)
    m = getattr(lnn, name)(2, 3, variant="FGR", dtype=torch.float64)
    with torch.no_grad():
        m.weight_fgr_l0.mul_(3)
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    seen = _calls(monkeypatch)
    out = m(x)[0]
    assert type(out.grad_fn).__name__ == "LSTMFunctionBackward"
    out.sum().backward()
    assert seen == {"forward": 1, "backward": 1}
    assert m.weight_fgr_l0.grad.abs().max() > 1e-3
    assert torch.autograd.gradgradcheck(lambda x, R: torch.func.functional_call(
        m, {**dict(m.named_parameters()), "weight_fgr_l0": R}, (x,))[0],
        (x, m.weight_fgr_l0))


@needs_compiler
def test_inference_of_fgr_takes_the_compiled_forward(monkeypatch):
    torch.manual_seed(10)
    m = lnn.LSTM(3, 5, num_layers=2, bidirectional=True, variant="FGR", dtype=torch.float64)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    seen = _calls(monkeypatch)
    with torch.no_grad():
        out, (h, c) = m(x)
    assert seen == {"forward": 4, "backward": 0}
    with torch.no_grad(), compiled.use_compiled(False):
        lean, (h2, c2) = m(x)
    with torch.no_grad(), lnn.fast_path(False):
        generic, (h3, c3) = m(x)
    for a, b, d in ((out, lean, generic), (h, h2, h3), (c, c2, c3)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(a, d, rtol=1e-12, atol=1e-12)


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    def fail():
        raise RuntimeError("Ninja is required to load C++ extensions")
    monkeypatch.setattr(compiled, "_build", fail)
    monkeypatch.setattr(compiled, "_loaded", None)
    monkeypatch.setattr(compiled, "_error", None)
    monkeypatch.setattr(compiled, "_enabled", True)
    torch.manual_seed(6)
    m = lnn.LSTM(3, 5, dtype=torch.float64)
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    hx = tuple(torch.randn(1, 2, 5, dtype=torch.float64, requires_grad=True) for _ in range(2))
    with pytest.warns(RuntimeWarning, match="could not be built.*Ninja is required"):
        got = _run(m, x, hx)
    assert "Ninja is required" in compiled.error()
    again = _run(m, x, hx)  # no second warning (warnings are errors in this suite)
    with lnn.fast_path(False):
        want = _run(m, x, hx)
    for a, b, c in zip(got, again, want, strict=True):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_use_compiled_is_a_switch_and_a_context_manager(monkeypatch):
    monkeypatch.setattr(compiled, "_enabled", True)
    with compiled.use_compiled(False):
        assert not compiled.available()
    assert compiled.enabled()
    compiled.use_compiled(False)
    assert not compiled.available()
    with pytest.raises(TypeError, match="enabled must be a bool"):
        compiled.use_compiled("no")


def test_the_sources_ship_with_the_package():
    """Every C++ source a loader builds is package data (an installed lstm_lib builds them)."""
    import re
    from pathlib import Path

    from lstm_lib.nn import slstm_fused

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]\n", 1)[1].split("\n[", 1)[0]
    listed = re.search(r'^"lstm_lib\.nn" = \[([^\]]*)\]', section, re.M).group(1)
    sources = sorted(p.name for p in compiled._SOURCE.parent.glob("*.cpp"))
    assert sorted(re.findall(r'"([^"]+)"', listed)) == sources
    assert {compiled._SOURCE.name, slstm_fused._SOURCE.name} <= set(sources)
