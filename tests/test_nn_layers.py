"""lnn.RNN / LSTM / GRU against torch.nn: outputs, final states and gradients (float64)."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstm_lib import nn as lnn

MODES = {"RNN": (lnn.RNN, torch.nn.RNN), "LSTM": (lnn.LSTM, torch.nn.LSTM),
         "GRU": (lnn.GRU, torch.nn.GRU)}
D, H = 3, 4


def make_pair(mode, **kwargs):
    """A torch.nn layer and an lnn layer with the torch layer's state_dict, both float64."""
    ours_cls, torch_cls = MODES[mode]
    torch.manual_seed(0)
    theirs = torch_cls(D, H, dtype=torch.float64, **kwargs)
    ours = ours_cls(D, H, dtype=torch.float64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def initial_state(mode, shape, gen):
    h = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    if mode != "LSTM":
        return h
    return h, torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)


def flat(hidden):
    return list(hidden) if isinstance(hidden, tuple) else [hidden]


def run(layer, x, hx):
    """Forward, then backward of a fixed random projection of every output; returns all tensors."""
    out, hidden = layer(x, hx)
    out_t = out.data if isinstance(out, torch.nn.utils.rnn.PackedSequence) else out
    results = [out_t, *flat(hidden)]
    gen = torch.Generator().manual_seed(1)
    loss = sum((r * torch.randn(r.shape, generator=gen, dtype=r.dtype)).sum() for r in results)
    leaves = [x.data if hasattr(x, "batch_sizes") else x] + (flat(hx) if hx is not None else [])
    grads = torch.autograd.grad(loss, leaves + list(layer.parameters()))
    return [r.detach() for r in results], grads


