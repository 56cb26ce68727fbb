"""ref.rnn_forward / ref.rnn_backward (the sequence-level functions of the BPTT chapter).

They must agree with RNNCell.forward / backward, full and truncated, including dh0.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import reference as ref


@pytest.mark.parametrize("T, N, D, H", [(1, 1, 1, 1), (7, 2, 3, 4)])
@pytest.mark.parametrize("truncate", [None, 1, 3, 7, 10])
def test_rnn_backward_matches_the_cell(T, N, D, H, truncate, rng):
    cell = ref.make_cell("rnn", D, H, rng=rng)
    xs, h0 = rng.standard_normal((T, N, D)), rng.standard_normal((N, H))
    hs, cache = cell.forward(xs, h0)
    p = cell.params
    hs2, caches = ref.rnn_forward(xs, h0, p["W"], p["U"], p["b"])
    np.testing.assert_array_equal(hs, hs2)
    dhs = rng.standard_normal(hs.shape)
    grads, dxs, dh0 = cell.backward(dhs, cache, truncate=truncate, return_dstate0=True)
    got = ref.rnn_backward(dhs, caches, truncate=truncate)
    for want, have in zip((dxs, dh0, grads["W"], grads["U"], grads["b"]), got, strict=True):
        np.testing.assert_allclose(have, want, rtol=1e-12, atol=1e-14)


def test_rnn_backward_rejects_bad_arguments(rng):
    cell = ref.make_cell("rnn", 2, 3, rng=rng)
    p = cell.params
    _, caches = ref.rnn_forward(rng.standard_normal((4, 1, 2)), np.zeros((1, 3)),
                                p["W"], p["U"], p["b"])
    with pytest.raises(ValueError, match="dhs must have the shape of hs"):
        ref.rnn_backward(np.zeros((4, 1, 2)), caches)
    with pytest.raises(ValueError, match="truncate must be None or an int"):
        ref.rnn_backward(np.zeros((4, 1, 3)), caches, truncate=0)
    with pytest.raises(ValueError, match="h0"):
        ref.rnn_forward(np.zeros((4, 1, 2)), np.zeros((2, 3)), p["W"], p["U"], p["b"])
