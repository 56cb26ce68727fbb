"""lstm_lib.data.bits: delayed echo and future-bit labelling tasks."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import data


@pytest.mark.parametrize("shift", [3, -5, 1, -1])
def test_shifted_bits_labels(shift):
    x, y = data.shifted_bits(8, 12, shift, seed=0)
    assert x.shape == (8, 12, 1) and x.dtype == np.float32
    assert y.shape == (8, 12) and y.dtype == np.int64
    bits = x[..., 0].astype(np.int64)
    for t in range(12):
        if 0 <= t + shift < 12:
            np.testing.assert_array_equal(y[:, t], bits[:, t + shift])
        else:
            assert (y[:, t] == -100).all()


def test_shifted_bits_seeded_and_generator():
    a = data.shifted_bits(4, 6, 2, seed=1)
    b = data.shifted_bits(4, 6, 2, seed=1)
    np.testing.assert_array_equal(a[0], b[0])
    c = data.shifted_bits(4, 6, 2, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], c[0])


@pytest.mark.parametrize("args, match", [((0, 5, 1), "n must be"), ((2, 1, 1), "seq_len must be"),
                                         ((2, 5, 0), "shift must be"), ((2, 5, -5), "shift must")])
def test_shifted_bits_errors(args, match):
    with pytest.raises(ValueError, match=match):
        data.shifted_bits(*args, seed=0)
