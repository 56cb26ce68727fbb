"""lstm_lib.data.tasks: layout, statistics, determinism and validation of the synthetic tasks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_lib import data
from lstm_lib.data.tasks import COUNTRIES, LANGUAGES

pytestmark = pytest.mark.usefixtures("no_network")


def within(estimate: float, expected: float, se: float, k: float = 5.0) -> bool:
    return abs(estimate - expected) <= k * se


def variance_se(v: np.ndarray) -> float:
    """Standard error of the sample variance, from the sample's fourth central moment."""
    d = v - v.mean()
    return math.sqrt((np.mean(d**4) - np.mean(d**2) ** 2) / len(v))


# ------------------------------------------------------------------------------ adding problem

def test_adding_modern_layout_and_dtypes():
    n, T = 500, 31
    x, y = data.adding_problem(n, T, seed=0)
    assert x.shape == (n, T, 2) and x.dtype == np.float32
    assert y.shape == (n, 1) and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0.0 and values.max() < 1.0
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)                    # exactly two markers
    half = T // 2
    assert np.all(markers[:, :half].sum(axis=1) == 1)          # one in each half
    assert np.all(markers[:, half:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_modern_statistics():
    n = 20_000
    _, y = data.adding_problem(n, 50, seed=1)
    y = y[:, 0].astype(np.float64)
    # mean 1, variance 1/6 = the predict-the-mean baseline MSE; 5 standard errors
    assert within(y.mean(), 1.0, math.sqrt(1 / 6 / n))
    assert within(y.var(), data.ADDING_BASELINE_MSE, variance_se(y))
    assert data.adding_baseline_mse() == pytest.approx(1 / 6)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, abs=5 * variance_se(y))


def test_adding_minimal_length():
    x, y = data.adding_problem(3, 2, seed=0)
    np.testing.assert_array_equal(x[..., 1], np.ones((3, 2)))
    np.testing.assert_allclose(y[:, 0], x[..., 0].sum(axis=1), rtol=1e-6)


def test_adding_hochreiter1997_layout():
    n, T = 4000, 40
    x, y = data.adding_problem(n, T, seed=2, variant="hochreiter1997")
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= -1.0 and values.max() < 1.0
    marked = markers == 1.0
    assert np.all(marked.sum(axis=1) == 2)
    first = marked.argmax(axis=1)
    assert np.all(first < 10)                                  # X1 among the first ten steps
    assert np.all(marked[:, T // 2:].sum(axis=1) == 0)         # both in the first half
    # the first and last steps carry -1 unless marked; nothing else is negative
    np.testing.assert_array_equal(markers[:, -1], -1.0)
    np.testing.assert_array_equal(markers[:, 0], np.where(marked[:, 0], 1.0, -1.0))
    assert np.all(markers[:, 1:-1] >= 0.0)
    # a marked first step has value 0; both X1 and X2 at step 0 happen
    assert np.all(values[marked[:, 0], 0] == 0.0)
    assert 0 < marked[:, 0].sum() < n
    expected = 0.5 + (values * marked).sum(axis=1).astype(np.float64) / 4.0
    np.testing.assert_allclose(y[:, 0], expected, rtol=1e-6)
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_adding_hochreiter1997_baseline_matches_sample():
    n, T = 40_000, 24
    _, y = data.adding_problem(n, T, seed=3, variant="hochreiter1997")
    y = y[:, 0].astype(np.float64)
    baseline = data.adding_baseline_mse("hochreiter1997", T)
    assert baseline == pytest.approx((2 - 0.1 - 0.9 / (T // 2 - 1)) / 48)
    assert within(y.mean(), 0.5, math.sqrt(baseline / n))
    assert within(np.mean((y - 0.5) ** 2), baseline, variance_se(y))


# --------------------------------------------------------------------------------- copy memory

@pytest.mark.parametrize("delay", [1, 5, 30])
def test_copy_memory_layout_exact(delay):
    n = 64
    ids, y = data.copy_memory(n, delay, seed=0, one_hot=False)
    T = delay + 20
    assert ids.shape == y.shape == (n, T) and ids.dtype == y.dtype == np.int64
    symbols = ids[:, :10]
    assert symbols.min() >= 1 and symbols.max() <= 8
    expected = np.zeros((n, T), dtype=np.int64)
    expected[:, :10] = symbols
    expected[:, delay + 9] = 9                                 # delimiter
    np.testing.assert_array_equal(ids, expected)               # delay - 1 blanks, 10 blanks
    target = np.zeros((n, T), dtype=np.int64)
    target[:, -10:] = symbols
    np.testing.assert_array_equal(y, target)


def test_copy_memory_one_hot_matches_ids():
    x, y = data.copy_memory(16, 7, seed=5)
    ids, y2 = data.copy_memory(16, 7, seed=5, one_hot=False)
    assert x.shape == (16, 27, 10) and x.dtype == np.float32
    np.testing.assert_array_equal(x.argmax(-1), ids)
    np.testing.assert_array_equal(x.sum(-1), 1.0)
    np.testing.assert_array_equal(y, y2)


def test_copy_memory_baseline():
    assert data.copy_memory_baseline_ce(100) == pytest.approx(10 * math.log(8) / 120)
    # the memoryless strategy (blank, then uniform over 1..8) attains it on a sample
    _, y = data.copy_memory(200, 10, seed=1, one_hot=False)
    p = np.zeros((10,))
    p_blank, p_uniform = p.copy(), p.copy()
    p_blank[0], p_uniform[1:9] = 1.0, 1 / 8
    probs = np.where(np.arange(30)[:, None] < 20, p_blank, p_uniform)   # (T, 10)
    ce = -np.log(probs[np.arange(30), y]).mean()
    assert ce == pytest.approx(data.copy_memory_baseline_ce(10))


# ------------------------------------------------------------------------------ temporal order

def _check_temporal(ids, y, variant):
    k = 2 if variant == "6a" else 3
    n, T = ids.shape
    assert np.all(ids[:, 0] == 0) and np.all(ids[:, -1] == 1)  # E ... B
    relevant = ids >= 6
    assert np.all(relevant.sum(axis=1) == k)
    assert np.all(ids[:, 1:-1] >= 2)                           # only a..d, X, Y inside
    pos = np.sort(np.nonzero(relevant)[1].reshape(n, k), axis=1)
    bits = np.take_along_axis(ids, pos, axis=1) - 6            # X=0, Y=1
    np.testing.assert_array_equal(y, bits @ (2 ** np.arange(k - 1, -1, -1)))
    return pos


@pytest.mark.parametrize("variant, k", [("6a", 2), ("6b", 3)])
def test_temporal_order_layout_and_balance(variant, k):
    n = 8000
    x, y = data.temporal_order(n, 100, seed=0, variant=variant)
    assert x.shape == (n, 100, 8) and x.dtype == np.float32 and y.dtype == np.int64
    ids = x.argmax(-1)
    pos = _check_temporal(ids, y, variant)
    # the paper's ranges, 1-indexed, for length 100
    ranges = {"6a": [(10, 20), (50, 60)], "6b": [(10, 20), (33, 43), (66, 76)]}[variant]
    for j, (lo, hi) in enumerate(ranges):
        assert pos[:, j].min() == lo - 1 and pos[:, j].max() == hi - 1
    counts = np.bincount(y, minlength=2**k)
    expected = n / 2**k
    se = math.sqrt(n * (1 / 2**k) * (1 - 1 / 2**k))
    assert np.all(np.abs(counts - expected) <= 5 * se)
    assert data.temporal_order_baseline_accuracy(variant) == 1 / 2**k
    assert data.temporal_order_baseline_ce(variant) == pytest.approx(math.log(2**k))


@given(T=st.integers(20, 400), variant=st.sampled_from(["6a", "6b"]))
def test_temporal_order_any_length(T, variant):
    ids, y = data.temporal_order(50, T, seed=T, variant=variant, one_hot=False)
    assert ids.shape == (50, T)
    _check_temporal(ids, y, variant)


# -------------------------------------------------------------------------- long-gap language

def test_long_gap_structure():
    n, gap = 3000, 40
    d = data.long_gap_language(n, gap, seed=0)
    assert d.x.shape == (n, gap + 9) and d.x.dtype == np.int64
    assert d.y.shape == (n,) and d.y.dtype == np.int64
    v = d.vocab
    country_ids, language_ids = v.encode(COUNTRIES), v.encode(LANGUAGES)
    np.testing.assert_array_equal(d.answer_ids, language_ids)
    # the cue comes first, at cue_position, and names the country of the answer
    np.testing.assert_array_equal(d.x[:, d.cue_position], country_ids[d.y])
    assert np.all(~np.isin(d.x[:, : d.cue_position], country_ids))
    # the prompt closes every row, and the raw sentence ends with the right language
    np.testing.assert_array_equal(d.x[:, -3:], np.tile(v.encode("I speak fluent".split()), (n, 1)))
    for s, label in zip(d.sentences[:200], d.y[:200], strict=True):
        assert s.endswith("I speak fluent " + LANGUAGES[label])
        assert s.split()[d.cue_position] == COUNTRIES[label]
    # distractors: other countries and languages appear in the filler, never the cue's
    filler = d.x[:, 6:-3]
    is_country, is_language = np.isin(filler, country_ids), np.isin(filler, language_ids)
    assert is_country.any() and is_language.any()
    assert not np.any(filler == country_ids[d.y][:, None])
    assert not np.any(filler == language_ids[d.y][:, None])
    # so the last country named is never the answer; classes are about balanced
    counts = np.bincount(d.y, minlength=len(COUNTRIES))
    assert counts.min() > 0.7 * n / len(COUNTRIES)
    assert data.long_gap_baseline_accuracy() == pytest.approx(1 / len(COUNTRIES))


def test_long_gap_zero_gap_and_decode():
    d = data.long_gap_language(4, 0, seed=1)
    assert d.x.shape == (4, 9)
    for row, s in zip(d.x, d.sentences, strict=True):
        assert " ".join(d.vocab.decode(row)) + " " + s.split()[-1] == s


def test_long_gap_named_classes_match_the_filler_and_never_the_cue():
    d = data.long_gap_language(2000, 25, seed=4)
    named = data.long_gap_named_classes(d)
    assert named.shape == (2000, len(COUNTRIES)) and named.dtype == bool
    assert not named[np.arange(len(d.y)), d.y].any()           # the cue's class: never named
    for row, s in zip(named[:100], d.sentences[:100], strict=True):
        words = set(s.split()[d.cue_position + 1:-1])            # filler + prompt, no answer
        expected = [k for k in range(len(COUNTRIES))
                    if COUNTRIES[k] in words or LANGUAGES[k] in words]
        assert list(np.flatnonzero(row)) == expected
    assert not data.long_gap_named_classes(data.long_gap_language(50, 0, seed=0)).any()
    with pytest.raises(TypeError, match="LongGapLanguage"):
        data.long_gap_named_classes(d.x)


def test_long_gap_memoryless_accuracy_small_cases_by_hand():
    K = len(COUNTRIES)
    assert data.long_gap_memoryless_accuracy(0) == 1 / K
    # gap 1: one word; only "{L} food is good ." (1 of 18 phrases) names a class there
    assert data.long_gap_memoryless_accuracy(1) == pytest.approx(17 / 18 / K + 1 / 18 / (K - 1))
    # gap 10: two whole phrases, each naming a class with probability 1/3
    p0, p1, p2 = 4 / 9, 4 / 9, 1 / 9
    expected = p0 / K + p1 / (K - 1) + p2 * (1 / (K - 1) / (K - 1) + (K - 2) / (K - 1) / (K - 2))
    assert data.long_gap_memoryless_accuracy(10) == pytest.approx(expected, rel=1e-12)
    values = [data.long_gap_memoryless_accuracy(g) for g in range(0, 61, 5)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize("gap", [3, 10, 20, 40])
def test_long_gap_memoryless_accuracy_matches_a_large_sample(gap):
    """The exact value equals the Monte Carlo mean of 1 / (K - #named) and the accuracy of
    the cue-blind rule "answer the first class no distractor names"."""
    d = data.long_gap_language(200_000, gap, seed=gap)
    named = data.long_gap_named_classes(d)
    per_sentence = 1.0 / (len(COUNTRIES) - named.sum(axis=1))
    exact = data.long_gap_memoryless_accuracy(gap)
    assert within(per_sentence.mean(), exact, per_sentence.std() / math.sqrt(len(d.y)))
    guess = np.argmin(named, axis=1)                             # first unnamed class
    hits = (guess == d.y).astype(float)
    assert within(hits.mean(), exact, hits.std() / math.sqrt(len(d.y)))


def test_long_gap_memoryless_accuracy_values_of_the_book():
    """The values the long-dependency chapter prints (issue 12's 0.106, 0.116, 0.134)."""
    got = [round(data.long_gap_memoryless_accuracy(g), 4) for g in (10, 20, 40)]
    assert got == [0.1075, 0.1157, 0.1338]
    with pytest.raises(ValueError, match="gap must be >= 0"):
        data.long_gap_memoryless_accuracy(-1)


# ------------------------------------------------------------------ determinism and validation

GENERATORS = {
    "adding": lambda seed: data.adding_problem(20, 30, seed=seed),
    "adding1997": lambda seed: data.adding_problem(20, 30, seed=seed, variant="hochreiter1997"),
    "copy": lambda seed: data.copy_memory(20, 5, seed=seed),
    "order6a": lambda seed: data.temporal_order(20, 40, seed=seed),
    "order6b": lambda seed: data.temporal_order(20, 40, seed=seed, variant="6b"),
    "longgap": lambda seed: (data.long_gap_language(20, 10, seed=seed).x,
                             data.long_gap_language(20, 10, seed=seed).y),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_other_seed_other_data(name):
    make = GENERATORS[name]
    (x1, y1), (x2, y2), (x3, _) = make(7), make(7), make(8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


@pytest.mark.parametrize("call, match", [
    (lambda: data.adding_problem(0, 10, seed=0), "n must be >= 1"),
    (lambda: data.adding_problem(5, 1, seed=0), "seq_len must be >= 2"),
    (lambda: data.adding_problem(5, 19, seed=0, variant="hochreiter1997"), "seq_len must be >= 20"),
    (lambda: data.adding_problem(5, 10, seed=0, variant="1997"), "variant must be one of"),
    (lambda: data.adding_baseline_mse("hochreiter1997"), "seq_len is required"),
    (lambda: data.copy_memory(5, -1, seed=0), "delay must be >= 1"),
    (lambda: data.copy_memory(5, 0, seed=0), "delay must be >= 1"),
    (lambda: data.copy_memory(0, 3, seed=0), "n must be >= 1"),
    (lambda: data.temporal_order(5, 10, seed=0), "seq_len must be >= 20"),
    (lambda: data.temporal_order(5, 100, seed=0, variant="6c"), "variant must be one of"),
    (lambda: data.temporal_order_baseline_ce("7"), "variant must be one of"),
    (lambda: data.long_gap_language(5, -1, seed=0), "gap must be >= 0"),
    (lambda: data.long_gap_language(-2, 3, seed=0), "n must be >= 1"),
])
def test_argument_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_integer_sizes_are_type_errors():
    with pytest.raises(TypeError, match="seq_len must be an int"):
        data.adding_problem(5, 10.0, seed=0)
