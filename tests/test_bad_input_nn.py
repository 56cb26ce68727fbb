"""Hostile input for ``lstm_lib.nn`` (lnn): the layers' and cells' own extras, the cells' and
layers' argument checks side by side with torch.nn, and ``from_reference_params``.

The policy (DESIGN.md, "Bad input"): lnn behaves exactly as torch.nn. Where torch.nn refuses an
argument, lnn raises the same exception type (and torch's text, where torch's text is clear;
otherwise torch's type with a message that names the argument and what was expected). Where
torch.nn accepts an argument, lnn accepts it too, and the test says so. No NaN scan per forward.
The extras that torch does not have (``forget_bias=``, ``from_reference_params``) refuse
non-finite values and wrong shapes outright.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lstm_lib import nn as lnn
from lstm_lib import reference as ref

D, H = 3, 4
NAN, INF = float("nan"), float("inf")
LAYERS = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}
CELLS = {"RNNCell": torch.nn.RNNCell, "LSTMCell": torch.nn.LSTMCell,
         "GRUCell": torch.nn.GRUCell}
HAS_CELL = {"LSTM", "LSTMCell", "PeepholeLSTM", "CIFG", "PeepholeLSTMCell", "CIFGCell"}


def _outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the exception is what we compare
        return type(e), str(e)
    return None, None


def _same_type_as_torch(ours, theirs, *, text_too: bool = False):
    """Call both; torch's exception type (and text, if asked) must be ours. Returns ours."""
    t_type, t_text = _outcome(theirs)
    o_type, o_text = _outcome(ours)
    assert t_type is not None, "torch accepted it: this case belongs with the accepted ones"
    assert o_type is t_type, f"torch raised {t_type.__name__}({t_text!r}), lnn {o_type}"
    if text_too:
        assert o_text.startswith(t_text), (o_text, t_text)
    return o_text


# ---- forget_bias: finite numbers only (LSTM kinds, layers and cells) -------------------------
FORGET_OWNERS = ["LSTM", "PeepholeLSTM", "CIFG", "LSTMCell", "PeepholeLSTMCell", "CIFGCell"]


@pytest.mark.parametrize("owner", FORGET_OWNERS)
@pytest.mark.parametrize("value, error, match", [
    (NAN, ValueError, r"forget_bias must be finite: expected a real number, got nan"),
    (INF, ValueError, r"forget_bias must be finite"),
    (-INF, ValueError, r"forget_bias must be finite"),
    ("1.0", TypeError, r"forget_bias must be None or a real number .* got str"),
    (True, TypeError, r"forget_bias must be None or a real number .* got bool"),
    ([1.0], TypeError, r"forget_bias must be None or a real number"),
])
def test_forget_bias_must_be_a_finite_number(owner, value, error, match):
    with pytest.raises(error, match=match):
        getattr(lnn, owner)(D, H, forget_bias=value)


@pytest.mark.parametrize("owner", FORGET_OWNERS)
def test_forget_bias_accepts_numpy_and_int(owner):
    m = getattr(lnn, owner)(D, H, forget_bias=np.float32(2.0))
    assert m.forget_bias == 2.0 and isinstance(m.forget_bias, float)
    assert getattr(lnn, owner)(D, H, forget_bias=1).forget_bias == 1.0


# ---- cell constructors: torch's exception types, clearer words -------------------------------
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("args, match", [
    ((D, 2.0), r"hidden_size should be of type int, got: float"),
    (("3", H), r"input_size should be of type int, got: str"),
    ((D, -1), r"hidden_size must be >= 0, got -1"),
    ((-2, H), r"input_size must be >= 0, got -2"),
])
def test_cell_sizes_refused_as_torch_refuses_them(name, args, match):
    text = _same_type_as_torch(lambda: getattr(lnn, name)(*args),
                               lambda: CELLS[name](*args))
    assert re.search(match, text)


@pytest.mark.parametrize("name", ["PeepholeLSTMCell", "CIFGCell"])
def test_variant_cell_sizes_refused_like_lstm_cell(name):
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        getattr(lnn, name)(D, 2.5)
    with pytest.raises(RuntimeError, match="input_size must be >= 0"):
        getattr(lnn, name)(-1, H)


