"""Property tests of lstm_lib.reference over random sizes (1..5) and every kind of cell."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lstm_lib import reference as ref

CELLS = [("rnn", {}), ("lstm", {}), ("peephole", {}), ("cifg", {}),
         ("gru", {"reset_after": True}), ("gru", {"reset_after": False})]

cells = st.sampled_from(CELLS)
sizes = st.integers(min_value=1, max_value=5)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def build(kind_options, N, T, D, H, seed, with_state0):
    kind, options = kind_options
    rng = np.random.default_rng(seed)
    cell = ref.make_cell(kind, D, H, rng=rng, **options)
    xs = rng.standard_normal((T, N, D))
    state0 = None
    if with_state0:
        h0 = np.tanh(rng.standard_normal((N, H)))  # a state a cell could have produced
        state0 = (h0, rng.standard_normal((N, H))) if cell.has_cell_state else h0
    return cell, xs, state0, rng


@given(cells, sizes, sizes, sizes, sizes, seeds, st.booleans())
def test_gradcheck_passes_for_every_cell_and_size(kind_options, N, T, D, H, seed, with_state0):
    cell, xs, state0, rng = build(kind_options, N, T, D, H, seed, with_state0)
    report = ref.gradcheck_report(cell, xs, state0, rng=rng)
    assert report.worst < 1e-6, str(report)


@given(cells, sizes, sizes, sizes, sizes, seeds, st.booleans())
def test_shapes_ranges_and_no_mutation(kind_options, N, T, D, H, seed, with_state0):
    cell, xs, state0, rng = build(kind_options, N, T, D, H, seed, with_state0)
    xs_before = xs.copy()
    params_before = {k: v.copy() for k, v in cell.params.items()}
    hs, cache = cell.forward(xs, state0)
    assert hs.shape == (T, N, H)
    assert np.all(np.abs(hs) < 1)  # h = tanh(.), o ⊙ tanh(c), or a convex mix of such values
    for name, g in cache.gates.items():
        assert g.shape == (T, N, H)
        low = -1 if name in "gn" else 0  # candidates are tanh, gates are sigmoids
        assert np.all((g >= low) & (g <= 1))
    dhs = rng.standard_normal(hs.shape)
    dhs_before = dhs.copy()
    grads, dxs, dstate0 = cell.backward(dhs, cache, truncate=int(rng.integers(1, T + 2)),
                                        return_dstate0=True)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in cell.params.items()}
    assert dxs.shape == xs.shape
    assert np.shape(dstate0) == ((2, N, H) if cell.has_cell_state else (N, H))
    np.testing.assert_array_equal(xs, xs_before)
    np.testing.assert_array_equal(dhs, dhs_before)
    for name, p in cell.params.items():
        np.testing.assert_array_equal(p, params_before[name])
