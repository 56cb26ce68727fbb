"""lstm_lib: the companion library of the executable lecture notes on LSTM networks.

Public API (see ``shared/DESIGN.md``)::

    import lstm_lib
    lstm_lib.default_device()               # cuda, else mps, else cpu; LSTM_LIB_DEVICE overrides
    lstm_lib.seed_everything(0)
    from lstm_lib import reference as ref   # numpy cells with hand-written BPTT
    from lstm_lib import nn as lnn          # torch drop-ins for torch.nn.{RNN,LSTM,GRU}
    from lstm_lib import data, train, plot

Submodules are imported on first use, so ``import lstm_lib`` stays cheap and the numpy reference
does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from lstm_lib._device import default_device, seed_everything

if TYPE_CHECKING:  # pragma: no cover
    from lstm_lib import data, models, nn, plot, reference, show, train, widgets

__version__ = "0.1.0"
__all__ = [
    "default_device",
    "seed_everything",
    "reference",
    "nn",
    "data",
    "train",
    "plot",
    "show",
    "widgets",
    "models",
    "sampling",
    "gradients",
    "experiments",
    "diagrams",
    "exercises",
    "bptt",
    "charlm",
    "clipping",
    "forecast",
    "memory",
    "pickle_demo",
    "textviz",
    "tied_gates",
    "timing",
    "verdicts",
    "study",
]

_SUBMODULES = {"reference", "nn", "data", "train", "models", "plot", "show", "widgets",
               "sampling", "gradients", "experiments",
               "diagrams", "exercises", "bptt", "charlm", "clipping", "forecast", "memory",
               "pickle_demo", "textviz", "tied_gates", "timing", "verdicts", "study"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"lstm_lib.{name}")
    raise AttributeError(f"module 'lstm_lib' has no attribute {name!r}")
