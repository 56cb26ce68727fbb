"""lstm_lib.bptt: the softmax readout's gradients, chunked truncation, term norms."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import bptt
from lstm_lib import reference as ref


def test_softmax_readout_matches_torch(rng):
    torch = pytest.importorskip("torch")
    T, N, H, K = 5, 3, 4, 6
    hs, V = rng.standard_normal((T, N, H)), rng.standard_normal((K, H))
    ys = rng.integers(0, K, size=(T, N))
    ys[0, 1] = -1  # no loss at this step
    out = bptt.softmax_readout(hs, V, ys)
    h_t = torch.tensor(hs, requires_grad=True)
    V_t = torch.tensor(V, requires_grad=True)
    logits = (h_t @ V_t.T).reshape(-1, K)
    E = torch.nn.functional.cross_entropy(logits, torch.tensor(ys).reshape(-1), reduction="sum",
                                          ignore_index=-1)
    E.backward()
    assert out.E_t.sum() == pytest.approx(E.item(), rel=1e-12)
    np.testing.assert_allclose(out.dhs, h_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.dV, V_t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.y_hat.sum(-1), 1.0)
    assert np.all(out.dz[0, 1] == 0)


def test_softmax_readout_rejects_bad_targets(rng):
    with pytest.raises(ValueError, match="ys must be integers < K"):
        bptt.softmax_readout(np.zeros((2, 1, 3)), np.zeros((4, 3)), np.full((2, 1), 4))
    with pytest.raises(ValueError, match="same H"):
        bptt.softmax_readout(np.zeros((2, 1, 3)), np.zeros((4, 2)), np.zeros((2, 1), int))


def test_softmax_is_stable():
    np.testing.assert_allclose(bptt.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])


def test_chunked_backward_one_chunk_is_full_bptt_and_chunks_cut_the_gradient(rng):
    T, N, D, H = 9, 2, 3, 4
    cell = ref.make_cell("rnn", D, H, rng=rng)
    xs, dhs = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, H))
    _, cache = cell.forward(xs)
    full, _ = cell.backward(dhs, cache)
    for k in (T, T + 3):
        got = bptt.chunked_backward(cell, xs, dhs, k)
        for n in full:
            np.testing.assert_allclose(got[n], full[n], rtol=1e-12, atol=1e-14)
    # k = 1: every chunk is one step, the same as a window of one step per loss
    one, _ = cell.backward(dhs, cache, truncate=1)
    got = bptt.chunked_backward(cell, xs, dhs, 1)
    for n in one:
        np.testing.assert_allclose(got[n], one[n], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        bptt.chunked_backward(cell, xs, dhs, 0)


def test_gradient_cosine(rng):
    g = {"W": rng.standard_normal((2, 2)), "U": rng.standard_normal((2, 2)), "b": np.ones(2)}
    assert bptt.gradient_cosine(g, {n: 3 * v for n, v in g.items()}) == pytest.approx(1.0)
    assert bptt.gradient_cosine(g, {n: -v for n, v in g.items()}) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="missing"):
        bptt.gradient_cosine(g, {"W": g["W"]})


def test_loss_term_norms_are_the_terms_of_the_sum(rng):
    cell = ref.make_cell("rnn", 2, 5, rng=rng)
    norms = bptt.loss_term_norms(cell, T=8, n_seq=2, seed=0)
    assert norms.shape == (8,) and norms[-1] == 0.0 and np.all(norms[:-1] > 0)
    # the same sequence and v, by hand: the terms' sum is backward's dU
    r = np.random.default_rng(0)
    _, cache = cell.forward(r.standard_normal((8, 1, 2)))
    v = r.standard_normal((1, 5))
    dhs = np.zeros((8, 1, 5))
    dhs[-1] = v / np.linalg.norm(v)
    dh, total = dhs[-1], np.zeros((5, 5))
    for t in reversed(range(8)):
        _, dh, _, dU, _ = ref.rnn_step_backward(dh, cache.steps[t])
        total += dU
    np.testing.assert_allclose(total, cell.backward(dhs, cache)[0]["U"], rtol=1e-12)
    with pytest.raises(ValueError, match="'rnn' cell"):
        bptt.loss_term_norms(ref.make_cell("gru", 2, 3, rng=rng), T=3)
