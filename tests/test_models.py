"""lstm_lib.models: output shapes, readouts, validation, parameter counts."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from lstm_lib.models import (
    KINDS,
    Conv1dLSTM,
    DenseBaseline,
    SequenceModel,
    count_parameters,
    recurrent_layer,
)

N, T, D, H, O = 3, 7, 4, 5, 2


pytestmark = pytest.mark.usefixtures("one_thread")


def _skip_if_missing(kind):
    """lstm_lib.nn is written in parallel; its kinds skip (with the reason) until it exists."""
    module = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "peephole": "PeepholeLSTM",
              "cifg": "CIFG"}.get(kind)
    if module is None:
        return
    try:
        lnn = importlib.import_module("lstm_lib.nn")
    except ImportError as err:
        pytest.skip(f"lstm_lib.nn is not importable: {err}")
    if not hasattr(lnn, module):
        pytest.skip(f"lstm_lib.nn.{module} does not exist yet")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("readout, shape", [("last", (N, O)), ("mean", (N, O)),
                                            ("all", (N, T, O))])
def test_output_shapes(kind, readout, shape):
    _skip_if_missing(kind)
    model = SequenceModel(kind, D, H, O, readout=readout)
    assert model(torch.randn(N, T, D)).shape == shape


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_two_layers_with_dropout(kind):
    _skip_if_missing(kind)
    model = SequenceModel(kind, D, H, O, num_layers=2, bidirectional=True, dropout=0.1)
    assert model.head.in_features == 2 * H
    assert model(torch.randn(N, T, D)).shape == (N, O)
    y, state = model(torch.randn(N, T, D), return_state=True)
    h_n = state[0] if isinstance(state, tuple) else state
    assert h_n.shape == (2 * 2, N, H)


@pytest.mark.parametrize("kind", ["torch-lstm", "torch-gru", "lstm"])
def test_bidirectional_last_reads_both_final_states(kind):
    """'last' feeds the head h_T of the forward and h_1 of the backward direction = h_n."""
    _skip_if_missing(kind)
    model = SequenceModel(kind, D, H, O, bidirectional=True)
    seen = {}
    model.head.register_forward_hook(lambda mod, inp, out: seen.update(feats=inp[0]))
    _, state = model(torch.randn(N, T, D), return_state=True)
    h_n = state[0] if isinstance(state, tuple) else state  # (2, N, H)
    torch.testing.assert_close(seen["feats"], torch.cat([h_n[0], h_n[1]], dim=-1))


def test_readout_all_matches_last_at_the_final_step():
    torch.manual_seed(0)
    last = SequenceModel("torch-lstm", D, H, O, readout="last")
    every = SequenceModel("torch-lstm", D, H, O, readout="all")
    every.load_state_dict(last.state_dict())
    x = torch.randn(N, T, D)
    torch.testing.assert_close(every(x)[:, -1], last(x))


def test_embedding_input():
    model = SequenceModel("torch-gru", 6, H, 11, embedding=11, readout="all")
    tokens = torch.randint(0, 11, (N, T))
    assert model(tokens).shape == (N, T, 11)
    with pytest.raises(ValueError, match=r"integer token ids \(N, T\)"):
        model(torch.randn(N, T, 6))


def test_state_is_carried():
    """return_state and state= let a chapter run a sequence in chunks (e.g. when sampling)."""
    torch.manual_seed(0)
    model = SequenceModel("torch-lstm", D, H, O, readout="all")
    x = torch.randn(N, T, D)
    whole = model(x)
    first, state = model(x[:, :3], return_state=True)
    second = model(x[:, 3:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


def test_invalid_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"kind must be one of 'rnn', 'lstm', .*'torch-gru'; "
                                         r"got 'transformer'"):
        SequenceModel("transformer", D, H, O)
    with pytest.raises(ValueError, match="kind must be one of"):
        recurrent_layer("LSTM", D, H)


@pytest.mark.parametrize("kwargs, match", [
    (dict(readout="first"), "readout must be one of"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(num_layers=0), "num_layers must be a positive int"),
    (dict(batch_first=False), "always batch_first=True"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SequenceModel("torch-lstm", D, H, O, **kwargs)


def test_wrong_input_shape_names_expected_and_actual():
    model = SequenceModel("torch-lstm", D, H, O)
    with pytest.raises(ValueError, match=r"D = input_size = 4; got \(3, 7, 2\)"):
        model(torch.randn(N, T, 2))
    with pytest.raises(ValueError, match=r"unsqueeze"):
        model(torch.randn(N, T))


def test_layer_kwargs_are_passed_on():
    model = SequenceModel("torch-lstm", D, H, O, bias=False)
    assert not model.rnn.bias and not hasattr(model.rnn, "bias_ih_l0")


@pytest.mark.parametrize("kind", KINDS)
def test_count_parameters_equals_numel_sum(kind):
    _skip_if_missing(kind)
    model = SequenceModel(kind, D, H, O, num_layers=2, embedding=9)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_count_parameters_trainable_only():
    model = SequenceModel("torch-lstm", D, H, O)
    expected_lstm = 4 * H * (D + H) + 2 * 4 * H  # W (4H, D), U (4H, H), two biases (4H,)
    assert count_parameters(model.rnn) == expected_lstm
    model.head.requires_grad_(False)
    assert count_parameters(model) == expected_lstm
    assert count_parameters(model, trainable_only=False) == expected_lstm + H * O + O


def test_lstm_kinds_match_torch_parameter_count():
    _skip_if_missing("lstm")
    assert count_parameters(SequenceModel("lstm", D, H, O)) == \
        count_parameters(SequenceModel("torch-lstm", D, H, O))


@pytest.mark.parametrize("readout", ["last", "all"])
def test_conv1d_lstm_shortens_the_sequence(readout):
    model = Conv1dLSTM(D, H, O, channels=6, kernel_size=3, pool=4, kind="torch-lstm",
                       readout=readout)
    seen = {}
    model.rnn.rnn.register_forward_hook(lambda m, inp, out: seen.update(T=inp[0].shape[1]))
    y = model(torch.randn(N, 40, D))
    assert seen["T"] == 10
    assert y.shape == ((N, O) if readout == "last" else (N, 10, O))
    with pytest.raises(ValueError, match="shorter than the total pooling factor 4"):
        model(torch.randn(N, 3, D))


def test_conv1d_lstm_two_blocks():
    model = Conv1dLSTM(D, H, O, pool=2, conv_layers=2, kind="torch-gru", readout="all")
    assert model(torch.randn(N, 16, D)).shape == (N, 4, O)


def test_dense_baseline():
    model = DenseBaseline(T, D, 3, hidden_sizes=(16, 8), dropout=0.1)
    assert model(torch.randn(N, T, D)).shape == (N, 3)
    assert count_parameters(DenseBaseline(T, D, 3, hidden_sizes=())) == T * D * 3 + 3
    with pytest.raises(ValueError, match=r"\(N, 7, 4\); got \(3, 8, 4\)"):
        model(torch.randn(N, T + 1, D))


def test_models_train_with_fit(rng):
    """The models plug into fit() unchanged (tiny smoke run)."""
    from lstm_lib.train import TrainConfig, fit

    x = torch.from_numpy(rng.standard_normal((16, T, D)).astype("float32"))
    y = x[:, -1, :O].clone()
    for model in (SequenceModel("torch-rnn", D, H, O), DenseBaseline(T, D, O),
                  Conv1dLSTM(D, H, O, pool=1, kind="torch-lstm")):
        h = fit(model, (x, y), config=TrainConfig(steps=3, device="cpu", progress=False))
        assert len(h.train_loss) == 3


def test_models_are_plain_modules():
    assert isinstance(SequenceModel("torch-lstm", D, H, O), nn.Module)
    assert "kind='torch-lstm'" in repr(SequenceModel("torch-lstm", D, H, O))


# ----------------------------------------------------------------------------- lengths, gates

@pytest.mark.parametrize("kind", ["lstm", "gru", "torch-lstm"])
@pytest.mark.parametrize("readout", ["last", "mean"])
def test_padding_does_not_change_the_output_with_lengths(kind, readout):
    torch.manual_seed(0)
    model = SequenceModel(kind, 4, 6, 2, embedding=9, readout=readout, pad_id=0).eval()
    x = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0], [8, 1, 2, 3]])
    more = torch.cat([x, torch.zeros(3, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        y, y_more = model(x), model(more)
        alone = model(torch.tensor([[6, 7]]))
    torch.testing.assert_close(y, y_more)
    torch.testing.assert_close(y[1:2], alone)          # as if the row had no padding
    with torch.no_grad():                              # masked fast path == lengths in the layer
        y_state, state = model(more, return_state=True)
    torch.testing.assert_close(y_state, y)
    with torch.no_grad():
        _, alone_state = model.rnn(model.embedding(torch.tensor([[6, 7]])))
    if isinstance(state, tuple):                       # an LSTM's (h_n, c_n)
        state, alone_state = state[0], alone_state[0]
    torch.testing.assert_close(state[:, 1:2], alone_state)
    with torch.no_grad():                              # explicit lengths, without pad_id
        plain = SequenceModel(kind, 4, 6, 2, embedding=9, readout=readout).eval()
        plain.load_state_dict(model.state_dict())
        torch.testing.assert_close(plain(more, lengths=torch.tensor([3, 2, 4])), y)


def test_return_gates_and_state_order():
    torch.manual_seed(0)
    model = SequenceModel("lstm", 3, 5, 7, embedding=7, readout="all")
    x = torch.randint(0, 7, (2, 4))
    y, state, gates = model(x, return_state=True, return_gates=True)
    assert y.shape == (2, 4, 7) and state[0].shape == (1, 2, 5)
    assert set(gates[0]) == {"i", "f", "g", "o", "c"} and gates[0]["c"].shape == (2, 4, 5)
    torch.testing.assert_close(gates[0]["c"][:, -1], state[1][0])
    y2, g2 = model(x, return_gates=True)
    torch.testing.assert_close(y, y2)
    with pytest.raises(ValueError, match="return_gates needs an lstm_lib.nn kind"):
        SequenceModel("torch-lstm", 3, 5, 7, embedding=7)(x, return_gates=True)
    with pytest.raises(ValueError, match="pad_id needs embedding"):
        SequenceModel("lstm", 3, 5, 7, pad_id=0)
