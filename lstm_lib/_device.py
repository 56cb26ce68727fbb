"""Where computations run, and how to make them repeatable."""

from __future__ import annotations

import os
import random

import numpy as np

_ENV = "LSTM_LIB_DEVICE"


def default_device():
    """The device ``lstm_lib`` trains on: ``cuda`` if available, else ``mps``, else ``cpu``.

    The environment variable ``LSTM_LIB_DEVICE`` (e.g. ``cpu`` or ``cuda:1``) overrides the choice;
    it must name a device that exists, otherwise a ``RuntimeError`` says which one is missing.

    Returns:
        torch.device
    """
    import torch

    wanted = os.environ.get(_ENV, "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"{_ENV}={wanted!r} is not a torch device string: {err}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{_ENV}={wanted!r} asks for CUDA, but torch.cuda.is_available() "
                               "is False on this machine")
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"{_ENV}={wanted!r} asks for MPS, but it is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed``, the preferred way to draw
    numbers in new code. On the CPU a seeded run repeats bit for bit; on a GPU some kernels
    (cuDNN's among them) are not deterministic, so the last digits may differ between runs.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeding the legacy global generator is the point
    try:
        import torch
    except ImportError:  # the numpy reference works without torch
        return np.random.default_rng(seed)
    torch.manual_seed(seed)  # seeds every CUDA device as well
    return np.random.default_rng(seed)
