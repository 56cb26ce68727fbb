"""Is a gap between two models larger than the noise between seeds?

For a table of multi-seed runs (:func:`lstm_lib.experiments.compare`), :func:`gap_verdicts`
compares every model's mean with a reference model's mean against a rough yardstick, twice
the standard error of the difference of two means of n seeds::

    gap = mean_m - mean_ref,   yardstick = 2 sqrt((s_m² + s_ref²) / n)

and calls a gap "within noise" when ``|gap| <= yardstick``, otherwise "better" or "worse"
(for a metric where higher is better, such as accuracy). With few seeds this is lenient: a
two-sample t-test at the 5 % level with three seeds asks for about 2.8 standard errors.
"""

from __future__ import annotations

import numpy as np

from lstm_lib.experiments import summarize

__all__ = ["VERDICTS", "gap_verdicts"]

VERDICTS = ("better", "worse", "within noise")


def gap_verdicts(runs, metric: str = "accuracy", reference: str = "vanilla", *,
                 higher_is_better: bool = True):
    """Gap of each model's mean ``metric`` to ``reference``'s, with yardstick and verdict.

    Args:
        runs: a table from ``compare`` for one task (columns ``model`` and ``metric``).
        metric: the column compared. reference: the model every other is compared with.
        higher_is_better: ``False`` for a loss.

    Returns:
        A ``DataFrame`` indexed by model (in the order of ``runs``) with columns
        ``gap to <reference>``, ``2 x std. error`` and ``verdict``.
    """
    import pandas as pd

    if "task" in runs.columns and runs["task"].nunique() > 1:
        raise ValueError(f"runs must hold one task, got {runs['task'].nunique()}: "
                         f"{list(runs['task'].unique())}; select one with runs[runs.task == ...]")
    s = summarize(runs, metric, by="model")
    if reference not in s.index:
        raise ValueError(f"reference must be one of the models {list(s.index)}, "
                         f"got {reference!r}")
    ref = s.loc[reference]
    gap = s["mean"] - ref["mean"]
    yardstick = 2 * np.sqrt((s["std"].fillna(0) ** 2 + (ref["std"] if ref["n"] > 1 else 0) ** 2)
                            / s["n"])
    good = gap > 0 if higher_is_better else gap < 0
    verdict = np.where(gap.abs() <= yardstick, "within noise", np.where(good, "better", "worse"))
    return pd.DataFrame({f"gap to {reference}": gap, "2 x std. error": yardstick,
                         "verdict": verdict}, index=s.index)
