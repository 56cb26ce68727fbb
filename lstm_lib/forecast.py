"""One-step forecasting on windows: pose the target, train, forecast, score in degrees.

The forecasting chapter trains many models on the same windows
(:func:`lstm_lib.data.seattle_forecasting_data`); this module holds what they share, so that the
chapter shows the lesson, not the plumbing.

A :class:`Pose` says how a window of normalised values x_1 .. x_T becomes a training pair:

* ``Pose("value")``: inputs x_1 .. x_T (N, T, 1), target x_{T+1} (N, 1);
* ``Pose("change", scale=s)``: inputs the changes Δx_t = x_t - x_{t-1} (Δx_1 := 0), target the
  next change Δx_{T+1} = x_{T+1} - x_T, both divided by ``s`` (the std of one change); the
  forecast is x̂_{T+1} = x_T + s · output, so an output of 0 *is* persistence.
* ``lags=(k, ...)`` adds, for the change pose, one input feature per k: the change k - 1 steps
  before step t (zero where the window has none), so that at the last step the model sees the
  change of k hours ago directly.

:func:`fit_and_forecast` trains a fresh model on a posed training set and returns a
:class:`ForecastRun` with the test forecast in the data's unit and its MAE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from lstm_lib._checks import check_int, check_real, finite_array
from lstm_lib._device import seed_everything
from lstm_lib.models import count_parameters
from lstm_lib.train import History, TrainConfig, fit

__all__ = ["Pose", "ForecastRun", "change_scale", "mae", "fit_and_forecast"]

TARGETS = ("value", "change")


def mae(prediction, truth) -> float:
    """Mean absolute error of two arrays of the same shape (in their unit)."""
    p, t = finite_array("prediction", prediction), finite_array("truth", truth)
    if p.shape != t.shape:
        raise ValueError(f"prediction and truth must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    if p.size == 0:
        raise ValueError("prediction and truth are empty: the MAE of nothing is undefined")
    return float(np.mean(np.abs(p - t)))


def _part(windows, name: str):
    """``windows.x`` or ``windows.y``, with an error naming what ``windows`` must be."""
    if not hasattr(windows, name):
        raise TypeError(f"windows must have .x (N, T, 1) and .y (N, horizon) (a Windows of "
                        f"lstm_lib.data), got {type(windows).__name__}")
    return getattr(windows, name)


def change_scale(windows) -> float:
    """Std of a one-step change inside the windows ``windows.x`` (N, T, 1), normalised units."""
    x = finite_array("windows.x", _part(windows, "x"))
    if x.ndim != 3 or x.shape[1] < 2 or x.shape[0] < 1:
        raise ValueError(f"windows.x must be (N, T, 1) with N >= 1 and T >= 2, got shape "
                         f"{x.shape}")
    return float(np.std(np.diff(x[..., 0], axis=1)))


@dataclass(frozen=True)
class Pose:
    """How windows become (inputs, target) pairs; see the module docstring.

    Attributes:
        target: ``"value"`` or ``"change"``.
        scale: the change pose's divisor (:func:`change_scale` of the training windows).
        lags: extra input features of the change pose, the change ``k`` steps back for each k.
    """

    target: str = "change"
    scale: float = 1.0
    lags: tuple[int, ...] = ()

    def __post_init__(self):
        if not isinstance(self.target, str) or self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        check_real("scale", self.scale, minimum=0.0, strict_minimum=True)
        if isinstance(self.lags, str) or not hasattr(self.lags, "__iter__"):
            raise TypeError(f"lags must be a tuple of ints >= 1, got {self.lags!r}")
        object.__setattr__(self, "lags", tuple(self.lags))  # frozen: hashable, not shared
        if self.lags and self.target != "change":
            raise ValueError(f"lags need target='change', got target={self.target!r}")
        if any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.lags):
            raise ValueError(f"lags must be ints >= 1, got {self.lags!r}")

    @property
    def input_size(self) -> int:
        """D, features per step of the posed inputs."""
        return 1 + len(self.lags)

    def pairs(self, windows) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (N, T, D) and targets (N, 1), float32 tensors, of ``windows`` (x, y)."""
        x_np = finite_array("windows.x", _part(windows, "x"))
        y_np = finite_array("windows.y", _part(windows, "y"))
        if x_np.ndim != 3 or x_np.shape[2] != 1 or 0 in x_np.shape:
            raise ValueError(f"windows.x must be (N, T, 1) with N, T >= 1, got {x_np.shape}")
        if y_np.ndim != 2 or y_np.shape[0] != x_np.shape[0] or y_np.shape[1] < 1:
            raise ValueError(f"windows.y must be (N, horizon) with N = {x_np.shape[0]}, got "
                             f"{y_np.shape}")
        x = torch.from_numpy(x_np.astype(np.float32))      # (N, T, 1)
        y = torch.from_numpy(y_np.astype(np.float32))[:, :1]  # (N, 1)
        if self.target == "value":
            return x, y
        dx = torch.diff(x, dim=1, prepend=x[:, :1]) / self.scale           # Δx_1 := 0
        features = [dx]
        for k in self.lags:
            if k >= x.shape[1]:
                raise ValueError(f"lag {k} must be shorter than the window, T = {x.shape[1]}")
            lagged = torch.zeros_like(dx)
            lagged[:, k - 1:] = dx[:, :dx.shape[1] - (k - 1)]               # Δx_{t-k+1}
            features.append(lagged)
        return torch.cat(features, dim=-1), (y - x[:, -1]) / self.scale

    def forecast(self, output, windows) -> np.ndarray:
        """The model ``output`` (N, 1) on ``windows`` as forecasts x̂_{T+1} (N,), normalised."""
        out = finite_array("output", output)
        n = len(_part(windows, "x"))
        if out.shape != (n, 1):
            raise ValueError(f"output must be (N, 1) = ({n}, 1), one per window, got {out.shape}")
        out = out[:, 0]
        if self.target == "value":
            return out
        return np.asarray(windows.x, dtype=np.float64)[:, -1, 0] + self.scale * out


