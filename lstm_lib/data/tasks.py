"""Synthetic long-time-lag tasks: adding, copy memory, temporal order, long-gap language.

Every generator is vectorised numpy (no Python loop over samples), takes ``seed=`` (passed to
``np.random.default_rng``) and returns batch-first arrays: x of shape (N, T, D) float32 (or
(N, T) int64 token ids), targets float32 for regression and int64 for classification. Each
task states the loss that a *memoryless* model gets, i.e. the best constant prediction, and
exposes it as a function, so every plot can show the line a model must beat.

Sources:
    Hochreiter & Schmidhuber (1997), Long Short-Term Memory, Neural Computation 9(8),
    experiments 4 (adding) and 6a/6b (temporal order).
    Le, Jaitly & Hinton (2015), A Simple Way to Initialize Recurrent Networks of Rectified
    Linear Units, and Arjovsky, Shah & Bengio (2016), Unitary Evolution Recurrent Neural
    Networks: the "modern" adding problem and the copy-memory task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lstm_lib.data._checks import check_bool, check_seed
from lstm_lib.data._checks import check_int as _check_int
from lstm_lib.data.vocab import Vocab

__all__ = [
    "ADDING_BASELINE_MSE",
    "TEMPORAL_ORDER_SYMBOLS",
    "LongGapLanguage",
    "adding_baseline_mse",
    "adding_problem",
    "copy_memory",
    "copy_memory_baseline_ce",
    "long_gap_baseline_accuracy",
    "long_gap_language",
    "long_gap_memoryless_accuracy",
    "long_gap_named_classes",
    "temporal_order",
    "temporal_order_baseline_accuracy",
    "temporal_order_baseline_ce",
]


def _check_variant(variant: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(variant, str) or variant not in allowed:
        raise ValueError(f"variant must be one of {allowed}, got {variant!r}")
    return variant


# ----------------------------------------------------------------------------- adding problem

#: MSE of predicting the mean (1.0) in the modern adding problem: Var(U1 + U2) = 2/12 = 1/6.
ADDING_BASELINE_MSE = 1.0 / 6.0

_ADDING_VARIANTS = ("modern", "hochreiter1997")


def adding_problem(n: int, seq_len: int, *, seed: int | None,
                   variant: str = "modern") -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: remember two marked numbers over a long sequence and add them.

    Returns ``x`` of shape (n, seq_len, 2) float32, features ``[value, marker]``, and ``y`` of
    shape (n, 1) float32, the target at the last step.

    ``variant="modern"`` (Le et al. 2015; Arjovsky et al. 2016): values are U[0, 1); exactly
    two steps carry marker 1, one drawn uniformly from the first half ``[0, seq_len // 2)``
    and one from the second half ``[seq_len // 2, seq_len)``; all other markers are 0.
    ``y = x1 + x2``, mean 1. A memoryless model's best constant is the mean, with
    MSE ``Var(x1 + x2) = 1/6 ≈ 0.167`` (:data:`ADDING_BASELINE_MSE`).

    ``variant="hochreiter1997"``: experiment 4 of Hochreiter & Schmidhuber (1997), as we read
    it. Values are U[-1, 1). Markers: the first pair is marked by drawing one of the first
    ten steps (its value is ``X1``); the second by drawing one of the ``seq_len // 2 - 1``
    still unmarked steps of the first half (value ``X2``). Marked steps carry 1.0; the first
    and the last step carry -1.0 unless marked; all others 0.0. When the first step is
    marked its value is set to 0 (the paper says "X1 is set to zero in the rare case where
    the first pair of the sequence got marked"; we apply this to whichever marked value sits
    at step 0). Target ``y = 0.5 + (X1 + X2) / 4`` (the sum scaled to [0, 1]); the paper
    counts a sequence as correct when ``|error| < 0.04``. Differences from the paper: the
    paper draws each sequence's length from ``[T, T + T/10]``; here all have ``seq_len``
    steps so that a batch is one array (``seq_len`` plays the paper's ``T``), and
    ``seq_len >= 20`` so that the first ten steps lie in the first half. The memoryless
    baseline predicts 0.5, with MSE ``adding_baseline_mse("hochreiter1997", seq_len)``
    ≈ 0.039 (it is ``(2 - P(X1 zeroed) - P(X2 zeroed)) / 48``).

    Raises:
        ValueError: ``n < 1``, ``seq_len < 2`` (``< 20`` for "hochreiter1997") or an unknown
            ``variant``.
    """
    n = _check_int("n", n, 1)
    _check_variant(variant, _ADDING_VARIANTS)
    seq_len = _check_int("seq_len", seq_len, 20 if variant == "hochreiter1997" else 2)
    rng = np.random.default_rng(check_seed("seed", seed))
    half = seq_len // 2
    rows = np.arange(n)
    # np.zeros maps zeroed pages lazily, so the marker channel costs nothing until written.
    # Values are drawn in blocks of rows (about 1 MiB) and written while still in cache:
    # one (N, T) temporary would double the memory traffic. The stream is the same.
    x = np.zeros((n, seq_len, 2), dtype=np.float32)
    block = max(1, 2**18 // seq_len)
    for start in range(0, n, block):                            # blocks, not samples
        u = rng.random((min(block, n - start), seq_len), dtype=np.float32)  # U[0, 1)
        x[start:start + block, :, 0] = u if variant == "modern" else 2.0 * u - 1.0
    if variant == "modern":
        p1 = rng.integers(0, half, size=n)                      # first half
        p2 = rng.integers(half, seq_len, size=n)                # second half
    else:
        p1 = rng.integers(0, 10, size=n)                        # one of the first ten steps
        r = rng.integers(0, half - 1, size=n)                   # one of the other half-1 steps
        p2 = r + (r >= p1)                                      # ... of the first half
        x[:, 0, 1] = -1.0
        x[:, -1, 1] = -1.0
        first_marked = (p1 == 0) | (p2 == 0)
        x[first_marked, 0, 0] = 0.0
    x[rows, p1, 1] = 1.0
    x[rows, p2, 1] = 1.0
    total = x[rows, p1, 0].astype(np.float64) + x[rows, p2, 0]
    y = total if variant == "modern" else 0.5 + total / 4.0
    return x, y.astype(np.float32)[:, None]


def adding_baseline_mse(variant: str = "modern", seq_len: int | None = None) -> float:
    """MSE of the best constant prediction (the target's mean) for :func:`adding_problem`.

    "modern": 1/6, for any ``seq_len``. "hochreiter1997": ``(2 - 1/10 - 0.9/(seq_len//2 - 1))
    / 48`` (``seq_len`` required), because each value is U[-1, 1] (variance 1/3) unless it was
    zeroed at step 0, and the target divides the sum by 4.
    """
    _check_variant(variant, _ADDING_VARIANTS)
    if variant == "modern":
        return ADDING_BASELINE_MSE
    if seq_len is None:
        raise ValueError("seq_len is required for variant='hochreiter1997'")
    seq_len = _check_int("seq_len", seq_len, 20)
    p1_zero = 1.0 / 10.0
    p2_zero = (1.0 - p1_zero) / (seq_len // 2 - 1)
    return (2.0 - p1_zero - p2_zero) / 48.0


# -------------------------------------------------------------------------------- copy memory

COPY_BLANK, COPY_DELIMITER, COPY_NUM_SYMBOLS, COPY_LENGTH = 0, 9, 8, 10


def copy_memory(n: int, delay: int, *, seed: int | None,
                one_hot: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The copy-memory task of Arjovsky, Shah & Bengio (2016), section 4.1.

    Categories: 0 blank, 1..8 symbols, 9 delimiter. Each input has ``T = delay + 20`` steps:
    10 symbols drawn uniformly from 1..8, then ``delay - 1`` blanks, the delimiter, and 10
    blanks. The target is blank for the first ``delay + 10`` steps and the 10 symbols, in
    order, at the last 10 steps. (So ``delay`` is the paper's T: the delimiter is the
    ``delay``-th step after the last symbol, and each symbol is recalled ``delay + 10`` steps
    after it was shown.)

    Returns ``x`` of shape (n, T, 10) float32 one-hot when ``one_hot=True``, else (n, T) int64
    category ids (for an embedding layer); ``y`` of shape (n, T) int64.

    Baseline: a memoryless model outputs blank until the delimiter and then a uniform guess
    over the 8 symbols, with mean cross-entropy per step ``10 log 8 / (delay + 20)``
    (:func:`copy_memory_baseline_ce`).

    Raises:
        ValueError: ``n < 1`` or ``delay < 1``.
    """
    n = _check_int("n", n, 1)
    delay = _check_int("delay", delay, 1)
    one_hot = check_bool("one_hot", one_hot)
    rng = np.random.default_rng(check_seed("seed", seed))
    T = delay + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_NUM_SYMBOLS + 1, size=(n, COPY_LENGTH))  # (N, 10)
    seq = np.zeros((n, T), dtype=np.int64)
    seq[:, :COPY_LENGTH] = symbols
    seq[:, delay + COPY_LENGTH - 1] = COPY_DELIMITER
    y = np.zeros((n, T), dtype=np.int64)
    y[:, -COPY_LENGTH:] = symbols
    if one_hot:
        return np.eye(COPY_DELIMITER + 1, dtype=np.float32)[seq], y         # (N, T, 10)
    return seq, y


def copy_memory_baseline_ce(delay: int) -> float:
    """Mean per-step cross-entropy (nats) of the memoryless strategy: 10 log 8 / (delay + 20)."""
    delay = _check_int("delay", delay, 1)
    return COPY_LENGTH * math.log(COPY_NUM_SYMBOLS) / (delay + 2 * COPY_LENGTH)


# ----------------------------------------------------------------------------- temporal order

#: Input alphabet of the temporal-order task; a symbol's id is its index (one-hot column).
TEMPORAL_ORDER_SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")
# Ranges of the relevant positions as fractions of the length, 1-indexed as in the paper,
# where lengths are 100..110: 6a t1 in [10, 20], t2 in [50, 60]; 6b t1 in [10, 20],
# t2 in [33, 43], t3 in [66, 76].
_TEMPORAL_RANGES = {
    "6a": ((0.10, 0.20), (0.50, 0.60)),
    "6b": ((0.10, 0.20), (0.33, 0.43), (0.66, 0.76)),
}


def _temporal_positions(seq_len: int, variant: str) -> list[tuple[int, int]]:
    """0-indexed inclusive ranges of the relevant positions for a sequence of seq_len steps."""
    def half_up(v: float) -> int:
        return int(math.floor(v + 0.5))
    return [(max(half_up(a * seq_len), 2) - 1, half_up(b * seq_len) - 1)
            for a, b in _TEMPORAL_RANGES[variant]]


def temporal_order(n: int, seq_len: int, *, seed: int | None, variant: str = "6a",
                   one_hot: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Temporal order, experiments 6a and 6b of Hochreiter & Schmidhuber (1997).

    A sequence starts with ``E``, ends with the trigger ``B``, and is otherwise random
    distractors from ``{a, b, c, d}``, except at two ("6a") or three ("6b") positions that
    hold ``X`` or ``Y``. The class is the order of the X/Y symbols read as binary digits,
    X = 0, Y = 1, first symbol most significant: 6a has 4 classes (XX, XY, YX, YY -> 0..3,
    the paper's Q, R, S, U), 6b has 8 (XXX .. YYY -> 0..7, the paper's Q, R, S, U, V, A, B, C).
    The positions are drawn uniformly from the paper's ranges, scaled to ``seq_len``
    (for ``seq_len=100`` exactly the paper's, 1-indexed: 6a t1 in [10, 20], t2 in [50, 60];
    6b t1 in [10, 20], t2 in [33, 43], t3 in [66, 76]). Difference from the paper: its
    lengths vary in [100, 110]; here all sequences have ``seq_len`` steps.

    Returns ``x`` of shape (n, seq_len, 8) float32 one-hot over
    ``TEMPORAL_ORDER_SYMBOLS = ("E", "B", "a", "b", "c", "d", "X", "Y")`` (or (n, seq_len)
    int64 symbol ids with ``one_hot=False``), and ``y`` of shape (n,) int64 class ids,
    uniform over the classes.

    Baseline: without memory of the X/Y symbols the best is chance, accuracy 1/4 (1/8) and
    cross-entropy log 4 (log 8) (:func:`temporal_order_baseline_accuracy`,
    :func:`temporal_order_baseline_ce`).

    Raises:
        ValueError: ``n < 1``, ``seq_len < 20`` or an unknown ``variant``.
    """
    n = _check_int("n", n, 1)
    _check_variant(variant, tuple(_TEMPORAL_RANGES))
    seq_len = _check_int("seq_len", seq_len, 20)
    one_hot = check_bool("one_hot", one_hot)
    rng = np.random.default_rng(check_seed("seed", seed))
    seq = rng.integers(2, 6, size=(n, seq_len))               # distractors a, b, c, d
    seq[:, 0], seq[:, -1] = 0, 1                              # E ... B
    ranges = _temporal_positions(seq_len, variant)
    bits = rng.integers(0, 2, size=(n, len(ranges)))          # 0 = X, 1 = Y
    rows = np.arange(n)
    for k, (lo, hi) in enumerate(ranges):                     # 2 or 3 positions, not samples
        pos = rng.integers(lo, hi + 1, size=n)
        seq[rows, pos] = 6 + bits[:, k]
    weights = 2 ** np.arange(len(ranges) - 1, -1, -1)
    y = (bits @ weights).astype(np.int64)
    seq = seq.astype(np.int64)
    if one_hot:
        return np.eye(len(TEMPORAL_ORDER_SYMBOLS), dtype=np.float32)[seq], y
    return seq, y


def temporal_order_baseline_accuracy(variant: str = "6a") -> float:
    """Chance accuracy: 1/4 for "6a", 1/8 for "6b"."""
    _check_variant(variant, tuple(_TEMPORAL_RANGES))
    return 1.0 / 2 ** len(_TEMPORAL_RANGES[variant])


def temporal_order_baseline_ce(variant: str = "6a") -> float:
    """Cross-entropy (nats) of the uniform prediction: log 4 for "6a", log 8 for "6b"."""
    _check_variant(variant, tuple(_TEMPORAL_RANGES))
    return math.log(2 ** len(_TEMPORAL_RANGES[variant]))


# ------------------------------------------------------------------------- long-gap language

COUNTRIES = ("France", "Spain", "Germany", "Italy", "Japan",
             "Greece", "Poland", "Sweden", "Turkey", "Russia")
LANGUAGES = ("French", "Spanish", "German", "Italian", "Japanese",
             "Greek", "Polish", "Swedish", "Turkish", "Russian")
_C, _L = "{C}", "{L}"  # slots for a distractor country / language
_CUES = ("I grew up in {C} .", "I was born in {C} .", "my family lives in {C} .")
_QUERY = "I speak fluent"
_FILLERS = (
    "the weather was mild .", "we ate fresh bread .", "the train was late .",
    "I like long walks .", "my cat sleeps often .", "the film was long .",
    "we played some chess .", "the shop opened early .", "she reads many books .",
    "he bought a bike .", "the coffee was cold .", "our garden needs water .",
    # distractors: a country or language that is never the cue's
    "my friend visited {C} .", "we once toured {C} .", "my uncle loves {C} .",
    "she is learning {L} .", "he studies {L} poetry .", "{L} food is good .",
)
_CUE_LEN, _FILLER_LEN, _QUERY_LEN = 6, 5, 3
#: Index of the cue country in each row of ``LongGapLanguage.x``.
LONG_GAP_CUE_POSITION = 4


@dataclass(frozen=True)
class LongGapLanguage:
    """Output of :func:`long_gap_language`.

    Attributes:
        x: (N, T) int64 token ids, ``T = gap + 9``; no padding (all rows have T tokens).
        y: (N,) int64 class ids, index into ``languages``.
        sentences: the N raw sentences, answer included ("... I speak fluent French").
        vocab: the :class:`~lstm_lib.data.vocab.Vocab` of ``x``.
        countries, languages: the K cue countries and their languages (class order).
        answer_ids: (K,) int64 token id of each class's language word, for a model that
            predicts the next token instead of a class.
        cue_position: the index in x of the cue country (4).
    """

    x: np.ndarray
    y: np.ndarray
    sentences: list[str]
    vocab: Vocab
    countries: tuple[str, ...]
    languages: tuple[str, ...]
    answer_ids: np.ndarray
    cue_position: int = LONG_GAP_CUE_POSITION


def _long_gap_vocab() -> Vocab:
    words = {w for s in (*_CUES, *_FILLERS, _QUERY) for w in s.split()} - {_C, _L}
    return Vocab(sorted(words | set(COUNTRIES) | set(LANGUAGES)))


def long_gap_language(n: int, gap: int, *, seed: int | None) -> LongGapLanguage:
    """Templated English with a cue far from where it is needed.

    Each sentence is a cue clause naming a country, ``gap`` filler words, then the prompt
    "I speak fluent" whose answer is the cue country's language::

        I grew up in France . the train was late . my friend visited Spain . I speak fluent French

    Filler is made of 5-token phrases, concatenated and cut to exactly ``gap`` tokens; a third
    of the phrases are distractors that name another country or language ("my friend visited
    Spain", "she is learning Greek"), never the cue's. So the last-mentioned country is always
    wrong and the answer needs the cue, ``gap`` + 4 tokens back. Each slot's country or
    language is drawn uniformly from the other K - 1 classes, independently of every other
    slot. Cue countries are uniform over ``COUNTRIES`` (K = 10), so the majority-class accuracy
    is 1/K = 0.1 (:func:`long_gap_baseline_accuracy`); but a model blind to the cue can do
    better, because every class a distractor names is ruled out: its best accuracy is
    :func:`long_gap_memoryless_accuracy` (``gap``), above 0.1 for every ``gap >= 1``. A toy in the
    spirit of the "I grew up in France ... I speak fluent French" example of Olah (2015),
    "Understanding LSTM Networks".

    Returns a :class:`LongGapLanguage` (x (n, gap + 9) int64, y (n,) int64, sentences, vocab).

    Raises:
        ValueError: ``n < 1`` or ``gap < 0``.
    """
    n = _check_int("n", n, 1)
    gap = _check_int("gap", gap, 0)
    rng = np.random.default_rng(check_seed("seed", seed))
    vocab = _long_gap_vocab()
    K = len(COUNTRIES)
    country_ids = vocab.encode(COUNTRIES)
    language_ids = vocab.encode(LANGUAGES)
    slot_c, slot_l = -1, -2

    def table(templates):
        return np.array([[{_C: slot_c, _L: slot_l}.get(w, vocab.stoi.get(w, 0))
                          for w in t.split()] for t in templates], dtype=np.int64)

    cues, fillers = table(_CUES), table(_FILLERS)            # (3, 6), (P, 5)
    cue = rng.integers(0, K, size=n)                         # (N,) class ids
    head = cues[rng.integers(0, len(cues), size=n)]          # (N, 6)
    head[:, LONG_GAP_CUE_POSITION] = country_ids[cue]
    n_phrases = -(-gap // _FILLER_LEN)
    filler = fillers[rng.integers(0, len(fillers), size=(n, n_phrases))]
    filler = filler.reshape(n, n_phrases * _FILLER_LEN)[:, :gap]   # (N, gap)
    other = rng.integers(0, K - 1, size=filler.shape)
    other += other >= cue[:, None]                           # any class except the cue
    filler = np.where(filler == slot_c, country_ids[other], filler)
    filler = np.where(filler == slot_l, language_ids[other], filler)
    query = np.broadcast_to(vocab.encode(_QUERY.split()), (n, _QUERY_LEN))
    x = np.concatenate([head, filler, query], axis=1)       # (N, gap + 9)
    itos = np.array(vocab.itos, dtype=object)
    sentences = [" ".join(row) for row in
                 np.concatenate([itos[x], itos[language_ids[cue]][:, None]], axis=1)]
    return LongGapLanguage(x=x, y=cue.astype(np.int64), sentences=sentences, vocab=vocab,
                           countries=COUNTRIES, languages=LANGUAGES, answer_ids=language_ids)


def long_gap_baseline_accuracy() -> float:
    """Majority-class accuracy of :func:`long_gap_language`: 1 / len(COUNTRIES) = 0.1.

    This is the accuracy of a model that reads nothing. A model that reads the filler but not
    the cue does better (the distractors rule classes out): see
    :func:`long_gap_memoryless_accuracy`.
    """
    return 1.0 / len(COUNTRIES)


def long_gap_named_classes(batch: LongGapLanguage) -> np.ndarray:
    """Which classes a distractor names in each sentence of ``batch``: (N, K) bool.

    Class k is named when its country ``COUNTRIES[k]`` or its language ``LANGUAGES[k]``
    occurs after the cue (in the filler). By construction the cue's own class is never
    named, so ``named[n, batch.y[n]]`` is always False.
    """
    if not isinstance(batch, LongGapLanguage):
        raise TypeError(f"batch must be a LongGapLanguage, got {type(batch).__name__}")
    K = len(batch.countries)
    token_class = np.full(len(batch.vocab), -1, dtype=np.int64)
    token_class[batch.vocab.encode(batch.countries)] = np.arange(K)
    token_class[batch.answer_ids] = np.arange(K)
    classes = token_class[batch.x[:, batch.cue_position + 1:]]      # (N, T - 5), -1: none
    named = np.zeros((len(batch.x), K + 1), dtype=bool)               # column K: "none"
    named[np.arange(len(batch.x))[:, None], classes] = True
    return named[:, :K]


def _slots_distribution(n_tokens: int) -> np.ndarray:
    """P(a filler phrase cut to its first n_tokens tokens holds s slots), s = 0, 1, ..."""
    counts = [sum(w in (_C, _L) for w in t.split()[:n_tokens]) for t in _FILLERS]
    p = np.zeros(max(counts) + 1)
    np.add.at(p, counts, 1.0 / len(_FILLERS))
    return p


def long_gap_memoryless_accuracy(gap: int) -> float:
    """Exact accuracy of the best cue-blind predictor on :func:`long_gap_language` (gap).

    A model that has forgotten the cue (or never read it) still sees the filler. Given the
    filler, the cue is uniform over the K classes that no distractor names (the slots draw
    from the K - 1 other classes uniformly and independently, so every unnamed class is
    equally likely), and the best guess is any of them: accuracy ``1 / (K - m)`` with ``m``
    the number of distinct classes named. So the memoryless baseline is

        E[1 / (K - m)],

    computed exactly here, not by sampling: the number of slots S is a sum of independent
    per-phrase counts (``gap // 5`` whole phrases and one phrase cut to ``gap % 5`` tokens,
    templates uniform over the filler phrases), and given S, the number of distinct classes
    among S uniform draws from K - 1 follows the occupancy recursion
    ``P(m + 1 | s + 1) += P(m | s) (K - 1 - m) / (K - 1)`` (a new class) and
    ``P(m | s + 1) += P(m | s) m / (K - 1)`` (a repeat).

    It equals 1/K = 0.1 only for ``gap = 0`` (one template starts with its slot, so even one
    filler word can name a class) and grows with the gap: about 0.1075 at gap 10, 0.1157 at
    20 and 0.1338 at 40. The tests check it against a large seeded sample.

    Raises:
        ValueError: ``gap < 0``.
    """
    gap = _check_int("gap", gap, 0)
    K = len(COUNTRIES)
    whole, rest = divmod(gap, _FILLER_LEN)
    p_slots = np.ones(1)
    for _ in range(whole):
        p_slots = np.convolve(p_slots, _slots_distribution(_FILLER_LEN))
    if rest:
        p_slots = np.convolve(p_slots, _slots_distribution(rest))
    p_named = np.zeros(K)                     # P(m distinct classes named | s slots), s = 0
    p_named[0] = 1.0
    m = np.arange(K)
    accuracy = 0.0
    for p_s in p_slots:                       # s = 0, 1, 2, ...
        accuracy += p_s * float(p_named @ (1.0 / (K - m)))
        new = p_named * m / (K - 1)           # the next slot repeats a named class
        new[1:] += p_named[:-1] * (K - 1 - m[:-1]) / (K - 1)   # ... or names a new one
        p_named = new
    return accuracy
