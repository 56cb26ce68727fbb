"""Multi-seed comparisons of models on a task: one row per (task, model, seed), as a DataFrame.

The chapters that compare architectures (variants, "which variant?") all do the same thing:
build each model afresh for each seed, train it with the same :class:`~lstm_lib.train.TrainConfig`
on the same data, evaluate it on held-out data and time it. :func:`compare` does exactly that and
nothing else; :func:`summarize` reduces its table to mean, spread and range per model::

    from lstm_lib.experiments import Task, compare, summarize
    task = Task("adding T=30", batches=lambda step, rng: adding_problem(64, 30, seed=...),
                val=adding_problem(1000, 30, seed=123), loss="mse", baseline={"loss": 1 / 6})
    df = compare({"lstm": lambda: SequenceModel("lstm", 2, 16, 1),
                  "gru": lambda: SequenceModel("gru", 2, 16, 1)}, task, seeds=[0, 1, 2],
                 config=TrainConfig(steps=300, lr=1e-2, progress=False))
    summarize(df, "loss")          # mean, std, min, max, n per model

Fairness rules the runner enforces: every model sees, for a given seed, the same training
batches (``TrainConfig.seed`` is set to the seed, and ``fit`` draws batches from it) and the same
validation set; the model is constructed right after ``seed_everything(seed)``, so its initial
weights repeat too.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lstm_lib._device import seed_everything
from lstm_lib.train import TrainConfig, evaluate, fit

__all__ = ["Task", "compare", "summarize"]


@dataclass(frozen=True)
class Task:
    """A training problem for :func:`compare`.

    Attributes:
        name: shown in the ``task`` column.
        batches: training data as :func:`lstm_lib.train.fit` takes it: a callable
            ``batch_fn(step, rng) -> (x, y)`` (``rng`` is seeded by the run's seed), a pair
            ``(x, y)``, or a callable ``seed -> pair or batch_fn`` when the training data itself
            should depend on the seed (set ``per_seed=True``).
        val: the held-out pair ``(x, y)`` on which the final metrics are computed (the same for
            every model and seed).
        loss: ``"mse"``, ``"ce"``, ``"bce"`` or a callable, as in ``fit``.
        metrics: extra metrics for ``evaluate``: names such as ``("accuracy",)``, or a mapping
            ``{name: fn(output, y)}`` (e.g. an accuracy that skips ignored targets).
        baseline: the memoryless baseline of each metric, e.g. ``{"loss": 1 / 6}``, for plots.
        per_seed: ``batches`` is a factory ``seed -> training data``.
    """

    name: str
    batches: Any
    val: tuple
    loss: str | Callable = "mse"
    metrics: Sequence[str] | Mapping[str, Callable] = ()
    baseline: Mapping[str, float] = field(default_factory=dict)
    per_seed: bool = False

    def train_data(self, seed: int):
        """The training data of the run with ``seed``."""
        return self.batches(seed) if self.per_seed else self.batches


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def compare(models: Mapping[str, Callable[[], nn.Module]], task: Task | Sequence[Task],
            seeds: Sequence[int] = (0, 1, 2), config: TrainConfig | None = None, *,
            verbose: bool = False):
    """Train every model factory on every task for every seed; return a ``pandas.DataFrame``.

    Args:
        models: ``{name: factory}``; ``factory()`` builds a fresh, untrained model. It is called
            right after ``seed_everything(seed)``, so initial weights depend on the seed only.
        task: a :class:`Task` or a sequence of them.
        seeds: the seeds; each run uses ``dataclasses.replace(config, seed=seed)``.
        config: the :class:`~lstm_lib.train.TrainConfig` shared by all runs (default: its
            defaults with ``progress=False``).
        verbose: print one line per run.

    Returns:
        One row per (task, model, seed) with columns ``task``, ``model``, ``seed``, ``params``
        (trainable parameters), ``steps`` (taken), ``loss`` and every task metric on
        ``task.val`` after training, ``final_train_loss`` (mean of the last 10 % of minibatch
        losses), ``train_time_s`` (wall seconds of ``fit``) and ``ms_per_step``.

    Raises:
        ValueError: no models, no seeds, or duplicate seeds.
        TypeError: a factory that does not return an ``nn.Module``.
    """
    import pandas as pd

    if not models:
        raise ValueError("models must name at least one model factory, got an empty mapping")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    tasks = [task] if isinstance(task, Task) else list(task)
    for t in tasks:
        if not isinstance(t, Task):
            raise TypeError(f"task must be a Task or a sequence of Tasks, got {type(t).__name__}")
    config = TrainConfig(progress=False) if config is None else config
    rows = []
    for t in tasks:
        for name, factory in models.items():
            for seed in seeds:
                seed_everything(seed)
                model = factory()
                if not isinstance(model, nn.Module):
                    raise TypeError(f"models[{name!r}]() must return an nn.Module, got "
                                    f"{type(model).__name__}")
                run_config = dataclasses.replace(config, seed=seed)
                start = time.perf_counter()
                history = fit(model, t.train_data(seed), config=run_config, loss=t.loss)
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - start
                metrics = dict(t.metrics) if isinstance(t.metrics, Mapping) else list(t.metrics)
                result = evaluate(model, t.val, t.loss, metrics=metrics)
                steps = len(history.step)
                tail = history.train_loss[-max(1, steps // 10):]
                row = {"task": t.name, "model": name, "seed": seed, "params": _count(model),
                       "steps": steps, **result,
                       "final_train_loss": sum(tail) / len(tail),
                       "train_time_s": seconds, "ms_per_step": 1000 * seconds / max(steps, 1)}
                rows.append(row)
                if verbose:
                    shown = ", ".join(f"{k} {result[k]:.4g}" for k in result)
                    print(f"{t.name} | {name} | seed {seed}: {shown} ({seconds:.1f} s)")
    return pd.DataFrame(rows)


def summarize(df, metric: str = "loss", by: Sequence[str] | str = ("task", "model")):
    """Mean, standard deviation (ddof=1; NaN for one seed), min, max and count of ``metric``.

    Args:
        df: a table from :func:`compare`.
        metric: the column to summarise.
        by: the grouping columns.

    Returns:
        A ``DataFrame`` indexed by ``by`` with columns ``mean std min max n``, in the order the
        groups first appear in ``df`` (the order the models were given).
    """
    if metric not in df.columns:
        raise ValueError(f"metric must be a column of df, one of {list(df.columns)}; "
                         f"got {metric!r}")
    by = [by] if isinstance(by, str) else list(by)
    out = (df.groupby(by, sort=False)[metric]
           .agg(mean="mean", std="std", min="min", max="max", n="count"))
    return out
