"""lstm_lib.data.agreement: the subject-verb agreement task and its memoryless baseline."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_lib.data import agreement_task, last_noun_baseline
from lstm_lib.data.agreement import AGREEMENT_NOUNS

SINGULAR = {s for s, _ in AGREEMENT_NOUNS}
PLURAL = {p for _, p in AGREEMENT_NOUNS}


def test_labels_counts_and_positions_match_the_words():
    d = agreement_task(300, seed=1)
    for r in range(300):
        words = d.texts[r].split()
        assert len(words) == d.lengths[r]
        subject = words[d.subject_position[r]]
        assert d.y[r] == (subject in PLURAL) and subject in SINGULAR | PLURAL
        after = words[d.subject_position[r] + 1:]
        nouns = [w for w in after if w in SINGULAR | PLURAL]
        assert len(nouns) == d.n_nouns[r]
        assert d.n_attractors[r] == sum((w in PLURAL) != d.y[r] for w in nouns)
        assert d.has_prefix[r] == ("." in words)
        assert d.vocab.decode(d.x[r, :d.lengths[r]]) == words
        assert np.all(d.x[r, d.lengths[r]:] == d.vocab.pad_id)


def test_balanced_deterministic_and_baseline():
    a, b = agreement_task(2000, seed=0), agreement_task(2000, seed=0)
    np.testing.assert_array_equal(a.x, b.x)
    assert abs(a.y.mean() - 0.5) < 0.05 and set(a.n_nouns) == {0, 1, 2, 3}
    right = last_noun_baseline(a)
    assert right[a.n_nouns == 0].all()                  # no noun in between: the subject
    last_is_attractor = a.last_noun_number != a.y
    assert not right[last_is_attractor].any() and last_is_attractor.mean() > 0.3


@pytest.mark.parametrize("kwargs, match", [({"n": 0}, "n must"), ({"n": 5, "max_nouns": -1},
                         "max_nouns"), ({"n": 5, "p_prefix": 2.0}, "p_prefix")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        agreement_task(**kwargs)
