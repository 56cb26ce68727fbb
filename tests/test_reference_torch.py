"""lstm_lib.reference against torch.nn.{RNN,LSTM,GRU}Cell: forward, and BPTT against autograd."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref

torch = pytest.importorskip("torch")

TORCH_CELLS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
SIZES = [(1, 1, 1, 1), (3, 5, 4, 6), (2, 4, 1, 3)]  # (N, T, D, H)


def torch_cell(kind, D, H, seed=0):
    torch.manual_seed(seed)
    return getattr(torch.nn, TORCH_CELLS[kind])(D, H).double()


def t(a):
    return torch.from_numpy(np.array(a, dtype=np.float64))


def unroll(cell, kind, xs, state0, detach_every=None):
    """torch's cell looped over time; ``detach_every`` cuts the graph before chosen steps."""
    h, c = state0 if kind == "lstm" else (state0, None)
    hs, cs = [], []
    for step, x in enumerate(xs):
        if detach_every is not None and step in detach_every:
            h = h.detach()
            c = c.detach() if c is not None else None
        if kind == "lstm":
            h, c = cell(x, (h, c))
            cs.append(c)
        else:
            h = cell(x, h)
        hs.append(h)
    return torch.stack(hs), (torch.stack(cs) if cs else None)


def torch_grads(kind, tcell, H):
    """The torch cell's parameter gradients in the reference's layout."""
    w_ih, w_hh = tcell.weight_ih.grad.numpy(), tcell.weight_hh.grad.numpy()
    b_ih, b_hh = tcell.bias_ih.grad.numpy(), tcell.bias_hh.grad.numpy()
    grads = {"W": w_ih, "U": w_hh, "b": b_ih}  # b = b_ih + b_hh, so dL/db = dL/db_ih
    if kind == "gru":
        grads["b_hn"] = b_hh[2 * H:]
    return grads


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("N", "T", "D", "H"), SIZES)
def test_forward_and_bptt_match_torch(kind, N, T, D, H, rng):
    tcell = torch_cell(kind, D, H)
    cell = ref.make_cell(kind, D, H).load_torch_state_dict(tcell.state_dict())
    xs = rng.standard_normal((T, N, D))
    h0, c0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    state0 = (h0, c0) if kind == "lstm" else h0
    dhs = rng.standard_normal((T, N, H))
    dh_T, dc_T = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    dstate_T = (dh_T, dc_T) if kind == "lstm" else dh_T

    hs, cache = cell.forward(xs, state0)
    grads, dxs, dstate0 = cell.backward(dhs, cache, dstate_T=dstate_T, return_dstate0=True)

    xs_t = t(xs).requires_grad_()
    h0_t, c0_t = t(h0).requires_grad_(), t(c0).requires_grad_()
    hs_t, cs_t = unroll(tcell, kind, xs_t, (h0_t, c0_t) if kind == "lstm" else h0_t)
    loss = (t(dhs) * hs_t).sum() + (t(dh_T) * hs_t[-1]).sum()
    if kind == "lstm":
        loss = loss + (t(dc_T) * cs_t[-1]).sum()
    loss.backward()

    np.testing.assert_allclose(hs, hs_t.detach().numpy(), rtol=0, atol=1e-10)
    if kind == "lstm":
        np.testing.assert_allclose(cache.cs, cs_t.detach().numpy(), rtol=0, atol=1e-10)
    expected = torch_grads(kind, tcell, H)
    assert set(expected) == set(grads)
    for name in grads:
        np.testing.assert_allclose(grads[name], expected[name], rtol=0, atol=1e-10)
    np.testing.assert_allclose(dxs, xs_t.grad.numpy(), rtol=0, atol=1e-10)
    if kind == "lstm":
        np.testing.assert_allclose(dstate0[0], h0_t.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dstate0[1], c0_t.grad.numpy(), rtol=0, atol=1e-10)
    else:
        np.testing.assert_allclose(dstate0, h0_t.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncated_bptt_matches_torch_with_a_detached_window_per_loss(kind, k, rng):
    # BPTT(k) for one loss at step s: the graph is cut before step s - k + 1. Summing over s,
    # each with its own forward pass, is the definition `truncate=k` implements in O(T k).
    N, T, D, H = 2, 5, 3, 2
    tcell = torch_cell(kind, D, H, seed=1)
    cell = ref.make_cell(kind, D, H).load_torch_state_dict(tcell.state_dict())
    xs, h0, c0 = (rng.standard_normal(s) for s in ((T, N, D), (N, H), (N, H)))
    state0 = (h0, c0) if kind == "lstm" else h0
    dhs = rng.standard_normal((T, N, H))
    hs, cache = cell.forward(xs, state0)
    grads, dxs, dstate0 = cell.backward(dhs, cache, truncate=k, return_dstate0=True)

    xs_t, h0_t, c0_t = (t(a).requires_grad_() for a in (xs, h0, c0))
    for s in range(T):
        hs_t, _ = unroll(tcell, kind, xs_t, (h0_t, c0_t) if kind == "lstm" else h0_t,
                         detach_every={s - k + 1} if s - k + 1 > 0 else None)
        (t(dhs[s]) * hs_t[s]).sum().backward()
    for name, g in torch_grads(kind, tcell, H).items():
        np.testing.assert_allclose(grads[name], g, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dxs, xs_t.grad.numpy(), rtol=0, atol=1e-10)
    dh0 = dstate0[0] if kind == "lstm" else dstate0
    np.testing.assert_allclose(dh0, h0_t.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("kind", "layer"), [("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")])
def test_loads_layer_0_of_a_torch_layer(kind, layer, rng):
    torch.manual_seed(3)
    tlayer = getattr(torch.nn, layer)(3, 4).double()
    cell = ref.make_cell(kind, 3, 4).load_torch_state_dict(tlayer.state_dict())
    xs = rng.standard_normal((5, 2, 3))
    expected, _ = tlayer(t(xs))
    np.testing.assert_allclose(cell.forward(xs)[0], expected.detach().numpy(), rtol=0, atol=1e-10)


def test_accepts_tensors_that_require_grad_and_keeps_b_hn_apart(rng):
    tcell = torch_cell("gru", 2, 3)
    sd = {name: p for name, p in tcell.named_parameters()}  # requires_grad tensors
    cell = ref.make_cell("gru", 2, 3).load_torch_state_dict(sd)
    b_ih, b_hh = tcell.bias_ih.detach().numpy(), tcell.bias_hh.detach().numpy()
    np.testing.assert_array_equal(cell.params["b"][:6], b_ih[:6] + b_hh[:6])
    np.testing.assert_array_equal(cell.params["b"][6:], b_ih[6:])
    np.testing.assert_array_equal(cell.params["b_hn"], b_hh[6:])


def test_float32_state_dict_is_promoted_and_shape_errors_name_both_shapes():
    torch.manual_seed(0)
    sd = torch.nn.LSTMCell(3, 2).state_dict()  # float32
    cell = ref.make_cell("lstm", 3, 2).load_torch_state_dict(sd)
    assert all(p.dtype == np.float64 for p in cell.params.values())
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih'\] must have shape \(4H, D\) "
                                         r"for D=3, H=3: expected \(12, 3\), got \(8, 3\)"):
        ref.make_cell("lstm", 3, 3).load_torch_state_dict(sd)
