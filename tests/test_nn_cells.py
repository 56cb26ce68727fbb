"""lnn cells against torch.nn cells, and against one step of the lnn layers."""

from __future__ import annotations

import re

import pytest
import torch

from lstm_lib import nn as lnn

CELLS = {"RNNCell": {}, "RNNCell-relu": {"nonlinearity": "relu"}, "LSTMCell": {}, "GRUCell": {}}
D, H = 3, 4


def make_pair(name, bias=True):
    cls_name = name.split("-")[0]
    kwargs = CELLS[name]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls_name)(D, H, bias=bias, dtype=torch.float64, **kwargs)
    ours = getattr(lnn, cls_name)(D, H, bias=bias, dtype=torch.float64, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def flat(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(name, batched, with_hx, bias):
    ours, theirs = make_pair(name, bias)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    gen = torch.Generator().manual_seed(1)
    shape = (2,) if batched else ()
    x = torch.randn(*shape, D, generator=gen, dtype=torch.float64, requires_grad=True)
    hx = None
    if with_hx:
        hs = [torch.randn(*shape, H, generator=gen, dtype=torch.float64, requires_grad=True)
              for _ in range(2 if "LSTM" in name else 1)]
        hx = tuple(hs) if "LSTM" in name else hs[0]
    results = []
    for cell in (ours, theirs):
        out = flat(cell(x, hx))
        weights = torch.Generator().manual_seed(2)
        loss = sum((o * torch.randn(o.shape, generator=weights, dtype=o.dtype)).sum()
                   for o in out)
        leaves = [x, *(flat(hx) if hx is not None else []), *cell.parameters()]
        results.append((out, torch.autograd.grad(loss, leaves)))
    for a, b in zip(results[0][0] + list(results[0][1]), results[1][0] + list(results[1][1]),
                    strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


BAD = {
    "input dims": lambda c: c(torch.zeros(2, 2, D)),
    "input size": lambda c: c(torch.zeros(2, D + 1)),
    "hidden size": lambda c: c(torch.zeros(2, D), _hx(c, (2, H + 1))),
    "hidden batch": lambda c: c(torch.zeros(2, D), _hx(c, (3, H))),
    "hidden dims": lambda c: c(torch.zeros(2, D), _hx(c, (1, 2, H))),
}


def _hx(c, shape):
    h = torch.zeros(shape)
    return (h, h) if "LSTM" in type(c).__name__ else h


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("case", BAD)
def test_cell_errors_match_torch(name, case):
    try:
        BAD[case](getattr(torch.nn, name)(D, H))
    except Exception as err:  # noqa: BLE001
        kind, text = type(err), str(err)
    with pytest.raises(kind, match=re.escape(text)):
        BAD[case](getattr(lnn, name)(D, H))


@pytest.mark.parametrize("name, layer", [("RNNCell", "RNN"), ("LSTMCell", "LSTM"),
                                         ("GRUCell", "GRU"), ("PeepholeLSTMCell", "PeepholeLSTM"),
                                         ("CIFGCell", "CIFG")])
def test_layer_with_T1_is_one_cell_step(name, layer):
    torch.manual_seed(0)
    lay = getattr(lnn, layer)(D, H, dtype=torch.float64)
    cell = getattr(lnn, name)(D, H, dtype=torch.float64)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lay.state_dict().items()})
    x = torch.randn(2, D, dtype=torch.float64)
    out, hidden, gates = lay(x[None], return_gates=True)
    cell_out, cell_gates = cell(x, return_gates=True)
    torch.testing.assert_close(flat(cell_out)[0], out[0])
    for name_, value in cell_gates.items():
        torch.testing.assert_close(value, gates[0][name_][0])


def test_peephole_cell_with_zero_peepholes_is_lstm_cell():
    torch.manual_seed(0)
    lstm = lnn.LSTMCell(D, H, dtype=torch.float64)
    peep = lnn.PeepholeLSTMCell(D, H, dtype=torch.float64)
    missing = peep.load_state_dict(lstm.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["peephole_f", "peephole_i", "peephole_o"]
    x, h, c = (torch.randn(2, k, dtype=torch.float64) for k in (D, H, H))
    with torch.no_grad():
        for p in (peep.peephole_i, peep.peephole_f, peep.peephole_o):
            p.zero_()
    for a, b in zip(peep(x, (h, c)), lstm(x, (h, c)), strict=True):
        torch.testing.assert_close(a, b)


def test_peephole_equations_by_hand():
    """H = 1, D = 1, all weights zero but the peepholes: the gates see only the cell state."""
    cell = lnn.PeepholeLSTMCell(1, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.weight_ih[2] = 1.0  # g = tanh(x)
        cell.peephole_i.fill_(2.0)
        cell.peephole_f.fill_(-1.0)
        cell.peephole_o.fill_(3.0)
    x, h, c = (torch.tensor([[v]], dtype=torch.float64) for v in (0.5, 0.0, 0.7))
    (h1, c1), gates = cell(x, (h, c), return_gates=True)
    s, tanh = torch.sigmoid, torch.tanh
    i, f, g = s(torch.tensor(2 * 0.7)), s(torch.tensor(-0.7)), tanh(torch.tensor(0.5))
    c_expected = f * 0.7 + i * g
    o = s(3 * c_expected)
    torch.testing.assert_close(c1.squeeze(), c_expected.double())
    torch.testing.assert_close(gates["o"].squeeze(), o.double())
    torch.testing.assert_close(h1.squeeze(), (o * tanh(c_expected)).double())


def test_cifg_input_gate_is_one_minus_forget():
    cell = lnn.CIFGCell(D, H, dtype=torch.float64)
    assert cell.weight_ih.shape == (3 * H, D)
    x = torch.randn(5, D, dtype=torch.float64)
    (h, c), gates = cell(x, return_gates=True)
    torch.testing.assert_close(gates["i"], 1 - gates["f"])
    torch.testing.assert_close(c, gates["i"] * gates["g"])  # c_0 = 0


def test_unbatched_cell_gates_are_1d():
    out, gates = lnn.GRUCell(D, H)(torch.zeros(D), return_gates=True)
    assert out.shape == (H,) and {k: tuple(v.shape) for k, v in gates.items()} == {
        "r": (H,), "z": (H,), "n": (H,)}
