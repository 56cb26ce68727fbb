"""lstm_lib.verdicts: gap to a reference model against twice the standard error."""

from __future__ import annotations

import pandas as pd
import pytest

from lstm_lib.verdicts import gap_verdicts


def runs(values):
    return pd.DataFrame([{"task": "t", "model": m, "seed": s, "accuracy": v}
                         for m, vs in values.items() for s, v in enumerate(vs)])


def test_verdicts():
    v = gap_verdicts(runs({"vanilla": [0.5, 0.6, 0.7], "a": [0.9, 0.9, 0.9],
                           "b": [0.1, 0.1, 0.1], "c": [0.55, 0.65, 0.75]}))
    assert list(v.index) == ["vanilla", "a", "b", "c"]
    assert list(v.verdict) == ["within noise", "better", "worse", "within noise"]
    assert v.loc["a", "gap to vanilla"] == pytest.approx(0.3)
    assert v.loc["c", "2 x std. error"] == pytest.approx(2 * (2 * 0.01 / 3) ** 0.5)
    loss = gap_verdicts(runs({"vanilla": [0.5] * 3, "a": [0.1] * 3}), higher_is_better=False)
    assert loss.loc["a", "verdict"] == "better"


def test_verdict_errors():
    with pytest.raises(ValueError, match="reference must be one of the models"):
        gap_verdicts(runs({"a": [0.1, 0.2]}))
    two = pd.concat([runs({"vanilla": [0.1]}), runs({"vanilla": [0.1]}).assign(task="u")])
    with pytest.raises(ValueError, match="one task"):
        gap_verdicts(two)
