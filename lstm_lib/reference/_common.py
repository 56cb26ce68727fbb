"""Small helpers shared by the reference cells: a stable sigmoid and input checks.

Every check raises (never asserts) with a message that names the argument, the expected value
and the value received, as in ``STYLE.md`` item 6.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    """The logistic function σ(x) = 1 / (1 + e^(-x)), computed without overflow.

    ``np.exp(-x)`` overflows (and warns) for x below about -709. Both branches here only ever
    exponentiate ``-|x|`` ≤ 0: σ(x) = 1 / (1 + e^(-|x|)) for x ≥ 0 and e^(-|x|) / (1 + e^(-|x|))
    for x < 0, which are the same function written two ways.

    Shapes: any; returns a float64 array of the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def as_float_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array; integer, bool and complex arrays raise ``TypeError``.

    Float16/32 inputs are promoted to float64 (the reference computes in float64 only); a
    float64 array is returned as is, without a copy.
    """
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor; torch not imported
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array: expected dtype float64, "
                        f"got dtype {arr.dtype} (convert with np.asarray({name}, dtype=float))")
    return arr.astype(np.float64, copy=False)


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``arr`` holds NaN or inf, naming how many and where the first is."""
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite: expected no NaN or inf, got "
                         f"{int(np.isnan(arr).sum())} NaN and {int(np.isinf(arr).sum())} inf "
                         f"(first at index {first})")


def check_sequence(xs, input_size: int, name: str = "xs") -> np.ndarray:
    """Validate an input sequence: a finite float array of shape (T, N, D) with D = input_size.

    Returns it as float64 (no copy if it already is).
    """
    xs = as_float_array(xs, name)
    if xs.ndim != 3:
        raise ValueError(f"{name} must be 3-D, time-major (T, N, D): expected ndim 3, "
                         f"got ndim {xs.ndim} ({name}.shape={xs.shape})")
    if xs.shape[2] != input_size:
        raise ValueError(f"{name}.shape[-1] must equal D = input_size: expected {input_size}, "
                         f"got {xs.shape[2]} ({name}.shape={xs.shape})")
    if xs.shape[0] == 0 or xs.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one step and one sequence: expected "
                         f"T >= 1 and N >= 1, got T={xs.shape[0]}, N={xs.shape[1]} "
                         f"({name}.shape={xs.shape})")
    check_finite(xs, name)
    return xs


def check_array(value, shape: tuple[int, ...], name: str, desc: str | None = None) -> np.ndarray:
    """Validate a finite float array of exactly ``shape``; returns it as float64.

    ``desc`` names the shape in letters for the message, e.g. ``"(N, H)"``.
    """
    arr = as_float_array(value, name)
    if arr.shape != tuple(shape):
        what = f"{name} must have shape {desc}" if desc else f"{name} has the wrong shape"
        raise ValueError(f"{what}: expected {tuple(shape)}, got {arr.shape}")
    check_finite(arr, name)
    return arr


def check_size(value, name: str) -> int:
    """A positive integer size (``input_size``, ``hidden_size``); bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int: expected a positive int, "
                        f"got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be positive: expected >= 1, got {value}")
    return int(value)


def uniform_init(rng: np.random.Generator, shape: tuple[int, ...], hidden_size: int) -> np.ndarray:
    """PyTorch's RNN initialisation: every entry from U(-1/sqrt(H), 1/sqrt(H)), float64."""
    k = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-k, k, size=shape)
