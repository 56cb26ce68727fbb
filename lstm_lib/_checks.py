"""Argument checks shared by the helpers (train, sampling, gradients, plot, widgets, ...).

Each check names the argument, says what was expected and shows what was received, and raises
``TypeError`` for a value of the wrong type and ``ValueError`` for one of the right type out of
range (the book's bad-input policy, README "Bad input"). Booleans are booleans: ``True`` is not
accepted as the int 1, nor ``"no"`` as a flag.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_bool", "check_int", "check_real", "finite_array", "check_ids"]


def check_bool(name: str, value) -> bool:
    """``value`` if it is a ``bool`` (or numpy bool); else ``TypeError`` naming ``name``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool (True or False), got "
                        f"{type(value).__name__} {value!r}")
    return bool(value)


def check_int(name: str, value, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``; a bool or a float is a ``TypeError``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int <= {maximum}, got {value}")
    return value


def check_real(name: str, value, *, minimum: float | None = None, maximum: float | None = None,
               strict_minimum: bool = False) -> float:
    """``value`` as a finite float in range; NaN, inf, bools and strings are refused."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, "
                         f"got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def finite_array(name: str, a, *, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """``a`` (array-like or tensor) as a float64 array, refused if not numeric or not finite."""
    if hasattr(a, "detach"):  # a torch tensor, possibly on a GPU
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__} "
                        f"({err})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimension(s), "
                             f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite: {bad} of its {arr.size} values are NaN or "
                         f"infinite")
    return arr


def check_ids(name: str, ids, V: int | None = None, *, ndim: int | None = None) -> np.ndarray:
    """Integer ids as an int64 array, each in ``[0, V)`` when ``V`` is given."""
    if hasattr(ids, "detach"):
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integer ids, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or (V is not None and arr.max() >= V)):
        bound = f"[0, {V})" if V is not None else ">= 0"
        raise ValueError(f"{name} must lie in {bound}, got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)
