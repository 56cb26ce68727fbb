"""Dropout for recurrent networks.

* Between layers (``dropout=``): torch's semantics, :func:`torch.nn.functional.dropout` on the
  output of every layer but the last, in training only.
* Variational dropout (Gal & Ghahramani 2016, "A Theoretically Grounded Application of Dropout in
  Recurrent Neural Networks"): one Bernoulli mask per sequence, drawn at the start of
  ``forward`` and reused at every time step, on each layer's input x_t (``input_dropout=``) and on
  the recurrent state h_{t-1} where it enters the recurrent matrix U (``recurrent_dropout=``).
  Masks are inverted: kept units are scaled by 1/(1 − p), so the expected value is unchanged and
  ``eval()`` needs no rescaling.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor


def check_probability(name: str, p) -> float:
    """Validate a variational dropout probability: a number in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"{name} must be a number in [0, 1), the probability of an element "
                         f"being zeroed; got {p!r}")
    return float(p)


def sequence_mask(N: int, size: int, p: float, like: Tensor) -> Tensor:
    """An inverted dropout mask ``(N, size)``, on ``like``'s device and dtype.

    Each entry is 0 with probability p and 1/(1 − p) otherwise; one row per sequence.
    """
    keep = torch.empty(N, size, device=like.device, dtype=like.dtype).bernoulli_(1 - p)
    return keep / (1 - p)
