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
from lstm_lib.nn._kinds import (
    KINDS,
    check_forget_bias,
    check_variant,
    init_like_torch,
    make_step,
)
from lstm_lib.nn.fused import _autocast_enabled


def _check_cell_size(name: str, value) -> None:
    """torch's cells take any int >= 0 (a cell may have H = 0) and fail inside torch.empty
    otherwise: the same exception types here (TypeError, RuntimeError), naming the argument."""
    if not isinstance(value, int):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value < 0:
        raise RuntimeError(f"{name} must be >= 0, got {value} (torch: Trying to create tensor "
                           f"with negative dimension)")


class _CellBase(nn.Module):
    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, nonlinearity: str = "tanh", variant: str | None = None,
                 forget_bias: float | None = None) -> None:
        super().__init__()
        kind = KINDS[self._mode]
        _check_cell_size("input_size", input_size)
        _check_cell_size("hidden_size", hidden_size)
        check_variant(kind, variant)
        forget_bias = check_forget_bias(forget_bias, kind, bias)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.nonlinearity = nonlinearity
        self.variant = variant
        self.forget_bias = forget_bias
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
        states = None if hx is None else self._state_tuple(hx, name)
        if states is not None:
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
        if states is None:
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
        self._check_dtypes_and_devices(name, x, states)
        if kind.name == "RNN" and self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")  # torch's words
        if not isinstance(return_gates, bool):
            raise TypeError(f"return_gates must be a bool, got {type(return_gates).__name__} "
                            f"{return_gates!r}")
        p = self.cell_parameters()
        step = make_step(kind, self.variant, self.nonlinearity)
        h_1, state, gates = step(x, states, p, None)
        if not is_batched:
            state = tuple(s.squeeze(0) for s in state)
            gates = {k: v.squeeze(0) for k, v in gates.items()}
        out = state if kind.has_cell else state[0]
        return (out, gates) if return_gates else out


    def cell_parameters(self) -> dict[str, Tensor | None]:
        """The step's parameters by name (``weight_ih``, ...; ``None`` for absent biases).

        Read by attribute, not from ``named_parameters``: under ``torch.nn.utils.weight_norm``
        or a ``parametrize`` parametrization a weight is computed, not a registered parameter.
        """
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        if KINDS[self._mode].peepholes:
            names += ["peephole_i", "peephole_f", "peephole_o"]
        if self.variant == "FGR":
            names.append("weight_fgr")
        return {name: getattr(self, name, None) for name in names}

    def _state_tuple(self, hx, name: str) -> tuple[Tensor, ...]:
        """``hx`` as a tuple of tensors, refused as torch refuses it (same exception types).

        LSTM kinds take a pair ``(h, c)`` (the FGR variant also its 3-tuple state); the RNN and
        GRU cells take one tensor.
        """
        kind = KINDS[self._mode]
        if not kind.has_cell:
            if not isinstance(hx, Tensor):  # torch fails on hx.dim(): an AttributeError
                raise AttributeError(f"'{type(hx).__name__}' object has no attribute 'dim': "
                                     f"{name} takes hx as one tensor h of shape (N, H) or (H,), "
                                     f"got a {type(hx).__name__}")
            return (hx,)
        fn = "lstm_cell" if kind.name == "LSTM" else name
        if not isinstance(hx, tuple | list):
            raise TypeError(f"{fn}(): argument 'hx' (position 2) must be tuple of Tensors, not "
                            f"{type(hx).__name__}: {name} takes hx = (h, c), each (N, H) or (H,)")
        arity = (2, 3) if self.variant == "FGR" else (2,)
        if len(hx) not in arity:
            raise RuntimeError(f"{fn} expects two hidden states: {name} takes hx = (h, c), got "
                               f"a {type(hx).__name__} of {len(hx)}")
        for idx, value in enumerate(hx):
            if not isinstance(value, Tensor):
                raise TypeError(f"{fn}(): argument 'hx' (position 2) must be tuple of Tensors, "
                                f"not {type(value).__name__} (hx[{idx}])")
        return tuple(hx)

    def _check_dtypes_and_devices(self, name: str, x: Tensor, states) -> None:
        """torch's cell kernels refuse mixed dtypes and devices with a RuntimeError from the
        matrix product; the same type here, with a message that names the tensors."""
        if _autocast_enabled(x.device.type):
            return  # autocast casts inside the products, as for torch's cells
        weight = self.weight_ih
        if x.dtype != weight.dtype:
            raise RuntimeError(f"{name}: input dtype ({x.dtype}) does not match weight dtype "
                               f"({weight.dtype}) (mat1 and mat2 must have the same dtype); "
                               f"convert the input with input.to({weight.dtype}) or the cell "
                               f"with cell.to({x.dtype})")
        for idx, s in enumerate(states):
            what = f"hx[{idx}]" if KINDS[self._mode].has_cell else "hx"
            if s.dtype != x.dtype:
                raise RuntimeError(f"{name}: {what} dtype ({s.dtype}) does not match input "
                                   f"dtype ({x.dtype}) (mat1 and mat2 must have the same dtype)")
            if s.device != x.device:
                raise RuntimeError(f"{name}: {what} is on {s.device} but the input is on "
                                   f"{x.device}: expected all tensors on the same device")


class RNNCell(_CellBase):
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        # torch.nn.RNNCell takes any nonlinearity here and refuses an unknown one at forward
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