@pytest.mark.parametrize("name", CELLS)
def test_cell_bias_string_accepted_as_torch_accepts_it(name):
    """torch.nn's cells take bias="no" (truthy) and build biases: DESIGN's 'exactly as
    torch.nn' wins over 'booleans are booleans' here, so lnn does the same."""
    ours, theirs = getattr(lnn, name)(D, H, bias="no"), CELLS[name](D, H, bias="no")
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours.bias_ih is not None


def test_rnn_cell_nonlinearity_refused_where_torch_refuses_it():
    """torch.nn.RNNCell builds with any nonlinearity and refuses an unknown one at forward."""
    x = torch.randn(2, D)
    text = _same_type_as_torch(lambda: lnn.RNNCell(D, H, nonlinearity="sigmoid")(x),
                               lambda: torch.nn.RNNCell(D, H, nonlinearity="sigmoid")(x),
                               text_too=True)
    assert "sigmoid" in text


@pytest.mark.parametrize("owner", ["LSTM", "GRUCell"])
@pytest.mark.parametrize("value", ["no", 1, None])
def test_return_gates_must_be_a_bool(owner, value):
    """An lnn extra (torch has no return_gates): booleans are booleans."""
    module = getattr(lnn, owner)(D, H)
    x = torch.randn(2, D) if "Cell" in owner else torch.randn(3, 2, D)
    with pytest.raises(TypeError, match="return_gates must be a bool"):
        module(x, return_gates=value)


# ---- cell forward: hx arity, type, dtype ------------------------------------------------------
def _cell_pair(name):
    return getattr(lnn, name)(D, H), CELLS[name](D, H)


CELL_FORWARD_BAD = {
    "hx tuple of 1": (["LSTMCell"], lambda c: c(torch.randn(2, D), (torch.zeros(2, H),)),
                      True),
    "hx tuple of 3": (["LSTMCell"], lambda c: c(torch.randn(2, D), (torch.zeros(2, H),) * 3),
                      True),
    "hx a tensor": (["LSTMCell"], lambda c: c(torch.randn(2, D), torch.zeros(2, H)), True),
    "hx a tuple": (["RNNCell", "GRUCell"], lambda c: c(torch.randn(2, D), (torch.zeros(2, H),)),
                   True),
    "input float64": (list(CELLS), lambda c: c(torch.randn(2, D, dtype=torch.float64)), False),
    "input int64": (list(CELLS), lambda c: c(torch.ones(2, D, dtype=torch.long)), False),
    "hx float64": (["RNNCell", "GRUCell"],
                   lambda c: c(torch.randn(2, D), torch.zeros(2, H, dtype=torch.float64)), False),
    "hx pair float64": (["LSTMCell"], lambda c: c(
        torch.randn(2, D), (torch.zeros(2, H, dtype=torch.float64),) * 2), False),
    "input a list": (list(CELLS), lambda c: c([[1.0, 2.0, 3.0]]), True),
}


@pytest.mark.parametrize("case, name", [(case, name) for case, (names, _, _)
                                        in CELL_FORWARD_BAD.items() for name in names])
def test_cell_forward_refused_as_torch_refuses_it(case, name):
    _, call, text_too = CELL_FORWARD_BAD[case]
    ours, theirs = _cell_pair(name)
    text = _same_type_as_torch(lambda: call(ours), lambda: call(theirs), text_too=text_too)
    if case.startswith(("hx", "input f", "input i")):
        assert "hx" in text or "input" in text  # names the argument


