"""Multi-layer recurrent layers: drop-ins for ``torch.nn.RNN``, ``LSTM`` and ``GRU``, plus the
peephole LSTM and the CIFG.

Same constructor, ``forward(input, hx=None)``, outputs, parameter names and ``state_dict`` as
torch.nn: a torch.nn state_dict loads unchanged and gives the same outputs and gradients. Beyond
torch (all keyword-only, defaults keep torch's behaviour):

* ``forward(..., return_gates=True)`` also returns every step's gate activations (see
  :meth:`_RNNBase.forward`);
* ``variant=`` one of Greff et al. (2017)'s ablations ``"NIG" "NFG" "NOG" "NIAF" "NOAF" "FGR"``
  (LSTM and PeepholeLSTM);
* ``input_dropout=``, ``recurrent_dropout=``: variational dropout (:mod:`lstm_lib.nn.dropout`);
* ``forget_bias=``: initial forget-gate bias (LSTM kinds).

The time loop of one layer and direction is :func:`lstm_lib.nn.loop.run_layer`, called from
:meth:`_RNNBase._run_layer`; layers stack it over layers and directions. Where it applies (no
gate recording and no lengths; every Greff ablation of the LSTM, and NIAF, NOAF, FGR of the
peephole LSTM) the hook takes the fused fast path instead, :func:`lstm_lib.nn.fused.run_layer`:
the same equations with the book's hand-derived BPTT as one autograd node per layer and
direction, its time loops compiled on the CPU where a compiler is at hand
(:mod:`lstm_lib.nn.compiled`); ``lnn.fast_path(False)`` turns it off. When no gradient is needed,
:mod:`lstm_lib.nn.inference` serves instead: torch's own fused kernels for the RNN, LSTM, GRU,
CIFG and the constant-gate ablations, the compiled forward (or a lean Python loop without saved
activations) for the peephole LSTM and the other ablations.
"""

from __future__ import annotations

import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from lstm_lib.nn import fused, inference, loop
from lstm_lib.nn._docs import FGR_ATTRS, FORGET_KW, PEEPHOLE_ATTRS, VARIANT_KW, layer_doc
from lstm_lib.nn._kinds import (
    KINDS,
    check_forget_bias,
    check_variant,
    init_like_torch,
    make_step,
)
from lstm_lib.nn.dropout import check_probability, sequence_mask


