"""The experiments of the chapter "The LSTM today": speed against length, memory against state.

Two questions about the LSTM's 2024 descendants (``lnn.SLSTM``, ``lnn.MinGRU``, ``lnn.MinLSTM``):

* **Speed** (:func:`step_times`): seconds per training step (forward and backward) against the
  sequence length T, for the LSTM, the GRU, the minGRU with its parallel scan and with its
  sequential loop, and the sLSTM. The minGRU's gates see only x_t, so its recurrence is linear in
  h and runs as a parallel scan; the others must loop over t.
* **Memory against state tracking** (:func:`success_table`): two per-step labelling tasks on
  random bits, trained at one length and tested at longer ones.

  - :func:`marked_recall` (memory): one step carries a marker; from then on the label is the bit
    seen at the marker. A model needs to store one bit and keep it: a gate that opens at the
    marker and stays shut afterwards, which the minimal models' input-only gates can express.
  - :func:`running_parity` (state tracking): the label at step t is x_1 ⊕ … ⊕ x_t. The state
    must flip on every 1, a nonlinear function of the previous state and the input, which a
    recurrence linear in h with positive coefficients cannot compute at every length
    (Merrill et al. 2024; Grazzi et al. 2024).

  Chance is 1/2 on both tasks (each label is a fair coin given nothing), the baseline on the
  plot; :func:`success_table` also reports the accuracy of the best constant prediction.

Every model is the recurrent layer (one layer, ``batch_first=True``) plus a linear read-out of
h_t, :class:`Tagger`; batches are drawn fresh each step from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from lstm_lib.data.bits import IGNORE_INDEX
from lstm_lib.timing import forward_backward, time_interleaved

__all__ = ["MODELS", "SPEED_MODELS", "TASKS", "Tagger", "accuracy", "make_layer",
           "marked_recall", "plot_speed", "plot_success", "running_parity", "step_times",
           "success_table", "train_tagger"]

MODELS = ("lstm", "gru", "mingru", "minlstm", "slstm")
SPEED_MODELS = ("lstm", "gru", "mingru-parallel", "mingru-sequential", "mingru-fused", "slstm")
TASKS = ("recall", "parity")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def make_layer(name: str, input_size: int, hidden_size: int) -> nn.Module:
    """The recurrent layer ``name`` (one of ``MODELS`` or ``SPEED_MODELS``), batch_first.

    ``"mingru"`` and ``"minlstm"`` use the parallel scan; ``"mingru-sequential"`` the autograd
    loop, ``"mingru-fused"`` the loop with the hand-written backward (``scan="fused"``).
    """
    from lstm_lib import nn as lnn

    kinds = {"lstm": (lnn.LSTM, {}), "gru": (lnn.GRU, {}), "slstm": (lnn.SLSTM, {}),
             "mingru": ("MinGRU", {"scan": "parallel"}),
             "mingru-parallel": ("MinGRU", {"scan": "parallel"}),
             "mingru-sequential": ("MinGRU", {"scan": "sequential"}),
             "mingru-fused": ("MinGRU", {"scan": "fused"}),
             "minlstm": ("MinLSTM", {"scan": "parallel"}),
             "minlstm-sequential": ("MinLSTM", {"scan": "sequential"})}
    if name not in kinds:
        raise ValueError(f"name must be one of {sorted(kinds)}, got {name!r}")
    cls, kwargs = kinds[name]
    cls = getattr(lnn, cls) if isinstance(cls, str) else cls
    return cls(input_size, hidden_size, batch_first=True, **kwargs)


class Tagger(nn.Module):
    """A recurrent layer and a linear read-out of every h_t: (N, T, D) -> logits (N, T, 2)."""

    def __init__(self, name: str, input_size: int, hidden_size: int, classes: int = 2):
        super().__init__()
        self.name = name
        self.rnn = make_layer(name, input_size, hidden_size)
        self.head = nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0])


# ---- the tasks -------------------------------------------------------------------------------

def _bits(n: int, seq_len: int, seed) -> tuple[np.random.Generator, np.ndarray]:
    _check_int("n", n, 1)
    _check_int("seq_len", seq_len, 2)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng, rng.integers(0, 2, size=(n, seq_len))


def running_parity(n: int, seq_len: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Random bits and their running parity: y_t = x_1 ⊕ … ⊕ x_t at every step.

    Returns x (N, T, 1) float32 and y (N, T) int64.
    """
    _, bits = _bits(n, seq_len, seed)
    return bits[..., None].astype(np.float32), np.cumsum(bits, axis=1) % 2


