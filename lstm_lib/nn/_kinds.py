"""What differs between the cell kinds: gate blocks, extra parameters, the state, the step.

A *step* has one signature for every kind, so that one time loop
(:func:`lstm_lib.nn.loop.run_layer`) serves them all::

    step(x_t, state, p, h_mask) -> (h_t, new_state, gates)

``state`` is a tuple of ``(N, H)`` tensors (``(h,)``, ``(h, c)``, or ``(h, c, gates_prev)`` for
the FGR variant), ``p`` maps parameter names without the layer suffix (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``, ``peephole_i``, ``peephole_f``, ``peephole_o``,
``weight_fgr``) to tensors, and ``h_mask`` is the recurrent dropout mask ``(N, H)`` or ``None``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

from lstm_lib.nn import functional as fn

Step = Callable


@dataclass(frozen=True)
class Kind:
    name: str                   # the torch-like mode name used in messages: "LSTM", "GRU", ...
    num_chunks: int             # gate blocks stacked in weight_ih / weight_hh
    blocks: str                 # their order, e.g. "ifgo"
    has_cell: bool              # the state holds c as well as h
    peepholes: bool = False

    @property
    def forget_block(self) -> int | None:
        return self.blocks.index("f") if "f" in self.blocks else None


KINDS = {
    "RNN": Kind("RNN", 1, "h", has_cell=False),
    "LSTM": Kind("LSTM", 4, "ifgo", has_cell=True),
    "GRU": Kind("GRU", 3, "rzn", has_cell=False),
    "PeepholeLSTM": Kind("PeepholeLSTM", 4, "ifgo", has_cell=True, peepholes=True),
    "CIFG": Kind("CIFG", 3, "fgo", has_cell=True),
}


def check_variant(kind: Kind, variant: str | None) -> None:
    if variant is None:
        return
    if kind.name not in ("LSTM", "PeepholeLSTM"):
        raise ValueError(f"variant is only supported for LSTM and PeepholeLSTM, not {kind.name}")
    if variant not in fn.VARIANTS:
        raise ValueError(f"variant must be None or one of {fn.VARIANTS}, got {variant!r}")


def check_forget_bias(forget_bias, kind: Kind, bias: bool) -> float | None:
    """Validate the ``forget_bias=`` extra (LSTM kinds): ``None`` or a finite real number, and
    only with ``bias=True``. Returns it as a float (or ``None``)."""
    if forget_bias is None:
        return None
    if kind.forget_block is None:
        raise ValueError(f"forget_bias is only defined for LSTM kinds, not {kind.name}")
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real):
        raise TypeError(f"forget_bias must be None or a real number (the initial b_f), got "
                        f"{type(forget_bias).__name__} {forget_bias!r}")
    if not math.isfinite(forget_bias):
        raise ValueError(f"forget_bias must be finite: expected a real number, got "
                         f"{forget_bias!r}")
    if not bias:
        raise ValueError("forget_bias needs bias=True: with bias=False there is no bias to set")
    return float(forget_bias)


def _masked(h, h_mask):
    return h if h_mask is None else h * h_mask


def make_step(kind: Kind, variant: str | None = None, nonlinearity: str = "tanh") -> Step:
    """The uniform step function of ``kind`` (see the module docstring)."""
    if kind.name == "RNN":
        def step(x_t, state, p, h_mask):
            h_t, gates = fn.rnn_cell(x_t, _masked(state[0], h_mask), p["weight_ih"],
                                     p["weight_hh"], p["bias_ih"], p["bias_hh"], nonlinearity)
            return h_t, (h_t,), gates
    elif kind.name == "GRU":
        def step(x_t, state, p, h_mask):
            h_prev = state[0]
            h_t, gates = fn.gru_cell(x_t, h_prev, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                                     p["bias_hh"], h_dropped=_masked(h_prev, h_mask))
            return h_t, (h_t,), gates
    elif variant is not None:
        def step(x_t, state, p, h_mask):
            h_prev, c_prev = state[0], state[1]
            gates_prev = state[2] if variant == "FGR" else None
            peep = ((p["peephole_i"], p["peephole_f"], p["peephole_o"]) if kind.peepholes
                    else None)
            h_t, c_t, gates_t, gates = fn.lstm_variant_cell(
                x_t, _masked(h_prev, h_mask), c_prev, gates_prev, p["weight_ih"], p["weight_hh"],
                p["bias_ih"], p["bias_hh"], variant, peep, p.get("weight_fgr"))
            return h_t, ((h_t, c_t, gates_t) if variant == "FGR" else (h_t, c_t)), gates
    elif kind.name == "PeepholeLSTM":
        def step(x_t, state, p, h_mask):
            h_t, c_t, gates = fn.peephole_lstm_cell(
                x_t, _masked(state[0], h_mask), state[1], p["weight_ih"], p["weight_hh"],
                p["bias_ih"], p["bias_hh"], p["peephole_i"], p["peephole_f"], p["peephole_o"])
            return h_t, (h_t, c_t), gates
    else:
        cell = fn.cifg_cell if kind.name == "CIFG" else fn.lstm_cell

        def step(x_t, state, p, h_mask):
            h_t, c_t, gates = cell(x_t, _masked(state[0], h_mask), state[1], p["weight_ih"],
                                   p["weight_hh"], p["bias_ih"], p["bias_hh"])
            return h_t, (h_t, c_t), gates
    return step


def init_like_torch(module, mode: str, bias_pairs, forget_bias: float | None) -> None:
    """torch's init, U(-1/sqrt(H), 1/sqrt(H)) for every parameter of ``module``, then the forget
    bias: for each ``(bias_ih, bias_hh)`` pair, the forget block of ``bias_ih`` is set to
    ``forget_bias`` and that of ``bias_hh`` to 0, so that their sum, the book's b_f, is
    ``forget_bias``. Shared by the cells and the layers."""
    import torch
    from torch import nn

    H = module.hidden_size
    stdv = 1.0 / math.sqrt(H) if H > 0 else 0  # as torch: a cell may have H = 0
    for weight in module.parameters():
        nn.init.uniform_(weight, -stdv, stdv)
    if forget_bias is None:
        return
    f = KINDS[mode].forget_block
    with torch.no_grad():
        for bias_ih, bias_hh in bias_pairs:
            bias_ih[f * H:(f + 1) * H] = forget_bias
            bias_hh[f * H:(f + 1) * H] = 0.0
