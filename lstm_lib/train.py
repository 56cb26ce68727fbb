"""Training loop: ``TrainConfig`` + ``fit()`` -> ``History``, ``evaluate()``, checkpoints.

One loop serves every chapter::

    from lstm_lib.train import TrainConfig, fit
    config = TrainConfig(steps=2000, batch_size=64, lr=1e-3, clip_norm=1.0, eval_every=100)
    history = fit(model, (x_train, y_train), (x_val, y_val), config=config, loss="mse")
    history.plot(baseline=0.167)          # drawn by lstm_lib.plot; models and fit() never plot

What ``fit`` does on each step s = 1 .. steps:

1. take a batch ``(x, y)`` from ``train`` (:func:`fit` lists the three kinds of ``train``) and
   move it to the device;
2. ``loss = L(model(x), y)``; ``loss.backward()``;
3. record the global gradient norm ``||g|| = sqrt(sum_p ||dL/dp||^2)`` *before* clipping, then clip
   it: by norm, ``g <- g * min(1, clip_norm / ||g||)`` (Pascanu, Mikolov & Bengio 2013), or by
   value, ``g <- clamp(g, -clip_value, clip_value)`` (as min-char-rnn does with 5);
4. stop with ``FloatingPointError`` if the loss or the gradient norm is not finite (before the
   step, so the weights stay finite);
5. take the optimizer step; every ``eval_every`` steps evaluate on ``val`` and, with ``patience``,
   stop early once the validation loss has not improved for ``patience`` evaluations, restoring the
   best weights.

With ``stateful=True`` (truncated BPTT over a long stream, e.g. the batches of
:func:`lstm_lib.data.bptt_batches`), the model is called as ``model(x, state, return_state=True)``
and the state it returns is *detached* and passed to the next batch: the values carry on, the
graph (and so the gradient) stops at the batch boundary. The state restarts from ``None`` at the
start of every pass over ``train``.

Per-step numbers are buffered on the device and copied to the host in chunks; the one host
synchronisation per step is the finiteness check of step 4. With a fixed ``seed`` two runs on
the CPU give identical histories.

Checkpoints hold state_dicts and plain data only, and :func:`load_checkpoint` reads them with
``torch.load(..., weights_only=True)``: loading a checkpoint cannot run code.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import pickle
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lstm_lib._checks import check_bool, check_int
from lstm_lib._device import default_device, seed_everything

__all__ = [
    "TrainConfig",
    "History",
    "fit",
    "evaluate",
    "predict",
    "compute_loss",
    "make_optimizer",
    "save_checkpoint",
    "load_checkpoint",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "MAX_EVAL_BATCHES",
]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("mse", "ce", "bce")
_FLUSH_EVERY = 20  # steps between host copies of the per-step numbers (one GPU sync each)
MAX_EVAL_BATCHES = 10_000  # evaluate() refuses more batches than this: endless data is a bug
_CHECKPOINT_FORMAT = "lstm_lib.checkpoint/1"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; frozen, so a run can be named by its config.

    Attributes:
        steps: number of optimizer steps (minibatches).
        epochs: if set, overrides ``steps`` with ``epochs`` passes over a finite ``train``
            (a tuple ``(x, y)`` or a sized iterable such as a DataLoader).
        batch_size: minibatch size N when ``train`` is a tuple ``(x, y)``; also the evaluation
            batch size (at least 256).
        lr: learning rate.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` or ``"rmsprop"`` (ignored when ``fit`` gets
            an ``optimizer=``).
        momentum: momentum of ``"sgd"`` and ``"rmsprop"``.
        weight_decay: L2 penalty (decoupled for ``"adamw"``).
        clip_norm: clip the global gradient norm to this value; 0 disables.
        clip_value: clamp every gradient entry to ``[-clip_value, clip_value]``; 0 disables.
            Setting both ``clip_norm`` and ``clip_value`` is a ``ValueError``.
        eval_every: evaluate on ``val`` every this many steps (and after the last step).
        patience: stop after this many evaluations without a lower validation loss; with
            ``patience > 0`` the weights of the best evaluation are restored at the end of the
            run, whether it stopped early or not. 0 disables both.
        seed: seeds torch, numpy and Python (``seed_everything``), the shuffling and ``batch_fn``.
        progress: show a ``tqdm`` progress bar with the running loss (the environment variable
            ``LSTM_LIB_PROGRESS=0`` turns bars off everywhere; the book build sets it).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; ``None`` -> ``default_device()``
            (which the environment variable ``LSTM_LIB_DEVICE`` overrides).
    """

    steps: int = 1000
    epochs: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float = 1.0
    clip_value: float = 0.0
    eval_every: int = 100
    patience: int = 0
    seed: int = 0
    progress: bool = True
    device: str | None = None

    def __post_init__(self):
        _check_int("steps", self.steps, minimum=1)
        if self.epochs is not None:
            _check_int("epochs", self.epochs, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("eval_every", self.eval_every, minimum=1)
        _check_int("patience", self.patience, minimum=0)
        _check_int("seed", self.seed, minimum=0)
        if self.seed >= 2**32:  # numpy's global generator takes no more
            raise ValueError(f"seed must be < 2**32, got {self.seed}")
        for name in ("lr", "momentum", "weight_decay", "clip_norm", "clip_value"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__} "
                                f"{value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        check_bool("progress", self.progress)
        if self.device is not None and not isinstance(self.device, str | torch.device):
            raise TypeError(f"device must be a str such as 'cpu' or 'cuda', or None, got "
                            f"{type(self.device).__name__} {self.device!r}")
        if self.lr == 0:
            raise ValueError("lr must be > 0, got 0")
        if self.clip_norm > 0 and self.clip_value > 0:
            raise ValueError(
                f"set at most one of clip_norm and clip_value (0 disables), got "
                f"clip_norm={self.clip_norm} and clip_value={self.clip_value}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_int(name: str, value, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@dataclass
class History:
    """What happened during ``fit``: plain lists, so it plots, pickles and serialises to JSON.

    Attributes:
        step: 1 .. steps actually taken.
        train_loss: minibatch loss at each step (before the update).
        grad_norm: global gradient norm at each step, before clipping.
        time: wall-clock seconds since the start of ``fit`` at each step (host time: on a GPU,
            which runs asynchronously, it is exact only at evaluations and at the end).
        lr: learning rate (of the first parameter group) used at each step.
        val_step: the steps at which ``val`` was evaluated.
        val_loss: validation loss at ``val_step``.
        val_metrics: ``{name: [value at each val_step]}``.
        stopped_early: whether ``patience`` ended the run.
        best_step: the step of the lowest validation loss (``None`` without ``val``).
        device: the device trained on.
        config: the ``TrainConfig`` as a dict.
    """

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False
    best_step: int | None = None
    device: str = "cpu"
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def best_val(self) -> float | None:
        """The lowest validation loss, or ``None`` if nothing was evaluated."""
        return min(self.val_loss) if self.val_loss else None

    @property
    def final_train_loss(self) -> float | None:
        return self.train_loss[-1] if self.train_loss else None

    @property
    def wall_time(self) -> float:
        """Seconds the whole run took."""
        return self.time[-1] if self.time else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data (lists, floats, str), e.g. for ``json.dump`` or a checkpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        if not isinstance(d, Mapping):
            raise TypeError(f"d must be a dict (History.to_dict()), got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def plot(self, ax=None, **kwargs):
        """Draw the loss curves with :func:`lstm_lib.plot.plot_history`; returns the Axes."""
        from lstm_lib.plot import plot_history

        return plot_history(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        last = f"{self.final_train_loss:.4g}" if self.train_loss else "-"
        best = f"{self.best_val:.4g} at step {self.best_step}" if self.val_loss else "-"
        return (f"History(steps={len(self.step)}, train_loss[-1]={last}, best_val={best}, "
                f"stopped_early={self.stopped_early}, device={self.device!r}, "
                f"wall_time={self.wall_time:.1f}s)")


# ----------------------------------------------------------------------------- losses, metrics

def compute_loss(loss: str | Callable, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean loss of a batch.

    ``"mse"``: ``output`` and ``y`` must have the same shape (no silent broadcasting of (N, 1)
    against (N,)). ``"ce"``: cross-entropy on logits, ``output`` (N, C) with ``y`` (N,) or (N, 1)
    class indices, or per-step ``output`` (N, T, C) with ``y`` (N, T). ``"bce"``: binary
    cross-entropy on logits, same shapes. A callable is called as ``loss(output, y)``.
    """
    if callable(loss):
        return loss(output, y)
    for name, t in (("output", output), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if loss == "mse":
        if output.shape != y.shape:
            raise ValueError(f"loss='mse' needs output and target of the same shape: output "
                             f"{tuple(output.shape)}, target {tuple(y.shape)}")
        return F.mse_loss(output, y.to(output.dtype))
    if loss == "ce":
        logits, target = _ce_shapes(output, y)
        return F.cross_entropy(logits, target)
    if loss == "bce":
        if output.shape != y.shape:
            raise ValueError(f"loss='bce' needs output and target of the same shape: output "
                             f"{tuple(output.shape)}, target {tuple(y.shape)}")
        if bool(((y < 0) | (y > 1)).any()):  # the formula runs on any y, giving nonsense
            raise ValueError(f"loss='bce' needs targets y in [0, 1], got values in "
                             f"[{float(y.min())}, {float(y.max())}]")
        return F.binary_cross_entropy_with_logits(output, y.to(output.dtype))
    raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")


def _ce_shapes(output: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten (N, T, C) / (N, T) to (N*T, C) / (N*T,); accept (N, 1) targets for (N, C)."""
    if output.ndim == 2 and y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if output.ndim < 2 or y.shape != output.shape[:-1]:
        raise ValueError(f"loss='ce' needs logits (N, C) with targets (N,), or (N, T, C) with "
                         f"(N, T): got output {tuple(output.shape)}, target {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"loss='ce' needs integer class targets, got dtype {y.dtype}")
    C = output.shape[-1]
    outside = (y != IGNORE_INDEX) & ((y < 0) | (y >= C))
    if bool(outside.any()):  # cross_entropy would raise a bare IndexError (a CUDA assert on GPU)
        bad = y[outside]
        raise ValueError(f"loss='ce' needs class targets y in [0, C) = [0, {C}) (or "
                         f"{IGNORE_INDEX} for no target); got {int(bad.min())} .. "
                         f"{int(bad.max())} ({int(outside.sum())} such targets)")
    return output.reshape(-1, output.shape[-1]), y.reshape(-1).long()


IGNORE_INDEX = -100  # a target that loss="ce" and accuracy skip (F.cross_entropy's default)


def accuracy(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of correct argmax predictions; per step for (N, T, C) outputs.

    Targets equal to ``IGNORE_INDEX`` (-100: steps without a label) are left out of the count,
    exactly as ``loss="ce"`` leaves them out of the loss. NaN if every target is ignored.
    """
    logits, target = _ce_shapes(output, y)
    keep = target != IGNORE_INDEX
    return ((logits.argmax(dim=-1) == target) & keep).sum() / keep.sum()


def _mse(output, y):
    return F.mse_loss(output, y.to(output.dtype))


def _mae(output, y):
    return F.l1_loss(output, y.to(output.dtype))


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "accuracy": accuracy,
    "mse": _mse,
    "mae": _mae,
}


def _resolve_metrics(metrics) -> dict[str, Callable]:
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return dict(metrics)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"unknown metric {m!r}; built in: {sorted(METRICS)}, or pass a "
                                 "dict {name: fn(output, y)}")
            out[m] = METRICS[m]
        elif callable(m):
            out[getattr(m, "__name__", f"metric{len(out)}")] = m
        else:
            raise TypeError(f"metrics must be names or callables, got {m!r}")
    return out


# ----------------------------------------------------------------------------- batches

def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _to_tensor(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))


def _prepare(batch, device: torch.device, dtype: torch.dtype, loss) -> tuple[torch.Tensor, ...]:
    """A batch ``(x, y)`` as tensors on ``device``; floating point in the model's dtype."""
    if not isinstance(batch, Sequence) or len(batch) != 2:
        raise TypeError(f"a batch must be a pair (x, y), got {type(batch).__name__}"
                        + (f" of length {len(batch)}" if isinstance(batch, Sequence) else ""))
    x, y = (_to_tensor(a) for a in batch)
    _check_dtypes(x, y, loss)  # before any conversion: y.long() would truncate float targets
    if x.is_floating_point():
        x = x.to(dtype)
    if loss == "ce":
        y = y.long()
    elif y.is_floating_point() or loss in ("mse", "bce"):
        y = y.to(dtype)
    non_blocking = device.type == "cuda"
    return x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)


def _check_dtypes(x: torch.Tensor, y: torch.Tensor, loss) -> None:
    """Refuse dtypes that a conversion would silently change: float class targets, complex."""
    for name, a in (("x", x), ("y", y)):
        if a.is_complex():
            raise TypeError(f"{name} must be real (float or int), got dtype {a.dtype}")
    if loss == "ce" and (y.is_floating_point() or y.dtype == torch.bool):
        raise TypeError(f"loss='ce' needs integer class targets y (e.g. int64), got dtype "
                        f"{y.dtype}; converting would truncate them (use y.long() yourself if "
                        "the values are whole numbers, or loss='mse'/'bce' for real targets)")


def _check_pair(data, name: str, loss=None) -> tuple[torch.Tensor, torch.Tensor]:
    """A pair (x, y) of the same N, non-empty, of real dtypes and finite values."""
    x, y = (_to_tensor(a) for a in data)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"{name}: x and y must be arrays with N examples along axis 0, got "
                         f"x {tuple(x.shape)} and y {tuple(y.shape)}")
    if len(x) != len(y):
        raise ValueError(f"{name}: x and y must have the same number of examples N, got "
                         f"x {tuple(x.shape)} and y {tuple(y.shape)}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty")
    _check_dtypes(x, y, loss)
    for part, a in (("x", x), ("y", y)):
        if a.is_floating_point() and not bool(torch.isfinite(a).all()):
            bad = int((~torch.isfinite(a)).sum())
            raise ValueError(f"{name}: {part} must be finite; {bad} of its {a.numel()} values "
                             "are NaN or infinite")
    return x, y


def _is_pair(data) -> bool:
    return (isinstance(data, tuple | list) and len(data) == 2
            and all(isinstance(a, torch.Tensor | np.ndarray) for a in data))


def _shuffled_batches(x, y, batch_size: int, gen: torch.Generator) -> Iterator:
    """Endless minibatches of a pair: a fresh seeded permutation every epoch."""
    n = len(x)
    while True:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            yield x[idx], y[idx]


def _cycle(iterable) -> Iterator:
    while True:
        empty = True
        for batch in iterable:
            empty = False
            yield batch
        if empty:
            raise ValueError("train is an empty iterable")


def _batches_for(train, config: TrainConfig, gen: torch.Generator,
                 loss=None) -> tuple[Iterator, int]:
    """The batch iterator for ``train`` and the number of steps to take."""
    steps = config.steps
    if _is_pair(train):
        x, y = _check_pair(train, "train", loss)
        if config.epochs is not None:
            steps = config.epochs * math.ceil(len(x) / config.batch_size)
        return _shuffled_batches(x, y, config.batch_size, gen), steps
    if callable(train) and not isinstance(train, Iterable):
        if config.epochs is not None:
            raise ValueError("epochs needs a finite train set; a batch_fn is endless, use steps")
        rng = np.random.default_rng(config.seed)

        def from_fn():
            for step in range(1, steps + 1):
                yield train(step, rng)

        return from_fn(), steps
    if isinstance(train, Iterable):
        if isinstance(train, Iterator):  # one pass only: cannot cycle or count epochs
            if config.epochs is not None:
                raise ValueError("epochs needs a re-iterable train (e.g. a DataLoader), got an "
                                 "iterator")
            return train, steps
        if config.epochs is not None:
            try:
                steps = config.epochs * len(train)
            except TypeError:
                raise ValueError("epochs needs a train iterable with a len(); "
                                 "use steps instead") from None
        return _cycle(train), steps
    raise TypeError("train must be a pair (x, y) of arrays/tensors, a callable "
                    f"batch_fn(step, rng) -> (x, y), or an iterable of batches; got "
                    f"{type(train).__name__}")


def _eval_batches(data, batch_size: int, loss=None, name: str = "data") -> Iterator:
    """The batches of ``data``; more than ``MAX_EVAL_BATCHES`` of them is a ``ValueError``."""
    if _is_pair(data):
        x, y = _check_pair(data, name, loss)
        return ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size))
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        if hasattr(data, "__len__") and len(data) > MAX_EVAL_BATCHES:
            raise ValueError(f"{name} has {len(data)} batches, more than MAX_EVAL_BATCHES = "
                             f"{MAX_EVAL_BATCHES}; evaluate on a subset")
        return _bounded(data, name)
    raise TypeError(f"{name} must be a pair (x, y) or an iterable of batches, got "
                    f"{type(data).__name__}")


def _bounded(batches: Iterable, name: str) -> Iterator:
    """``batches``, stopped with a ``ValueError`` at batch ``MAX_EVAL_BATCHES + 1`` (endless)."""
    for k, batch in enumerate(batches):
        if k == MAX_EVAL_BATCHES:
            raise ValueError(f"{name} yielded more than MAX_EVAL_BATCHES = {MAX_EVAL_BATCHES} "
                             "batches: is it endless (e.g. itertools.repeat or itertools.cycle)? "
                             "Evaluation data must be finite")
        yield batch


def _check_val(val) -> None:
    """``fit``'s ``val`` must be finite and re-readable: it is evaluated many times."""
    if val is None or _is_pair(val):
        return
    if isinstance(val, Iterator):
        raise ValueError(
            f"val is an iterator ({type(val).__name__}): it can be read only once and may never "
            "end (e.g. itertools.repeat); pass a pair (x, y) or a re-iterable with a len(), such "
            "as a list of batches or a DataLoader")
    if not isinstance(val, Iterable) or isinstance(val, str | bytes):
        raise TypeError(f"val must be None, a pair (x, y) or a list/DataLoader of batches, got "
                        f"{type(val).__name__}")
    if not hasattr(val, "__len__"):
        raise ValueError(f"val ({type(val).__name__}) has no len(): fit refuses evaluation data "
                         "that may be endless; pass a pair (x, y), a list of batches or a "
                         "DataLoader")
    if len(val) > MAX_EVAL_BATCHES:
        raise ValueError(f"val has {len(val)} batches, more than MAX_EVAL_BATCHES = "
                         f"{MAX_EVAL_BATCHES}; evaluate on a subset")
    if len(val) == 0:
        raise ValueError("val has no batches")


def _acc_dtype(device: torch.device) -> torch.dtype:
    """float64 for running sums, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    # A bare torch.nn.LSTM returns (output, (h_n, c_n)); train on its output.
    return out[0] if isinstance(out, tuple) else out


def _detach_state(state):
    """The state's values without their graph: a tensor, or a tuple of tensors (LSTM: (h, c))."""
    if isinstance(state, tuple | list):
        return type(state)(_detach_state(s) for s in state)
    return state.detach() if isinstance(state, torch.Tensor) else state


def _state_batch(state) -> int | None:
    """N of a layer state (layers, N, H) or (h, c); ``None`` for no state."""
    if state is None:
        return None
    first = state[0] if isinstance(state, tuple | list) else state
    return int(first.shape[1])


def _forward_stateful(model: nn.Module, x: torch.Tensor, state):
    """``model(x, state, return_state=True)`` -> (output, detached state); a new N restarts."""
    if _state_batch(state) not in (None, x.shape[0]):
        state = None
    out, new_state = model(x, state, return_state=True)
    return out, _detach_state(new_state)


def _passes(train) -> Iterator[tuple[bool, Any]]:
    """(starts a new pass?, batch) over ``train``, cycled; an iterator is read once."""
    if isinstance(train, Iterator):
        for k, batch in enumerate(train):
            yield k == 0, batch
        return
    while True:
        empty = True
        for k, batch in enumerate(train):
            empty = False
            yield k == 0, batch
        if empty:
            raise ValueError("train is an empty iterable")


# ----------------------------------------------------------------------------- evaluate

@torch.no_grad()
def evaluate(model: nn.Module, data, loss: str | Callable = "mse", batch_size: int = 256, *,
             metrics=None, device: str | torch.device | None = None,
             stateful: bool = False) -> dict[str, float]:
    """Mean loss (and metrics) of ``model`` on ``data``, in eval mode and without gradients.

    Args:
        data: a pair ``(x, y)`` (cut into batches of ``batch_size``) or a finite iterable of
            batches (more than ``MAX_EVAL_BATCHES`` is refused: endless data would hang).
        loss: as in :func:`fit`.
        metrics: names from ``METRICS`` (``"accuracy"``, ``"mse"``, ``"mae"``) or
            ``{name: fn(output, y)}``.
        device: where to compute; ``None`` -> the device of the model's parameters.
        stateful: carry the recurrent state from one batch to the next, in order (``data``
            must then be an iterable of consecutive batches, e.g. ``bptt_batches``); the state
            starts from ``None``. Batch values are then weighted by their number of targets.

    Returns:
        ``{"loss": ..., **metrics}``; batch values are averaged weighted by batch size N (by
        ``y.numel()`` with ``stateful``, so a shorter last window counts less).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    stateful = check_bool("stateful", stateful)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if stateful and _is_pair(data):
        raise ValueError("stateful=True needs data as an iterable of consecutive batches "
                         "(e.g. lstm_lib.data.bptt_batches), not a pair (x, y)")
    fns = _resolve_metrics(metrics)
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    dtype = _model_dtype(model)
    was_training = model.training
    model.eval()
    acc = _acc_dtype(device)
    totals = {"loss": torch.zeros((), dtype=acc, device=device)}
    totals.update({k: torch.zeros((), dtype=acc, device=device) for k in fns})
    n, state = 0, None
    try:
        for batch in _eval_batches(data, batch_size, loss):
            x, y = _prepare(batch, device, dtype, loss)
            if stateful:
                out, state = _forward_stateful(model, x, state)
                w = y.numel()
            else:
                out = _forward(model, x)
                w = len(x)
            totals["loss"] += compute_loss(loss, out, y).to(acc) * w
            for k, fn in fns.items():
                totals[k] += torch.as_tensor(fn(out, y), device=device).to(acc) * w
            n += w
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate got no batches")
    return {k: float(v) / n for k, v in totals.items()}


@torch.no_grad()
def predict(model: nn.Module, x, batch_size: int = 256, *,
            device: str | torch.device | None = None) -> np.ndarray:
    """``model(x)`` in eval mode, without gradients, in batches; returns a numpy array on the CPU.

    ``x`` is an array or tensor (N, ...); floating inputs are cast to the model's dtype.
    ``device`` defaults to the device of the model's parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    x = _to_tensor(x)
    if x.ndim == 0:
        raise ValueError(f"x must be an array (N, ...), got a scalar {x.item()!r}")
    if x.is_floating_point():
        x = x.to(_model_dtype(model))
    was_training = model.training
    model.eval()
    try:
        outs = [_forward(model, x[i:i + batch_size].to(device)).cpu()
                for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict got an empty x")
    return torch.cat(outs).numpy()


# ----------------------------------------------------------------------------- fit

def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``config.optimizer`` with ``lr``, ``weight_decay``, ``momentum``."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    params = list(params)
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def _progress_bar(total: int, enabled: bool):
    # LSTM_LIB_PROGRESS=0 turns every bar off: the book build sets it, because a bar executed
    # into a notebook is saved as a frozen widget that the website would show as "0%".
    if not enabled or os.environ.get("LSTM_LIB_PROGRESS", "").strip() == "0":
        return None
    with warnings.catch_warnings():
        # Inside a kernel without ipywidgets tqdm.auto warns and falls back to the text bar.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    try:
        return tqdm(total=total, unit="step", dynamic_ncols=True, leave=True)
    except ImportError:  # tqdm.notebook without a widget frontend
        from tqdm.std import tqdm as tqdm_std

        return tqdm_std(total=total, unit="step", dynamic_ncols=True, leave=True)


def _global_norm(params: list[torch.Tensor]) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def fit(model: nn.Module, train, val=None, *, config: TrainConfig | None = None,
        loss: str | Callable = "mse", metrics=None, optimizer=None,
        scheduler: Callable | None = None, stateful: bool = False,
        callback: Callable[[int, nn.Module], None] | None = None) -> History:
    """Train ``model`` in place; return the :class:`History`.

    Args:
        model: any ``nn.Module`` mapping a batch ``x`` to an output (a tuple output, as of a bare
            ``nn.LSTM``, is reduced to its first element). It is moved to the device.
        train: one of
            * a pair ``(x, y)`` of arrays or tensors, N examples each: shuffled minibatches of
              ``config.batch_size`` drawn with a generator seeded by ``config.seed``;
            * a callable ``batch_fn(step, rng) -> (x, y)`` for endless synthetic data; ``step``
              counts from 1 and ``rng`` is a ``numpy.random.Generator`` seeded by ``config.seed``;
            * any iterable of ``(x, y)`` batches, e.g. a ``DataLoader`` (cycled until ``steps``).
        val: ``None``, a pair ``(x, y)`` or an iterable of batches; evaluated every
            ``config.eval_every`` steps and after the last.
        config: a :class:`TrainConfig` (default ``TrainConfig()``).
        loss: ``"mse"``, ``"ce"`` (logits (N, C) / targets (N,), or per step (N, T, C) / (N, T)),
            ``"bce"``, or a callable ``loss(output, y) -> scalar tensor``.
        metrics: extra validation metrics: names in ``METRICS`` or ``{name: fn(output, y)}``.
        optimizer: overrides ``config.optimizer``: a ``torch.optim.Optimizer`` built on
            ``model.parameters()``, or a factory ``params -> Optimizer`` such as
            ``functools.partial(torch.optim.SGD, lr=0.1)``.
        scheduler: a factory ``optimizer -> torch.optim.lr_scheduler.LRScheduler``, e.g.
            ``lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)``;
            stepped after every optimizer step. ``History.lr`` records the rate of each step.
        stateful: truncated BPTT with a carried state. ``train`` must be an iterable of
            consecutive batches (e.g. ``bptt_batches(ids, N, L)``), and the model must accept
            ``model(x, state, return_state=True) -> (output, state)`` as
            :class:`lstm_lib.models.SequenceModel` does. Each batch starts from the detached
            final state of the previous one; the state restarts from ``None`` at every new pass
            over ``train`` (or when N changes). ``val`` is then evaluated statefully too.
        callback: ``callback(step, model)`` after every optimizer step (e.g. to take samples
            during training); it runs with the model in train mode and must not change it.

    ``fit`` starts with ``seed_everything(config.seed)`` (Python, numpy and torch's global
    generators), so dropout inside the model repeats too; create the model after seeding yourself
    to make its initial weights repeatable as well.

    Bad input (README "Bad input"): target dtypes are checked before any conversion (float
    targets with ``loss="ce"`` are a ``TypeError``, not truncated); a pair ``train``/``val``
    with NaN or inf values is refused before the first step; ``val`` must be finite data that
    can be read again (a pair, a list, a DataLoader: at most ``MAX_EVAL_BATCHES`` batches; an
    iterator such as ``itertools.repeat(batch)`` is refused at once instead of hanging);
    ``stateful`` and ``config.progress`` must be bools.

    Raises:
        FloatingPointError: at the first step whose loss or gradient norm is NaN or infinite,
            *before* its optimizer step: the model keeps the weights of the previous step (its
            buffers, e.g. BatchNorm statistics, are restored too), so a run that diverges never
            leaves NaN weights behind. The error's ``history`` attribute holds the steps taken.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if isinstance(loss, str) and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")
    if not isinstance(loss, str) and not callable(loss):
        raise TypeError(f"loss must be one of {LOSSES} or a callable, got {type(loss).__name__}")
    stateful = check_bool("stateful", stateful)
    metric_fns = _resolve_metrics(metrics)
    _check_val(val)
    if _is_pair(val):
        _check_pair(val, "val", loss)
    if stateful and (_is_pair(train) or (callable(train) and not isinstance(train, Iterable))):
        raise ValueError("stateful=True needs train as an iterable of consecutive batches "
                         "(e.g. lstm_lib.data.bptt_batches(ids, N, L)), not a pair (x, y) or a "
                         "batch_fn: independent batches have no state to carry")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable(step, model), got {type(callback).__name__}")
    if scheduler is not None and not callable(scheduler):
        raise TypeError(f"scheduler must be a factory optimizer -> LRScheduler, got "
                        f"{type(scheduler).__name__}")
    device = default_device() if config.device is None else torch.device(config.device)

    seed_everything(config.seed)  # dropout and any other randomness inside the model
    gen = torch.Generator().manual_seed(config.seed)  # shuffling, independent of the model
    model.to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer is None:
        opt = make_optimizer(params, config)
    elif isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    elif callable(optimizer):
        opt = optimizer(params)
    else:
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or a factory params -> "
                        f"Optimizer, got {type(optimizer).__name__}")

    sched = scheduler(opt) if scheduler is not None else None

    if stateful:
        steps = config.steps
        if config.epochs is not None:
            if isinstance(train, Iterator) or not hasattr(train, "__len__"):
                raise ValueError("epochs needs a train iterable with a len(); use steps instead")
            steps = config.epochs * len(train)
        batches = _passes(train)
    else:
        batches, steps = _batches_for(train, config, gen, loss)
    state = None
    dtype = _model_dtype(model)
    acc = _acc_dtype(device)
    eval_bs = max(config.batch_size, 256)
    history = History(device=str(device), config=config.to_dict())
    buf_loss: list[torch.Tensor] = []
    buf_norm: list[torch.Tensor] = []
    best_state: dict[str, torch.Tensor] | None = None
    bad_evals = 0
    bar = _progress_bar(steps, config.progress)
    postfix: dict[str, str] = {}
    t0 = time.perf_counter()

    def flush():
        if not buf_loss:
            return
        losses = torch.stack(buf_loss).tolist()  # one host copy for the whole chunk
        norms = torch.stack(buf_norm).tolist()
        buf_loss.clear()
        buf_norm.clear()
        history.train_loss.extend(losses)
        history.grad_norm.extend(norms)
        if bar is not None:
            postfix["loss"] = f"{losses[-1]:.4g}"
            bar.set_postfix(postfix, refresh=False)

    try:
        step = 0
        for step, batch in enumerate(itertools.islice(batches, steps), start=1):
            if stateful:
                new_pass, batch = batch
                state = None if new_pass else state
            x, y = _prepare(batch, device, dtype, loss)
            opt.zero_grad(set_to_none=True)
            buffers = [b.detach().clone() for b in model.buffers()]  # forward may change them
            if stateful:
                output, state = _forward_stateful(model, x, state)  # the truncation: detached
            else:
                output = _forward(model, x)
            batch_loss = compute_loss(loss, output, y)
            if batch_loss.ndim != 0:
                raise ValueError(f"the loss must be a scalar, got shape {tuple(batch_loss.shape)}")
            batch_loss.backward()
            if config.clip_norm > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, config.clip_norm)
            else:
                norm = _global_norm(params)
                if config.clip_value > 0:
                    torch.nn.utils.clip_grad_value_(params, config.clip_value)
            # One host sync per step: a non-finite loss or gradient must stop the run *before*
            # the optimizer step writes NaN into the weights (and into Adam's moments).
            if not bool(torch.isfinite(batch_loss.detach()) & torch.isfinite(norm)):
                for b, saved in zip(model.buffers(), buffers, strict=True):
                    b.copy_(saved)  # e.g. BatchNorm's running statistics of the bad batch
                opt.zero_grad(set_to_none=True)
                flush()
                what, value = (("loss", batch_loss.detach())
                               if not torch.isfinite(batch_loss.detach())
                               else ("gradient norm", norm.detach()))
                kept = "it was given" if step == 1 else f"it had after step {step - 1}"
                err = FloatingPointError(
                    f"the training {what} is {float(value)} at step {step}; stopped before its "
                    f"optimizer step, so the model keeps the weights {kept} (the history "
                    f"so far is this error's .history). Check the "
                    f"data for NaN/inf, or try a lower lr or clip_norm > 0 (lr={config.lr}, "
                    f"clip_norm={config.clip_norm})")
                err.history = history
                raise err
            history.lr.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            if sched is not None:
                sched.step()
            if callback is not None:
                callback(step, model)

            buf_loss.append(batch_loss.detach().to(acc))
            buf_norm.append(norm.detach().to(batch_loss.device, acc))
            history.step.append(step)
            history.time.append(time.perf_counter() - t0)
            if bar is not None:
                bar.update(1)
            if len(buf_loss) >= _FLUSH_EVERY:
                flush()

            if val is not None and (step % config.eval_every == 0 or step == steps):
                flush()
                result = evaluate(model, val, loss, eval_bs, metrics=metric_fns, device=device,
                                  stateful=stateful)
                history.val_step.append(step)
                history.val_loss.append(result.pop("loss"))
                for k, v in result.items():
                    history.val_metrics.setdefault(k, []).append(v)
                if bar is not None:
                    postfix["val"] = f"{history.val_loss[-1]:.4g}"
                    bar.set_postfix(postfix, refresh=False)
                if history.val_loss[-1] <= min(history.val_loss):
                    history.best_step = step
                    bad_evals = 0
                    if config.patience > 0:
                        best_state = {k: v.detach().clone()
                                      for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                    if config.patience > 0 and bad_evals >= config.patience:
                        history.stopped_early = True
                        break
        flush()
        if step < steps and not history.stopped_early:
            warnings.warn(f"train ran out of batches after {step} of {steps} steps",
                          RuntimeWarning, stacklevel=2)
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str | Path, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    history: History | None = None, config: TrainConfig | None = None, *,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Save state_dicts and plain data (no pickled classes) to ``path``; returns the path.

    The file holds ``{"format", "model", "optimizer", "history", "config"}``, where history and
    config are dicts of lists/numbers/strings (``extra``, e.g. the model's constructor arguments,
    must be such plain data too), so :func:`load_checkpoint` can read it with
    ``torch.load(weights_only=True)``.

    The write is atomic: the checkpoint goes to a temporary file in the same directory, is
    flushed to disk and then renamed over ``path`` (``os.replace``), so an interrupted save
    never leaves a truncated file and never destroys an earlier checkpoint at ``path``.
    Missing parent directories are created.
    """
    from lstm_lib import __version__

    if not isinstance(path, str | os.PathLike) or str(path) == "":
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path {path} is a directory; give a file name, e.g. "
                                f"{path / 'checkpoint.pt'}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    payload = {
        "format": _CHECKPOINT_FORMAT,
        "lstm_lib_version": __version__,
        "torch_version": str(torch.__version__),  # a str subclass that weights_only refuses
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": history.to_dict() if history is not None else None,
        "config": config.to_dict() if config is not None else None,
        "extra": dict(extra) if extra is not None else None,
    }
    _check_plain(payload, "checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_torch_save(payload, path)
    return path


def _atomic_torch_save(payload: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace``."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.dtype, torch.Size)


def _check_plain(obj, where: str) -> None:
    """Raise TypeError unless ``obj`` is built of containers, numbers, strings and tensors."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _check_plain(k, where)
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(obj, list | tuple):
        for k, v in enumerate(obj):
            _check_plain(v, f"{where}[{k}]")
    elif type(obj) not in _PLAIN and not isinstance(obj, torch.Tensor):
        raise TypeError(f"{where} is a {type(obj).__name__}; a checkpoint holds only plain data "
                        "(dict, list, tuple, str, int, float, bool, None, tensors), so that "
                        "load_checkpoint can read it with weights_only=True")


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict at ``path``; every failure is an error that names the file."""
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise IsADirectoryError(f"checkpoint {path} is not a file")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is empty (0 bytes): the save did not complete")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f"refusing to load {path}: it is not a plain-data lstm_lib checkpoint "
            f"(torch.load with weights_only=True failed: {err})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError,
            UnicodeDecodeError) as err:  # what torch.load raises on truncated/corrupt bytes
        raise ValueError(f"checkpoint {path} is truncated or corrupt (torch.load failed: "
                         f"{type(err).__name__}: {err})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an lstm_lib checkpoint (expected format "
                         f"{_CHECKPOINT_FORMAT!r})")
    return ckpt


def _check_model_state(path: Path, state: Any, model: nn.Module) -> None:
    """The saved state_dict has exactly the model's keys, shapes and dtypes, all finite."""
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                 for v in state.values()):
        raise ValueError(f"checkpoint {path}: 'model' must be a state_dict of tensors")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not match the model (was it saved from "
                         f"another architecture or size?): missing keys {missing}, "
                         f"unexpected keys {unexpected}")
    for k, want in expected.items():
        got = state[k]
        if got.shape != want.shape:
            raise ValueError(f"checkpoint {path}: {k} has shape {tuple(got.shape)}, the model "
                             f"expects {tuple(want.shape)}")
        if got.dtype != want.dtype:
            raise ValueError(f"checkpoint {path}: {k} has dtype {got.dtype}, the model has "
                             f"{want.dtype} (convert the model first, e.g. model.to({got.dtype}))")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise ValueError(f"checkpoint {path}: {k} holds NaN or inf values")


def _check_optimizer_state(path: Path, state: Any, optimizer: torch.optim.Optimizer) -> None:
    """The saved optimizer state fits ``optimizer``: groups, parameter counts, state shapes."""
    if state is None:
        raise ValueError(f"{path} holds no optimizer state")
    if not isinstance(state, Mapping) or not isinstance(state.get("param_groups"), list) \
            or not isinstance(state.get("state"), Mapping):
        raise ValueError(f"checkpoint {path}: 'optimizer' is not an optimizer state_dict")
    groups = optimizer.param_groups
    saved = state["param_groups"]
    if len(saved) != len(groups) or any(
            not isinstance(s, Mapping) or len(s.get("params", ())) != len(g["params"])
            for s, g in zip(saved, groups, strict=False)):
        raise ValueError(
            f"checkpoint {path}: the optimizer state has parameter groups of sizes "
            f"{[len(s.get('params', ())) if isinstance(s, Mapping) else '?' for s in saved]}, "
            f"the optimizer {[len(g['params']) for g in groups]}")
    params = {}
    for s, g in zip(saved, groups, strict=True):
        params.update(zip(s["params"], g["params"], strict=True))
    for pid, entry in state["state"].items():
        if pid not in params or not isinstance(entry, Mapping):
            raise ValueError(f"checkpoint {path}: optimizer state for unknown parameter {pid!r}")
        p = params[pid]
        for name, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != p.shape:
                raise ValueError(f"checkpoint {path}: optimizer state {name!r} of parameter "
                                 f"{pid} has shape {tuple(value.shape)}, the parameter "
                                 f"{tuple(p.shape)}")


def load_checkpoint(path: str | Path, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Load weights (and optimizer state) saved by :func:`save_checkpoint` into ``model``.

    The file is read with ``torch.load(weights_only=True)``: a file that would need to unpickle
    arbitrary objects (and so could run code) is refused with ``pickle.UnpicklingError``.

    Atomic: everything is checked before ``model`` or ``optimizer`` is touched -- the file
    (exists, non-empty, a readable checkpoint), its history and config, and every tensor (the
    model's exact keys, shapes and dtypes, finite values; the optimizer's groups and state
    shapes). If anything is wrong, an error names the file and the model and optimizer are
    left exactly as they were.

    Returns:
        the checkpoint dict; ``"history"`` is a :class:`History` (or ``None``), ``"config"`` a
        :class:`TrainConfig` (or ``None``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an empty, truncated or corrupt file, another format, a config or history
            that does not parse, or tensors that do not match ``model`` / ``optimizer``.
        pickle.UnpicklingError: the file holds objects other than plain data.
    """
    if not isinstance(path, str | os.PathLike) or str(path) == "":
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    path = Path(path)
    ckpt = _read_checkpoint(path)
    # 1. everything that can fail is checked first ...
    history = config = None
    try:
        if ckpt.get("history") is not None:
            history = History.from_dict(ckpt["history"])
        if ckpt.get("config") is not None:
            config = TrainConfig(**ckpt["config"])
    except (TypeError, ValueError, AttributeError) as err:
        raise ValueError(f"checkpoint {path}: its history or config does not parse "
                         f"({type(err).__name__}: {err})") from None
    _check_model_state(path, ckpt.get("model"), model)
    if optimizer is not None:
        _check_optimizer_state(path, ckpt.get("optimizer"), optimizer)
    # 2. ... then the model and optimizer change, and are restored if torch still objects.
    import copy

    model_before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer_before = copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None
    try:
        model.load_state_dict(ckpt["model"])
        if optimizer is not None:
            optimizer.load_state_dict(ckpt["optimizer"])
    except Exception as err:
        model.load_state_dict(model_before)
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_before)
        raise ValueError(f"checkpoint {path} could not be loaded into the model; nothing was "
                         f"changed ({type(err).__name__}: {err})") from err
    ckpt["history"], ckpt["config"] = history, config
    return ckpt
