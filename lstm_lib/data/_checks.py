"""Argument checks shared by the data modules: each error names the argument, what was
expected and what was received (the project's bad-input policy, see DESIGN.md)."""

from __future__ import annotations

import math

import numpy as np


def check_int(name: str, value, minimum: int | None = None) -> int:
    """``value`` as an int; ``TypeError`` for a non-integer (bools and floats included),
    ``ValueError`` below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_bool(name: str, value) -> bool:
    """``value`` if it is a bool (numpy's too); a truthy string such as "no" is a ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool (True or False), got "
                        f"{type(value).__name__} ({value!r})")
    return bool(value)


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float inside the given bounds; names the argument otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
    v = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    bounds = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    if not math.isfinite(v) or (low is not None and (v < low or (low_open and v == low))) \
            or (high is not None and (v > high or (high_open and v == high))):
        raise ValueError(f"{name} must be in {bounds} (a finite number), got {value!r}")
    return v


def check_seed(name: str, seed):
    """A seed for ``np.random.default_rng``: ``None``, an int >= 0 or a ``Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{name} must be None, an int >= 0 or a numpy Generator, got "
                        f"{type(seed).__name__} ({seed!r})")
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return seed


def check_finite(name: str, a: np.ndarray) -> np.ndarray:
    """``a`` unchanged if every value is finite; else ``ValueError`` counting the bad ones."""
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} must be finite: it holds {int(bad.sum())} NaN/inf value(s) "
                         f"(first at index {tuple(int(i) for i in np.argwhere(bad)[0])})")
    return a


def as_int_ids(name: str, values, ndim: int | None = 1) -> np.ndarray:
    """Integer ids as int64; floats are accepted only when integral (no silent truncation)."""
    try:
        a = np.asarray(values)
    except ValueError:      # ragged nesting
        a = np.asarray(values, dtype=object)
    if a.dtype == object:
        raise TypeError(f"{name} must hold integer ids, got a ragged or mixed sequence")
    if a.size == 0:
        a = a.astype(np.int64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer)
                                   or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{name} must hold integer ids, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        check_finite(name, a)
        if (a != np.round(a)).any():
            raise TypeError(f"{name} must hold integer ids, got non-integral floats "
                            f"(e.g. {a[a != np.round(a)].ravel()[0].item()!r})")
    return a.astype(np.int64)
