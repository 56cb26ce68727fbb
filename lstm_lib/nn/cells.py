"""Single-step cells: drop-ins for ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``, plus the
peephole LSTM cell and the CIFG cell.

Same constructor, parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``),
``state_dict``, ``forward(input, hx=None)`` and outputs as torch, 1-D unbatched input included.
The equations are the functions of :mod:`lstm_lib.nn.functional`. Extras (keyword-only):
``forward(..., return_gates=True)`` returns ``(output, gates)`` with gates a dict name -> (N, H);
``variant=`` and ``forget_bias=`` on the LSTM cells as on :class:`lstm_lib.nn.LSTM`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstm_lib.nn._docs import IO_H, IO_HC, LSTM_CELL_KW, cell_doc
from lstm_lib.nn._kinds import KINDS, check_variant, init_like_torch, make_step


class _CellBase(nn.Module):
    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, nonlinearity: str = "tanh", variant: str | None = None,
                 forget_bias: float | None = None) -> None:
        super().__init__()
        kind = KINDS[self._mode]
        check_variant(kind, variant)
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias needs bias=True: with bias=False there is no bias to set")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.nonlinearity = nonlinearity
        self.variant = variant
        self.forget_bias = None if forget_bias is None else float(forget_bias)
        factory = {"device": device, "dtype": dtype}
        gH = kind.num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gH, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gH, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gH, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gH, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if kind.peepholes:
            for name in ("peephole_i", "peephole_f", "peephole_o"):
                setattr(self, name, nn.Parameter(torch.empty(hidden_size, **factory)))
        if variant == "FGR":
            self.weight_fgr = nn.Parameter(torch.empty(3 * hidden_size, 3 * hidden_size,
                                                       **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's init, U(-1/sqrt(H), 1/sqrt(H)) for every parameter, then ``forget_bias``."""
        pairs = [(self.bias_ih, self.bias_hh)] if self.forget_bias is not None else []
        init_like_torch(self, self._mode, pairs, self.forget_bias)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if self.variant is not None:
            s += f", variant={self.variant!r}"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        return s

    def forward(self, input: Tensor, hx=None, *, return_gates: bool = False):
        kind = KINDS[self._mode]
        name = f"{self._mode}Cell" if kind.name in ("RNN", "LSTM", "GRU") else type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            states = tuple(hx) if kind.has_cell else (hx,)
            for idx, value in enumerate(states):
                if value.dim() not in (1, 2):
                    what = f"hx[{idx}]" if kind.has_cell else "hidden"
                    raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got "
                                     f"{value.dim()}D instead")
        is_batched = input.dim() == 2
        x = input if is_batched else input.unsqueeze(0)  # (N, D)
        N, H = x.size(0), self.hidden_size
        if x.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.size(1)} expected "
                               f"{self.input_size}")
        if hx is None:
            zeros = x.new_zeros(N, H)
            states = (zeros, zeros) if kind.has_cell else (zeros,)
        elif not is_batched:
            states = tuple(s.unsqueeze(0) for s in states)
        if self.variant == "FGR" and len(states) == 2:
            states = states + (x.new_zeros(N, 3 * H),)
        for idx, s in enumerate(states[:2]):
            if s.size(0) != N:
                raise RuntimeError(f"Input batch size {N} doesn't match hidden{idx} batch size "
                                   f"{s.size(0)}")
            if s.size(1) != H:
                raise RuntimeError(f"hidden{idx} has inconsistent hidden_size: got {s.size(1)}, "
                                   f"expected {H}")
        p = dict(self.named_parameters(recurse=False))
        p.setdefault("bias_ih", None)
        p.setdefault("bias_hh", None)
        step = make_step(kind, self.variant, self.nonlinearity)
        h_1, state, gates = step(x, states, p, None)
        if not is_batched:
            state = tuple(s.squeeze(0) for s in state)
            gates = {k: v.squeeze(0) for k, v in gates.items()}
        out = state if kind.has_cell else state[0]
        return (out, gates) if return_gates else out


class RNNCell(_CellBase):
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, device, dtype, nonlinearity=nonlinearity)


RNNCell.__doc__ = cell_doc(
    "An Elman RNN cell, a drop-in for torch.nn.RNNCell: h' = tanh(W x + U h + b).", "RNN",
    IO_H.format(nl="\n        nonlinearity: 'tanh' or 'relu'.", gates="(none: an empty dict)"))


class LSTMCell(_CellBase):
    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, variant: str | None = None,
                 forget_bias: float | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, variant=variant,
                         forget_bias=forget_bias)


LSTMCell.__doc__ = cell_doc(
    "An LSTM cell, a drop-in for torch.nn.LSTMCell; equations of lstm_lib.nn.functional.lstm_cell.",
    "LSTM", IO_HC.format(kw=LSTM_CELL_KW), extra="""
        weight_fgr: shape (3*hidden_size, 3*hidden_size). Only with variant="FGR".""")


class PeepholeLSTMCell(LSTMCell):
    _mode = "PeepholeLSTM"


PeepholeLSTMCell.__doc__ = cell_doc(
    "An LSTM cell with diagonal peepholes (Gers & Schmidhuber 2000), "
    "lstm_lib.nn.functional.peephole_lstm_cell.", "PeepholeLSTM",
    IO_HC.format(kw=LSTM_CELL_KW), extra="""
        peephole_i: shape (hidden_size). p_i, from c_{t-1} to i_t.
        peephole_f: shape (hidden_size). p_f, from c_{t-1} to f_t.
        peephole_o: shape (hidden_size). p_o, from c_t to o_t.
        weight_fgr: shape (3*hidden_size, 3*hidden_size). Only with variant="FGR".""")


class CIFGCell(_CellBase):
    _mode = "CIFG"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, forget_bias: float | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, forget_bias=forget_bias)


CIFGCell.__doc__ = cell_doc(
    "A coupled input-forget gate cell, i_t = 1 − f_t; lstm_lib.nn.functional.cifg_cell.", "CIFG",
    IO_HC.format(kw="\n        forget_bias: (keyword) as for LSTMCell."))


class GRUCell(_CellBase):
    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)


GRUCell.__doc__ = cell_doc(
    "A GRU cell, a drop-in for torch.nn.GRUCell; lstm_lib.nn.functional.gru_cell.", "GRU",
    IO_H.format(nl="", gates="r, z, n"))
