"""Hourly Seattle temperatures (shipped offline by vega_datasets) and forecasting windows.

The pipeline a forecasting chapter needs, each step a small function:
``seattle_temperatures`` -> ``split_series`` (time-ordered, no shuffling) -> ``Normalizer.fit``
on the training part only -> ``make_windows`` inside each part (no window crosses a split
boundary) -> the baselines every plot shows, ``persistence_mae`` and ``mean_mae``.
``seattle_forecasting_data`` runs the whole pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_lib.data._checks import check_bool, check_finite, check_int

__all__ = [
    "ForecastingData",
    "Normalizer",
    "WindowSet",
    "make_windows",
    "mean_mae",
    "persistence_mae",
    "seattle_forecasting_data",
    "seattle_temperatures",
    "split_series",
]


def seattle_temperatures(unit: str = "F", *, regular: bool = False) -> pd.Series:
    """Hourly air temperature in Seattle for 2010, from ``vega_datasets.local_data``.

    The CSV ships inside the ``vega_datasets`` wheel (``local_data`` never downloads). It has
    8,759 hourly readings from 2010-01-01 00:00 to 2010-12-31 23:00 in degrees Fahrenheit,
    naive local timestamps, no missing values; one hour is absent, 2010-03-14 03:00, where
    daylight saving time starts. The package describes it as "hourly temperatures in Seattle
    during the full year of 2010" drawn from NOAA data. It is much smoother than raw station
    readings (37.5-75.9 °F over the whole year, hour-to-hour changes at most 3.5 °F, a
    regular daily cycle), so it behaves like smoothed, climatology-like values: good for
    showing forecasting mechanics, and the persistence baseline is correspondingly strong.

    Args:
        unit: "F" (as shipped) or "C" (converted, (F - 32) * 5/9).
        regular: if True, reindex to a complete hourly grid (8,760 rows) and fill the absent
            hour by linear interpolation, so that "one step = one hour" holds exactly.

    Returns:
        A float64 ``pd.Series`` named ``"temp_F"`` or ``"temp_C"`` with a ``DatetimeIndex``
        named ``"date"``.
    """
    if unit not in ("F", "C"):
        raise ValueError(f"unit must be 'F' or 'C', got {unit!r}")
    regular = check_bool("regular", regular)
    from vega_datasets import local_data

    df = local_data.seattle_temps()
    s = pd.Series(df["temp"].to_numpy(dtype=np.float64),
                  index=pd.DatetimeIndex(df["date"], name="date"), name="temp_F")
    if regular:
        grid = pd.date_range(s.index[0], s.index[-1], freq="h", name="date")
        s = s.reindex(grid).interpolate(method="time")
    if unit == "C":
        s = ((s - 32.0) * 5.0 / 9.0).rename("temp_C")
    return s


def _as_float(values, name: str) -> np.ndarray:
    """A finite float64 array; a non-numeric input is a ``TypeError`` naming ``name``."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{name} must be numbers, got the string {values[:40]!r}")
    raw = values.to_numpy() if isinstance(values, pd.Series) else values
    try:
        a = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers: {err}") from None
    return check_finite(name, a)


def _as_1d(values, name: str = "values") -> np.ndarray:
    a = _as_float(values, name)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (T,), got shape {a.shape}")
    return a


