"""lstm_lib.charlm: baselines, the character model, stateful training, bits per character."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstm_lib import charlm
from lstm_lib.data import CharVocab

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "def f(x):\n    return x + 1\n\n" * 40


@pytest.fixture
def ids():
    vocab = CharVocab(TEXT)
    return vocab, vocab.encode(TEXT)


def test_unigram_matches_hand_count():
    train, val = np.array([1, 1, 2]), np.array([1, 2])
    p = np.array([1, 3, 2]) / 6                      # add-one over V = 3
    expected = -(np.log2(p[1]) + np.log2(p[2])) / 2
    assert math.isclose(charlm.unigram_bpc(train, val, 3), expected)


def test_bigram_beats_unigram_on_repetitive_text(ids):
    vocab, a = ids
    V = len(vocab)
    assert charlm.bigram_bpc(a[:800], a[800:], V) < charlm.unigram_bpc(a[:800], a[800:], V)


def test_baselines_reject_ids_outside_vocab():
    with pytest.raises(ValueError, match=r"\[0, V\)"):
        charlm.unigram_bpc(np.array([0, 5]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="1-D integer"):
        charlm.bigram_bpc(np.array([0.5, 1.0]), np.array([0, 1]), 3)


def test_untrained_model_is_near_uniform(ids):
    vocab, a = ids
    model = charlm.char_model(len(vocab), 16, 8, seed=0)
    bpc = charlm.bits_per_char(model, a, rows=4, window=32)
    assert abs(bpc - math.log2(len(vocab))) < 0.5


@pytest.mark.parametrize("carry", [True, False])
def test_training_lowers_bits_per_char(ids, carry):
    vocab, a = ids
    model = charlm.char_model(len(vocab), 16, 8, seed=0)
    before = charlm.bits_per_char(model, a, rows=4, window=32)
    hist = charlm.train_char_model(model, a, window=16, batch_size=8, steps=60, lr=1e-2,
                                   carry=carry, val_ids=a[:300], eval_every=30)
    after = charlm.bits_per_char(model, a, rows=4, window=32)
    assert after < before - 1.0
    assert len(hist.step) == 60 and hist.val_loss[-1] < math.log2(len(vocab))


def test_training_is_deterministic(ids):
    vocab, a = ids
    runs = []
    for _ in range(2):
        model = charlm.char_model(len(vocab), 8, 4, seed=3)
        runs.append(charlm.train_char_model(model, a, window=8, batch_size=4, steps=10,
                                            lr=1e-2).train_loss)
    assert runs[0] == runs[1]


def test_bits_by_position_and_record_gates(ids):
    vocab, a = ids
    model = charlm.char_model(len(vocab), 6, 4, seed=0)
    curve = charlm.bits_by_position(model, a, window=20, stride=10)
    assert curve.shape == (20,) and np.all(np.isfinite(curve))
    gates = charlm.record_gates(model, a[:103], rows=5)
    assert set(gates) == {"i", "f", "g", "o", "c"}
    assert gates["c"].shape == (100, 6)
    # row t belongs to character t: the first piece read alone gives the same states
    alone = charlm.record_gates(model, a[:20], rows=1)
    np.testing.assert_allclose(alone["c"], gates["c"][:20], atol=1e-6)
    with pytest.raises(ValueError, match="too short"):
        charlm.bits_by_position(model, a[:10], window=20)


def test_text_bpc_and_validation_logits(ids):
    vocab, a = ids
    model = charlm.char_model(len(vocab), 6, 4, seed=0)
    bpc = charlm.text_bpc(model, vocab, "def", " f(x):")
    assert 0 < bpc < 10
    z, y = charlm.validation_logits(model, a[:201], rows=4, window=16)
    assert z.shape == (200, len(vocab)) and y.shape == (200,)
    ce = torch.nn.functional.cross_entropy(z, y).item() / math.log(2)
    assert math.isclose(ce, charlm.bits_per_char(model, a[:201], rows=4, window=16),
                        rel_tol=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        charlm.text_bpc(model, vocab, "", "x")


def test_held_out_text_follows_the_corpus():
    from lstm_lib.data import python_source_corpus

    corpus = python_source_corpus(20_000)
    text = charlm.held_out_text(corpus, 5_000)
    assert len(text) == 5_000 and text not in corpus.text
