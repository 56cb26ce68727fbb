"""Fair timings on a shared machine: interleaved calls, median of the repeats.

Timing two implementations one after the other lets a change of machine load between the two
runs pass for a difference between them. :func:`time_interleaved` calls the functions in turn
(a, b, c, a, b, c, ...) after warm-up rounds and reports each one's median, as
``bench/bench_rnn.py`` does; on a busy machine the *ratios* of its figures are the result, the
milliseconds are not.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Mapping

import torch
from torch import nn

__all__ = ["forward_backward", "time_interleaved"]


def forward_backward(layer: nn.Module, x: torch.Tensor, *, fast_path: bool | None = None,
                     compiled: bool | None = None) -> Callable[[], None]:
    """A function that runs one forward and backward pass, ``layer(x)[0].sum().backward()``.

    ``fast_path=False`` runs an ``lstm_lib.nn`` layer with its fused fast path off (the generic
    time loop, autograd through every step), ``True`` with it on; ``compiled=False`` runs the
    fused path's time loops in Python instead of C++ (:mod:`lstm_lib.nn.compiled`), ``True``
    in C++ where that kernel is built. ``None`` leaves a setting as it is.
    """
    for name, value in (("fast_path", fast_path), ("compiled", compiled)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be None, True or False, got {value!r}")

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        out, _ = layer(x)
        out.sum().backward()

    if fast_path is None and compiled is None:
        return step
    from lstm_lib.nn import fast_path as fast_switch
    from lstm_lib.nn import use_compiled

    def switched() -> None:
        with contextlib.ExitStack() as stack:
            if fast_path is not None:
                stack.enter_context(fast_switch(fast_path))
            if compiled is not None:
                stack.enter_context(use_compiled(compiled))
            step()
    return switched


def time_interleaved(fns: Mapping[str, Callable[[], object]], *, repeats: int = 5,
                     warmup: int = 1) -> dict[str, float]:
    """Median wall seconds per call of each function, the calls interleaved round-robin.

    Args:
        fns: ``{name: function of no arguments}``.
        repeats: timed rounds (at least 1). warmup: untimed rounds first (at least 0).

    Returns:
        ``{name: median seconds}`` in the order of ``fns``.
    """
    if not fns:
        raise ValueError("fns must name at least one function, got an empty mapping")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    cuda = torch.cuda.is_available()
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if cuda:
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}
