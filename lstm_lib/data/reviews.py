"""Synthetic movie "reviews" whose label needs memory: the offline stand-in for IMDB.

This is not real text and not a real sentiment data set. It is a generator of templated
word sequences built so that (a) the label is decided by two words near the *start*
(an adjective and whether "not" precedes it), (b) everything after them is neutral filler
of random length, and (c) neither word alone predicts the label. A left-to-right recurrent
model must carry what it read early across the filler to the last step; a model that forgets
is at chance. It lets the sentiment chapter run end to end offline; the same code path (Vocab,
padding, lengths, packed sequences) then runs on IMDB with :func:`lstm_lib.data.imdb_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_lib.data._checks import check_int, check_seed
from lstm_lib.data.vocab import Vocab

__all__ = ["SyntheticReviews", "synthetic_reviews"]

POSITIVE = ("great", "wonderful", "excellent", "brilliant", "superb", "enjoyable")
NEGATIVE = ("terrible", "awful", "boring", "dull", "dreadful", "bad")
INTENSIFIERS = ("really", "truly", "very", "quite")  # same slot as "not", no effect
SUBJECTS = ("movie", "film", "show")
_FILLERS = (
    "the plot follows twins .", "the camera moves slowly .", "the music is loud .",
    "it runs two hours .", "the actors speak fast .", "the city is dark .",
    "a storm hits town .", "the ending comes late .", "we watched it twice .",
    "the sequel is planned .", "the cast is large .", "a dog appears often .",
)
_FILLER_LEN, _CLAUSE_LEN = 5, 6


@dataclass(frozen=True)
class SyntheticReviews:
    """Output of :func:`synthetic_reviews`.

    Attributes:
        x: (N, max_len) int64 ids, right-padded with ``vocab.pad_id`` (0).
        lengths: (N,) int64 number of real tokens, in [min_len, max_len].
        y: (N,) int64 label, 1 = positive, 0 = negative; balanced in expectation.
        texts: the N reviews as strings (padding dropped).
        vocab: the :class:`~lstm_lib.data.vocab.Vocab` of ``x``.
        negated: (N,) bool, whether "not" flips the adjective.
        cue_position: (N,) int64 index of the adjective in each row.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    texts: list[str]
    vocab: Vocab
    negated: np.ndarray
    cue_position: np.ndarray


def _vocab() -> Vocab:
    words = {w for s in _FILLERS for w in s.split()} | {"the", "was", "not", "."}
    return Vocab(sorted(words | set(POSITIVE) | set(NEGATIVE) | set(INTENSIFIERS)
                        | set(SUBJECTS)))


def synthetic_reviews(n: int, *, seed: int | None, min_len: int = 20,
                      max_len: int = 60) -> SyntheticReviews:
    """Generate ``n`` toy reviews such as::

        a storm hits town . the film was not superb . the music is loud . it runs two ...

    Layout: the clause ``the <movie|film|show> was <not|really|truly|
    very|quite> <adjective> .``, first or after one filler phrase (probability 1/2 each),
    then filler (5-token neutral phrases, cut off mid-phrase at the end) up to a length drawn
    uniformly from [min_len, max_len]. The adjective is positive or negative with probability
    1/2 and "not" appears with probability 1/2, independently; label = positive adjective XOR
    "not". Balanced classes: the memoryless (majority) baseline accuracy is 0.5, and so is
    the accuracy of any rule that looks at only the adjective or only at "not".

    Raises:
        ValueError: ``n < 1``, ``min_len < 11`` or ``max_len < min_len``.
    """
    n = check_int("n", n, 1)
    min_len = check_int("min_len", min_len)
    max_len = check_int("max_len", max_len)
    check_seed("seed", seed)
    if min_len < _FILLER_LEN + _CLAUSE_LEN:
        raise ValueError(f"min_len must be >= {_FILLER_LEN + _CLAUSE_LEN}, got {min_len}")
    if max_len < min_len:
        raise ValueError(f"max_len must be >= min_len = {min_len}, got {max_len}")
    rng = np.random.default_rng(seed)
    vocab = _vocab()
    fillers = np.array([vocab.encode(f.split()) for f in _FILLERS])       # (P, 5)
    n_phrases = -(-max_len // _FILLER_LEN)
    phrases = fillers[rng.integers(0, len(fillers), size=(n, n_phrases))]  # (N, k, 5)

    positive = rng.integers(0, 2, size=n).astype(bool)
    negated = rng.integers(0, 2, size=n).astype(bool)
    pos_ids, neg_ids = vocab.encode(POSITIVE), vocab.encode(NEGATIVE)
    adjective = np.where(positive, pos_ids[rng.integers(0, len(POSITIVE), size=n)],
                         neg_ids[rng.integers(0, len(NEGATIVE), size=n)])
    modifier = np.where(negated, vocab.stoi["not"],
                        vocab.encode(INTENSIFIERS)[rng.integers(0, len(INTENSIFIERS), n)])
    subject = vocab.encode(SUBJECTS)[rng.integers(0, len(SUBJECTS), size=n)]
    clause = np.stack([np.full(n, vocab.stoi["the"]), subject, np.full(n, vocab.stoi["was"]),
                       modifier, adjective, np.full(n, vocab.stoi["."])], axis=1)  # (N, 6)
    # The clause comes first or after one filler phrase; the rest is filler.
    lead = rng.integers(0, 2, size=n).astype(bool)
    rest = phrases.reshape(n, -1)                                           # (N, 5k)
    first = np.concatenate([clause, rest], axis=1)
    second = np.concatenate([rest[:, :_FILLER_LEN], clause, rest[:, _FILLER_LEN:]], axis=1)
    x = np.where(lead[:, None], second, first)[:, :max_len].copy()          # (N, max_len)
    lengths = rng.integers(min_len, max_len + 1, size=n).astype(np.int64)
    x[np.arange(max_len) >= lengths[:, None]] = vocab.pad_id
    y = (positive ^ negated).astype(np.int64)
    itos = np.array(vocab.itos, dtype=object)
    texts = [" ".join(itos[row[:length]]) for row, length in zip(x, lengths, strict=True)]
    cue_position = np.where(lead, _FILLER_LEN + 4, 4).astype(np.int64)     # the adjective
    return SyntheticReviews(x=x, lengths=lengths, y=y, texts=texts, vocab=vocab,
                            negated=negated, cue_position=cue_position)