class _RNNBase(nn.Module):
    """Parameters, checks and the stacking over layers and directions shared by all layers."""

    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, nonlinearity: str = "tanh",
                 variant: str | None = None, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, forget_bias: float | None = None,
                 proj_size: int = 0) -> None:
        super().__init__()
        kind = KINDS[self._mode]
        # the same checks, types and messages as torch.nn.RNNBase
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(
                f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(
                f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size != 0:  # a valid LSTMP that torch would build: documented as not supported
            raise NotImplementedError(
                f"{type(self).__name__} does not support projections (LSTMP): proj_size must be "
                f"0, got {proj_size}; use torch.nn.LSTM for proj_size > 0")
        check_variant(kind, variant)
        forget_bias = check_forget_bias(forget_bias, kind, bias)
        self.mode = kind.name
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self.nonlinearity = nonlinearity
        self.variant = variant
        self.input_dropout = check_probability("input_dropout", input_dropout)
        self.recurrent_dropout = check_probability("recurrent_dropout", recurrent_dropout)
        self.forget_bias = forget_bias

        factory = {"device": device, "dtype": dtype}
        num_directions = 2 if bidirectional else 1
        gH = kind.num_chunks * hidden_size
        self._names: list[list[dict[str, str]]] = []  # [layer][direction]: short -> full name
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * num_directions
            per_direction = []
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gH, in_size), "weight_hh": (gH, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gH,), bias_hh=(gH,))
                if kind.peepholes:
                    shapes.update(peephole_i=(hidden_size,), peephole_f=(hidden_size,),
                                  peephole_o=(hidden_size,))
                if variant == "FGR":
                    shapes["weight_fgr"] = (3 * hidden_size, 3 * hidden_size)
                for short, shape in shapes.items():
                    self.register_parameter(short + suffix,
                                            nn.Parameter(torch.empty(shape, **factory)))
                per_direction.append({short: short + suffix for short in shapes})
            self._names.append(per_direction)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's init, U(-1/sqrt(H), 1/sqrt(H)) for every parameter, then ``forget_bias``."""
        pairs = ([(getattr(self, names["bias_ih"]), getattr(self, names["bias_hh"]))
                  for per_direction in self._names for names in per_direction]
                 if self.forget_bias is not None else [])
        init_like_torch(self, self.mode, pairs, self.forget_bias)

    def flatten_parameters(self) -> None:
        """A no-op, for code written for torch.nn (there is no cuDNN weight buffer here)."""

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [[getattr(self, name) for name in names.values()]
                for per_direction in self._names for names in per_direction]

    def layer_parameters(self, layer: int, direction: int = 0) -> dict[str, Tensor | None]:
        """The parameters of one layer and direction, by short name (``weight_ih``, ...)."""
        num_directions = len(self._names[0])
        for name, value, size in (("layer", layer, self.num_layers),
                                  ("direction", direction, num_directions)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
                raise ValueError(f"{name} must be an int in [0, {size}), got {value!r}")
        names = self._names[layer][direction]
        p = {short: getattr(self, full) for short, full in names.items()}
        p.setdefault("bias_ih", None)
        p.setdefault("bias_hh", None)
        return p

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        for name, default in [("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("variant", None),
                              ("input_dropout", 0.0), ("recurrent_dropout", 0.0),
                              ("forget_bias", None)]:
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s

    # ---- checks, with torch's exception types and messages ---------------------------------
    def _check_hx_dims(self, hx, is_batched: bool) -> None:
        want, name = (3, "batched 3-D") if is_batched else (2, "unbatched 2-D")
        if KINDS[self.mode].has_cell:
            if hx[0].dim() != want or hx[1].dim() != want:
                raise RuntimeError(f"For {name} input, hx and cx should also be {want}-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        elif hx.dim() != want:
            raise RuntimeError(f"For {name} input, hx should also be {want}-D but got "
                               f"{hx.dim()}-D tensor")

    def _check_hx_arity(self, hx) -> None:
        """hx is one tensor (RNN, GRU) or a pair (h_0, c_0) (LSTM kinds); refused with the
        exception types torch.nn raises for the same mistake, and a message that says what
        was expected."""
        mode = self.mode
        if not KINDS[mode].has_cell:
            if not isinstance(hx, Tensor):  # torch fails on hx.dim(): an AttributeError
                raise AttributeError(
                    f"'{type(hx).__name__}' object has no attribute 'dim': {mode} takes hx as "
                    f"one tensor h_0 of shape (num_layers * num_directions, N, H), got a "
                    f"{type(hx).__name__}")
            return
        want = f"{mode} takes hx = (h_0, c_0), two tensors of shape (num_layers * " \
               f"num_directions, N, H)"
        if isinstance(hx, Tensor):
            if hx.dim() == 0 or hx.size(0) < 2:  # torch indexes hx[1]: an IndexError
                raise IndexError(f"index 1 is out of bounds: {want}, got one tensor of shape "
                                 f"{tuple(hx.shape)}")
            return  # torch reads hx[0], hx[1] as (h_0, c_0): the dims check judges them
        if not isinstance(hx, tuple | list):
            raise TypeError(f"{want}, got a {type(hx).__name__}")
        if len(hx) < 2:  # torch indexes hx[1]: an IndexError
            raise IndexError(f"tuple index out of range: {want}, got a {type(hx).__name__} of "
                             f"{len(hx)}")
        if len(hx) > 2:
            raise RuntimeError(f"lstm expects two hidden states: {want}, got a "
                               f"{type(hx).__name__} of {len(hx)}")
        for k, h in enumerate(hx):
            if not isinstance(h, Tensor):  # torch fails on hx[k].dim()
                raise AttributeError(f"'{type(h).__name__}' object has no attribute 'dim': "
                                     f"{want}, got a {type(h).__name__} as hx[{k}]")

    def _check_hx_dtype_and_device(self, hx: tuple[Tensor, ...], x: Tensor) -> None:
        """torch's kernels refuse an hx of another dtype or device than the input with a
        RuntimeError (on CPU: 'get_mkldnn_dtype: unsupported data type', or from the matrix
        product); the same type here, naming the tensors."""
        if fused._autocast_enabled(x.device.type):
            return  # as torch's check_input: autocast casts inside the products
        for k, h in enumerate(hx):
            what = f"hx[{k}]" if len(hx) == 2 else "hx"
            if h.dtype != x.dtype:
                raise RuntimeError(f"{self.mode}: {what} dtype ({h.dtype}) does not match input "
                                   f"dtype ({x.dtype}); convert it with {what}.to({x.dtype})")
            if h.device != x.device:
                raise RuntimeError(f"Input and hidden tensors are not at the same device, found "
                                   f"input tensor at {x.device} and hidden tensor at "
                                   f"{h.device} ({what})")

    def _check_input(self, x: Tensor) -> None:
        dtype = self.weight_ih_l0.dtype
        if x.dtype != dtype:
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({dtype}). "
                             f"Convert input: input.to({dtype}), or convert model: "
                             f"model.to({x.dtype})")
        if x.size(-1) != self.input_size:
            raise RuntimeError("input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {x.size(-1)}")

    def _check_hidden(self, hx: tuple[Tensor, ...], N: int) -> None:
        expected = (self.num_layers * (2 if self.bidirectional else 1), N, self.hidden_size)
        for k, h in enumerate(hx):
            if h.size() != expected:
                what = f"hidden[{k}] size" if len(hx) == 2 else "hidden size"
                raise RuntimeError(f"Expected {what} {expected}, got {list(h.size())}")

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, input, hx=None, *, lengths: Tensor | None = None,
                return_gates: bool = False):
        """Run the layers over the sequence; see the class docstring for shapes.

        ``lengths`` (keyword, (N,) integers in [1, T], on any device) marks a padded batched
        input as variable-length, like a PackedSequence but without packing: ``output`` is zero
        past each length, and the final states are those at each sequence's own last step (for
        the reverse direction, each sequence starts at its own last step).

        With ``return_gates=True`` the result has a third element ``gates``, a dict
        ``layer index -> {name: tensor}`` with names ``i f g o c`` (LSTM kinds; ``c`` is the cell
        state c_t), ``r z n`` (GRU) and none for the RNN. Each tensor holds the activation at
        every time step, shaped like ``output`` would be for that layer: (T, N, num_directions*H)
        time-major, (N, T, ·) with batch_first, (T, ·) unbatched, and padded (T, N, ·) in the
        original batch order (zeros past each length) for a PackedSequence. With two directions
        the forward half comes first and the reverse half is stored at the time step it belongs
        to, as in ``output``. So ``gates[k]["c"][-1, :, :H]`` is the forward c_n of layer k.
        Gates are recorded with their autograd history (use ``.detach()`` to keep them).
        """
        if not isinstance(return_gates, bool):
            raise TypeError(f"return_gates must be a bool, got {type(return_gates).__name__} "
                            f"{return_gates!r}")
        x, hx, lengths, is_batched = self._prepare(input, hx, lengths)
        output, hidden, gates = self._stack(x, hx, lengths, return_gates)
        packed = isinstance(input, PackedSequence)
        if packed:
            output = self._repack(output, input)
        else:
            output = self._to_input_layout(output, is_batched)
            if not is_batched:
                hidden = tuple(h.squeeze(1) for h in hidden)
        hidden = hidden if KINDS[self.mode].has_cell else hidden[0]
        if not return_gates:
            return output, hidden
        for name_to_t in gates.values():
            for name, v in name_to_t.items():
                name_to_t[name] = v if packed else self._to_input_layout(v, is_batched)
        return output, hidden, gates

    def _prepare(self, input, hx, lengths):
        """Check the arguments as torch does; return x (T, N, D), the state tuple, lengths."""
        kind = KINDS[self.mode]
        if not isinstance(self.bidirectional, bool):
            # torch.nn builds such a layer but its kernel refuses the flag at forward
            raise TypeError(f"bidirectional should be of type bool, got: "
                            f"{type(self.bidirectional).__name__} (torch.nn.{self.mode} "
                            f"accepts it in the constructor and refuses it here, at forward)")
        packed = isinstance(input, PackedSequence)
        if packed:
            if lengths is not None:
                raise ValueError("lengths must be None for a PackedSequence input, which "
                                 "carries its own lengths")
            if input.data.dim() != 2:
                raise RuntimeError(f"input must have 2 dimensions, got {input.data.dim()}")
            x, lengths = pad_packed_sequence(input)  # (T, N, D), the original batch order
            is_batched = True
        else:
            if input.dim() not in (2, 3):
                tensor = " tensor" if kind.name == "RNN" else ""  # as torch words it
                raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D{tensor} instead")
            is_batched = input.dim() == 3
            x = input if is_batched else input.unsqueeze(0 if self.batch_first else 1)
            if self.batch_first:
                x = x.transpose(0, 1)
        if hx is not None:
            self._check_hx_arity(hx)
            if not packed:
                self._check_hx_dims(hx, is_batched)
            hx = tuple(hx) if kind.has_cell else (hx,)
            if not is_batched:
                hx = tuple(h.unsqueeze(1) for h in hx)
        self._check_input(x)
        T, N = x.size(0), x.size(1)
        if hx is not None:
            self._check_hidden(hx, N)
            self._check_hx_dtype_and_device(hx, x)
        else:
            zeros = x.new_zeros(self.num_layers * (2 if self.bidirectional else 1), N,
                                self.hidden_size)
            hx = (zeros, zeros) if kind.has_cell else (zeros,)
        if T == 0:  # torch's kernels refuse it, after the checks above
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        if lengths is not None and not packed:
            lengths = self._check_lengths(lengths, is_batched, T, N)
        if lengths is not None:
            lengths = lengths.to(x.device)
        return x, hx, lengths, is_batched

    @staticmethod
    def _check_lengths(lengths, is_batched: bool, T: int, N: int) -> Tensor:
        if not is_batched:
            raise ValueError("lengths needs a batched 3-D input; got an unbatched 2-D input")
        lengths = torch.as_tensor(lengths)
        if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.shape != (N,):
            raise ValueError(f"lengths must be an integer tensor of shape (N,) = ({N},), got "
                             f"dtype {lengths.dtype} and shape {tuple(lengths.shape)}")
        if lengths.numel() and (bool((lengths < 1).any()) or bool((lengths > T).any())):
            raise ValueError(f"lengths must lie in [1, T] = [1, {T}], got {lengths.tolist()}")
        return lengths.long()

    def _to_input_layout(self, v: Tensor, is_batched: bool) -> Tensor:
        """(T, N, ·) -> the layout of the input: (N, T, ·) with batch_first, no N unbatched."""
        if self.batch_first:
            v = v.transpose(0, 1)
        return v if is_batched else v.squeeze(0 if self.batch_first else 1)

    def _stack(self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None, record: bool):
        """All layers and directions: x (T, N, D) -> output (T, N, dirs*H), final states, gates."""
        if inference.applies_stack(self, x, hx, lengths=lengths, record=record):
            return inference.run_stack(self, x, hx)  # no gradient needed: torch's own kernel
        num_directions = 2 if self.bidirectional else 1
        N, H = x.size(1), self.hidden_size
        step = make_step(KINDS[self.mode], self.variant, self.nonlinearity)
        layer_input = x
        finals: list[tuple[Tensor, ...]] = []
        gates: dict[int, dict[str, Tensor]] = {}
        for layer in range(self.num_layers):
            outputs, recorded = [], []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                x_l = layer_input
                if self.training and self.input_dropout > 0:
                    x_l = x_l * sequence_mask(N, x_l.size(-1), self.input_dropout, x_l)
                h_mask = None
                if self.training and self.recurrent_dropout > 0:
                    h_mask = sequence_mask(N, H, self.recurrent_dropout, x_l)
                state0 = tuple(h[k] for h in hx)
                if self.variant == "FGR":
                    state0 = state0 + (x.new_zeros(N, 3 * H),)  # gates_prev = 0 at t = 0
                out, state, rec = self._run_layer(
                    step, x_l, state0, self.layer_parameters(layer, direction),
                    reverse=direction == 1, lengths=lengths, h_mask=h_mask, record=record)
                outputs.append(out)
                recorded.append(rec)
                finals.append(state)
            layer_input = torch.cat(outputs, dim=-1) if num_directions == 2 else outputs[0]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
            if record:
                gates[layer] = {name: torch.cat([r[name] for r in recorded], dim=-1)
                                for name in recorded[0]}
        hidden = tuple(torch.stack([s[j] for s in finals]) for j in range(len(hx)))
        return layer_input, hidden, gates

    def _run_layer(self, step, x, state0, p, *, reverse: bool = False,
                   lengths: Tensor | None = None, h_mask: Tensor | None = None,
                   record: bool = False):
        """One layer and direction over time: the fused fast path (:mod:`lstm_lib.nn.fused`)
        when it applies, else the generic loop; the same arguments and results."""
        if inference.applies_layer(self.mode, self.variant, x, state0, p, lengths=lengths,
                                   record=record):
            return inference.run_layer(self.variant, x, state0, p, reverse=reverse,
                                       h_mask=h_mask)
        if fused.applies(self.mode, self.variant, x, lengths=lengths, record=record):
            return fused.run_layer(self.mode, x, state0, p, reverse=reverse, h_mask=h_mask,
                                   nonlinearity=self.nonlinearity, variant=self.variant)
        return loop.run_layer(step, x, state0, p, reverse=reverse, lengths=lengths,
                              h_mask=h_mask, record=record)

    @staticmethod
    def _repack(output: Tensor, like: PackedSequence) -> PackedSequence:
        """Pack a padded (T, N, ·) output (original batch order) as ``like`` is packed."""
        if like.sorted_indices is not None:
            output = output.index_select(1, like.sorted_indices)
        data = torch.cat([output[t, :b] for t, b in enumerate(like.batch_sizes.tolist())])
        return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


_NOT_GIVEN = object()  # proj_size's default on RNN and GRU: torch refuses the keyword itself


def _refuse_proj_size(proj_size) -> None:
    """torch.nn.RNN and GRU raise this for any ``proj_size=`` keyword, 0 included."""
    if proj_size is not _NOT_GIVEN:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(_RNNBase):
    _mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None, *,
                 input_dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 proj_size=_NOT_GIVEN) -> None:
        _refuse_proj_size(proj_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, nonlinearity=nonlinearity,
                         input_dropout=input_dropout, recurrent_dropout=recurrent_dropout)


