"""lstm_lib.sampling: temperature softmax, seeded sampling, the greedy limit, argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_lib.data import CharVocab
from lstm_lib.models import SequenceModel
from lstm_lib.sampling import greedy, sample, temperature_softmax


@pytest.fixture
def vocab() -> CharVocab:
    return CharVocab("abcdef ()\n")


@pytest.fixture
def model(vocab) -> SequenceModel:
    torch.manual_seed(0)
    m = SequenceModel("lstm", 8, 16, len(vocab), embedding=len(vocab), readout="all")
    with torch.no_grad():  # large logits, so that the distribution is far from uniform
        m.head.weight.mul_(20.0)
    return m


def test_temperature_softmax_is_softmax_of_scaled_logits():
    z = torch.tensor([[1.0, 2.0, -3.0], [0.5, 0.5, 0.5]])
    for t in (0.5, 1.0, 2.0):
        p = temperature_softmax(z, t)
        torch.testing.assert_close(p, torch.softmax(z.double() / t, dim=-1))
        torch.testing.assert_close(p.sum(-1), torch.ones(2, dtype=torch.float64))


def test_temperature_orders_entropy():
    z = torch.tensor([2.0, 1.0, 0.0, -1.0])

    def entropy(p):
        return float(-(p * p.log()).sum())

    h = [entropy(temperature_softmax(z, t)) for t in (0.25, 1.0, 4.0)]
    assert h[0] < h[1] < h[2] < math.log(4)


def test_small_temperature_is_stable_and_one_hot():
    z = torch.tensor([10.0, 9.0, -5.0])
    p = temperature_softmax(z, 1e-4)
    assert torch.isfinite(p).all()
    assert p[0] == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, float("nan"), float("inf"), "1", None, True])
def test_invalid_temperature_raises(bad, model, vocab):
    with pytest.raises(ValueError, match="temperature"):
        temperature_softmax(torch.zeros(3), bad)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, vocab, "ab", 5, temperature=bad)


def test_bad_prime_and_length_raise(model, vocab):
    with pytest.raises(ValueError, match="prime"):
        sample(model, vocab, "", 5)
    with pytest.raises(ValueError, match="length"):
        sample(model, vocab, "a", -1)
    with pytest.raises(ValueError, match="length"):
        greedy(model, vocab, "a", 2.5)


def test_sample_is_deterministic_given_seed(model, vocab):
    a = sample(model, vocab, "ab(", 40, temperature=1.5, seed=3)
    b = sample(model, vocab, "ab(", 40, temperature=1.5, seed=3)
    c = sample(model, vocab, "ab(", 40, temperature=1.5, seed=4)
    assert a == b
    assert a != c
    assert len(a) == 40 and set(a) <= set(vocab.itos)
    assert sample(model, vocab, "a", 0) == ""


def test_sample_leaves_global_rng_and_mode_alone(model, vocab):
    model.train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    sample(model, vocab, "abc", 20, temperature=1.0, seed=0)
    torch.testing.assert_close(torch.rand(3), expected)
    assert model.training


def test_temperature_to_zero_approaches_greedy(model, vocab):
    g = greedy(model, vocab, "a(b", 60)
    assert len(g) == 60
    for seed in range(3):
        assert sample(model, vocab, "a(b", 60, temperature=1e-3, seed=seed) == g


def test_greedy_matches_a_full_rerun(model, vocab):
    """Carrying the state one step at a time equals re-reading the whole prefix."""
    prime = "ab c"
    text = greedy(model, vocab, prime, 12)
    ids = torch.as_tensor(vocab.encode(prime + text))[None]
    with torch.no_grad():
        logits = model(ids)  # (1, T, V)
    pred = logits[0, len(prime) - 1:-1].argmax(-1)
    assert vocab.decode(pred.tolist()) == text


def test_sample_recorder_takes_the_same_sample_at_the_given_steps():
    from lstm_lib.sampling import SampleRecorder

    vocab = CharVocab("abc ")
    torch.manual_seed(0)
    model = SequenceModel("lstm", 4, 8, len(vocab), embedding=len(vocab), readout="all")
    rec = SampleRecorder(vocab, "ab", at=(0, 2), length=10, temperature=1.0, seed=3)
    for step in range(4):
        rec(step, model)
    assert list(rec.samples) == [0, 2] and rec.samples[0] == rec.samples[2]
    assert rec.samples[0] == sample(model, vocab, "ab", 10, 1.0, seed=3)
    with pytest.raises(ValueError, match="at must"):
        SampleRecorder(vocab, "ab", at=())
    with pytest.raises(ValueError, match="temperature"):
        SampleRecorder(vocab, "ab", at=(1,), temperature=0)
