"""lstm_lib.data.reviews: the offline synthetic sentiment set needs memory, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib import data
from lstm_lib.data.reviews import NEGATIVE, POSITIVE

pytestmark = pytest.mark.usefixtures("no_network")


def test_reviews_layout_and_labels():
    n, lo, hi = 4000, 15, 40
    r = data.synthetic_reviews(n, seed=0, min_len=lo, max_len=hi)
    assert r.x.shape == (n, hi) and r.x.dtype == r.y.dtype == r.lengths.dtype == np.int64
    assert r.lengths.min() == lo and r.lengths.max() == hi
    pad = np.arange(hi) >= r.lengths[:, None]
    assert np.all(r.x[pad] == r.vocab.pad_id) and np.all(r.x[~pad] != r.vocab.pad_id)
    adjective = r.x[np.arange(n), r.cue_position]
    words = np.array(r.vocab.itos, dtype=object)[adjective]
    positive = np.isin(words, POSITIVE)
    assert np.all(positive | np.isin(words, NEGATIVE))
    modifier = r.x[np.arange(n), r.cue_position - 1]
    np.testing.assert_array_equal(modifier == r.vocab.stoi["not"], r.negated)
    np.testing.assert_array_equal(r.y, positive ^ r.negated)
    # the decisive words are early; the rest is neutral filler
    assert r.cue_position.max() < 10
    late = r.x[:, 10:]
    cue_ids = r.vocab.encode([*POSITIVE, *NEGATIVE, "not"])
    assert not np.isin(late, cue_ids).any()
    # balanced, and neither the adjective alone nor "not" alone predicts the label
    se = 0.5 / np.sqrt(n)
    assert abs(r.y.mean() - 0.5) < 5 * se
    assert abs(np.mean(positive == r.y) - 0.5) < 5 * se
    assert abs(np.mean(~r.negated == r.y) - 0.5) < 5 * se
    for text, length in zip(r.texts[:50], r.lengths[:50], strict=True):
        assert len(text.split()) == length


def test_reviews_determinism_and_validation():
    a, b = data.synthetic_reviews(30, seed=4), data.synthetic_reviews(30, seed=4)
    c = data.synthetic_reviews(30, seed=5)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.texts == b.texts and not np.array_equal(a.x, c.x)
    with pytest.raises(ValueError, match="n must be >= 1"):
        data.synthetic_reviews(0, seed=0)
    with pytest.raises(ValueError, match="min_len must be >= 11"):
        data.synthetic_reviews(5, seed=0, min_len=10)
    with pytest.raises(ValueError, match="max_len must be >= min_len"):
        data.synthetic_reviews(5, seed=0, min_len=20, max_len=19)


def test_reviews_work_with_packed_sequences():
    torch = pytest.importorskip("torch")
    r = data.synthetic_reviews(8, seed=1, min_len=11, max_len=25)
    x, lengths = data.to_tensors(r.x, r.lengths)
    emb = torch.nn.Embedding(len(r.vocab), 4, padding_idx=r.vocab.pad_id)
    packed = torch.nn.utils.rnn.pack_padded_sequence(emb(x), lengths, batch_first=True,
                                                     enforce_sorted=False)
    _, (h, _) = torch.nn.LSTM(4, 3, batch_first=True)(packed)
    assert h.shape == (1, 8, 3)