def test_cell_dtype_message_names_both_dtypes():
    with pytest.raises(RuntimeError, match=re.escape(
            "LSTMCell: input dtype (torch.float64) does not match weight dtype (torch.float32)")):
        lnn.LSTMCell(D, H)(torch.randn(2, D, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=re.escape(
            "GRUCell: hx dtype (torch.float64) does not match input dtype (torch.float32)")):
        lnn.GRUCell(D, H)(torch.randn(2, D), torch.zeros(2, H, dtype=torch.float64))


@pytest.mark.parametrize("name", ["PeepholeLSTMCell", "CIFGCell"])
def test_variant_cells_refuse_hx_like_lstm_cell(name):
    cell = getattr(lnn, name)(D, H)
    x, h = torch.randn(2, D), torch.zeros(2, H)
    with pytest.raises(RuntimeError, match="expects two hidden states"):
        cell(x, (h, h, h))
    with pytest.raises(TypeError, match="must be tuple of Tensors, not Tensor"):
        cell(x, h)
    with pytest.raises(RuntimeError, match="hx\\[1\\] dtype \\(torch.float64\\)"):
        cell(x, (h, h.double()))


def test_fgr_cell_takes_its_three_part_state():
    cell = lnn.LSTMCell(D, H, variant="FGR")
    state = cell(torch.randn(2, D))
    assert len(state) == 3 and len(cell(torch.randn(2, D), state)) == 3
    with pytest.raises(RuntimeError, match="expects two hidden states"):
        cell(torch.randn(2, D), (*state, state[0]))


# ---- layer forward: hx arity, type, dtype -----------------------------------------------------
LAYER_FORWARD_BAD = {
    "hx tuple of 1": (["LSTM"], lambda m: m(torch.randn(5, 2, D), (torch.zeros(1, 2, H),))),
    "hx tuple of 3": (["LSTM"], lambda m: m(torch.randn(5, 2, D), (torch.zeros(1, 2, H),) * 3)),
    "hx one tensor": (["LSTM"], lambda m: m(torch.randn(5, 2, D), torch.zeros(1, 2, H))),
    "hx a tuple": (["RNN", "GRU"], lambda m: m(torch.randn(5, 2, D), (torch.zeros(1, 2, H),))),
    "hx float64": (["RNN", "GRU"],
                   lambda m: m(torch.randn(5, 2, D), torch.zeros(1, 2, H, dtype=torch.float64))),
    "hx pair float64": (["LSTM"], lambda m: m(
        torch.randn(5, 2, D), (torch.zeros(1, 2, H, dtype=torch.float64),) * 2)),
    "hx pair int64": (["LSTM"], lambda m: m(
        torch.randn(5, 2, D), (torch.zeros(1, 2, H, dtype=torch.long),) * 2)),
    "hx mixed dtypes": (["LSTM"], lambda m: m(
        torch.randn(5, 2, D), (torch.zeros(1, 2, H), torch.zeros(1, 2, H, dtype=torch.float64)))),
    "input a list": (list(LAYERS), lambda m: m([[[1.0, 2.0, 3.0]]])),
}


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "loop"])
@pytest.mark.parametrize("case, mode", [(case, mode) for case, (modes, _)
                                        in LAYER_FORWARD_BAD.items() for mode in modes])
def test_layer_forward_refused_as_torch_refuses_it(case, mode, fast):
    _, call = LAYER_FORWARD_BAD[case]
    with lnn.fast_path(fast):
        text = _same_type_as_torch(lambda: call(getattr(lnn, mode)(D, H)),
                                   lambda: call(LAYERS[mode](D, H)))
    if case.startswith("hx"):
        assert "hx" in text and (mode in text or "lstm" in text)


def test_layer_hx_messages_say_what_was_expected():
    m, x, h = lnn.LSTM(D, H), torch.randn(5, 2, D), torch.zeros(1, 2, H)
    with pytest.raises(IndexError, match=re.escape(
            "LSTM takes hx = (h_0, c_0), two tensors of shape (num_layers * num_directions, "
            "N, H), got a tuple of 1")):
        m(x, (h,))
    with pytest.raises(RuntimeError, match=re.escape(
            "LSTM: hx[1] dtype (torch.float64) does not match input dtype (torch.float32)")):
        m(x, (h, h.double()))
    with pytest.raises(AttributeError, match="GRU takes hx as one tensor h_0"):
        lnn.GRU(D, H)(x, (h,))


