"""The compiled time loops: :mod:`lstm_lib.nn.fused`'s LSTM loops in C++, built on first use.

At small sizes a training step of the fused LSTM path is mostly the Python interpreter
dispatching ~20 small torch ops per time step (at H = 32 each op moves a few kilobytes).
``_steps.cpp`` runs each step as one BLAS product (two for FGR from H = 64 on) and one
vectorised element pass for float32/float64 on the CPU (the same equations as the Python loops,
equal to rounding), and for other dtypes the Python loops' ATen calls in the same order (the
same bits); the flags are those of :class:`lstm_lib.nn.fused.LSTMFunction`, CIFG, peepholes,
NIAF, NOAF and FGR. It is compiled with
:func:`torch.utils.cpp_extension.load` (a C++ compiler and ``ninja``; ``make venv`` installs
ninja and builds it once, into torch's extension cache) the first time a layer needs it.

Where it cannot be built (no compiler), the layers keep the Python loops, with the same results,
and one warning says so. ``LSTM_LIB_COMPILED=0`` (read at import) or ``use_compiled(False)`` turns
the compiled loops off; ``report()`` builds them and says what it did (``make venv`` calls it).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import torch

_SOURCE = Path(__file__).with_name("_steps.cpp")
_enabled = os.environ.get("LSTM_LIB_COMPILED", "1").strip().lower() not in (
    "0", "false", "no", "off")
_loaded: bool | None = None  # None: not tried yet; then whether the build succeeded
_error: str | None = None


class use_compiled:  # noqa: N801 - used like a function, as lnn.fast_path
    """Turn the compiled loops on or off: ``use_compiled(False)`` for the process, or
    ``with use_compiled(False): ...`` for a block (the previous setting comes back)."""

    def __init__(self, enabled: bool) -> None:
        global _enabled
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, got {enabled!r}")
        self.prev = _enabled
        _enabled = enabled

    def __enter__(self) -> use_compiled:
        return self

    def __exit__(self, *exc) -> None:
        global _enabled
        _enabled = self.prev


def enabled() -> bool:
    """Whether the compiled loops are switched on (``use_compiled``, ``LSTM_LIB_COMPILED``);
    not whether they are built (:func:`available`)."""
    return _enabled


def available(device: torch.device | None = None) -> bool:
    """Whether the compiled loops serve a tensor on ``device`` (CPU only): on, and built.

    The first call builds (or loads from the cache) the kernel; a failure warns once and the
    layers keep the Python loops.
    """
    if not _enabled or (device is not None and device.type != "cpu"):
        return False
    if _loaded is None:
        _load()
    return bool(_loaded)


def error() -> str | None:
    """Why the build failed (None if it did not fail or was not tried)."""
    return _error


def _load() -> None:
    global _loaded, _error
    try:
        _build()
        _loaded = True
    except Exception as exc:  # noqa: BLE001 - any failure to build means: use the Python loops
        _loaded, _error = False, build_failed(exc, "LSTM", _SOURCE, "the layers use")


def _build() -> None:
    build(_SOURCE, "lstm_lib_steps")


def build(source: Path, prefix: str) -> None:
    """Compile ``source`` with :func:`_flags` into torch's extension cache and load its operators
    (``torch.ops``); raises when it cannot. The build's name, hence its folder in the cache, is
    ``prefix`` and a hash of the source text and the flags: under one shared name two checkouts
    with different sources (a git worktree next to the main one) would rebuild the same folder
    in turn, and a process could load the other's library, whose operators have another
    schema."""
    import hashlib

    from torch.utils import cpp_extension

    _ninja_on_path()
    cflags, ldflags = _flags()
    key = "\0".join([source.read_text(), *cflags, *ldflags]).encode()
    with warnings.catch_warnings():  # torch's notes on the toolchain; a failure raises anyway
        warnings.simplefilter("ignore")
        cpp_extension.load(name=f"{prefix}_{hashlib.sha256(key).hexdigest()[:12]}",
                           sources=[str(source)], extra_cflags=cflags, extra_ldflags=ldflags,
                           is_python_module=False, verbose=False)


def build_failed(exc: Exception, what: str, source: Path, users: str) -> str:
    """Warn once that ``source`` could not be built (``users`` the Python loops instead) and
    return the reason in one line, for :func:`error` and ``report()``."""
    reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1:]}"
    warnings.warn(
        f"lstm_lib: the compiled {what} loops (lstm_lib/nn/{source.name}) could not be built "
        f"({reason}); {users} the Python loops instead (same results, slower at small sizes). "
        "Set LSTM_LIB_COMPILED=0 to skip the attempt.", RuntimeWarning, stacklevel=4)
    return reason


def _flags() -> tuple[list[str], list[str]]:
    """Compiler and linker flags: optimise and vectorise the element loops; on x86-64 with AVX2
    and FMA use them (the kernel is built on the machine that runs it), and with glibc's vector
    math library (libmvec) let the loops call its vector exp and tanh."""
    import ctypes.util
    import platform

    cflags, ldflags = ["-O3", "-fno-math-errno", "-fopenmp-simd"], []
    if platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux"):
        try:
            cpu = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpu = ""
        words = set(cpu.split())
        if {"avx2", "fma"} <= words:
            cflags += ["-mavx2", "-mfma", "-mprefer-vector-width=256"]
        if ctypes.util.find_library("mvec"):
            cflags.append("-DLSTM_LIB_MVEC")
            ldflags.append("-lmvec")
    return cflags, ldflags


def _ninja_on_path() -> None:
    """torch finds ``ninja`` on PATH; the pip package's binary sits in the venv's bin, which is
    not on PATH when ``.venv/bin/python`` runs without an activated venv."""
    dirs = [str(Path(sys.executable).parent)]
    try:
        import ninja
        dirs.append(ninja.BIN_DIR)
    except (ImportError, AttributeError):
        pass
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([d for d in dirs if d not in path] + path)


def lstm_forward(G, h0, c0, U_t, p_if, p_o, h_mask, R_t, q0, flags: int):
    """The forward loop (see ``_steps.cpp``; FGR's R_t (3H, 3H) and q0 (N, 3H) in blocks o, i, f,
    else None); G in place, returns C, TC, Y."""
    return torch.ops.lstm_lib_steps.lstm_forward(G, h0, c0, U_t, p_if, p_o, h_mask, R_t, q0,
                                                 flags)


def lstm_backward(G, C, TC, c0, U_p, p_i, p_f, p_o, h_mask, R_p, dY, dh_T, dc_T, dq_T,
                  flags: int):
    """The backward loop (see ``_steps.cpp``); returns da, dh_0, dc_0 and dq_0 (FGR's gradient
    of q0; (N, 0) otherwise)."""
    return torch.ops.lstm_lib_steps.lstm_backward(G, C, TC, c0, U_p, p_i, p_f, p_o, h_mask,
                                                  R_p, dY, dh_T, dc_T, dq_T, flags)


def report() -> None:
    """Build (or load) the compiled loops, the LSTM's and the sLSTM's
    (:mod:`lstm_lib.nn.slstm_fused`), and print what happened: ``make venv`` runs this, so that
    the first chapter or test does not wait for the compiler."""
    import time

    from lstm_lib.nn import slstm_fused

    for what, load, why in (
            ("LSTM", available, error),
            ("sLSTM", lambda: slstm_fused.compiled_available(torch.zeros(1)),
             lambda: slstm_fused._error)):
        start = time.perf_counter()
        ok = load()
        took = time.perf_counter() - start
        print(f"lstm_lib compiled {what} loops: {'ready' if ok else 'unavailable: ' + str(why())}"
              f" ({took:.1f} s)")