def assert_all_close(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_layer_matches_torch(mode, num_layers, bidirectional, batch_first, with_hx):
    ours, theirs = make_pair(mode, num_layers=num_layers, bidirectional=bidirectional,
                             batch_first=batch_first)
    T, N = 4, 2
    gen = torch.Generator().manual_seed(2)
    x = torch.randn((N, T, D) if batch_first else (T, N, D), generator=gen,
                    dtype=torch.float64, requires_grad=True)
    L = num_layers * (2 if bidirectional else 1)
    hx = initial_state(mode, (L, N, H), gen) if with_hx else None
    res_ours, grads_ours = run(ours, x, hx)
    res_theirs, grads_theirs = run(theirs, x, hx)
    assert_all_close(res_ours, res_theirs)
    assert_all_close(grads_ours, grads_theirs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_unbatched_input_matches_torch(mode, batch_first, with_hx):
    ours, theirs = make_pair(mode, num_layers=2, bidirectional=True, batch_first=batch_first)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, D, generator=gen, dtype=torch.float64, requires_grad=True)
    hx = initial_state(mode, (4, H), gen) if with_hx else None
    res_ours, grads_ours = run(ours, x, hx)
    res_theirs, grads_theirs = run(theirs, x, hx)
    assert res_ours[0].shape == (5, 2 * H) and res_ours[1].shape == (4, H)
    assert_all_close(res_ours, res_theirs)
    assert_all_close(grads_ours, grads_theirs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("with_hx", [False, True])
def test_packed_sequence_matches_torch(mode, bidirectional, enforce_sorted, with_hx):
    ours, theirs = make_pair(mode, num_layers=2, bidirectional=bidirectional)
    lengths = torch.tensor([5, 3, 3, 1]) if enforce_sorted else torch.tensor([3, 5, 1, 3])
    gen = torch.Generator().manual_seed(4)
    padded = torch.randn(5, 4, D, generator=gen, dtype=torch.float64, requires_grad=True)
    x = pack_padded_sequence(padded, lengths, enforce_sorted=enforce_sorted)
    L = 2 * (2 if bidirectional else 1)
    hx = initial_state(mode, (L, 4, H), gen) if with_hx else None
    out_ours, _ = ours(x, hx)
    out_theirs, _ = theirs(x, hx)
    for attr in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(out_ours, attr), getattr(out_theirs, attr)
        assert (a is None and b is None) or torch.equal(a, b)
    res_ours, grads_ours = run(ours, x, hx)
    res_theirs, grads_theirs = run(theirs, x, hx)
    assert_all_close(res_ours, res_theirs)
    assert_all_close(grads_ours, grads_theirs)
    padded_ours, len_ours = pad_packed_sequence(out_ours)
    assert torch.equal(len_ours, lengths)
    assert (padded_ours[3:, lengths < 4] == 0).all()  # zeros past each length, as torch pads


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_round_trip_with_torch(mode):
    ours, theirs = make_pair(mode, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), theirs.named_parameters(),
                                  strict=True):
        assert n1 == n2 and p1.shape == p2.shape
    fresh = MODES[mode][1](D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    fresh.load_state_dict(ours.state_dict())
    x = torch.randn(3, 2, D, dtype=torch.float64)
    torch.testing.assert_close(fresh(x)[0], ours(x)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("mode", MODES)
def test_init_is_torch_uniform(mode):
    layer = MODES[mode][0](D, 16, num_layers=2)
    bound = 1 / 16**0.5
    for p in layer.parameters():
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.8 * bound  # spread over the interval, not zero
    torch.manual_seed(5)
    a = MODES[mode][0](D, H)
    torch.manual_seed(5)
    b = MODES[mode][1](D, H)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)  # the same draws in the same order as torch


def test_constructor_signature_positional_like_torch():
    assert lnn.RNN(D, H, 2, "relu").nonlinearity == "relu"
    lstm = lnn.LSTM(D, H, 2, False, True, 0.5, True)
    assert (lstm.bias, lstm.batch_first, lstm.dropout, lstm.bidirectional) == (
        False, True, 0.5, True)
    assert "bias_ih_l0" not in dict(lstm.named_parameters())


# ---- errors: the same type and text as torch ------------------------------------------------
def torch_error(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - we want whatever torch raises
        return type(err), str(err)
    raise AssertionError("torch raised nothing")


BAD_CALLS = {
    "input size": lambda m: m(torch.zeros(4, 2, D + 1)),
    "input dims": lambda m: m(torch.zeros(4, 2, D, 1)),
    "int dtype": lambda m: m(torch.zeros(4, 2, D, dtype=torch.long)),
    "double input": lambda m: m(torch.zeros(4, 2, D, dtype=torch.float64)),
    "hx batch": lambda m: m(torch.zeros(4, 2, D), _hx(m, (1, 3, H))),
    "hx size": lambda m: m(torch.zeros(4, 2, D), _hx(m, (1, 2, H + 1))),
    "hx dims batched": lambda m: m(torch.zeros(4, 2, D), _hx(m, (2, H))),
    "hx dims unbatched": lambda m: m(torch.zeros(4, D), _hx(m, (1, 2, H))),
}


def _hx(m, shape):
    h = torch.zeros(shape)
    return (h, h) if isinstance(m, torch.nn.LSTM | lnn.LSTM) else h


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", BAD_CALLS)
def test_errors_match_torch(mode, case):
    ours_cls, torch_cls = MODES[mode]
    kind, text = torch_error(lambda: BAD_CALLS[case](torch_cls(D, H)))
    with pytest.raises(kind, match=re.escape(text)):
        BAD_CALLS[case](ours_cls(D, H))


def test_input_size_error_text():
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. "
                                           r"Expected 3, got 5"):
        lnn.LSTM(3, 4)(torch.zeros(2, 1, 5))


@pytest.mark.parametrize("kwargs, kind", [
    ({"dropout": 1.5}, ValueError), ({"dropout": True}, ValueError),
    ({"bias": 1}, TypeError), ({"batch_first": 0}, TypeError), ({"num_layers": 0}, ValueError),
])
@pytest.mark.parametrize("mode", MODES)
def test_constructor_errors_match_torch(mode, kwargs, kind):
    ours_cls, torch_cls = MODES[mode]
    t_kind, text = torch_error(lambda: torch_cls(D, H, **kwargs))
    assert t_kind is kind
    with pytest.raises(kind, match=re.escape(text)):
        ours_cls(D, H, **kwargs)


def test_constructor_size_errors():
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        lnn.GRU(D, 0)
    with pytest.raises(TypeError, match="input_size should be of type int, got: float"):
        lnn.LSTM(2.0, H)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        lnn.RNN(D, H, nonlinearity="sigmoid")


def test_proj_size_is_refused():
    with pytest.raises(NotImplementedError, match="proj_size must be 0, got 2"):
        lnn.LSTM(D, H, proj_size=2)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        lnn.LSTM(D, H, dropout=0.5)


def test_nan_input_propagates_like_torch():
    """Neither torch nor lnn rejects NaN: it propagates to the outputs (documented)."""
    x = torch.full((2, 1, D), float("nan"))
    assert lnn.LSTM(D, H)(x)[0].isnan().all()


# ---- devices and dtypes ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_states_follow_input_dtype(mode):
    layer = MODES[mode][0](D, H, dtype=torch.float64)
    out, hidden = layer(torch.randn(3, 2, D, dtype=torch.float64))
    assert out.dtype == torch.float64 and flat(hidden)[0].dtype == torch.float64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("mode", [*MODES, "PeepholeLSTM", "CIFG"])
def test_runs_on_cuda_like_on_cpu(mode):
    cls = getattr(lnn, mode)
    layer = cls(D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    x = torch.randn(5, 3, D, dtype=torch.float64)
    out_cpu, _, gates_cpu = layer(x, return_gates=True)
    out_gpu, _, gates_gpu = layer.cuda()(x.cuda(), return_gates=True)
    assert out_gpu.device.type == "cuda"
    torch.testing.assert_close(out_gpu.cpu(), out_cpu)
    lengths = torch.tensor([5, 2, 4])
    packed = pack_padded_sequence(x.cuda(), lengths, enforce_sorted=False)
    out, _ = layer(packed)
    assert out.data.device.type == "cuda"


# ---- docstrings ------------------------------------------------------------------------------
_SHAPE_LINE = re.compile(r"^\s+(\w+?)(_l\[k\])?: shape (\(.*)$")


def documented_shapes(cls) -> dict[str, list[str]]:
    """name -> the shape expressions after 'shape' in the Attributes section (k = 0 first)."""
    lines = cls.__doc__.split("Attributes:")[1].splitlines()
    shapes = {}
    for i, line in enumerate(lines):
        m = _SHAPE_LINE.match(line)
        if m:
            text = m.group(3) + " " + (lines[i + 1] if i + 1 < len(lines) else "")
            shapes[m.group(1)] = re.findall(r"\(([^()]*)\)", text.split(".")[0])
    return shapes


def _eval_shape(expr, **sizes):
    return tuple(eval(part, {}, sizes) for part in expr.split(","))  # noqa: S307


@pytest.mark.parametrize("name, variant", [
    ("RNN", None), ("LSTM", None), ("GRU", None), ("PeepholeLSTM", None), ("CIFG", None),
    ("LSTM", "FGR"), ("PeepholeLSTM", "FGR")])
def test_documented_parameter_shapes_match(name, variant):
    kwargs = {"variant": variant} if variant else {}
    layer = getattr(lnn, name)(5, 7, num_layers=2, bidirectional=True, **kwargs)
    docs = documented_shapes(getattr(lnn, name))
    sizes = {"input_size": 5, "hidden_size": 7, "num_directions": 2}
    seen = set()
    for pname, p in layer.named_parameters():
        base, k = re.match(r"(\w+?)_l(\d)", pname).groups()
        exprs = docs[base]
        expr = exprs[0] if int(k) == 0 or len(exprs) == 1 else exprs[1]
        assert tuple(p.shape) == _eval_shape(expr, **sizes), (pname, expr)
        seen.add(base)
    assert seen >= {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell",
                                  "CIFGCell"])
def test_documented_cell_parameter_shapes_match(name):
    cls = getattr(lnn, name)
    kwargs = {"variant": "FGR"} if name in ("LSTMCell", "PeepholeLSTMCell") else {}
    cell = cls(5, 7, **kwargs)
    docs = documented_shapes(cls)
    for pname, p in cell.named_parameters():
        assert tuple(p.shape) == _eval_shape(docs[pname][0], input_size=5, hidden_size=7), pname


def test_all_is_complete():
    import lstm_lib.nn as module

    assert sorted(module.__all__) == sorted(
        ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG", "MinGRU", "MinLSTM", "SLSTM",
         "RNNCell", "LSTMCell", "GRUCell",
         "PeepholeLSTMCell", "CIFGCell", "VARIANTS", "to_reference_params",
         "from_reference_params"])
    for name in module.__all__:
        assert hasattr(module, name)


def test_relu_rnn_matches_torch():
    ours, theirs = make_pair("RNN", num_layers=2, nonlinearity="relu", bidirectional=True)
    x = torch.randn(4, 2, D, dtype=torch.float64, requires_grad=True)
    (a, ga), (b, gb) = run(ours, x, None), run(theirs, x, None)
    assert_all_close(a, b)
    assert_all_close(ga, gb)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_peephole_lstm_with_zero_peepholes_matches_torch_lstm_packed(enforce_sorted):
    """The stacking, directions and packing of the extra kinds run through the same code."""
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    ours = lnn.PeepholeLSTM(D, H, num_layers=2, bidirectional=True, dtype=torch.float64)
    missing = ours.load_state_dict(theirs.state_dict(), strict=False).missing_keys
    assert len(missing) == 12 and all(k.startswith("peephole_") for k in missing)
    with torch.no_grad():
        for k in missing:
            getattr(ours, k).zero_()
    x = pack_padded_sequence(torch.randn(5, 3, D, dtype=torch.float64, requires_grad=True),
                             torch.tensor([5, 4, 2]) if enforce_sorted else torch.tensor([2, 5, 4]),
                             enforce_sorted=enforce_sorted)
    res_ours, grads_ours = run(ours, x, None)
    res_theirs, grads_theirs = run(theirs, x, None)
    assert_all_close(res_ours, res_theirs)
    named = [n for n, _ in ours.named_parameters()]
    grads_ours = [g for n, g in zip(["x"] + named, grads_ours, strict=True)
                  if not n.startswith("peephole_")]
    assert_all_close(grads_ours, grads_theirs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_keyword_matches_torch_packed(mode, batch_first):
    ours, theirs = make_pair(mode, num_layers=2, bidirectional=True, batch_first=batch_first)
    lengths = torch.tensor([3, 5, 1])
    gen = torch.Generator().manual_seed(6)
    padded = torch.randn(5, 3, D, generator=gen, dtype=torch.float64)
    padded = padded.transpose(0, 1) if batch_first else padded
    out_ours, hidden_ours = ours(padded, lengths=lengths)
    packed = pack_padded_sequence(padded, lengths, batch_first=batch_first, enforce_sorted=False)
    out_theirs, hidden_theirs = theirs(packed)
    out_theirs, _ = pad_packed_sequence(out_theirs, batch_first=batch_first)
    assert_all_close([out_ours, *flat(hidden_ours)], [out_theirs, *flat(hidden_theirs)])


@pytest.mark.parametrize("lengths, match", [
    (torch.tensor([3, 6]), r"lengths must lie in \[1, T\] = \[1, 5\], got \[3, 6\]"),
    (torch.tensor([0, 2]), r"lengths must lie in \[1, T\]"),
    (torch.tensor([3]), r"lengths must be an integer tensor of shape \(N,\) = \(2,\)"),
    (torch.tensor([3.0, 2.0]), r"got dtype torch.float32"),
])
def test_lengths_errors(lengths, match):
    with pytest.raises(ValueError, match=match):
        lnn.GRU(D, H)(torch.zeros(5, 2, D), lengths=lengths)


def test_lengths_refused_for_packed_and_unbatched_input():
    layer = lnn.LSTM(D, H)
    with pytest.raises(ValueError, match="lengths needs a batched 3-D input"):
        layer(torch.zeros(5, D), lengths=torch.tensor([2]))
    packed = pack_padded_sequence(torch.zeros(5, 2, D), torch.tensor([5, 2]))
    with pytest.raises(ValueError, match="lengths must be None for a PackedSequence"):
        layer(packed, lengths=torch.tensor([5, 2]))


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "PeepholeLSTM", "CIFG"])
def test_forward_stays_on_the_input_device(name):
    """On the 'meta' device any .cpu(), .numpy() or CPU-made state in forward would fail: the
    same code then runs on cuda and mps."""
    layer = getattr(lnn, name)(D, H, num_layers=2, bidirectional=True, dropout=0.1,
                               input_dropout=0.2, recurrent_dropout=0.2).to("meta")
    out, hidden, gates = layer(torch.empty(5, 2, D, device="meta"), lengths=torch.tensor([5, 3]),
                               return_gates=True)
    assert out.device.type == "meta" and flat(hidden)[0].device.type == "meta"
    cell = getattr(lnn, name + "Cell")(D, H, device="meta")
    assert flat(cell(torch.empty(2, D, device="meta")))[0].device.type == "meta"


@settings(max_examples=15)
@given(mode=st.sampled_from(list(MODES)), T=st.integers(1, 4), N=st.integers(1, 3),
       D_=st.integers(1, 3), H_=st.integers(1, 3), num_layers=st.integers(1, 2),
       bidirectional=st.booleans())
def test_any_small_shape_matches_torch(mode, T, N, D_, H_, num_layers, bidirectional):
    ours_cls, torch_cls = MODES[mode]
    theirs = torch_cls(D_, H_, num_layers, dtype=torch.float64, bidirectional=bidirectional)
    ours = ours_cls(D_, H_, num_layers, dtype=torch.float64, bidirectional=bidirectional)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, N, D_, dtype=torch.float64, requires_grad=True)
    (a, ga), (b, gb) = run(ours, x, None), run(theirs, x, None)
    assert_all_close(a, b)
    assert_all_close(ga, gb)
