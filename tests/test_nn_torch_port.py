"""PyTorch's own checks of its recurrent modules, ported to lnn (the ideas, written here).

PyTorch tests RNN/LSTM/GRU and the cells in ``test/test_nn.py`` and through the ``common_modules``
database behind ``test/test_modules.py``: gradcheck and gradgradcheck in float64 on every
configuration, batched gradients, weight norm and parametrizations, pickling and
``torch.save``, non-contiguous inputs, the ``device=`` / ``dtype=`` factory arguments,
train/eval, and the exception types of refused arguments. Here the same behaviours run on
lnn, on the fused fast path and on the generic loop, and are compared with torch.nn wherever
torch.nn has the same module (weights copied). The variants (PeepholeLSTM, CIFG, the Greff
ablations) have no torch twin: their second derivatives are checked numerically
(gradgradcheck), which is what autograd through the generic loop must pass.

What ``tests/test_nn_second_order.py`` and ``tests/test_nn_edge_cases.py`` already cover is not
repeated (default one-layer gradgradcheck, two-layer bidirectional with recurrent dropout,
Hessian-vector products, forward-mode AD, zero batch / hidden / length, proj_size on RNN/GRU).
"""

from __future__ import annotations

import copy
import io
import pickle
import re

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import orthogonal
from torch.nn.utils.parametrizations import weight_norm as param_weight_norm
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_lib import nn as lnn

T, N, D, H = 3, 2, 2, 2
F64 = torch.float64
TWIN = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU,
        "RNNCell": torch.nn.RNNCell, "LSTMCell": torch.nn.LSTMCell, "GRUCell": torch.nn.GRUCell}
