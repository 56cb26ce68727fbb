"""Greff et al. (2017)'s LSTM ablations, checked on hand-computable one-unit examples."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_lib import nn as lnn

W = [1.0, 2.0, 3.0, -1.0]  # weight_ih rows for i, f, g, o with D = H = 1; U = 0, b = 0
XS = [0.5, -1.0]


def sigma(a):
    return 1 / (1 + math.exp(-a))


def one_unit(variant, **kwargs):
    layer = lnn.LSTM(1, 1, variant=variant, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        layer.weight_ih_l0.copy_(torch.tensor(W).view(4, 1))
    return layer


def by_hand(variant, R=None):
    """h_t for XS, following the variant's equations with plain floats."""
    c, prev, hs = 0.0, (0.0, 0.0, 0.0), []
    for x in XS:
        a_i, a_f, a_g, a_o = (w * x for w in W)
        if variant == "FGR":
            a_i, a_f, a_o = (a + sum(r * q for r, q in zip(row, prev, strict=True))
                             for a, row in zip((a_i, a_f, a_o), R, strict=True))
        i = 1.0 if variant == "NIG" else sigma(a_i)
        f = 1.0 if variant == "NFG" else sigma(a_f)
        g = a_g if variant == "NIAF" else math.tanh(a_g)
        o = 1.0 if variant == "NOG" else sigma(a_o)
        c = f * c + i * g
        hs.append(o * c if variant == "NOAF" else o * math.tanh(c))
        prev = (i, f, o)
    return hs


@pytest.mark.parametrize("variant", [None, "NIG", "NFG", "NOG", "NIAF", "NOAF"])
def test_variant_equations_by_hand(variant):
    out, _ = one_unit(variant)(torch.tensor(XS, dtype=torch.float64).view(2, 1, 1))
    torch.testing.assert_close(out.flatten(), torch.tensor(by_hand(variant), dtype=torch.float64))


def test_fgr_by_hand():
    R = [[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]]  # rows i, f, o; columns i, f, o
    layer = one_unit("FGR")
    with torch.no_grad():
        layer.weight_fgr_l0.copy_(torch.tensor(R))
    out, _ = layer(torch.tensor(XS, dtype=torch.float64).view(2, 1, 1))
    torch.testing.assert_close(out.flatten(), torch.tensor(by_hand("FGR", R), dtype=torch.float64))


def test_fgr_with_zero_recurrence_is_the_plain_lstm():
    torch.manual_seed(0)
    fgr = lnn.LSTM(3, 4, num_layers=2, bidirectional=True, variant="FGR", dtype=torch.float64)
    plain = lnn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    plain.load_state_dict(fgr.state_dict(), strict=False)
    with torch.no_grad():
        for name, p in fgr.named_parameters():
            if "fgr" in name:
                p.zero_()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(fgr(x)[0], plain(x)[0])


@pytest.mark.parametrize("variant, block", [("NIG", 0), ("NFG", 1), ("NOG", 3)])
def test_unused_gate_block_gets_zero_gradient(variant, block):
    layer = lnn.LSTM(2, 3, variant=variant, dtype=torch.float64)
    layer(torch.randn(4, 2, 2, dtype=torch.float64))[0].sum().backward()
    rows = slice(3 * block, 3 * block + 3)
    assert (layer.weight_ih_l0.grad[rows] == 0).all()
    assert (layer.weight_hh_l0.grad[rows] == 0).all()
    assert layer.weight_ih_l0.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", lnn.VARIANTS)
def test_variant_cell_is_one_layer_step(variant):
    torch.manual_seed(0)
    layer = lnn.PeepholeLSTM(3, 4, variant=variant, dtype=torch.float64)
    cell = lnn.PeepholeLSTMCell(3, 4, variant=variant, dtype=torch.float64)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(2, 2, 3, dtype=torch.float64)
    out, _, gates = layer(x, return_gates=True)
    state = cell(x[0])
    state = cell(x[1], state)
    torch.testing.assert_close(state[0], out[1])
    torch.testing.assert_close(state[1], gates[0]["c"][1])
    if variant == "FGR":
        assert state[2].shape == (2, 12)


def test_variant_errors():
    with pytest.raises(ValueError, match=r"variant must be None or one of .*got 'NXG'"):
        lnn.LSTM(3, 4, variant="NXG")
    with pytest.raises(TypeError, match="variant"):
        lnn.GRU(3, 4, variant="NIG")
    with pytest.raises(TypeError, match="variant"):
        lnn.CIFGCell(3, 4, variant="NIG")
