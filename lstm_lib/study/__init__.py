"""The variant study of Greff et al. (2017), "LSTM: A Search Space Odyssey", at any scale.

Built on Optuna (random search, storage, fANOVA) and Dask distributed (execution)::

    from lstm_lib import study
    study.run_study("order", task="temporal-order", variants="vanilla,NFG,NP,GRU",
                    trials=40, workers=2)                 # into sqlite:///order.db
    s = study.load("order", "sqlite:///order.db")
    study.variant_table(s)        # n, mean, std, best, gap and Welch p against vanilla
    study.importances(s)          # fANOVA: which hyperparameters matter

or from the shell::

    python -m lstm_lib study run --name order --task temporal-order --trials 40 --workers 2
    python -m lstm_lib study report --name order --storage sqlite:///order.db

A study is one task, the variants of :data:`~lstm_lib.study.trial.VARIANTS` and the search space of
:mod:`lstm_lib.study.trial`; one Optuna trial is one seeded training and its validation score.
:mod:`lstm_lib.study.driver` says how trials run (in process, on a local Dask cluster, or on an
existing one with a PostgreSQL storage), resume and survive dying workers;
:mod:`lstm_lib.study.analysis` holds the two analyses and their plots.
"""

from __future__ import annotations

from lstm_lib.study.analysis import (
    frame,
    importances,
    load,
    plot_importances,
    plot_variants,
    report,
    variant_table,
)
from lstm_lib.study.driver import RunSummary, default_storage, run_study
from lstm_lib.study.trial import (
    REFERENCE,
    SIZES,
    TASKS,
    VARIANTS,
    task_setting,
    train_trial,
    trial_seed,
)

__all__ = ["REFERENCE", "SIZES", "TASKS", "VARIANTS", "RunSummary", "default_storage", "frame",
           "importances", "load", "plot_importances", "plot_variants", "report", "run_study",
           "task_setting", "train_trial", "trial_seed", "variant_table"]