LAYER_KINDS = ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG"]
CELL_KINDS = ["RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell", "CIFGCell"]
HAS_CELL = {"LSTM", "PeepholeLSTM", "CIFG", "LSTMCell", "PeepholeLSTMCell", "CIFGCell"}
# fast_mode: torch's own module tests use it too; it checks random projections of the Jacobian
# (v^T J u) instead of every entry, which keeps the whole file within a few minutes
TOL = {"eps": 1e-6, "atol": 1e-6, "rtol": 1e-5, "fast_mode": True}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny float64 problems: one thread is fastest, and the machine is shared."""


@pytest.fixture(params=[True, False], ids=["fast", "loop"])
def path(request):
    with lnn.fast_path(request.param):
        yield request.param


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _module(kind: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return getattr(lnn, kind)(D, H, dtype=F64, **kwargs)


def _pair(kind: str, **kwargs):
    """lnn's module and torch.nn's with the same weights (float64)."""
    torch.manual_seed(0)
    theirs = TWIN[kind](D, H, dtype=F64, **kwargs)
    ours = getattr(lnn, kind)(D, H, dtype=F64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _as_function(module, n_states: int, call=None):
    """module as f(x, *states, *params) -> flat tuple of output tensors, for gradcheck."""
    names = [name for name, _ in module.named_parameters()]
    call = call or (lambda m, x, hx: m(x, hx))

    def fn(x, *rest):
        states = rest[:n_states]
        hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
        params = dict(zip(names, rest[n_states:], strict=True))
        out = call(lambda *a, **k: functional_call(module, params, a, k), x, hx)
        flat = []
        for o in out if isinstance(out, tuple) else (out,):
            flat.extend(o if isinstance(o, tuple) else (o,))
        return tuple(flat)

    return fn


def _first(out):
    """A cell's or layer's first output (h, or output) whatever else it returns."""
    return out[0] if isinstance(out, tuple) else out


def _params(module):
    return [p.detach().clone().requires_grad_() for p in module.parameters()]


def _grad_and_gradgrad(fn, inputs):
    assert torch.autograd.gradcheck(fn, inputs, **TOL)
    assert torch.autograd.gradgradcheck(fn, inputs, **TOL)


# ---- gradcheck and gradgradcheck: every cell --------------------------------------------------
CELL_CONFIGS = {
    "batched": {}, "unbatched": {"unbatched": True}, "no_bias": {"bias": False},
    "no_hx": {"no_hx": True},
}


@pytest.mark.parametrize("kind", CELL_KINDS + ["RNNCell-relu"])
@pytest.mark.parametrize("config", CELL_CONFIGS)
def test_cell_gradcheck_and_gradgradcheck(kind, config):
    opts = dict(CELL_CONFIGS[config])
    unbatched, no_hx = opts.pop("unbatched", False), opts.pop("no_hx", False)
    if kind == "RNNCell-relu":
        kind, opts["nonlinearity"] = "RNNCell", "relu"
    cell = _module(kind, **opts)
    g = _gen(1)
    shape = () if unbatched else (N,)
    x = torch.randn(*shape, D, generator=g, dtype=F64, requires_grad=True)
    n_states = 0 if no_hx else (2 if kind in HAS_CELL else 1)
    hs = [torch.randn(*shape, H, generator=g, dtype=F64, requires_grad=True)
          for _ in range(n_states)]
    _grad_and_gradgrad(_as_function(cell, n_states), (x, *hs, *_params(cell)))


@pytest.mark.parametrize("variant", lnn.VARIANTS)
@pytest.mark.parametrize("kind", ["LSTMCell", "PeepholeLSTMCell"])
def test_variant_cell_gradgradcheck(kind, variant):
    cell = _module(kind, variant=variant)
    g = _gen(2)
    x = torch.randn(N, D, generator=g, dtype=F64, requires_grad=True)
    hs = [torch.randn(N, H, generator=g, dtype=F64, requires_grad=True) for _ in range(2)]
    _grad_and_gradgrad(_as_function(cell, 2), (x, *hs, *_params(cell)))


def _penalty_grads(module, x, hx, call=None):
    """A WGAN-GP style gradient penalty: d/dθ ||dL/dx||², L = Σ output² (a second derivative)."""
    call = call or (lambda m, x, hx: m(x, hx))
    out = call(module, x, hx)
    out = out[0] if isinstance(out, tuple) else out
    out = out.data if hasattr(out, "batch_sizes") else out
    (dx,) = torch.autograd.grad(out.pow(2).sum(), x, create_graph=True)
    return torch.autograd.grad(dx.pow(2).sum(), [x, *module.parameters()])


def _assert_all_close(got, expected):
    assert max(float(e.norm()) for e in expected) > 1e-4  # a real signal, not two zeros
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_cell_second_derivatives_match_torch(kind, unbatched):
    ours, theirs = _pair(kind)
    shape = () if unbatched else (N,)
    g = _gen(3)
    x = torch.randn(*shape, D, generator=g, dtype=F64, requires_grad=True)
    hs = [torch.randn(*shape, H, generator=g, dtype=F64) for _ in range(2)]
    hx = tuple(hs) if kind == "LSTMCell" else hs[0]
    _assert_all_close(_penalty_grads(ours, x, hx), _penalty_grads(theirs, x, hx))


# ---- gradcheck and gradgradcheck: every layer on every path ------------------------------------
LAYER_CONFIGS = {
    "batch_first": ({"batch_first": True}, False),
    "unbatched": ({}, True),
    "stacked": ({"num_layers": 2}, False),
    "bidirectional": ({"bidirectional": True}, False),
    "eval_dropout": ({"num_layers": 2, "dropout": 0.5}, False),
    "no_bias": ({"bias": False}, False),
}


def _layer_inputs(kind, kwargs, unbatched, seed, n=N, T=T):
    g = _gen(seed)
    L = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    if unbatched:
        x_shape, h_shape = (T, D), (L, H)
    else:
        x_shape = (n, T, D) if kwargs.get("batch_first") else (T, n, D)
        h_shape = (L, n, H)
    x = torch.randn(*x_shape, generator=g, dtype=F64, requires_grad=True)
    hs = [torch.randn(*h_shape, generator=g, dtype=F64, requires_grad=True)
          for _ in range(2 if kind in HAS_CELL else 1)]
    return x, hs


@pytest.mark.parametrize("kind", LAYER_KINDS)
@pytest.mark.parametrize("config", LAYER_CONFIGS)
def test_layer_gradcheck_and_gradgradcheck(kind, config, path):
    kwargs, unbatched = LAYER_CONFIGS[config]
    layer = _module(kind, **kwargs).eval()  # eval: dropout off, as torch's eval configs
    big = kwargs.get("num_layers", 1) > 1 or kwargs.get("bidirectional", False)
    # two steps still exercise the recursion; one sequence keeps the bigger configs quick
    x, hs = _layer_inputs(kind, kwargs, unbatched, seed=4, n=1 if big else N, T=2 if big else T)
    _grad_and_gradgrad(_as_function(layer, len(hs)), (x, *hs, *_params(layer)))


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_layer_gradgradcheck_packed_sequence(kind):
    """Packed input (variable lengths, unsorted): the generic loop with lengths."""
    layer = _module(kind)
    lengths = torch.tensor([2, T])

    def call(m, x, hx):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hidden = m(packed, hx)
        return out.data, hidden

    x, hs = _layer_inputs(kind, {}, False, seed=5)
    _grad_and_gradgrad(_as_function(layer, len(hs), call), (x, *hs, *_params(layer)))


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_layer_gradgradcheck_lengths_keyword(kind):
    layer = _module(kind)
    lengths = torch.tensor([T, 1])
    x, hs = _layer_inputs(kind, {}, False, seed=6)

    def call(m, x, hx):
        return m(x, hx, lengths=lengths)

    _grad_and_gradgrad(_as_function(layer, len(hs), call), (x, *hs, *_params(layer)))


@pytest.mark.parametrize("variant", lnn.VARIANTS)
@pytest.mark.parametrize("kind", ["LSTM", "PeepholeLSTM"])
def test_variant_layer_gradgradcheck(kind, variant):
    """The Greff ablations (no torch twin): their second derivative, checked numerically."""
    layer = _module(kind, variant=variant)
    x, hs = _layer_inputs(kind, {}, False, seed=7)
    _grad_and_gradgrad(_as_function(layer, 2), (x, *hs, *_params(layer)))


COMPARED_CONFIGS = {**LAYER_CONFIGS, "packed": ({}, False)}


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("config", COMPARED_CONFIGS)
def test_layer_second_derivatives_match_torch(kind, config, path):
    """The gradient-penalty weight gradient, lnn against torch.nn, on each configuration."""
    kwargs, unbatched = COMPARED_CONFIGS[config]
    ours, theirs = _pair(kind, **kwargs)
    ours.eval(), theirs.eval()
    x, hs = _layer_inputs(kind, kwargs, unbatched, seed=8)
    hx = tuple(h.detach() for h in hs) if kind == "LSTM" else hs[0].detach()
    call = None
    if config == "packed":
        lengths = torch.tensor([2, T])

        def call(m, x, hx):
            return m(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)

    _assert_all_close(_penalty_grads(ours, x, hx, call), _penalty_grads(theirs, x, hx, call))


# ---- vmap and batched gradients ---------------------------------------------------------------
@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_is_grads_batched_equals_a_loop(kind):
    cell = _module(kind)
    x = torch.randn(N, D, generator=_gen(9), dtype=F64, requires_grad=True)
    out = cell(x)
    out = out[0] if isinstance(out, tuple) else out
    vs = torch.randn(4, N, H, generator=_gen(10), dtype=F64)
    leaves = [x, *cell.parameters()]
    batched = torch.autograd.grad(out, leaves, vs, is_grads_batched=True, retain_graph=True)
    for k, v in enumerate(vs):
        for b, g in zip(batched, torch.autograd.grad(out, leaves, v, retain_graph=True),
                        strict=True):
            torch.testing.assert_close(b[k], g)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_vmap_and_jacrev(kind):
    """torch.nn's cells have no batching rule (aten::lstm_cell); lnn's cells are plain ops."""
    cell = _module(kind)
    xs = torch.randn(3, N, D, generator=_gen(11), dtype=F64)

    def h_of(x):
        out = cell(x)
        return out[0] if isinstance(out, tuple) else out

    torch.testing.assert_close(torch.func.vmap(h_of)(xs), torch.stack([h_of(x) for x in xs]))
    jac = torch.func.jacrev(h_of)(xs[0])  # (N, H, N, D)
    x0 = xs[0].clone().requires_grad_()
    row = torch.autograd.grad(h_of(x0)[0, 0], x0)[0]
    torch.testing.assert_close(jac[0, 0], row)


@pytest.mark.parametrize("kind", LAYER_KINDS)
@pytest.mark.parametrize("config", ["batch_first", "stacked", "bidirectional"])
def test_layer_vmap_over_sequences(kind, config, path):
    kwargs, _ = LAYER_CONFIGS[config]
    layer = _module(kind, **kwargs)
    xs = torch.randn(3, T, N, D, generator=_gen(12), dtype=F64)
    got = torch.func.vmap(lambda x: layer(x)[0])(xs)
    torch.testing.assert_close(got, torch.stack([layer(x)[0] for x in xs]))


# ---- weight norm and parametrizations -----------------------------------------------------------
def _train_step(module, x, lr=0.1):
    out = module(x)[0]
    loss = out.pow(2).sum()
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
    return out.detach(), [g.detach() for g in grads]


PARAMETRIZATIONS = {
    "weight_norm": lambda m, name: param_weight_norm(m, name),
    "orthogonal": lambda m, name: orthogonal(m, name),
}


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("how", PARAMETRIZATIONS)
def test_parametrized_layer_matches_torch(kind, how, path):
    """The same parametrization on both: equal outputs and gradients, before and after a step."""
    ours, theirs = _pair(kind)
    for m in (ours, theirs):
        PARAMETRIZATIONS[how](m, "weight_hh_l0")
        assert parametrize.is_parametrized(m, "weight_hh_l0")
    # orthogonal draws a random base for a tall matrix: the parametrized state_dict carries it
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, N, D, generator=_gen(13), dtype=F64)
    for _ in range(2):
        (o_out, o_grads), (t_out, t_grads) = _train_step(ours, x), _train_step(theirs, x)
        torch.testing.assert_close(o_out, t_out, atol=1e-12, rtol=1e-10)
        for a, b in zip(o_grads, t_grads, strict=True):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
    if how == "orthogonal":  # still orthogonal columns after the steps
        U = ours.weight_hh_l0  # (gH, H), tall: U^T U = I
        torch.testing.assert_close(U.T @ U, torch.eye(H, dtype=F64), atol=1e-10, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "LSTMCell"])
def test_legacy_weight_norm_matches_torch(kind):
    ours, theirs = _pair(kind)
    for m in (ours, theirs):
        torch.nn.utils.weight_norm(m, "weight_ih" + ("" if "Cell" in kind else "_l0"))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = torch.randn(*((N, D) if "Cell" in kind else (T, N, D)), generator=_gen(14), dtype=F64)
    torch.testing.assert_close(_first(ours(x)), _first(theirs(x)))


@pytest.mark.parametrize("kind", ["PeepholeLSTM", "CIFG", "PeepholeLSTMCell", "CIFGCell"])
@pytest.mark.parametrize("how", PARAMETRIZATIONS)
def test_parametrized_variants_use_the_parametrized_weight(kind, how):
    """No torch twin: the parametrized module equals the plain one given the computed weight."""
    module = _module(kind)
    name = "weight_hh" + ("" if "Cell" in kind else "_l0")
    plain = copy.deepcopy(module)
    PARAMETRIZATIONS[how](module, name)
    with torch.no_grad():
        getattr(plain, name).copy_(getattr(module, name))
    x = torch.randn(*((N, D) if "Cell" in kind else (T, N, D)), generator=_gen(15), dtype=F64)
    torch.testing.assert_close(_first(module(x)), _first(plain(x)))
    _first(module(x)).sum().backward()
    assert all(p.grad is not None for p in module.parameters())


# ---- pickle, deepcopy, torch.save ---------------------------------------------------------------
ALL_KINDS = LAYER_KINDS + CELL_KINDS


def _run(module, seed=16):
    x = torch.randn(*((N, D) if "Cell" in type(module).__name__ else (T, N, D)),
                    generator=_gen(seed), dtype=F64)
    out = module(x)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("how", ["pickle", "deepcopy", "torch.save"])
def test_whole_module_round_trip(kind, how, tmp_path):
    module = _module(kind, **({} if "Cell" in kind else {"num_layers": 2, "batch_first": True}))
    if how == "pickle":
        back = pickle.loads(pickle.dumps(module))
    elif how == "deepcopy":
        back = copy.deepcopy(module)
    else:
        torch.save(module, tmp_path / "m.pt")
        back = torch.load(tmp_path / "m.pt", weights_only=False)
    assert type(back) is type(module) and repr(back) == repr(module)
    for (k, a), (k2, b) in zip(module.state_dict().items(), back.state_dict().items(),
                               strict=True):
        assert k == k2 and torch.equal(a, b)
    if "Cell" not in kind:
        assert back.batch_first and back.num_layers == 2
    torch.testing.assert_close(_run(back), _run(module), atol=0, rtol=0)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_state_dict_round_trip_weights_only(kind):
    module = _module(kind)
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    buf.seek(0)
    fresh = getattr(lnn, kind)(D, H, dtype=F64)
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    torch.testing.assert_close(_run(fresh), _run(module), atol=0, rtol=0)


@pytest.mark.parametrize("kind", ["LSTM", "GRUCell"])
def test_parametrized_module_pickles_as_torch_does(kind):
    """torch refuses to pickle a parametrized module (state_dict only); lnn's refuse alike."""
    ours, theirs = _pair(kind)
    name = "weight_hh" + ("" if "Cell" in kind else "_l0")
    errors = []
    for m in (ours, theirs):
        param_weight_norm(m, name)
        try:
            pickle.dumps(m)
            errors.append(None)
        except Exception as e:  # noqa: BLE001 - comparing what each raises
            errors.append(type(e))
    assert errors[0] is errors[1]