RNN.__doc__ = layer_doc(
    "An Elman RNN, a drop-in for torch.nn.RNN (proj_size is not a parameter, as in torch).",
    "    h_t = tanh(W x_t + U h_{t-1} + b)   (relu instead of tanh with nonlinearity='relu')\n",
    "RNN", nl="\n        nonlinearity: 'tanh' or 'relu'. Default 'tanh'.")


class LSTM(_RNNBase):
    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, *, variant: str | None = None,
                 input_dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 forget_bias: float | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, variant=variant,
                         input_dropout=input_dropout, recurrent_dropout=recurrent_dropout,
                         forget_bias=forget_bias, proj_size=proj_size)


_LSTM_EQ = """    i_t = σ(W_i x_t + U_i h_{t-1} + b_i)
    f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

    Equivalent to (one layer, one direction, lstm_lib.nn.functional.lstm_cell)::

        for t in range(T):
            h, c, gates = lstm_cell(x[t], h, c, weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)
            output[t] = h
"""
LSTM.__doc__ = layer_doc("A multi-layer LSTM, a drop-in for torch.nn.LSTM (proj_size must be 0).",
                    _LSTM_EQ, "LSTM", kw=VARIANT_KW + FORGET_KW,
                    extra=FGR_ATTRS)


class PeepholeLSTM(LSTM):
    _mode = "PeepholeLSTM"