def marked_recall(n: int, seq_len: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Random bits, one of them marked; after the marker the label is the marked bit.

    The marker sits at a uniform step p in [0, T // 2); x_t = (bit_t, [t = p]). The label is
    y_t = bit_p for t > p and ``IGNORE_INDEX`` for t <= p, so half or more of the labels test a
    memory of at least T / 2 steps. Returns x (N, T, 2) float32 and y (N, T) int64.
    """
    rng, bits = _bits(n, seq_len, seed)
    p = rng.integers(0, seq_len // 2, size=n)                       # (N,)
    rows = np.arange(n)
    x = np.zeros((n, seq_len, 2), dtype=np.float32)
    x[..., 0] = bits
    x[rows, p, 1] = 1.0
    t = np.arange(seq_len)[None, :]
    y = np.where(t > p[:, None], bits[rows, p][:, None], IGNORE_INDEX).astype(np.int64)
    return x, y


_TASK_DATA = {"recall": marked_recall, "parity": running_parity}
_INPUT_SIZE = {"recall": 2, "parity": 1}


def _task(task: str):
    if task not in _TASK_DATA:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    return _TASK_DATA[task]


# ---- training and testing --------------------------------------------------------------------

def train_tagger(name: str, task: str, *, seq_len: int = 16, steps: int = 300,
                 hidden_size: int = 32, batch_size: int = 64, lr: float = 1e-2, seed: int = 0,
                 device=None) -> Tagger:
    """Train a :class:`Tagger` on ``task`` at length ``seq_len`` with Adam; returns it (eval mode).

    Seeded: ``seed`` fixes the initial weights and every batch. Gradients are clipped to norm 1.
    """
    data = _task(task)
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    torch.manual_seed(seed)
    model = Tagger(name, _INPUT_SIZE[task], _check_int("hidden_size", hidden_size, 1))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = (torch.from_numpy(a).to(device) for a in data(batch_size, seq_len, seed=rng))
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten(), ignore_index=IGNORE_INDEX)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: Tagger, task: str, seq_len: int, *, n: int = 256, seed: int = 10_000
             ) -> float:
    """Accuracy on the labelled steps of ``n`` fresh sequences of length ``seq_len``."""
    x, y = (torch.from_numpy(a) for a in _task(task)(n, seq_len, seed=seed))
    device = next(model.parameters()).device
    pred = model(x.to(device)).argmax(-1).cpu()
    mask = y != IGNORE_INDEX
    return float((pred[mask] == y[mask]).double().mean())


def success_table(*, tasks: Sequence[str] = TASKS, models: Sequence[str] = MODELS,
                  train_len: int = 16, test_lens: Sequence[int] = (16, 64, 256),
                  seeds: Sequence[int] = (0,), steps: int = 300, hidden_size: int = 32,
                  device=None) -> pd.DataFrame:
    """Train every model on every task at ``train_len``; test at each of ``test_lens``.

    Returns a long DataFrame with columns task, model, seed, T, accuracy; the rows with model
    ``"constant"`` are the best constant prediction (the baseline, about 1/2 on both tasks).
    """
    rows = []
    for task in tasks:
        for T in test_lens:
            _, y = _task(task)(256, T, seed=10_000)
            labelled = y[y != IGNORE_INDEX]
            share = float(labelled.mean())
            rows.append((task, "constant", -1, T, max(share, 1 - share)))
        for name in models:
            for seed in seeds:
                model = train_tagger(name, task, seq_len=train_len, steps=steps,
                                     hidden_size=hidden_size, seed=seed, device=device)
                rows += [(task, name, seed, T, accuracy(model, task, T)) for T in test_lens]
    return pd.DataFrame(rows, columns=["task", "model", "seed", "T", "accuracy"])


# ---- speed -----------------------------------------------------------------------------------

def step_times(lengths: Sequence[int] = (64, 256, 1024), *, models: Sequence[str] = SPEED_MODELS,
               hidden_size: int = 64, batch_size: int = 16, repeats: int = 3, device=None,
               seed: int = 0) -> pd.DataFrame:
    """Median seconds of one forward and backward pass, per model and length T.

    Each length times all models interleaved (:func:`lstm_lib.timing.time_interleaved`), so a
    change of machine load hits them alike. Returns columns model, T, seconds.
    """
    rows = []
    for T in lengths:
        _check_int("T", T, 1)
        torch.manual_seed(seed)
        x = torch.randn(batch_size, T, 1, device=device)
        fns = {name: forward_backward(make_layer(name, 1, hidden_size).to(device), x)
               for name in models}
        for name, sec in time_interleaved(fns, repeats=repeats).items():
            rows.append((name, T, sec))
    return pd.DataFrame(rows, columns=["model", "T", "seconds"])


# ---- plots -----------------------------------------------------------------------------------

def plot_speed(df: pd.DataFrame, ax=None):
    """Seconds per step against T, log-log, one line per model; returns the Axes."""
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    ax = ax if ax is not None else plt.gca()
    for name, g in df.groupby("model", sort=False):
        ax.plot(g["T"], g["seconds"] * 1e3, "o-", label=name)
    ax.set(xscale="log", yscale="log", xlabel="sequence length T",
           ylabel="ms per forward + backward")
    lengths = sorted(set(df["T"]))
    ax.set_xticks(lengths, [str(T) for T in lengths])  # the measured lengths, not 3 x 10^1
    ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax.legend(fontsize="small")
    return ax


def plot_success(df: pd.DataFrame, axes=None):
    """Accuracy against test length, one panel per task, the constant baseline dashed."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(df["task"]))
    if axes is None:
        _, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, task in zip(axes, tasks, strict=True):
        d = df[df["task"] == task].groupby(["model", "T"], sort=False)["accuracy"].mean()
        for name in dict.fromkeys(df.loc[df["task"] == task, "model"]):
            style = dict(ls="--", color="gray") if name == "constant" else dict(marker="o")
            ax.plot(d[name].index, d[name].values, label=name, **style)
        ax.set(xscale="log", title=task, xlabel="test length T", ylim=(0.4, 1.02))
    axes[0].set_ylabel("accuracy (labelled steps)")
    axes[-1].legend(fontsize="small")
    return axes