# ---- non-contiguous inputs and states -----------------------------------------------------------
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_non_contiguous_input_and_hx(kind, path):
    layer = _module(kind, num_layers=2)
    g = _gen(17)
    x = torch.randn(N, T, 2 * D, generator=g, dtype=F64).transpose(0, 1)[..., ::2]  # (T, N, D)
    hs = [torch.randn(N, 2, H, generator=g, dtype=F64).transpose(0, 1) for _ in range(2)]
    assert not x.is_contiguous() and not hs[0].is_contiguous()
    hx = tuple(hs) if kind in HAS_CELL else hs[0]
    chx = tuple(h.contiguous() for h in hs) if kind in HAS_CELL else hs[0].contiguous()
    leaves = [x.requires_grad_(), *layer.parameters()]
    out, _ = layer(x, hx)
    grads = torch.autograd.grad(out.sum(), leaves)
    x_c = x.detach().contiguous().requires_grad_()
    out_c, _ = layer(x_c, chx)
    grads_c = torch.autograd.grad(out_c.sum(), [x_c, *layer.parameters()])
    torch.testing.assert_close(out, out_c, atol=0, rtol=0)
    for a, b in zip(grads, grads_c, strict=True):
        torch.testing.assert_close(a, b)
    if kind in TWIN:  # and torch.nn, given the same strided tensors
        theirs = TWIN[kind](D, H, num_layers=2, dtype=F64)
        theirs.load_state_dict(layer.state_dict())
        torch.testing.assert_close(theirs(x.detach(), hx)[0], out.detach())


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_cell_non_contiguous_input_and_hx(kind):
    cell = _module(kind)
    g = _gen(18)
    x = torch.randn(D, N, generator=g, dtype=F64).t()
    hs = [torch.randn(N, 2 * H, generator=g, dtype=F64)[:, ::2] for _ in range(2)]
    assert not x.is_contiguous() and not hs[0].is_contiguous()
    hx = tuple(hs) if kind in HAS_CELL else hs[0]
    chx = tuple(h.contiguous() for h in hs) if kind in HAS_CELL else hs[0].contiguous()
    torch.testing.assert_close(_first(cell(x, hx)), _first(cell(x.contiguous(), chx)),
                               atol=0, rtol=0)
    if kind in TWIN:
        theirs = TWIN[kind](D, H, dtype=F64)
        theirs.load_state_dict(cell.state_dict())
        torch.testing.assert_close(_first(theirs(x, hx)), _first(cell(x, hx)))


