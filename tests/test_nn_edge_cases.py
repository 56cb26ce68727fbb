"""Empty sizes and refused arguments: lnn does what torch.nn does (the same outputs where torch
returns, the same exception type and message where it raises)."""

from __future__ import annotations

import re

import pytest
import torch

from lstm_lib import nn as lnn

LAYERS = {"RNN": (lnn.RNN, torch.nn.RNN), "LSTM": (lnn.LSTM, torch.nn.LSTM),
          "GRU": (lnn.GRU, torch.nn.GRU)}
CELLS = {"RNNCell": (lnn.RNNCell, torch.nn.RNNCell), "LSTMCell": (lnn.LSTMCell, torch.nn.LSTMCell),
         "GRUCell": (lnn.GRUCell, torch.nn.GRUCell)}
OURS_ONLY_LAYERS = {"PeepholeLSTM": lnn.LSTM, "CIFG": lnn.LSTM}  # torch twin of the interface
D, H = 3, 4


def _outcome(fn):
    """What calling ``fn`` gives: ('ok', shapes of every tensor returned) or ('raise', type,
    message)."""
    try:
        result = fn()
    except Exception as e:  # noqa: BLE001 - the exception is what we compare
        return ("raise", type(e), str(e))
    flat = []
    stack = [result]
    while stack:
        item = stack.pop(0)
        if isinstance(item, tuple | list):
            stack[:0] = list(item)
        else:
            flat.append(tuple(item.shape))
    return ("ok", flat)


def _same_as_torch(ours_fn, theirs_fn):
    got, expected = _outcome(ours_fn), _outcome(theirs_fn)
    assert got == expected


# ---- batch size 0 -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
@pytest.mark.parametrize("fast", [True, False])
def test_zero_batch_returns_empty_outputs(mode, batch_first, num_layers, bidirectional, fast):
    ours_cls, torch_cls = LAYERS[mode]
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional,
              "batch_first": batch_first}
    ours, theirs = ours_cls(D, H, **kwargs), torch_cls(D, H, **kwargs)
    x = torch.randn((0, 5, D) if batch_first else (5, 0, D), requires_grad=True)
    with lnn.fast_path(fast):
        _same_as_torch(lambda: ours(x), lambda: theirs(x))
        out, _ = ours(x)
        out.sum().backward()  # an empty backward works too
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("mode", LAYERS)
def test_zero_batch_with_given_state(mode):
    ours_cls, torch_cls = LAYERS[mode]
    ours, theirs = ours_cls(D, H), torch_cls(D, H)
    x, h = torch.randn(5, 0, D), torch.zeros(1, 0, H)
    hx = (h, h) if mode == "LSTM" else h
    _same_as_torch(lambda: ours(x, hx), lambda: theirs(x, hx))


@pytest.mark.parametrize("kind", OURS_ONLY_LAYERS)
def test_zero_batch_variants_like_lstm(kind):
    ours, theirs = getattr(lnn, kind)(D, H), OURS_ONLY_LAYERS[kind](D, H)
    x = torch.randn(5, 0, D)
    _same_as_torch(lambda: ours(x), lambda: theirs(x))


@pytest.mark.parametrize("name", CELLS)
def test_cells_zero_batch(name):
    ours_cls, torch_cls = CELLS[name]
    ours, theirs = ours_cls(D, H), torch_cls(D, H)
    x = torch.randn(0, D)
    _same_as_torch(lambda: ours(x), lambda: theirs(x))


# ---- hidden size 0 ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_cells_zero_hidden_size(name):
    """torch allows a cell with hidden_size 0 (its init guards 1/sqrt(0)); so do we."""
    ours_cls, torch_cls = CELLS[name]
    _same_as_torch(lambda: ours_cls(10, 0)(torch.randn(2, 10)),
                   lambda: torch_cls(10, 0)(torch.randn(2, 10)))
    _same_as_torch(lambda: ours_cls(10, 0)(torch.randn(10)),
                   lambda: torch_cls(10, 0)(torch.randn(10)))


@pytest.mark.parametrize("name", ["PeepholeLSTMCell", "CIFGCell"])
def test_variant_cells_zero_hidden_size(name):
    h, c = getattr(lnn, name)(10, 0)(torch.randn(2, 10))
    assert h.shape == c.shape == (2, 0)


@pytest.mark.parametrize("mode", LAYERS)
def test_layers_zero_hidden_size_refused_like_torch(mode):
    ours_cls, torch_cls = LAYERS[mode]
    _same_as_torch(lambda: ours_cls(D, 0), lambda: torch_cls(D, 0))


# ---- sequence length 0 ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", LAYERS)
@pytest.mark.parametrize("shape, batch_first", [((0, 2, D), False), ((2, 0, D), True),
                                                ((0, D), False), ((0, D), True),
                                                ((0, 0, D), False)])
@pytest.mark.parametrize("fast", [True, False])
def test_zero_length_sequence_raises_torchs_error(mode, shape, batch_first, fast):
    ours_cls, torch_cls = LAYERS[mode]
    ours = ours_cls(D, H, batch_first=batch_first)
    theirs = torch_cls(D, H, batch_first=batch_first)
    x = torch.randn(*shape)
    with lnn.fast_path(fast):
        _same_as_torch(lambda: ours(x), lambda: theirs(x))
    with pytest.raises(RuntimeError, match=re.escape(
            "Expected sequence length to be larger than 0 in RNN")):
        ours(x)


@pytest.mark.parametrize("mode", LAYERS)
def test_zero_length_checks_come_after_the_others(mode):
    """torch checks input size and hidden shape first; the length check is the kernel's."""
    ours_cls, torch_cls = LAYERS[mode]
    ours, theirs = ours_cls(D, H), torch_cls(D, H)
    bad_width = torch.randn(0, 2, D + 1)
    _same_as_torch(lambda: ours(bad_width), lambda: theirs(bad_width))
    h = torch.zeros(1, 3, H)
    hx = (h, h) if mode == "LSTM" else h
    x = torch.randn(0, 2, D)
    _same_as_torch(lambda: ours(x, hx), lambda: theirs(x, hx))


@pytest.mark.parametrize("kind", OURS_ONLY_LAYERS)
def test_zero_length_variants_like_lstm(kind):
    x = torch.randn(0, 2, D)
    _same_as_torch(lambda: getattr(lnn, kind)(D, H)(x), lambda: torch.nn.LSTM(D, H)(x))


# ---- proj_size --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["RNN", "GRU"])
@pytest.mark.parametrize("proj_size", [0, 2])
def test_proj_size_on_rnn_and_gru_raises_value_error_like_torch(mode, proj_size):
    ours_cls, torch_cls = LAYERS[mode]
    _same_as_torch(lambda: ours_cls(D, H, proj_size=proj_size),
                   lambda: torch_cls(D, H, proj_size=proj_size))
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not "
                                         "RNN or GRU"):
        ours_cls(D, H, proj_size=proj_size)