PeepholeLSTM.__doc__ = layer_doc(
    "An LSTM with diagonal peephole connections (Gers & Schmidhuber 2000); lnn.LSTM's interface.",
    """    i_t = σ(W_i x_t + U_i h_{t-1} + p_i ⊙ c_{t-1} + b_i)
    f_t = σ(W_f x_t + U_f h_{t-1} + p_f ⊙ c_{t-1} + b_f)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ(W_o x_t + U_o h_{t-1} + p_o ⊙ c_t + b_o)
    h_t = o_t ⊙ tanh(c_t)

    The peepholes are the parameters peephole_i_l[k], peephole_f_l[k], peephole_o_l[k] (H,);
    the other parameters are named and shaped as in torch.nn.LSTM, so a torch.nn.LSTM state_dict
    loads with strict=False (the peepholes keep their init; zero them to get the plain LSTM).
""", "PeepholeLSTM", kw=VARIANT_KW + FORGET_KW, extra=PEEPHOLE_ATTRS + FGR_ATTRS)


class CIFG(LSTM):
    _mode = "CIFG"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None, *, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, forget_bias: float | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, input_dropout=input_dropout,
                         recurrent_dropout=recurrent_dropout, forget_bias=forget_bias)


CIFG.__doc__ = layer_doc(
    "An LSTM with coupled input and forget gates (CIFG, Greff et al. 2017); lnn.LSTM's interface.",
    """    f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
    i_t = 1 − f_t
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)
    o_t = σ(W_o x_t + U_o h_{t-1} + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

    The weights hold three gate blocks, stacked (f, g, o): there is no input-gate block.
""", "CIFG", kw=FORGET_KW)


class GRU(_RNNBase):
    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, input_dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, proj_size=_NOT_GIVEN) -> None:
        _refuse_proj_size(proj_size)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, input_dropout=input_dropout,
                         recurrent_dropout=recurrent_dropout)


GRU.__doc__ = layer_doc(
    "A multi-layer GRU, a drop-in for torch.nn.GRU (PyTorch's reset-after convention).",
    """    r_t = σ(W_r x_t + b_ir + U_r h_{t-1} + b_hr)
    z_t = σ(W_z x_t + b_iz + U_z h_{t-1} + b_hz)
    n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
""", "GRU")