def make_windows(series, lookback: int, horizon: int = 1,
                 stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 1-D series into (input window, following values) pairs.

    Window ``i`` starts at ``s = i * stride``: ``x[i] = series[s : s + lookback]`` and
    ``y[i] = series[s + lookback : s + lookback + horizon]``. There are
    ``(len(series) - lookback - horizon) // stride + 1`` windows.

    Returns:
        x of shape (N, lookback, 1) and y of shape (N, horizon), both float32 (batch-first,
        D = 1 input feature).

    Raises:
        ValueError: lookback, horizon or stride < 1, or the series is shorter than
            ``lookback + horizon``.
    """
    a = _as_1d(series, "series")
    for name, v in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        check_int(name, v, 1)
    if len(a) < lookback + horizon:
        raise ValueError(f"series must have at least lookback + horizon = "
                         f"{lookback + horizon} values, got {len(a)}")
    w = np.lib.stride_tricks.sliding_window_view(a, lookback + horizon)[::stride]
    x = w[:, :lookback, None].astype(np.float32)                # (N, lookback, 1)
    y = w[:, lookback:].astype(np.float32)                      # (N, horizon)
    return x, y


def split_series(values, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)):
    """Split a series in time order into train, validation and test parts.

    The parts are contiguous and in order: train = the first ``floor(f0 * T)`` values,
    val = the next ``floor(f1 * T)``, test = the rest. Nothing is shuffled, so the model is
    always evaluated on the future of what it was fitted on. Returns three objects of the
    input's kind (a ``pd.Series`` keeps its index; anything else becomes a float64 array).
    """
    if isinstance(fractions, str) or not hasattr(fractions, "__len__") or len(fractions) != 3 \
            or any(isinstance(f, bool) or not isinstance(f, int | float | np.number)
                   or not np.isfinite(f) or f <= 0 for f in fractions):
        raise ValueError(f"fractions must be three positive numbers, got {fractions!r}")
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {fractions} (sum {sum(fractions)})")
    series = values if isinstance(values, pd.Series) else _as_1d(values)
    if isinstance(series, pd.Series) and series.ndim != 1:
        raise ValueError(f"values must be 1-D (T,), got shape {series.shape}")
    T = len(series)
    n_train = int(np.floor(fractions[0] * T))
    n_val = int(np.floor(fractions[1] * T))
    if min(n_train, n_val, T - n_train - n_val) < 1:
        raise ValueError(f"values (length {T}) is too short to split by {fractions}")
    cut = (n_train, n_train + n_val)
    if isinstance(series, pd.Series):
        return series.iloc[: cut[0]], series.iloc[cut[0]: cut[1]], series.iloc[cut[1]:]
    return series[: cut[0]], series[cut[0]: cut[1]], series[cut[1]:]


@dataclass(frozen=True)
class Normalizer:
    """Standardise with statistics of the training data: ``z = (v - mean) / std``.

    Fit it on the training part only (``Normalizer.fit(train)``) and apply the same
    transform to validation and test; their statistics must not leak into the model.
    """

    mean: float
    std: float

    @classmethod
    def fit(cls, values) -> Normalizer:
        a = _as_1d(values)
        std = float(a.std())
        if not np.isfinite(std) or std == 0.0:
            raise ValueError(f"values must have a finite, non-zero std to normalise, got {std}")
        return cls(mean=float(a.mean()), std=std)

    def transform(self, values):
        """(v - mean) / std; float32 for numpy input, the same type for a Series.

        Raises ``ValueError`` for NaN/inf values (they would pass through silently)."""
        a = _as_float(values, "values")
        if isinstance(values, pd.Series):
            return (values - self.mean) / self.std
        return ((a - self.mean) / self.std).astype(np.float32)

    def inverse(self, values):
        """z * std + mean, back to the original unit (float64 for numpy input)."""
        a = _as_float(values, "values")
        if isinstance(values, pd.Series):
            return values * self.std + self.mean
        return a * self.std + self.mean


def persistence_mae(x: np.ndarray, y: np.ndarray) -> float:
    """MAE of the persistence forecast: every future value equals the last one seen.

    ``x`` (N, lookback, 1) and ``y`` (N, horizon) as from :func:`make_windows`, in the unit
    the MAE should have (pass un-normalised windows, or scale the result by ``std``).
    """
    x, y = _as_float(x, "x"), _as_float(y, "y")
    if x.ndim != 3 or y.ndim != 2 or len(x) != len(y) or len(x) == 0 or x.shape[1] == 0:
        raise ValueError(f"expected x (N, lookback, 1) and y (N, horizon), "
                         f"got x.shape={x.shape}, y.shape={y.shape}")
    return float(np.mean(np.abs(y - x[:, -1, :1])))


def mean_mae(y: np.ndarray, mean: float) -> float:
    """MAE of predicting a constant (the training mean) for every target in ``y``."""
    a = _as_float(y, "y")
    if a.size == 0:
        raise ValueError("y must hold at least one target, got an empty array")
    if isinstance(mean, bool) or not isinstance(mean, int | float | np.number) \
            or not np.isfinite(mean) or np.ndim(mean) != 0:
        raise ValueError(f"mean must be a finite number, got {mean!r}")
    return float(np.mean(np.abs(a - mean)))


@dataclass(frozen=True)
class WindowSet:
    """Windows of one split. x (N, lookback, 1) and y (N, horizon) float32, normalised;
    ``target_times`` (N,) the timestamp of each window's first target."""

    x: np.ndarray
    y: np.ndarray
    target_times: pd.DatetimeIndex

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class ForecastingData:
    """Output of :func:`seattle_forecasting_data`.

    ``train``, ``val``, ``test`` are :class:`WindowSet` s in normalised units;
    ``normalizer.inverse`` takes predictions back to degrees ``unit``. ``baselines`` holds,
    for each split, the MAE in degrees of the persistence forecast and of predicting the
    training mean: ``baselines["persistence"]["test"]``, ``baselines["mean"]["val"]``.
    """

    train: WindowSet
    val: WindowSet
    test: WindowSet
    normalizer: Normalizer
    unit: str
    lookback: int
    horizon: int
    baselines: dict[str, dict[str, float]]


def seattle_forecasting_data(lookback: int = 120, horizon: int = 1, *, stride: int = 1,
                             unit: str = "F",
                             fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                             ) -> ForecastingData:
    """Seattle hourly temperatures as train/val/test forecasting windows.

    Uses the regular hourly grid (``seattle_temperatures(unit, regular=True)``), splits it in
    time order by ``fractions``, fits a :class:`Normalizer` on the training part only, and
    windows each part separately, so no window crosses a split boundary (each split loses
    ``lookback + horizon - 1`` steps at its start to context). Offline and deterministic.
    """
    series = seattle_temperatures(unit, regular=True)
    parts = dict(zip(("train", "val", "test"), split_series(series, fractions), strict=True))
    norm = Normalizer.fit(parts["train"])
    sets, baselines = {}, {"persistence": {}, "mean": {}}
    for name, part in parts.items():
        x_raw, y_raw = make_windows(part.to_numpy(), lookback, horizon, stride)
        times = part.index[lookback::stride][: len(x_raw)]
        sets[name] = WindowSet(norm.transform(x_raw), norm.transform(y_raw), times)
        baselines["persistence"][name] = persistence_mae(x_raw, y_raw)
        baselines["mean"][name] = mean_mae(y_raw, norm.mean)
    return ForecastingData(**sets, normalizer=norm, unit=unit, lookback=lookback,
                           horizon=horizon, baselines=baselines)