@pytest.mark.parametrize("kind", ["PeepholeLSTM", "CIFG"])
def test_variant_layers_refuse_hx_like_lstm(kind):
    m, x, h = getattr(lnn, kind)(D, H), torch.randn(5, 2, D), torch.zeros(1, 2, H)
    with pytest.raises(RuntimeError, match="lstm expects two hidden states"):
        m(x, (h, h, h))
    with pytest.raises(RuntimeError, match="does not match input dtype"):
        m(x, (h.double(), h))


def test_nan_state_is_not_scanned_like_torch():
    """No per-forward NaN scan, as torch.nn: NaN in hx flows to the outputs."""
    h = torch.full((1, 2, H), NAN)
    for ours, theirs in ((lnn.GRU(D, H), torch.nn.GRU(D, H)),):
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(3, 2, D)
        assert ours(x, h)[0].isnan().all() and theirs(x, h)[0].isnan().all()


# ---- truthy strings for booleans --------------------------------------------------------------
@pytest.mark.parametrize("mode", list(LAYERS) + ["PeepholeLSTM", "CIFG"])
@pytest.mark.parametrize("flag", ["bias", "batch_first"])
@pytest.mark.parametrize("value", ["no", "False", 1, None])
def test_truthy_flags_refused_like_torch(mode, flag, value):
    """torch.nn's layers refuse a non-bool bias / batch_first with TypeError; so does lnn."""
    twin = LAYERS.get(mode, torch.nn.LSTM)
    text = _same_type_as_torch(lambda: getattr(lnn, mode)(D, H, **{flag: value}),
                               lambda: twin(D, H, **{flag: value}), text_too=True)
    assert f"{flag} should be of type bool" in text


@pytest.mark.parametrize("mode", LAYERS)
@pytest.mark.parametrize("value", ["no", 1, np.bool_(True), None])
def test_non_bool_bidirectional_refused_where_torch_refuses_it(mode, value):
    """torch.nn builds a layer with bidirectional="no" (no check in the constructor) and its
    kernel refuses the flag at forward with a TypeError. lnn does exactly that, with a message
    that names the argument, instead of quietly running two directions."""
    ours = getattr(lnn, mode)(D, H, bidirectional=value)
    theirs = LAYERS[mode](D, H, bidirectional=value)
    x = torch.randn(4, 2, D)
    text = _same_type_as_torch(lambda: ours(x), lambda: theirs(x))
    assert text.startswith("bidirectional should be of type bool, got: ")


# ---- from_reference_params: exact keys and shapes, finite, indices in range, atomic ---------
def _gru_and_params(rng):
    layer = lnn.GRU(D, H, num_layers=2, dtype=torch.float64)
    params = ref.make_cell("gru", D, H, rng=rng).params
    return layer, params


FROM_REF_BAD = {
    "b_hn scalar": (lambda p: {**p, "b_hn": 0.5}, {}, ValueError,
                    r"params\['b_hn'\] must have shape \(4,\), got \(\)"),
    "b_hn (H, 1)": (lambda p: {**p, "b_hn": p["b_hn"][:, None]}, {}, ValueError,
                    r"params\['b_hn'\] must have shape \(4,\), got \(4, 1\)"),
    "b (3H, 1)": (lambda p: {**p, "b": p["b"][:, None]}, {}, ValueError,
                  r"params\['b'\] must have shape \(12,\)"),
    "W NaN": (lambda p: {**p, "W": np.full_like(p["W"], NAN)}, {}, ValueError,
              r"params\['W'\] must be finite"),
    "U inf": (lambda p: {**p, "U": np.full_like(p["U"], INF)}, {}, ValueError,
              r"params\['U'\] must be finite"),
    "b_hn NaN": (lambda p: {**p, "b_hn": np.full(H, NAN)}, {}, ValueError,
                 r"params\['b_hn'\] must be finite"),
    "W complex": (lambda p: {**p, "W": p["W"].astype(complex)}, {}, TypeError,
                  r"params\['W'\] must be a real array"),
    "b_hn missing": (lambda p: {k: v for k, v in p.items() if k != "b_hn"}, {}, ValueError,
                     r"missing \['b_hn'\]"),
    "extra key": (lambda p: {**p, "p_i": np.zeros(H)}, {}, ValueError, r"unexpected \['p_i'\]"),
    "not a dict": (lambda p: list(p.values()), {}, TypeError, r"params must be a dict"),
    "layer_idx -1": (lambda p: p, {"layer_idx": -1}, ValueError,
                     r"layer_idx must be in \[0, num_layers\) = \[0, 2\), got -1"),
    "layer_idx 2": (lambda p: p, {"layer_idx": 2}, ValueError, r"layer_idx must be in"),
    "layer_idx True": (lambda p: p, {"layer_idx": True}, TypeError, r"layer_idx must be an int"),
    "layer_idx 0.0": (lambda p: p, {"layer_idx": 0.0}, TypeError, r"layer_idx must be an int"),
    "direction 1 of one": (lambda p: p, {"direction": 1}, ValueError,
                           r"direction must be in \[0, num_directions\) = \[0, 1\)"),
    "direction -1": (lambda p: p, {"direction": -1}, ValueError, r"direction must be in"),
}


