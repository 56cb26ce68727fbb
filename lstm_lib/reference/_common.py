"""Small helpers shared by the reference cells: a stable sigmoid and input checks.

Every check raises (never asserts) with a message that names the argument, the expected value
and the value received, as in ``STYLE.md`` item 6. The policy of ``lstm_lib.reference``: NaN/inf
and every shape mismatch are refused at every public entry point; the public step functions
get their checks from :func:`checked_step_forward` / :func:`checked_step_backward` (decorators,
so the book still shows the bare equations), and the cells, which check whole sequences once,
call the undecorated steps (``fn.__wrapped__``) inside their time loop.
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np


def sigmoid(x):
    """The logistic function σ(x) = 1 / (1 + e^(-x)), computed without overflow.

    ``np.exp(-x)`` overflows (and warns) for x below about -709. Both branches here only ever
    exponentiate ``-|x|`` ≤ 0: σ(x) = 1 / (1 + e^(-|x|)) for x ≥ 0 and e^(-|x|) / (1 + e^(-|x|))
    for x < 0, which are the same function written two ways.

    Shapes: any; returns a float64 array of the same shape. An elementwise math function like
    ``np.tanh``: ±inf give the exact limits 1 and 0 and NaN propagates (the checks of this package
    live at the cells' and step functions' boundaries, not in their arithmetic, which must be
    able to show an overflow, as the sLSTM chapter does).
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


def check_like_hs(dhs, shape: tuple[int, ...]) -> np.ndarray:
    """``dhs`` of :func:`rnn_backward` / :func:`lstm_backward`: finite, float, shaped like hs."""
    dhs = as_float_array(dhs, "dhs")
    if dhs.shape != tuple(shape):
        raise ValueError(f"dhs must have the shape of hs, (T, N, H) = {tuple(shape)}: got "
                         f"{dhs.shape}")
    check_finite(dhs, "dhs")
    return dhs


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


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """``rng`` (a Generator, a non-negative int seed, or ``None``) as a ``np.random.Generator``."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"{name} must be a np.random.Generator, an int seed or None, got "
                        f"{type(rng).__name__} {rng!r}")
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative seed: expected >= 0, got {rng}")
    return np.random.default_rng(rng)


def check_positive_number(value, name: str) -> float:
    """A finite real number > 0 (``eps``, ``tiny``); bools are rejected."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number: expected a finite float > 0, "
                        f"got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0: expected > 0, got {value!r}")
    return float(value)


def _checked_step_array(value, name: str, shape: tuple[int, ...], desc: str) -> None:
    """Validate one argument of a public step function (no copy, no conversion: the step
    computes on the caller's arrays exactly as before)."""
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array: expected dtype float64, "
                        f"got dtype {arr.dtype} (convert with np.asarray({name}, dtype=float))")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {desc}: expected {shape}, got {arr.shape}")
    check_finite(arr, name)


def checked_step_forward(blocks: int):
    """Decorate a public ``*_step_forward(x, h_prev, [c_prev,] W, U, b, ...)`` with input checks.

    ``x`` (N, D) and ``h_prev`` (N, H) fix N, D, H; then ``c_prev`` (and the sLSTM's
    ``n_prev``, ``m_prev``) (N, H), ``W`` (gH, D),
    ``U`` (gH, H), ``b`` (gH,) and the vectors ``b_hn``, ``p_i``, ``p_f``, ``p_o`` (H,), with
    g = ``blocks``, must have exactly those shapes (no broadcasting: a ``b`` of shape (gH, 1) or
    a ``c_prev`` of shape (1, H) is refused), a float dtype and finite values. A bad argument
    raises ``ValueError`` (``TypeError`` for the dtype) naming it and the expected shape. The
    function itself is unchanged: ``inspect.getsource`` shows the book's code.
    """
    g = "" if blocks == 1 else str(blocks)

    def decorate(fn):
        names = list(inspect.signature(fn).parameters)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = _call_arguments(fn, names, args, kwargs)
            x, h_prev = np.asarray(bound["x"]), np.asarray(bound["h_prev"])
            if x.ndim != 2:
                raise ValueError(f"x must be 2-D, a batch of rows (N, D): expected ndim 2, "
                                 f"got ndim {x.ndim} (x.shape={x.shape})")
            if h_prev.ndim != 2:
                raise ValueError(f"h_prev must be 2-D (N, H): expected ndim 2, got ndim "
                                 f"{h_prev.ndim} (h_prev.shape={h_prev.shape})")
            (N, D), H = x.shape, h_prev.shape[1]
            shapes = {"x": ((N, D), "(N, D)"), "h_prev": ((N, H), "(N, H) with N = len(x)"),
                      "c_prev": ((N, H), "(N, H)"), "n_prev": ((N, H), "(N, H)"),
                      "m_prev": ((N, H), "(N, H)"), "W": ((blocks * H, D), f"({g}H, D)"),
                      "U": ((blocks * H, H), f"({g}H, H)"), "b": ((blocks * H,), f"({g}H,)")}
            for name in names:
                shape, desc = shapes.get(name, ((H,), "(H,)"))
                _checked_step_array(bound[name], name, shape, desc)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def _call_arguments(fn, names: list[str], args: tuple, kwargs: dict) -> dict:
    """A call's arguments by parameter name; a wrong call raises Python's own TypeError."""
    if len(args) + len(kwargs) != len(names) or set(kwargs) - set(names):
        fn(*args, **kwargs)
    return dict(zip(names, args, strict=False)) | kwargs


def checked_step_backward(cache_type):
    """Decorate a public ``*_step_backward(dh, [dc_next,] cache)`` with input checks.

    ``cache`` must be what the matching ``*_step_forward`` returned (a ``cache_type``);
    ``dh`` and ``dc_next`` must be finite float arrays of the shape of ``cache.h_prev``, (N, H).
    """

    def decorate(fn):
        names = list(inspect.signature(fn).parameters)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = _call_arguments(fn, names, args, kwargs)
            cache = bound["cache"]
            if type(cache) is not cache_type:
                raise TypeError(f"cache must be the cache that the matching step forward "
                                f"returned: expected a {cache_type.__name__}, got "
                                f"{type(cache).__name__}")
            shape = np.shape(cache.h_prev)
            for name in names[:-1]:
                _checked_step_array(bound[name], name, shape, "(N, H), that of cache.h_prev")
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def check_caches(caches, cache_type, name: str = "caches") -> tuple:
    """A non-empty sequence of step caches, all of ``cache_type``; returned as a tuple."""
    if not isinstance(caches, (list, tuple)) or len(caches) == 0:
        raise ValueError(f"{name} must be the non-empty list of step caches that the forward "
                         f"returned, got {type(caches).__name__}"
                         + (" of length 0" if isinstance(caches, (list, tuple)) else ""))
    for t, c in enumerate(caches):
        if type(c) is not cache_type:
            raise TypeError(f"{name}[{t}] must be a {cache_type.__name__} (from the matching "
                            f"step forward), got {type(c).__name__}")
    return tuple(caches)


def check_truncate(truncate) -> None:
    """``None`` (full BPTT) or an int k >= 1."""
    if truncate is not None and (isinstance(truncate, bool)
                                 or not isinstance(truncate, (int, np.integer)) or truncate < 1):
        raise ValueError(f"truncate must be None or an int k >= 1 (full BPTT or a window of k "
                         f"steps), got {truncate!r}")