# ---- device= and dtype= factory arguments --------------------------------------------------------
FACTORY = {
    "float64": {"dtype": torch.float64},
    "float16": {"dtype": torch.float16},
    "cpu device object": {"device": torch.device("cpu")},
    "meta": {"device": "meta"},
    "meta float64": {"device": "meta", "dtype": torch.float64},
}


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("factory", FACTORY)
def test_factory_kwargs(kind, factory):
    kwargs = FACTORY[factory]
    module = getattr(lnn, kind)(D, H, **kwargs)
    want_dtype = kwargs.get("dtype", torch.get_default_dtype())
    want_device = torch.device(kwargs.get("device", "cpu"))
    assert all(p.dtype == want_dtype and p.device == want_device for p in module.parameters())
    twin = TWIN.get(kind) or TWIN["LSTMCell" if "Cell" in kind else "LSTM"]
    theirs = twin(D, H, **kwargs)
    assert ({(p.dtype, p.device) for p in module.parameters()}
            == {(p.dtype, p.device) for p in theirs.parameters()})
    if factory.startswith("meta"):  # shapes propagate without data, as through torch.nn
        x = torch.empty(*((N, D) if "Cell" in kind else (T, N, D)), device="meta",
                        dtype=want_dtype)
        out = module(x)
        out = out[0] if isinstance(out, tuple) else out
        assert out.device.type == "meta" and out.shape[-1] == H


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_to_dtype_after_construction_matches_torch(kind):
    torch.manual_seed(0)
    theirs = TWIN[kind](D, H)
    ours = getattr(lnn, kind)(D, H)
    ours.load_state_dict(theirs.state_dict())
    ours, theirs = ours.to(F64), theirs.to(F64)
    x = torch.randn(T, N, D, generator=_gen(19), dtype=F64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])


