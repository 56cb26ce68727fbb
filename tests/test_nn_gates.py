"""Recording gates with ``return_gates=True``: shapes, and values that obey the equations."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from lstm_lib import nn as lnn

D, H, T, N = 3, 4, 5, 2
LSTM_KINDS = ["LSTM", "PeepholeLSTM", "CIFG"]


@pytest.mark.parametrize("kind", LSTM_KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recorded_cell_states_end_in_c_n(kind, bidirectional):
    layer = getattr(lnn, kind)(D, H, num_layers=2, bidirectional=bidirectional,
                               dtype=torch.float64)
    x = torch.randn(T, N, D, dtype=torch.float64)
    output, (h_n, c_n), gates = layer(x, return_gates=True)
    dirs = 2 if bidirectional else 1
    assert set(gates) == {0, 1}
    for k in (0, 1):
        assert set(gates[k]) == {"i", "f", "g", "o", "c"}
        for v in gates[k].values():
            assert v.shape == (T, N, dirs * H)
        c = gates[k]["c"]
        torch.testing.assert_close(c[-1, :, :H], c_n[k * dirs])
        if bidirectional:
            torch.testing.assert_close(c[0, :, H:], c_n[k * dirs + 1])  # reverse ends at t = 0
    g = gates[1]
    torch.testing.assert_close(output, g["o"] * torch.tanh(g["c"]))  # h_t = o_t ⊙ tanh(c_t)
    c_prev = torch.cat([torch.zeros(1, N, dirs * H, dtype=torch.float64), g["c"][:-1]])
    update = g["f"] * c_prev + g["i"] * g["g"]
    torch.testing.assert_close(g["c"][:, :, :H], update[:, :, :H])  # c_t = f ⊙ c_{t-1} + i ⊙ g


def test_gru_gates_obey_equations():
    layer = lnn.GRU(D, H, dtype=torch.float64)
    x = torch.randn(T, N, D, dtype=torch.float64)
    output, h_n, gates = layer(x, return_gates=True)
    h_prev = torch.cat([torch.zeros(1, N, H, dtype=torch.float64), output[:-1]])
    torch.testing.assert_close(output, (1 - gates[0]["z"]) * gates[0]["n"]
                               + gates[0]["z"] * h_prev)
    assert set(gates[0]) == {"r", "z", "n"}


def test_rnn_records_no_gates():
    _, _, gates = lnn.RNN(D, H, num_layers=2)(torch.zeros(T, N, D), return_gates=True)
    assert gates == {0: {}, 1: {}}


def test_shapes_batch_first_and_unbatched():
    layer = lnn.LSTM(D, H, batch_first=True, bidirectional=True)
    _, _, gates = layer(torch.zeros(N, T, D), return_gates=True)
    assert gates[0]["f"].shape == (N, T, 2 * H)
    _, _, gates = layer(torch.zeros(T, D), return_gates=True)
    assert gates[0]["f"].shape == (T, 2 * H)


def test_default_forward_returns_what_torch_returns():
    out = lnn.LSTM(D, H)(torch.zeros(T, N, D))
    assert len(out) == 2 and len(out[1]) == 2


def test_packed_gates_are_padded_in_original_order():
    layer = lnn.LSTM(D, H, dtype=torch.float64)
    lengths = torch.tensor([2, 5, 3])
    x = torch.randn(5, 3, D, dtype=torch.float64)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    _, (h_n, c_n), gates = layer(packed, return_gates=True)
    c = gates[0]["c"]
    assert c.shape == (5, 3, H)
    for n, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(c[length - 1, n], c_n[0, n])
        assert (c[length:, n] == 0).all()
