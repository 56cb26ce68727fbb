"""lstm_lib.reference's sLSTM: gradient checks, the stabiliser, chunking, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref


def random_state(H, N, rng):
    """(h0, c̄0, n̄0, m0) as a previous chunk could leave it: n̄0 > 0."""
    return (rng.standard_normal((N, H)) * 0.5, rng.standard_normal((N, H)),
            rng.uniform(0.5, 2.0, (N, H)), rng.standard_normal((N, H)))


@pytest.mark.parametrize(("N", "T", "D", "H"), [(1, 1, 1, 1), (2, 1, 3, 2), (1, 4, 2, 1),
                                                (3, 5, 2, 3)])
def test_gradcheck_from_zero_state(N, T, D, H, rng):
    cell = ref.make_cell("slstm", D, H, rng=rng)
    report = ref.gradcheck_report(cell, rng.standard_normal((T, N, D)), rng=rng)
    # n̄_0 = 0 is the empty memory, a boundary (n̄ >= 0): its gradient there is one-sided
    assert max(e for name, e in report.errors.items() if name != "n0") < 1e-6, str(report)


@pytest.mark.parametrize(("N", "T", "D", "H"), [(1, 1, 1, 1), (2, 4, 3, 2)])
def test_gradcheck_with_state0_and_a_loss_on_the_final_state(N, T, D, H, rng):
    cell = ref.make_cell("slstm", D, H, rng=rng)
    xs = rng.standard_normal((T, N, D))
    dstate_T = tuple(rng.standard_normal((N, H)) for _ in range(4))
    report = ref.gradcheck_report(cell, xs, random_state(H, N, rng), rng=rng, dstate_T=dstate_T)
    assert set(report.errors) == {"W", "U", "b", "xs", "h0", "c0", "n0", "m0"}
    assert report.worst < 1e-6, str(report)


def test_gradcheck_with_large_input_gates(rng):
    # ĩ around 30: the stabiliser is active at every step, the max switches branches
    cell = ref.make_cell("slstm", 2, 3, rng=rng)
    cell.params["b"][:3] = 30.0 + rng.standard_normal(3)
    xs = rng.standard_normal((6, 2, 2))
    hs, cache = cell.forward(xs)
    assert cache.gates["m"].max() > 25
    assert ref.gradcheck(cell, xs, rng=rng) < 1e-6


def test_equals_the_unstabilised_formula_at_small_preactivations(rng):
    cell = ref.make_cell("slstm", 3, 4, rng=rng)
    xs = rng.standard_normal((20, 3, 3))
    hs, cache = cell.forward(xs)
    np.testing.assert_allclose(hs, ref.slstm_unstabilised_forward(xs, **cell.params),
                               rtol=0, atol=1e-12)
    # the stabilised state is the unstabilised one scaled by e^{-m}: n̄ >= 1 from step 1 on
    assert cache.gates["n"].min() >= 1.0 - 1e-12
    assert np.abs(hs).max() <= 1.0


def test_finite_at_preactivations_of_1e3(rng):
    cell = ref.make_cell("slstm", 2, 3, rng=rng)
    cell.params = {k: v * 1e3 for k, v in cell.params.items()}  # pre-activations ~ ±1e3
    xs = rng.standard_normal((30, 4, 2))
    with np.errstate(over="ignore", invalid="ignore"):
        unstable = ref.slstm_unstabilised_forward(xs, **cell.params)
    hs, cache = cell.forward(xs)                     # no overflow warning either
    assert not np.isfinite(unstable).all()           # exp(1e3) overflows without m
    assert np.isfinite(hs).all() and np.abs(hs).max() <= 1.0
    assert np.isfinite(cache.cs).all() and np.isfinite(cache.gates["n"]).all()
    grads, dxs = cell.backward(rng.standard_normal(hs.shape), cache)
    assert all(np.isfinite(g).all() for g in grads.values()) and np.isfinite(dxs).all()


def test_two_chunks_equal_one_run(rng):
    cell = ref.make_cell("slstm", 2, 3, rng=rng)
    xs = rng.standard_normal((9, 2, 2))
    hs, cache = cell.forward(xs)
    hs1, c1 = cell.forward(xs[:4])
    hs2, c2 = cell.forward(xs[4:], c1.state_T)
    np.testing.assert_allclose(np.concatenate([hs1, hs2]), hs, atol=1e-14)
    for a, b in zip(c2.state_T, cache.state_T, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-14)


def test_state0_must_be_four_arrays(rng):
    cell = ref.make_cell("slstm", 2, 3, rng=rng)
    xs = rng.standard_normal((2, 1, 2))
    with pytest.raises(ValueError, match=r"4-tuple: expected \(h0, c0, n0, m0\)"):
        cell.forward(xs, (np.zeros((1, 3)), np.zeros((1, 3))))
    with pytest.raises(ValueError, match=r"n0 must have shape \(N, H\)"):
        cell.forward(xs, (np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((2, 3)), np.zeros((1, 3))))
    with pytest.raises(ValueError, match="m0 must be finite"):
        cell.forward(xs, (np.zeros((1, 3)),) * 3 + (np.full((1, 3), np.inf),))
