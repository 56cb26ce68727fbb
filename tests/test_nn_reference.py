"""lnn modules against the numpy reference cells: forward, gates and BPTT gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_lib import nn as lnn

ref = pytest.importorskip("lstm_lib.reference")

LAYERS = {"rnn": lnn.RNN, "lstm": lnn.LSTM, "peephole": lnn.PeepholeLSTM, "cifg": lnn.CIFG,
          "gru": lnn.GRU}
CELLS = {"rnn": lnn.RNNCell, "lstm": lnn.LSTMCell, "peephole": lnn.PeepholeLSTMCell,
         "cifg": lnn.CIFGCell, "gru": lnn.GRUCell}
GRAD_NAMES = {"W": "weight_ih", "U": "weight_hh", "p_i": "peephole_i", "p_f": "peephole_f",
              "p_o": "peephole_o"}


def torch_grads_as_reference(layer, suffix: str, H: int, kind: str) -> dict[str, np.ndarray]:
    """The autograd gradients of one layer/direction, named and merged as the reference's."""
    p = dict(layer.named_parameters())
    out = {ref_name: p[name + suffix].grad.numpy() for ref_name, name in GRAD_NAMES.items()
           if name + suffix in p}
    db_ih, db_hh = p["bias_ih" + suffix].grad.numpy(), p["bias_hh" + suffix].grad.numpy()
    np.testing.assert_allclose(db_ih[: db_ih.size - (H if kind == "gru" else 0)],
                               db_hh[: db_hh.size - (H if kind == "gru" else 0)], atol=1e-12)
    out["b"] = db_ih
    if kind == "gru":
        out["b_hn"] = db_hh[2 * H:]
    return out


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (5, 3, 4, 6)])
def test_layer_matches_reference_forward_and_bptt(kind, T, N, D, H, rng):
    layer = LAYERS[kind](D, H, dtype=torch.float64)
    cell = ref.make_cell(kind, D, H)
    cell.params.update(lnn.to_reference_params(layer))
    xs = rng.standard_normal((T, N, D))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    has_c = kind in ("lstm", "peephole", "cifg")
    state0 = (h0, c0) if has_c else h0
    hs_ref, cache = cell.forward(xs, state0)

    x = torch.from_numpy(xs).requires_grad_()
    hx = tuple(torch.from_numpy(s)[None] for s in (h0, c0)) if has_c else torch.from_numpy(h0)[None]
    hs, _, gates = layer(x, hx, return_gates=True)
    np.testing.assert_allclose(hs.detach().numpy(), hs_ref, atol=1e-12)
    for name, value in cache.gates.items():
        np.testing.assert_allclose(gates[0][name].detach().numpy(), value, atol=1e-12)
    if has_c:
        np.testing.assert_allclose(gates[0]["c"].detach().numpy(), cache.cs, atol=1e-12)

    dhs = rng.standard_normal((T, N, H))
    grads_ref, dxs_ref = cell.backward(dhs, cache)
    (hs * torch.from_numpy(dhs)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), dxs_ref, atol=1e-10)
    grads = torch_grads_as_reference(layer, "_l0", H, kind)
    assert grads.keys() == grads_ref.keys()
    for name in grads_ref:
        np.testing.assert_allclose(grads[name], grads_ref[name], atol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", CELLS)
def test_reference_params_round_trip(kind, rng):
    cell = ref.make_cell(kind, 3, 4, rng=1)
    module = lnn.from_reference_params(CELLS[kind](3, 4, dtype=torch.float64), cell.params)
    back = lnn.to_reference_params(module)
    assert back.keys() == cell.params.keys()
    for name, value in cell.params.items():
        np.testing.assert_array_equal(back[name], value)
    x = rng.standard_normal((1, 2, 3))
    hs_ref, _ = cell.forward(x)
    out = module(torch.from_numpy(x[0]))
    h = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(h.detach().numpy(), hs_ref[0], atol=1e-12)


def test_reference_params_of_a_deeper_layer_and_direction(rng):
    layer = lnn.PeepholeLSTM(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    params = lnn.to_reference_params(layer, layer_idx=1, direction=1)
    assert params["W"].shape == (16, 8)
    np.testing.assert_array_equal(params["p_o"], layer.peephole_o_l1_reverse.detach().numpy())
    lnn.from_reference_params(layer, {**params, "p_o": np.zeros(4)}, layer_idx=1, direction=1)
    assert (layer.peephole_o_l1_reverse == 0).all()
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(16, 8\), got \(16, 3\)"):
        lnn.from_reference_params(layer, {**params, "W": np.zeros((16, 3))}, 1, 1)
    with pytest.raises(ValueError, match="a cell has one layer and one direction"):
        lnn.to_reference_params(lnn.LSTMCell(3, 4), layer_idx=1)


def test_reference_params_of_torch_modules():
    """The mapping reads torch.nn layers too, which share the parameter names."""
    t = torch.nn.GRU(3, 4)
    p = lnn.to_reference_params(t)
    np.testing.assert_allclose(p["b_hn"], t.bias_hh_l0.detach().numpy()[8:])


@pytest.mark.parametrize("kind", ["peephole", "cifg"])
def test_reverse_direction_and_second_layer_match_reference(kind, rng):
    """Each (layer, direction) of a stacked bidirectional layer is the reference cell run on that
    layer's input, flipped in time for the reverse direction."""
    layer = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    xs = rng.standard_normal((5, 2, 3))
    output, _, gates = layer(torch.from_numpy(xs), return_gates=True)
    layer_input = xs
    for k in range(2):
        expected = []
        for direction in range(2):
            cell = ref.make_cell(kind, layer_input.shape[-1], 4)
            cell.params.update(lnn.to_reference_params(layer, k, direction))
            seq = layer_input[::-1] if direction else layer_input
            hs, cache = cell.forward(np.ascontiguousarray(seq))
            expected.append(hs[::-1] if direction else hs)
            cs = cache.cs[::-1] if direction else cache.cs
            np.testing.assert_allclose(gates[k]["c"][..., 4 * direction:4 * direction + 4]
                                       .detach().numpy(), cs, atol=1e-12)
        layer_input = np.concatenate(expected, axis=-1)
    np.testing.assert_allclose(output.detach().numpy(), layer_input, atol=1e-12)