# ---- train / eval ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYER_KINDS)
@pytest.mark.parametrize("dropout_kw", ["dropout", "input_dropout", "recurrent_dropout"])
def test_dropout_only_in_train(kind, dropout_kw, path):
    layer = _module(kind, num_layers=2, **{dropout_kw: 0.5})
    x = torch.randn(T, N, D, generator=_gen(20), dtype=F64)
    layer.eval()
    first, second = layer(x)[0], layer(x)[0]
    torch.testing.assert_close(first, second, atol=0, rtol=0)  # deterministic
    without = _module(kind, num_layers=2)
    torch.testing.assert_close(first, without(x)[0], atol=0, rtol=0)  # and dropout-free
    layer.train()
    torch.manual_seed(1)
    train_a = layer(x)[0]
    torch.manual_seed(2)
    train_b = layer(x)[0]
    assert not torch.equal(train_a, train_b) and not torch.equal(train_a, first)
    torch.manual_seed(1)
    torch.testing.assert_close(layer(x)[0], train_a, atol=0, rtol=0)  # seeded: repeatable


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_eval_with_dropout_matches_torch_eval(kind):
    ours, theirs = _pair(kind, num_layers=3, dropout=0.9)
    ours.eval(), theirs.eval()
    x = torch.randn(T, N, D, generator=_gen(21), dtype=F64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    assert ours.training is theirs.training is False


# ---- refused arguments: torch's exception types, side by side --------------------------------
def _raised(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - comparing what each raises
        return type(e), str(e)
    return None, None


CONSTRUCTOR_BAD = {
    "num_layers 1.5": {"num_layers": 1.5},
    "num_layers '2'": {"num_layers": "2"},
    "num_layers -1": {"num_layers": -1},
    "hidden_size 2.0": {"hidden_size": 2.0},
    "hidden_size -3": {"hidden_size": -3},
    "input_size -1": {"input_size": -1},
    "input_size '3'": {"input_size": "3"},
    "dropout -0.1": {"dropout": -0.1},
    "dropout '0.5'": {"dropout": "0.5"},
    "dropout nan": {"dropout": float("nan")},
    "dropout inf": {"dropout": float("inf")},
    "bias None": {"bias": None},
    "batch_first 'yes'": {"batch_first": "yes"},
    "proj_size -1": {"proj_size": -1},
    "proj_size = hidden_size": {"proj_size": H},
}


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("case", CONSTRUCTOR_BAD)
def test_constructor_refusals_match_torch(mode, case):
    kwargs = {"input_size": D, "hidden_size": H, **CONSTRUCTOR_BAD[case]}
    t_type, t_text = _raised(lambda: TWIN[mode](**kwargs))
    o_type, o_text = _raised(lambda: getattr(lnn, mode)(**kwargs))
    assert t_type is not None and o_type is t_type, (t_type, t_text, o_type, o_text)
    if not t_text.startswith("empty()"):  # torch.empty's own wording for a float size
        assert o_text == t_text


FORWARD_BAD = {
    "input 1-D": lambda m: m(torch.zeros(D)),
    "input 4-D": lambda m: m(torch.zeros(T, N, D, 1)),
    "packed data 3-D": lambda m: m(torch.nn.utils.rnn.PackedSequence(
        torch.zeros(4, 1, D), torch.tensor([2, 2]))),
    "packed, hx batch": lambda m: m(pack_padded_sequence(torch.zeros(T, 2, D), [3, 2]),
                                    _hx(m, (1, 3, H))),
    "packed, input size": lambda m: m(pack_padded_sequence(torch.zeros(T, 2, D + 1), [3, 2])),
    "unbatched hx batched": lambda m: m(torch.zeros(T, D), _hx(m, (1, 1, H))),
    "hx layers": lambda m: m(torch.zeros(T, N, D), _hx(m, (2, N, H))),
    "float16 input": lambda m: m(torch.zeros(T, N, D, dtype=torch.float16)),
}


def _hx(m, shape):
    h = torch.zeros(shape)
    return (h, h) if isinstance(m, torch.nn.LSTM | lnn.LSTM) else h


# torch.nn.LSTM skips check_forward_args for a PackedSequence (RNN and GRU run it): its kernel
# then fails with a raw message, or not at all for 3-D packed data. lnn.LSTM runs the check
# torch's LSTM runs for padded input (torch's texts), like torch.nn.RNN and GRU do.
LSTM_PACKED = {
    "packed data 3-D": r"^input must have 2 dimensions, got 3$",
    "packed, hx batch": r"^Expected hidden\[0\] size \(1, 2, 2\), got \[1, 3, 2\]$",
    "packed, input size": r"^input.size\(-1\) must be equal to input_size. Expected 2, got 3$",
}


@pytest.mark.parametrize("case", LSTM_PACKED)
def test_lstm_packed_refusals_use_torchs_checks(case, path):
    with pytest.raises(RuntimeError, match=LSTM_PACKED[case]):
        FORWARD_BAD[case](lnn.LSTM(D, H))


@pytest.mark.parametrize("mode, case", [(mode, case) for mode in ("RNN", "LSTM", "GRU")
                                         for case in FORWARD_BAD
                                         if not (mode == "LSTM" and case in LSTM_PACKED)])
def test_forward_refusals_match_torch(mode, case, path):
    t_type, t_text = _raised(lambda: FORWARD_BAD[case](TWIN[mode](D, H)))
    o_type, o_text = _raised(lambda: FORWARD_BAD[case](getattr(lnn, mode)(D, H)))
    assert t_type is not None and o_type is t_type, (t_type, t_text, o_type, o_text)
    assert o_text == t_text


def test_rnn_nonlinearity_refused_like_torch():
    t_type, t_text = _raised(lambda: torch.nn.RNN(D, H, nonlinearity="sigmoid"))
    with pytest.raises(t_type, match=re.escape(t_text)):
        lnn.RNN(D, H, nonlinearity="sigmoid")
