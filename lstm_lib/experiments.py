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

The long-dependency chapters ask one question of many models: how does success fall as the lag
between a cue and its use grows? :func:`lag_sweep` trains each model at each lag of the adding
problem or the long-gap language task (:func:`lag_task` builds the :class:`Task`, with the
memoryless baseline of each lag) and :func:`plot_lag_sweep` draws score against lag;
:func:`learning_signal` measures, at initialisation or after training, how much gradient reaches
the input ``x_t`` from a loss at the last step::

    df = lag_sweep({"rnn": "rnn", "lstm": ("lstm", {"forget_bias": 1.0})}, "adding",
                   lags=(10, 50), seeds=(0, 1), steps=300)
    df.pivot_table(index="model", columns="lag", values="score")
    learning_signal("rnn", seq_len=100)      # (100,): mean ||dL/dx_t|| at distance T - t
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

__all__ = ["LAG_TASKS", "Task", "compare", "lag_sweep", "lag_task", "learning_signal",
           "plot_lag_sweep", "summarize"]


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
            verbose: bool = False, keep: bool = False):
    """Train every model factory on every task for every seed; return a ``pandas.DataFrame``.

    Args:
        models: ``{name: factory}``; ``factory()`` builds a fresh, untrained model. It is called
            right after ``seed_everything(seed)``, so initial weights depend on the seed only.
        task: a :class:`Task` or a sequence of them.
        seeds: the seeds; each run uses ``dataclasses.replace(config, seed=seed)``.
        config: the :class:`~lstm_lib.train.TrainConfig` shared by all runs (default: its
            defaults with ``progress=False``).
        verbose: print one line per run.
        keep: also return each run's :class:`~lstm_lib.train.History` and trained model, in
            the object columns ``history`` and ``trained``.

    Returns:
        One row per (task, model, seed) with columns ``task``, ``model``, ``seed``, ``params``
        (trainable parameters), ``steps`` (taken), ``loss`` and every task metric on
        ``task.val`` after training, ``final_train_loss`` (mean of the last 10 % of minibatch
        losses), ``train_time_s`` (wall seconds of ``fit``) and ``ms_per_step``
        (+ ``history``, ``trained`` with ``keep=True``).

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
                if keep:
                    row.update(history=history, trained=model)
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


# ------------------------------------------------------------------ long-dependency experiments

#: The tasks of :func:`lag_task`, with their default batch size and learning rate (Adam), the
#: score reported and whether a higher score is better. The lag is the adding problem's
#: sequence length T, or the number of filler words between the cue and the prompt.
LAG_TASKS = {
    "adding": {"batch_size": 128, "lr": 1e-2, "score": "mse", "higher_is_better": False},
    "long_gap": {"batch_size": 64, "lr": 2e-2, "score": "accuracy", "higher_is_better": True},
}
_EMBEDDING = 16          # token embedding size of the long-gap models
_TEST_SEED = 10_000      # test set of lag L: seed 10_000 + L, never a training seed


def _check_lag_task(task: str) -> None:
    if task not in LAG_TASKS:
        raise ValueError(f"task must be one of {tuple(LAG_TASKS)}, got {task!r}")


def lag_task(task: str, lag: int, *, batch_size: int | None = None, n_test: int = 1000) -> Task:
    """The :class:`Task` for one lag of a long-dependency problem.

    Args:
        task: ``"adding"`` (:func:`~lstm_lib.data.adding_problem`, modern variant, with
            ``seq_len = lag``; loss MSE, memoryless baseline 1/6) or ``"long_gap"``
            (:func:`~lstm_lib.data.long_gap_language` with ``gap = lag``; cross-entropy and
            accuracy, baseline :func:`~lstm_lib.data.long_gap_memoryless_accuracy` (lag)).
        lag: the sequence length T (adding, >= 2) or the gap in words (long_gap, >= 0).
        batch_size: training batch size N (default: ``LAG_TASKS[task]["batch_size"]``).
        n_test: size of the held-out set, drawn with seed ``10_000 + lag``.

    Returns:
        A :class:`Task` named ``task`` whose batch function draws a fresh batch at every step
        from the generator ``fit`` passes in (so training data repeat exactly for a seed) and
        whose ``baseline`` holds the memoryless value of the score (``"loss"`` for adding,
        ``"accuracy"`` for long_gap).
    """
    from lstm_lib import data

    _check_lag_task(task)
    batch_size = LAG_TASKS[task]["batch_size"] if batch_size is None else batch_size
    if task == "adding":
        def adding_batches(step, rng):
            return data.adding_problem(batch_size, lag, seed=int(rng.integers(2**32)))

        val = data.adding_problem(n_test, lag, seed=_TEST_SEED + lag)
        return Task(task, adding_batches, val=val, loss="mse",
                    baseline={"loss": data.adding_baseline_mse()})

    def long_gap_batches(step, rng):
        b = data.long_gap_language(batch_size, lag, seed=int(rng.integers(2**32)))
        return b.x, b.y

    test = data.long_gap_language(n_test, lag, seed=_TEST_SEED + lag)
    return Task(task, long_gap_batches, val=(test.x, test.y), loss="ce", metrics=("accuracy",),
                baseline={"accuracy": data.long_gap_memoryless_accuracy(lag)})


def _lag_model(task: str, kind: str, hidden: int, layer_kwargs: Mapping[str, Any]) -> nn.Module:
    from lstm_lib import data
    from lstm_lib.models import SequenceModel

    if task == "adding":
        return SequenceModel(kind, 2, hidden, 1, **layer_kwargs)
    vocab_size = len(data.long_gap_language(1, 0, seed=0).vocab)
    return SequenceModel(kind, _EMBEDDING, hidden, len(data.tasks.COUNTRIES),
                         embedding=vocab_size, **layer_kwargs)


def _model_specs(models) -> dict[str, tuple[str, dict]]:
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, Mapping):
        models = {kind: kind for kind in models}
    if not models:
        raise ValueError("models must name at least one model, got none")
    specs = {}
    for label, spec in models.items():
        kind, kwargs = (spec, {}) if isinstance(spec, str) else spec
        if not isinstance(kind, str) or not isinstance(kwargs, Mapping):
            raise TypeError(f"models[{label!r}] must be a kind or a pair (kind, layer_kwargs), "
                            f"got {spec!r}")
        specs[str(label)] = (kind, dict(kwargs))
    return specs


def lag_sweep(models, task: str, lags: Sequence[int], *, seeds: Sequence[int] = (0,),
              steps: int = 300, hidden: int = 32, lr: float | None = None,
              batch_size: int | None = None, keep: bool = False, device: str | None = None):
    """Train every model at every lag of a long-dependency task; one row per run.

    Each run builds a :class:`~lstm_lib.models.SequenceModel` (one recurrent layer of
    ``hidden`` units and a linear readout of the last state; for ``"long_gap"`` an embedding
    of size 16 in front and 10 classes out) right after ``seed_everything(seed)``, trains it
    with Adam for ``steps`` steps on fresh batches of :func:`lag_task`, the global gradient
    norm clipped to 1, and scores it on the task's 1000 held-out sequences.

    Args:
        models: ``{label: kind}`` or ``{label: (kind, layer_kwargs)}``, e.g.
            ``{"rnn": "rnn", "lstm, b_f = 1": ("lstm", {"forget_bias": 1.0})}``; a sequence of
            kinds is shorthand for ``{kind: kind}``.
        task: ``"adding"`` or ``"long_gap"`` (see :data:`LAG_TASKS`).
        lags: the lags: sequence lengths T (adding) or gaps in words (long_gap).
        seeds: one run per seed; the seed fixes the initial weights and the training batches.
        steps: optimizer steps per run (the same budget for every model and lag).
        hidden: hidden size H.
        lr, batch_size: default ``LAG_TASKS[task]``'s.
        keep: also return each run's ``history`` and ``trained`` model (object columns).
        device: as in :class:`~lstm_lib.train.TrainConfig` (``None``: the default device).

    Returns:
        A ``pandas.DataFrame`` with the columns of :func:`compare` (``task``, ``model``,
        ``seed``, ``loss``, ``train_time_s``, ...) plus ``kind``, ``lag``, ``score`` (test MSE
        for adding, test accuracy for long_gap) and ``baseline`` (the memoryless score at that
        lag: 1/6, or :func:`~lstm_lib.data.long_gap_memoryless_accuracy` (lag)), in the order
        lag, model, seed.

    Raises:
        ValueError: unknown task, no models, no lags, or a lag the task rejects.
        TypeError: a model spec that is neither a kind nor a pair (kind, layer_kwargs).
    """
    import pandas as pd

    _check_lag_task(task)
    specs = _model_specs(models)
    lags = [int(lag) for lag in lags]
    if not lags:
        raise ValueError("lags must hold at least one lag, got none")
    defaults = LAG_TASKS[task]
    config = TrainConfig(steps=steps, lr=defaults["lr"] if lr is None else lr,
                         batch_size=defaults["batch_size"] if batch_size is None else batch_size,
                         progress=False, device=device)
    score = defaults["score"]
    frames = []
    for lag in lags:
        t = lag_task(task, lag, batch_size=config.batch_size)
        factories = {label: (lambda kind=kind, kw=kw: _lag_model(task, kind, hidden, kw))
                     for label, (kind, kw) in specs.items()}
        df = compare(factories, t, seeds=seeds, config=config, keep=keep)
        df.insert(2, "kind", [specs[label][0] for label in df["model"]])
        df.insert(3, "lag", lag)
        df["score"] = df["loss" if score == "mse" else score]
        df["baseline"] = t.baseline["loss" if score == "mse" else score]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def plot_lag_sweep(df, ax=None, *, log: bool | None = None, colors: Mapping | None = None,
                   baseline_label: str = "memoryless baseline"):
    """Score against lag from a :func:`lag_sweep` table: one line per model, a dashed baseline.

    Each model's line joins its mean score over the seeds; with several seeds every seed is
    also drawn as a faint dot. The baseline is the table's ``baseline`` column (a line that
    may depend on the lag). ``log`` (default: True for MSE) puts the y axis on a log scale.

    Returns:
        the Axes.
    """
    import matplotlib.pyplot as plt

    from lstm_lib.plot import KIND_COLORS

    required = {"model", "kind", "lag", "seed", "score", "baseline", "task"}
    if not required <= set(df.columns):
        raise ValueError(f"df must be a lag_sweep table with columns {sorted(required)}; "
                         f"missing {sorted(required - set(df.columns))}")
    ax = plt.gca() if ax is None else ax
    task = df["task"].iloc[0]
    score = LAG_TASKS[task]["score"] if task in LAG_TASKS else "score"
    colors = dict(colors or {})
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for k, (label, runs) in enumerate(df.groupby("model", sort=False)):
        color = colors.get(label) or cycle[k % len(cycle)]
        if label not in colors and runs["kind"].nunique() == 1 and df["model"].nunique() <= 3:
            color = KIND_COLORS.get(runs["kind"].iloc[0], color)
        mean = runs.groupby("lag")["score"].mean()
        ax.plot(mean.index, mean.values, "o-", color=color, label=label)
        if runs["seed"].nunique() > 1:
            ax.plot(runs["lag"], runs["score"], ".", color=color, alpha=0.4)
    base = df.groupby("lag")["baseline"].first()
    ax.plot(base.index, base.values, "--", color="black", lw=1, label=baseline_label)
    if log if log is not None else score == "mse":
        ax.set_yscale("log")
    ax.set_xlabel("lag")
    ax.set_ylabel(f"test {score}")
    ax.legend(fontsize=9)
    return ax


def learning_signal(model: str | nn.Module, *, seq_len: int = 100, n: int = 256,
                    hidden: int = 32, seed: int = 0, **layer_kwargs):
    """How much learning signal reaches each input: mean ||dL/dx_t|| by distance T - t.

    L is the MSE at the last step of a batch of ``n`` adding-problem sequences of length
    ``seq_len`` (T), and the gradient is taken with autograd in float64 (in float32 the
    smallest values underflow to 0). Only the model's input changes; the loss reaches ``x_t``
    through the product of Jacobians from step T back to step t.

    Args:
        model: a kind (``"rnn"``, ``"lstm"``, ...): a fresh adding-problem model (H =
            ``hidden``, ``layer_kwargs`` passed to the layer, e.g. ``forget_bias=1.0``) built
            after ``seed_everything(seed)``; or a model taking (N, T, 2) inputs, e.g. a
            ``trained`` model of :func:`lag_sweep` on the adding task (a float64 copy is used;
            the model itself is not changed).
        seq_len: T. n: number of sequences averaged. seed: init seed (kinds) and data seed
            (``seed + 1``).

    Returns:
        A numpy array of shape (T,): entry d is the mean over the n sequences of
        ``||dL/dx_{T-d}||``, so entry 0 is the last input and entry T - 1 the first.
    """
    import copy

    from lstm_lib import data

    if isinstance(model, str):
        seed_everything(seed)
        model = _lag_model("adding", model, hidden, layer_kwargs)
    elif isinstance(model, nn.Module):
        if layer_kwargs:
            raise ValueError(f"layer_kwargs apply to a kind, not to a model; got {layer_kwargs}")
        model = copy.deepcopy(model).cpu()
    else:
        raise TypeError(f"model must be a kind (str) or an nn.Module, got {type(model).__name__}")
    model = model.double().eval()
    x, y = (torch.from_numpy(a).double() for a in data.adding_problem(n, seq_len, seed=seed + 1))
    x.requires_grad_(True)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    return x.grad.norm(dim=2).mean(dim=0).flip(0).numpy()          # (T,), index = T - t
