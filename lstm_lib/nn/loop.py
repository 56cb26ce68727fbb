"""The time loop of one layer in one direction: the single place where time is unrolled.

Every layer in :mod:`lstm_lib.nn.layers` calls :func:`run_layer` once per (layer, direction).
The fused fast path, :func:`lstm_lib.nn.fused.run_layer` (a ``torch.autograd.Function`` running
the whole sequence at once), replaces it for the cases it supports, with the same arguments and
results; this loop remains the definition, and serves gate recording, variants and lengths.
"""

from __future__ import annotations

import torch
from torch import Tensor


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of ``x`` (T, N, ...) in time within its own length.

    Positions past a sequence's length stay where they are, so the map is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    T = x.size(0)
    t = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
    idx = torch.where(t < lengths, lengths - 1 - t, t)  # (T, N)
    idx = idx.view(T, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)


def run_layer(step, x: Tensor, state0: tuple[Tensor, ...], p: dict, *, reverse: bool = False,
              lengths: Tensor | None = None, h_mask: Tensor | None = None,
              record: bool = False) -> tuple[Tensor, tuple[Tensor, ...], dict[str, Tensor]]:
    """Run ``step`` over time.

    Args:
        step: ``step(x_t, state, p, h_mask) -> (h_t, new_state, gates)`` (see ``_kinds.py``).
        x: the layer's input, time-major ``(T, N, D)``, input dropout already applied.
        state0: the initial state, a tuple of ``(N, H)`` tensors (h_0 first).
        p: this layer's and direction's parameters, names without the ``_l{k}`` suffix.
        reverse: run from the last valid step to the first.
        lengths: ``(N,)`` int64 valid lengths on ``x.device`` (``None``: all ``T``). Past its
            length a sequence keeps its state and outputs zeros, as torch's packed sequences do.
        h_mask: recurrent dropout mask ``(N, H)``, the same at every step, or ``None``.
        record: also return every step's gates.

    Returns:
        output ``(T, N, H)`` (h_t at each time, in the input's time order), the final state tuple
        (for ``reverse`` the state after the first time step) and, if ``record``, a dict
        name -> ``(T, N, H)`` of the gate activations at each time (zeros past a length).
    """
    if reverse:
        x = reverse_padded(x, lengths)
    T = x.size(0)
    valid = None
    if lengths is not None:
        valid = (torch.arange(T, device=x.device).unsqueeze(1) < lengths).unsqueeze(-1)  # (T,N,1)
    state = state0
    outputs, recorded = [], {}
    for t in range(T):
        h_t, new_state, gates = step(x[t], state, p, h_mask)
        if valid is not None:
            v = valid[t]
            new_state = tuple(torch.where(v, s_new, s_old)
                              for s_new, s_old in zip(new_state, state, strict=True))
            h_t = h_t * v
            gates = {k: g * v for k, g in gates.items()}
        state = new_state
        outputs.append(h_t)
        if record:
            for name, value in gates.items():
                recorded.setdefault(name, []).append(value)
    output = torch.stack(outputs)  # (T, N, H)
    recorded = {name: torch.stack(values) for name, values in recorded.items()}
    if reverse:
        output = reverse_padded(output, lengths)
        recorded = {name: reverse_padded(v, lengths) for name, v in recorded.items()}
    return output, state, recorded
