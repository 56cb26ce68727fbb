"""Greff et al.'s two analyses of a study: variants against vanilla, and which hyperparameters
matter.

* :func:`variant_table`: per variant, the number of completed trials, the mean, standard
  deviation and best of the score, the gap to the reference (vanilla) and the p-value of
  Welch's t-test against it (``scipy.stats.ttest_ind(equal_var=False)``; Greff et al. used
  it at the 5 % level to mark variants significantly better or worse than vanilla).
* :func:`importances`: the fraction of the score's variance each hyperparameter explains,
  from Optuna's fANOVA evaluator (Hutter et al. 2014; the paper's section 5), which fits a
  random forest to (hyperparameters -> score) and splits the forest's variance by parameter.

Both read an Optuna study (:func:`load`), so they work on a study that is still running
elsewhere, and :func:`report` prints both for ``python -m lstm_lib study report``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from lstm_lib.study.trial import REFERENCE, TASKS, VARIANTS

__all__ = ["frame", "importances", "load", "plot_importances", "plot_variants", "report",
           "variant_table"]


def load(name: str, storage):
    """The stored Optuna study ``name`` (``KeyError`` naming the stored ones if absent);
    ``storage`` is an RDB URL or an Optuna storage object."""
    import optuna

    names = optuna.study.get_all_study_names(storage)
    if name not in names:
        raise KeyError(f"no study {name!r} in {storage}; it holds {names}")
    return optuna.load_study(study_name=name, storage=storage)


def frame(study):
    """One row per completed trial: ``number``, the hyperparameters, ``score`` and the recorded
    numbers (``loss``, ``accuracy``, ``seconds``, ``seed``, ...), ordered by ``number``."""
    import optuna
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        rows.append({"number": t.number, **t.params, "score": t.value,
                     **{k: v for k, v in t.user_attrs.items() if k != "score"}})
    df = pd.DataFrame(rows)
    return df.sort_values("number", ignore_index=True) if rows else df


def _higher_is_better(study) -> bool:
    return study.direction.name == "MAXIMIZE"


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of Welch's t-test; NaN when either side has fewer than two values or neither
    varies (the test is undefined)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # one constant side: scipy still answers
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def variant_table(study, reference: str = REFERENCE, alpha: float = 0.05):
    """Per-variant summary of the completed trials, with Welch's t-test against ``reference``.

    Args:
        study: an Optuna study of :func:`~lstm_lib.study.driver.run_study`.
        reference: the variant every other is tested against (Greff et al.: vanilla).
        alpha: the test's level for the ``verdict`` column.

    Returns:
        A ``DataFrame`` indexed by variant (in :data:`~lstm_lib.study.trial.VARIANTS` order,
        only those with trials) with columns ``n``, ``mean``, ``std`` (ddof=1), ``best``
        (max, or min for a score to minimise), ``gap`` (mean - reference's mean), ``p``
        (Welch, NaN where undefined) and ``verdict``: ``"better"`` or ``"worse"`` when
        ``p < alpha``, else ``"within noise"`` (``"reference"`` for the reference).

    Raises:
        ValueError: no completed trials, or ``reference`` has none.
    """
    import pandas as pd

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    df = frame(study)
    if df.empty:
        raise ValueError(f"study {study.study_name!r} has no completed trials yet")
    present = [v for v in VARIANTS if v in set(df["variant"])]
    if reference not in present:
        raise ValueError(f"reference must be a variant with completed trials, one of "
                         f"{present}; got {reference!r}")
    higher = _higher_is_better(study)
    ref = df.loc[df.variant == reference, "score"].to_numpy()
    rows = {}
    for v in present:
        s = df.loc[df.variant == v, "score"].to_numpy()
        gap = s.mean() - ref.mean()
        p = math.nan if v == reference else _welch_p(s, ref)
        if v == reference:
            verdict = "reference"
        elif p < alpha:
            verdict = "better" if (gap > 0) == higher else "worse"
        else:
            verdict = "within noise"
        rows[v] = {"n": len(s), "mean": s.mean(), "std": s.std(ddof=1) if len(s) > 1 else math.nan,
                   "best": s.max() if higher else s.min(), "gap": gap, "p": p,
                   "verdict": verdict}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "variant"
    return out


def importances(study, seed: int = 0):
    """fANOVA importance of every hyperparameter (the variant included), summing to 1.

    Returns:
        a ``pandas.Series`` indexed by parameter, largest first (Optuna's
        ``get_param_importances`` with ``FanovaImportanceEvaluator(seed=seed)``).

    Raises:
        ValueError: fewer than two completed trials.
    """
    import optuna
    import pandas as pd

    n = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    if n < 2:
        raise ValueError(f"importances need at least 2 completed trials, study "
                         f"{study.study_name!r} has {n}")
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return pd.Series(values, name="importance").sort_values(ascending=False)


def _score_label(study) -> str:
    task = TASKS.get(study.user_attrs.get("task", ""))
    return f"validation {task.score}" if task else "score"


def plot_variants(study, ax=None, *, reference: str = REFERENCE):
    """Every completed trial's score by variant (dots), each variant's mean (bar), the
    reference's mean (dashed) and the task's chance level (dotted); returns the Axes."""
    import matplotlib.pyplot as plt

    table, df = variant_table(study, reference), frame(study)
    ax = plt.gca() if ax is None else ax
    names = list(table.index)
    ax.bar(range(len(names)), table["mean"], color="#dbe9f6", edgecolor="#1f4e79")
    for k, name in enumerate(names):
        s = df.loc[df.variant == name, "score"].to_numpy()
        ax.plot(k + np.linspace(-0.2, 0.2, len(s)), s, "o", color="#1f4e79", ms=3.5)
        if table.loc[name, "verdict"] in ("better", "worse"):
            ax.annotate("*", (k, table.loc[name, "mean"]), ha="center", va="bottom",
                        fontsize=14, color="C3")
    ax.axhline(table.loc[reference, "mean"], color="black", ls="--", lw=1,
               label=f"{reference} (mean)")
    task = TASKS.get(study.user_attrs.get("task", ""))
    if task is not None:
        ax.axhline(task.chance, color="gray", ls=":", lw=1, label="memoryless")
    ax.set_xticks(range(len(names)), names, rotation=60)
    ax.set_ylabel(_score_label(study))
    ax.set_title(f"{study.study_name}: one dot per trial, * p < 0.05 (Welch)")
    ax.legend(fontsize=8)
    return ax


def plot_importances(values, ax=None):
    """Horizontal bars of :func:`importances` (largest on top); returns the Axes."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    order = values.sort_values()
    ax.barh(range(len(order)), order.to_numpy(), color="#1f4e79")
    ax.set_yticks(range(len(order)), list(order.index))
    ax.set_xlabel("fANOVA importance (fraction of variance)")
    ax.set_xlim(0, max(1e-9, float(order.max())) * 1.1)
    return ax


def report(name: str, storage, *, reference: str = REFERENCE, seed: int = 0) -> str:
    """The text of ``study report``: the study's size, the variant table and the importances.

    A study without trials of ``reference`` is tested against its first variant instead (in
    :data:`~lstm_lib.study.trial.VARIANTS` order).
    """
    import optuna
    import pandas as pd

    study = load(name, storage)
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    attrs = study.user_attrs
    lines = [f"study {name!r} in {storage}: task {attrs.get('task')}, size {attrs.get('size')}, "
             f"{states.count('COMPLETE')} completed, {states.count('FAIL')} failed, "
             f"{states.count('RUNNING')} running; score: {_score_label(study)} "
             f"({'higher' if _higher_is_better(study) else 'lower'} is better)", ""]
    if states.count("COMPLETE") == 0:
        return "\n".join(lines + ["no completed trials yet"])
    present = set(frame(study)["variant"])
    if reference not in present:   # e.g. a study of NP and GRU only: test against the first
        reference = next(v for v in VARIANTS if v in present)
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        lines += ["per variant (p: Welch's t-test against " + reference + ")",
                  variant_table(study, reference).round(4).to_string(), ""]
    if states.count("COMPLETE") >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            values = importances(study, seed=seed)
        lines += ["hyperparameter importance (fANOVA, fraction of the score's variance)"]
        lines += [f"  {param:<12} {value:.3f}" for param, value in values.items()]
    return "\n".join(lines)
