"""Subject-verb agreement with attractors: a synthetic task for the gates' language story.

Each example is a word sequence that stops just before a verb, e.g. ::

    the dogs are old . the key to the small cabinets near the door   ->  "is" (singular)

and the label is the number of the *subject* of the last sentence (0 = singular -> "is",
1 = plural -> "are"). Between the subject and the verb come 0 to ``max_nouns`` prepositional
phrases ("to the cabinets"), each with a noun whose number is drawn independently: the nouns of
the other number than the subject are *attractors* (Linzen, Dupoux & Goldberg 2016). With
probability ``p_prefix`` a complete earlier sentence comes first, with a subject of its own
(number drawn independently), so a model must also *drop* the old subject's number when the
new sentence starts: the forget gate's job in colah's description.

The memoryless baseline reads only the current word (the last noun before the verb) and agrees
with it: right whenever the last noun has the subject's number, wrong on every example whose
last noun is an attractor (:func:`last_noun_baseline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_lib.data._checks import check_float, check_seed
from lstm_lib.data.vocab import Vocab

__all__ = ["AGREEMENT_NOUNS", "AgreementData", "agreement_task", "last_noun_baseline"]

AGREEMENT_NOUNS = (("key", "keys"), ("cabinet", "cabinets"), ("door", "doors"),
                   ("author", "authors"), ("book", "books"), ("table", "tables"),
                   ("dog", "dogs"), ("house", "houses"), ("car", "cars"),
                   ("friend", "friends"))
_PREPOSITIONS = ("to", "near", "of", "behind", "on", "with")
_ADJECTIVES = ("old", "red", "small", "big", "new")
_VERBS = ("is", "are")


@dataclass(frozen=True)
class AgreementData:
    """Output of :func:`agreement_task`; N examples.

    Attributes:
        x: (N, T) int64 word ids, right-padded with ``vocab.pad_id`` (0).
        y: (N,) int64, the subject's number: 0 singular ("is"), 1 plural ("are").
        lengths: (N,) real lengths; the verb is predicted after position ``lengths - 1``.
        subject_position: (N,) index of the last sentence's subject noun in ``x``.
        n_nouns: (N,) nouns between the subject and the verb.
        n_attractors: (N,) of those, how many have the other number.
        last_noun_number: (N,) the number of the last noun before the verb (the subject's when
            ``n_nouns == 0``).
        has_prefix: (N,) bool, an earlier complete sentence comes first.
        texts: the examples as strings (without the verb). vocab: the word ``Vocab``.
    """

    x: np.ndarray
    y: np.ndarray
    lengths: np.ndarray
    subject_position: np.ndarray
    n_nouns: np.ndarray
    n_attractors: np.ndarray
    last_noun_number: np.ndarray
    has_prefix: np.ndarray
    texts: list[str]
    vocab: Vocab


def _vocab() -> Vocab:
    words = ["the", ".", *_PREPOSITIONS, *_ADJECTIVES, *_VERBS]
    words += [w for pair in AGREEMENT_NOUNS for w in pair]
    return Vocab(words)


def _noun_phrase(rng, number: int) -> list[str]:
    words = ["the"]
    if rng.random() < 0.3:
        words.append(_ADJECTIVES[rng.integers(len(_ADJECTIVES))])
    words.append(AGREEMENT_NOUNS[rng.integers(len(AGREEMENT_NOUNS))][number])
    return words


def agreement_task(n: int, *, seed: int = 0, max_nouns: int = 3,
                   p_prefix: float = 0.5) -> AgreementData:
    """``n`` agreement examples (see the module docstring).

    Args:
        n: number of examples.
        seed: seeds the generator; the same seed gives the same data.
        max_nouns: the number of intervening nouns is uniform in 0 .. max_nouns.
        p_prefix: probability of a complete earlier sentence ("the dogs are old .") first.

    Raises:
        ValueError: ``n < 1``, ``max_nouns < 0`` or ``p_prefix`` outside [0, 1].
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(max_nouns, bool) or not isinstance(max_nouns, int) or max_nouns < 0:
        raise ValueError(f"max_nouns must be an int >= 0, got {max_nouns!r}")
    p_prefix = check_float("p_prefix", p_prefix, low=0.0, high=1.0)
    check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    vocab = _vocab()
    rows, y, subj_pos, n_nouns, n_attr, last_num, prefix = [], [], [], [], [], [], []
    for _ in range(n):
        words: list[str] = []
        has_prefix = bool(rng.random() < p_prefix)
        if has_prefix:  # an earlier sentence with a subject (and a verb) of its own
            old = int(rng.integers(2))
            words += _noun_phrase(rng, old)
            for _ in range(int(rng.integers(0, 2))):
                words += [_PREPOSITIONS[rng.integers(len(_PREPOSITIONS))],
                          *_noun_phrase(rng, int(rng.integers(2)))]
            words += [_VERBS[old], _ADJECTIVES[rng.integers(len(_ADJECTIVES))], "."]
        number = int(rng.integers(2))
        words += _noun_phrase(rng, number)
        subj_pos.append(len(words) - 1)
        k = int(rng.integers(0, max_nouns + 1))
        numbers = rng.integers(2, size=k)
        for m in numbers:
            words += [_PREPOSITIONS[rng.integers(len(_PREPOSITIONS))],
                      *_noun_phrase(rng, int(m))]
        rows.append(words)
        y.append(number)
        n_nouns.append(k)
        n_attr.append(int((numbers != number).sum()))
        last_num.append(int(numbers[-1]) if k else number)
        prefix.append(has_prefix)
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    x = np.full((n, int(lengths.max())), vocab.pad_id, dtype=np.int64)
    for r, words in enumerate(rows):
        x[r, :len(words)] = vocab.encode(words)
    return AgreementData(x=x, y=np.array(y, dtype=np.int64), lengths=lengths,
                         subject_position=np.array(subj_pos, dtype=np.int64),
                         n_nouns=np.array(n_nouns, dtype=np.int64),
                         n_attractors=np.array(n_attr, dtype=np.int64),
                         last_noun_number=np.array(last_num, dtype=np.int64),
                         has_prefix=np.array(prefix, dtype=bool),
                         texts=[" ".join(r) for r in rows], vocab=vocab)


def last_noun_baseline(data: AgreementData) -> np.ndarray:
    """(N,) bool: is the memoryless rule "agree with the last noun before the verb" right?"""
    return data.last_noun_number == data.y
