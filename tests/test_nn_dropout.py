"""Dropout (between layers, variational on inputs and recurrent state) and the forget-gate bias."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lstm_lib import nn as lnn


def identity_relu_rnn(D, *, W=1.0, U=0.0, **kwargs):
    """h_t = relu(W·I x_t + U·I h_{t-1}): makes dropout masks visible in the outputs."""
    layer = lnn.RNN(D, D, nonlinearity="relu", bias=False, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(W * torch.eye(D))
        layer.weight_hh_l0.copy_(U * torch.eye(D))
    return layer


def test_input_mask_is_constant_over_time_and_inverted():
    p = 0.3
    torch.manual_seed(0)
    layer = identity_relu_rnn(50, input_dropout=p)
    out, _ = layer(torch.ones(6, 400, 50, dtype=torch.float64))  # h_t = relu(m ⊙ 1) = m
    assert (out == out[0]).all()  # one mask per sequence, reused at every step
    values = out[0].unique()
    torch.testing.assert_close(values, torch.tensor([0.0, 1 / (1 - p)], dtype=torch.float64))
    assert abs(out[0].mean().item() - 1.0) < 0.02  # E[m] = 1
    assert abs((out[0] == 0).double().mean().item() - p) < 0.01
    assert not (out[0] == out[0, :1]).all()  # each sequence draws its own mask


def test_recurrent_mask_is_constant_over_time():
    p = 0.5
    torch.manual_seed(1)
    layer = identity_relu_rnn(20, U=1.0, recurrent_dropout=p)
    out, _ = layer(torch.ones(3, 300, 20, dtype=torch.float64))
    # h_1 = 1, h_2 = m ⊙ h_1 + 1, h_3 = m ⊙ h_2 + 1 with the same m at both steps
    m = out[1] - 1
    torch.testing.assert_close(out[2], m * out[1] + 1)
    assert set(m.unique().tolist()) == {0.0, 2.0}
    assert abs(m.mean().item() - 1.0) < 0.05


@pytest.mark.parametrize("cls", [lnn.LSTM, lnn.GRU, lnn.PeepholeLSTM, lnn.CIFG, lnn.RNN])
def test_eval_is_deterministic_and_dropout_free(cls):
    torch.manual_seed(0)
    kwargs = {"num_layers": 2, "dropout": 0.5, "bidirectional": True}
    noisy = cls(3, 4, input_dropout=0.4, recurrent_dropout=0.4, **kwargs)
    clean = cls(3, 4, **kwargs)
    clean.load_state_dict(noisy.state_dict())
    x = torch.randn(5, 2, 3)
    train_a, train_b = noisy(x)[0], noisy(x)[0]
    assert not torch.equal(train_a, train_b)
    noisy.eval()
    clean.eval()
    torch.testing.assert_close(noisy(x)[0], noisy(x)[0], rtol=0, atol=0)
    torch.testing.assert_close(noisy(x)[0], clean(x)[0], rtol=0, atol=0)


def test_between_layer_dropout_has_torch_semantics():
    """Training: layer 2 of (F.dropout of layer 1's output); the last layer is not dropped."""
    torch.manual_seed(0)
    two = lnn.LSTM(3, 4, num_layers=2, dropout=0.5, dtype=torch.float64)
    first = lnn.LSTM(3, 4, dtype=torch.float64)
    second = lnn.LSTM(4, 4, dtype=torch.float64)
    sd = two.state_dict()
    first.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items()
                            if k.endswith("_l1")})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.manual_seed(7)
    out, (h_n, _) = two(x)
    torch.manual_seed(7)
    expected, _ = second(F.dropout(first(x)[0], 0.5, training=True))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(h_n[1], out[-1])  # no dropout after the last layer


@pytest.mark.parametrize("name", ["input_dropout", "recurrent_dropout"])
@pytest.mark.parametrize("p", [1.0, -0.1, True, "0.5"])
def test_probability_validation(name, p):
    with pytest.raises(ValueError, match=rf"{name} must be a number in \[0, 1\)"):
        lnn.GRU(3, 4, **{name: p})


# ---- forget-gate bias -----------------------------------------------------------------------
@pytest.mark.parametrize("cls, block", [(lnn.LSTM, 1), (lnn.PeepholeLSTM, 1), (lnn.CIFG, 0)])
def test_forget_bias_sets_the_f_block_of_the_summed_bias(cls, block):
    H = 5
    layer = cls(3, H, num_layers=2, bidirectional=True, forget_bias=1.0)
    bound = 1 / H**0.5
    names = [n for n, _ in layer.named_parameters() if n.startswith("bias_ih")]
    assert len(names) == 4
    for name in names:
        b_ih, b_hh = getattr(layer, name), getattr(layer, name.replace("ih", "hh"))
        f = slice(block * H, (block + 1) * H)
        assert (b_ih[f] == 1.0).all() and (b_hh[f] == 0.0).all()
        assert ((b_ih + b_hh)[f] == 1.0).all()
        others = torch.cat([b_ih[: block * H], b_ih[(block + 1) * H:]])
        assert others.abs().max() <= bound and others.abs().max() > 0  # torch's init elsewhere
    with torch.no_grad():
        layer.bias_ih_l0.zero_()
    layer.reset_parameters()
    assert (layer.bias_ih_l0[block * H:(block + 1) * H] == 1.0).all()


def test_forget_bias_on_cells_and_errors():
    cell = lnn.LSTMCell(3, 2, forget_bias=2.0)
    assert cell.bias_ih[2:4].tolist() == [2.0, 2.0] and cell.bias_hh[2:4].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        lnn.LSTM(3, 4, bias=False, forget_bias=1.0)
    with pytest.raises(TypeError, match="forget_bias"):
        lnn.GRU(3, 4, forget_bias=1.0)


def test_forget_bias_one_opens_the_forget_gate():
    """With zero weights and b_f = 1 the forget gate sits at σ(1) ≈ 0.73 instead of 0.5."""
    layer = lnn.LSTM(2, 3, forget_bias=1.0)
    with torch.no_grad():
        layer.weight_ih_l0.zero_()
        layer.weight_hh_l0.zero_()
    _, _, gates = layer(torch.randn(4, 1, 2), return_gates=True)
    expected = torch.full((4, 1, 3), torch.sigmoid(torch.tensor(1.0)).item())
    torch.testing.assert_close(gates[0]["f"], expected)