@dataclass
class ForecastRun:
    """A trained model and its test forecasts (in the data's unit)."""

    name: str
    model: nn.Module
    pose: Pose
    forecast: np.ndarray
    test_mae: float
    parameters: int
    cpu_s: float
    history: History = field(repr=False)
    unit: str = ""

    @property
    def kind(self) -> str:
        """The pose in words: ``"value"``, ``"change"`` or ``"change + lag input"``."""
        return self.pose.target + (" + lag input" if self.pose.lags else "")

    def summary(self) -> dict:
        """One row of a results table: test MAE, kind, parameters, CPU seconds."""
        return {"test MAE": self.test_mae, "kind": self.kind, "parameters": self.parameters,
                "CPU s": self.cpu_s}

    def __str__(self) -> str:
        return (f"{self.name:24s} test MAE {self.test_mae:.3f} °{self.unit}   "
                f"({self.parameters} parameters, {self.cpu_s:.1f} s CPU)")


def fit_and_forecast(name: str, make_model: Callable[[], nn.Module], data, pose: Pose, *,
                     test=None, steps: int = 1000, lr: float = 1e-2, batch_size: int = 64,
                     seed: int = 0) -> ForecastRun:
    """Train ``make_model()`` on ``pose.pairs(data.train)``; forecast every window of ``test``.

    The recipe of the forecasting chapter, the same for every model: Adam with a cosine decay
    of the learning rate over ``steps`` optimizer steps, gradient norm clipped at 1, validation
    every 100 steps and the weights of the best validation evaluation restored at the end; on
    the CPU (tiny models), seeded by ``seed`` before the model is built.

    Args:
        name: the run's label.
        make_model: builds a fresh model taking (N, T, pose.input_size) to (N, 1).
        data: a :class:`lstm_lib.data.ForecastingData` (train, val, test, normalizer, unit).
        pose: how windows become pairs.
        test: the windows to forecast (default ``data.test``).

    Returns:
        A :class:`ForecastRun`; ``forecast`` (N,) and ``test_mae`` are in ``data.unit``.
    """
    if not isinstance(pose, Pose):
        raise TypeError(f"pose must be a Pose, got {type(pose).__name__}")
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable returning a fresh nn.Module, got "
                        f"{type(make_model).__name__}")
    missing = [k for k in ("train", "val", "test", "normalizer", "unit") if not hasattr(data, k)]
    if missing:
        raise TypeError(f"data must be a ForecastingData (train, val, test, normalizer, unit); "
                        f"{type(data).__name__} lacks {missing}")
    steps = check_int("steps", steps, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    test = data.test if test is None else test
    seed_everything(seed)
    model = make_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"make_model() must return an nn.Module, got {type(model).__name__}")
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, clip_norm=1.0,
                         eval_every=min(100, steps), patience=steps, progress=False,
                         seed=seed, device="cpu")
    cosine = lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # noqa: E731
    cpu0 = time.process_time()
    history = fit(model, pose.pairs(data.train), pose.pairs(data.val), config=config,
                  loss="mse", scheduler=cosine)
    model.eval()
    with torch.no_grad():
        output = model(pose.pairs(test)[0]).numpy()
    norm = data.normalizer
    forecast = norm.inverse(pose.forecast(output, test))
    truth = norm.inverse(np.asarray(test.y)[:, 0])
    return ForecastRun(name, model, pose, forecast, mae(forecast, truth), count_parameters(model),
                       time.process_time() - cpu0, history, data.unit)