@pytest.mark.parametrize("case", FROM_REF_BAD)
def test_from_reference_params_refuses(case, rng):
    layer, params = _gru_and_params(rng)
    edit, kwargs, error, match = FROM_REF_BAD[case]
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    with pytest.raises(error, match=match):
        lnn.from_reference_params(layer, edit(params), **kwargs)
    for k, v in layer.state_dict().items():  # checked before anything was copied
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("case", ["layer_idx -1", "layer_idx 2", "direction -1"])
def test_to_reference_params_refuses_out_of_range_indices(case, rng):
    layer, _ = _gru_and_params(rng)
    with pytest.raises(ValueError, match="must be in"):
        lnn.to_reference_params(layer, **FROM_REF_BAD[case][1])


def test_from_reference_params_checks_torch_layers_and_cells_too(rng):
    params = ref.make_cell("lstm", D, H, rng=rng).params
    with pytest.raises(ValueError, match="layer_idx must be in"):
        lnn.from_reference_params(torch.nn.LSTM(D, H), params, layer_idx=-1)
    with pytest.raises(ValueError, match="a cell has one layer and one direction"):
        lnn.from_reference_params(lnn.LSTMCell(D, H), params, direction=1)
    with pytest.raises(TypeError, match="module must be an lnn or torch.nn recurrent layer"):
        lnn.from_reference_params(torch.nn.Linear(D, H), params)


@pytest.mark.parametrize("module", [lnn.GRU(D, H, dtype=torch.float64),
                                    lnn.GRUCell(D, H, dtype=torch.float64)], ids=["layer", "cell"])
def test_from_reference_params_refuses_a_parametrized_weight(module, rng):
    """Under weight_norm a weight is computed: copying into it would silently do nothing."""
    from torch.nn.utils.parametrizations import weight_norm

    name = "weight_hh" if isinstance(module, lnn.GRUCell) else "weight_hh_l0"
    weight_norm(module, name)
    with pytest.raises(ValueError, match="weight_hh of this .*GRU.* is computed"):
        lnn.from_reference_params(module, ref.make_cell("gru", D, H, rng=rng).params)


@pytest.mark.parametrize("layer, direction", [(-1, 0), (2, 0), (0, 2), (0, -1), (True, 0)])
def test_layer_parameters_index_in_range(layer, direction):
    """No Python negative indexing: layer -1 is refused, not the last layer."""
    m = lnn.LSTM(D, H, num_layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"(layer|direction) must be an int in \[0, 2\)"):
        m.layer_parameters(layer, direction)


def test_from_reference_params_valid_round_trip_still_exact(rng):
    layer, params = _gru_and_params(rng)
    lnn.from_reference_params(layer, params, layer_idx=0)
    back = lnn.to_reference_params(layer, layer_idx=0)
    for k, v in params.items():
        np.testing.assert_array_equal(back[k], v)
