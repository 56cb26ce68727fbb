"""One trial of the variant study: the tasks, the variants, the search space and one training.

A trial trains one model, a :class:`~lstm_lib.models.SequenceModel` with the variant's recurrent
layer (H units, a linear readout), with Adam on fresh synthetic batches of a task, then scores it
on the task's fixed validation set. Everything it needs travels as plain data (a task name, a
size, the variant, the hyperparameters and a seed), so a Dask worker can run it without the
study's storage: :func:`train_trial` is the whole job a worker does.

The search space follows Greff et al. (2017), section 4, adapted to Adam and to small budgets:

* ``lr``: the learning rate, log-uniform in [1e-3, 1e-1];
* ``hidden_size``: H, a log-uniform integer in [8, 32];
* ``momentum``: Adam's beta_1, the momentum of its gradient average, uniform in [0, 0.99];
* ``input_noise``: the standard deviation of Gaussian noise added to every training input,
  uniform in [0, 0.5];
* ``clip_norm``: the global gradient norm is clipped to this, log-uniform in [0.1, 10];
* ``variant``: one of :data:`VARIANTS`; the driver assigns it, so every variant gets its share.

Greff et al. searched with SGD and momentum (learning rate in [1e-6, 1e-2], 1 - momentum
log-uniform in [0.01, 1], input noise in [0, 1], 20 to 200 units) and trained to convergence;
our budgets are a few hundred steps at most, which Adam's larger steps suit.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SIZES", "TASKS", "VARIANTS", "REFERENCE", "StudyTask", "distributions",
           "normalize_variants", "task_setting", "train_trial", "trial_seed"]

#: Greff et al.'s variants and the GRU: each name maps to a ``SequenceModel`` kind and the layer's
#: keyword arguments. "vanilla" is the paper's reference, the LSTM *with* peepholes; PyTorch's
#: LSTM is "NP".
VARIANTS = {
    "vanilla": ("peephole", {}),
    **{name: ("peephole", {"variant": name}) for name in ("NIG", "NFG", "NOG", "NIAF", "NOAF")},
    "NP": ("lstm", {}),
    "CIFG": ("cifg", {}),
    "FGR": ("peephole", {"variant": "FGR"}),
    "GRU": ("gru", {}),
}
#: The variant every other is compared with, as in the paper.
REFERENCE = "vanilla"
#: The sizes of a study: sequence length, steps and data per trial (:func:`task_setting`).
SIZES = ("tiny", "small", "full")


@dataclass(frozen=True)
class StudyTask:
    """A synthetic task of :mod:`lstm_lib.data` as the study uses it.

    Attributes:
        name: the study's name for the task.
        description: one line for ``--help``.
        input_size: the model's input size D.
        output_size: the model's output units.
        readout: ``"last"`` or ``"all"`` (a label per sequence, or per step).
        loss: ``"ce"`` or ``"mse"``.
        score: the validation number a trial reports, ``"accuracy"`` or ``"loss"``.
        direction: ``"maximize"`` or ``"minimize"``.
        settings: for every size, the tuple ``(seq_len, steps, batch_size, n_val)``.
        chance: the score of a memoryless guess (chance accuracy, or the mean-predictor's MSE).
    """

    name: str
    description: str
    input_size: int
    output_size: int
    readout: str
    loss: str
    score: str
    direction: str
    settings: Mapping[str, tuple[int, int, int, int]]
    chance: float

    def data(self, n: int, seq_len: int, seed) -> tuple[np.ndarray, np.ndarray]:
        """``n`` sequences of length ``seq_len``: x (N, T, D) float32 and the targets."""
        from lstm_lib import data

        if self.name == "temporal-order":
            return data.temporal_order(n, seq_len, seed=seed)
        if self.name == "echo":
            return data.shifted_bits(n, seq_len, -_echo_delay(seq_len), seed=seed)
        return data.adding_problem(n, seq_len, seed=seed)


def _echo_delay(seq_len: int) -> int:
    return max(2, seq_len // 4)     # T = 20: the bit seen 5 steps earlier


#: The study's tasks, synthetic problems of :mod:`lstm_lib.data`, each a :class:`StudyTask`.
TASKS = {
    "temporal-order": StudyTask(
        "temporal-order", "the order of two marked symbols among distractors, 4 classes "
        "(Hochreiter & Schmidhuber 1997); score: validation accuracy", 8, 4, "last", "ce",
        "accuracy", "maximize",
        {"tiny": (20, 20, 32, 200), "small": (20, 50, 64, 1000), "full": (60, 1000, 64, 1000)},
        chance=0.25),
    "echo": StudyTask(
        "echo", "delayed echo: at every step, the bit seen T/4 steps earlier; score: "
        "validation accuracy", 1, 2, "all", "ce", "accuracy", "maximize",
        {"tiny": (12, 20, 32, 200), "small": (20, 50, 64, 1000), "full": (60, 1000, 64, 1000)},
        chance=0.5),
    "adding": StudyTask(
        "adding", "the sum of the two marked numbers of a sequence (Hochreiter & Schmidhuber "
        "1997); score: validation MSE", 2, 1, "last", "mse", "loss", "minimize",
        {"tiny": (10, 20, 32, 200), "small": (30, 100, 64, 1000), "full": (100, 1000, 64, 1000)},
        chance=1 / 6),
}
_VAL_SEED = 2017  # the validation set of every trial; training seeds are drawn per trial


def task_setting(task: str, size: str) -> dict[str, int]:
    """``seq_len``, ``steps``, ``batch_size`` and ``n_val`` of ``task`` at ``size``."""
    _check_task(task)
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return dict(zip(("seq_len", "steps", "batch_size", "n_val"), TASKS[task].settings[size],
                    strict=True))


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")


def normalize_variants(variants) -> list[str]:
    """The variant names in :data:`VARIANTS`'s spelling; a string may list them with commas.

    Raises:
        ValueError: an unknown or repeated name, or none.
    """
    if isinstance(variants, str):
        variants = [v for v in variants.split(",") if v.strip()]
    by_lower = {name.lower(): name for name in VARIANTS}
    out = []
    for v in variants:
        name = by_lower.get(str(v).strip().lower())
        if name is None:
            raise ValueError(f"variants must be names from {list(VARIANTS)}, got {v!r}")
        if name in out:
            raise ValueError(f"variants must be distinct, got {name!r} twice")
        out.append(name)
    if not out:
        raise ValueError(f"variants must name at least one of {list(VARIANTS)}, got none")
    return out


def distributions() -> dict[str, Any]:
    """The search space as Optuna distributions (the same for every trial of every study)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    return {
        "variant": CategoricalDistribution(tuple(VARIANTS)),
        "lr": FloatDistribution(1e-3, 1e-1, log=True),
        "hidden_size": IntDistribution(8, 32, log=True),
        "momentum": FloatDistribution(0.0, 0.99),
        "input_noise": FloatDistribution(0.0, 0.5),
        "clip_norm": FloatDistribution(0.1, 10.0, log=True),
    }


def trial_seed(study_name: str, number: int) -> int:
    """The seed of trial ``number``: a hash of the study's name and the number, in [0, 2^31).

    The same study name gives the same seeds, so a study rerun from scratch repeats its
    trials (hyperparameters, initial weights and batches) exactly.
    """
    digest = hashlib.sha256(f"{study_name}/{int(number)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def _batches(task: StudyTask, n: int, seq_len: int, noise: float):
    def batch_fn(step, rng):
        x, y = task.data(n, seq_len, int(rng.integers(2**31)))
        if noise > 0:   # Greff's input noise: the training inputs only, never the validation set
            x = x + rng.normal(0.0, noise, x.shape).astype(x.dtype)
        return x, y
    return batch_fn


@functools.lru_cache(maxsize=8)
def _validation(task: str, seq_len: int, n_val: int) -> tuple[np.ndarray, np.ndarray]:
    return TASKS[task].data(n_val, seq_len, _VAL_SEED)


def train_trial(task: str, size: str, params: Mapping[str, Any], seed: int) -> dict[str, float]:
    """Train one model with ``params`` on ``task`` at ``size`` and score it on validation data.

    Args:
        task: a key of :data:`TASKS`. size: ``"tiny"``, ``"small"`` or ``"full"``
            (:func:`task_setting`: sequence length, steps, batch size, validation size).
        params: ``variant``, ``lr``, ``hidden_size``, ``momentum``, ``input_noise``,
            ``clip_norm`` (the search space of the module docstring).
        seed: fixes the initial weights and the training batches.

    Returns:
        ``{"score", "loss", "seconds", "parameters"}`` (+ ``"accuracy"`` for classification):
        ``score`` is the task's score (validation accuracy, or validation MSE for adding).

    Raises:
        FloatingPointError: the training loss became NaN or infinite (a diverged run).
    """
    import torch

    from lstm_lib._device import seed_everything
    from lstm_lib.models import SequenceModel, count_parameters
    from lstm_lib.train import TrainConfig, evaluate, fit

    spec, setting = TASKS[task], task_setting(task, size)
    missing = set(distributions()) - set(params)
    if missing:
        raise ValueError(f"params must hold {sorted(distributions())}; missing {sorted(missing)}")
    kind, layer_kwargs = VARIANTS[params["variant"]]
    if kind != "gru":
        layer_kwargs = {**layer_kwargs, "forget_bias": 1.0}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny models: one thread is fastest, and workers share the cores
    try:
        start = time.perf_counter()
        seed_everything(seed)
        model = SequenceModel(kind, spec.input_size, int(params["hidden_size"]),
                              spec.output_size, readout=spec.readout, **layer_kwargs)
        config = TrainConfig(steps=setting["steps"], batch_size=setting["batch_size"],
                             lr=params["lr"], clip_norm=params["clip_norm"], seed=seed,
                             eval_every=10**6, progress=False, device="cpu")
        adam = functools.partial(torch.optim.Adam, lr=params["lr"],
                                 betas=(params["momentum"], 0.999))
        fit(model, _batches(spec, setting["batch_size"], setting["seq_len"],
                            params["input_noise"]),
            config=config, loss=spec.loss, optimizer=adam)
        val = _validation(task, setting["seq_len"], setting["n_val"])
        metrics = ("accuracy",) if spec.loss == "ce" else ()
        result = evaluate(model, val, spec.loss, metrics=metrics)
    finally:
        torch.set_num_threads(threads)
    out = {"loss": float(result["loss"]), "seconds": time.perf_counter() - start,
           "parameters": count_parameters(model)}
    if "accuracy" in result:
        out["accuracy"] = float(result["accuracy"])
    out["score"] = out[spec.score]
    if not math.isfinite(out["score"]):
        raise FloatingPointError(f"the validation {spec.score} is {out['score']}")
    return out
