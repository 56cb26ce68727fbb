"""MinGRU and MinLSTM (Feng et al. 2024, "Were RNNs all we needed?"): gates from x_t alone.

Dropping h_{t-1} from the gates leaves a state update that is linear in h,
h_t = a_t ⊙ h_{t-1} + b_t, with a_t and b_t computed for all t at once from the input. The
``scan`` option chooses how the layers run it:

* ``"sequential"``: the plain loop of :func:`mingru_step` / :func:`minlstm_step`, differentiated
  by autograd; the definition the other modes are tested against.
* ``"parallel"``: Heinsen's log-space parallel scan (:mod:`lstm_lib.nn.scan`), O(log T) depth:
  a few large tensor operations instead of T small ones, the form Feng et al. time on a GPU.
* ``"fused"``: the same loop as "sequential", one in-place ``lerp`` per step, with the gates
  and the backward written by hand (:mod:`lstm_lib.nn.minimal_fused`); no autograd graph over
  the T steps and no logs. The fastest on a CPU.
* ``"auto"`` (the default): ``"fused"`` on a CPU; ``"parallel"`` (the default before "fused"
  existed) on other devices, where a loop would launch T small kernels one after the other,
  and on a CPU under ``lnn.fast_path(False)`` or autocast; ``"sequential"`` under a
  ``torch.func`` transform (:meth:`_MinimalBase.resolved_scan`).

All give the same outputs and gradients, for any initial state (negative included): in
float64 the fused loop agrees with the sequential one to about 1e-12 relative, the log-space
scan to about 1e-12 as well, 1e-10 where gates saturate (:mod:`lstm_lib.nn.scan`, Precision).
The chapter's comparison of "parallel" and "sequential" names both modes explicitly; "auto"
changes neither.

The candidate activation is the papers' positive g(a) = a + 1/2 for a ≥ 0 and σ(a) for a < 0
(continuous at 0, where both are 1/2), so that the candidate has a real logarithm,
log g(a) = log(a + 1/2) or −softplus(−a).

Interface as :class:`lstm_lib.nn.GRU` (input_size, hidden_size, num_layers, bias, batch_first,
dropout, bidirectional, device, dtype; ``forward(input, hx=None) -> (output, h_n)``, unbatched
and PackedSequence input, the keyword ``lengths``), and the same input checks and messages.
There is no weight_hh: that is the point.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from lstm_lib.nn import fused
from lstm_lib.nn.layers import _RNNBase
from lstm_lib.nn.loop import reverse_padded
from lstm_lib.nn.minimal_fused import fused_minimal
from lstm_lib.nn.scan import parallel_scan_log

__all__ = ["MinGRU", "MinLSTM", "candidate", "log_candidate", "mingru_coefficients",
           "mingru_step", "minlstm_coefficients", "minlstm_step"]

SCANS = ("parallel", "sequential", "fused", "auto")


def candidate(a: Tensor) -> Tensor:
    """The positive candidate activation g(a) = a + 1/2 (a ≥ 0), σ(a) (a < 0); any shape."""
    return torch.where(a >= 0, F.relu(a) + 0.5, torch.sigmoid(a))


def log_candidate(a: Tensor) -> Tensor:
    """log g(a), computed without forming g: log(a + 1/2) for a ≥ 0, −softplus(−a) for a < 0.

    Each branch is evaluated on values where it is finite (relu inside the log), so the branch
    that ``where`` discards cannot send NaN into the gradient.
    """
    return torch.where(a >= 0, torch.log(F.relu(a) + 0.5), -F.softplus(-a))


def mingru_coefficients(k: Tensor) -> tuple[Tensor, Tensor]:
    """MinGRU as h_t = a_t ⊙ h_{t-1} + b_t, in logs: k = W x_t + b (T, N, 2H), blocks z, h̃.

    a_t = 1 − z_t, so log a_t = log σ(−k_z); b_t = z_t ⊙ g(k_h), so log b_t = log σ(k_z) +
    log g(k_h). Returns log_a, log_b, each (T, N, H).
    """
    k_z, k_h = k.chunk(2, dim=-1)
    return F.logsigmoid(-k_z), F.logsigmoid(k_z) + log_candidate(k_h)


def minlstm_coefficients(k: Tensor) -> tuple[Tensor, Tensor]:
    """MinLSTM as h_t = a_t ⊙ h_{t-1} + b_t, in logs: k (T, N, 3H), blocks f, i, h̃.

    a_t = f′_t = f/(f + i) and b_t = i′_t ⊙ g(k_h). With d = log(i/f) = softplus(−k_f) −
    softplus(−k_i): log f′ = −softplus(d), log i′ = −softplus(−d) (Feng et al.'s form, which
    never divides). Returns log_a, log_b, each (T, N, H).
    """
    k_f, k_i, k_h = k.chunk(3, dim=-1)
    d = F.softplus(-k_f) - F.softplus(-k_i)  # log i_t − log f_t
    return -F.softplus(d), -F.softplus(-d) + log_candidate(k_h)


def mingru_step(k_t: Tensor, h_prev: Tensor) -> Tensor:
    """One MinGRU step: z_t = σ(k_z), h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ g(k_h).

    Shapes: k_t (N, 2H) = W x_t + b, blocks z, h̃; h_prev (N, H). Returns h_t (N, H).
    """
    k_z, k_h = k_t.chunk(2, dim=-1)
    z = torch.sigmoid(k_z)
    return (1 - z) * h_prev + z * candidate(k_h)


def minlstm_step(k_t: Tensor, h_prev: Tensor) -> Tensor:
    """One MinLSTM step: f′ = f/(f + i), i′ = i/(f + i), h_t = f′ ⊙ h_{t-1} + i′ ⊙ g(k_h).

    f′ and i′ are computed as σ(−d) and σ(d) with d = log(i/f) = softplus(−k_f) − softplus(−k_i),
    the same numbers (f/(f + i) = 1/(1 + i/f)), but without 0/0 where both gates round to 0
    (k_f, k_i below about −104 in float32).

    Shapes: k_t (N, 3H) = W x_t + b, blocks f, i, h̃; h_prev (N, H). Returns h_t (N, H).
    """
    k_f, k_i, k_h = k_t.chunk(3, dim=-1)
    d = F.softplus(-k_f) - F.softplus(-k_i)  # log i_t − log f_t
    return torch.sigmoid(-d) * h_prev + torch.sigmoid(d) * candidate(k_h)


class _MinimalBase(nn.Module):
    """Parameters, checks, stacking and the scans shared by MinGRU and MinLSTM."""

    _mode = ""
    _blocks = ""   # gate blocks stacked in weight_ih, e.g. "zh"
    _coefficients = staticmethod(mingru_coefficients)
    _step = staticmethod(mingru_step)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, scan: str = "auto") -> None:
        super().__init__()
        # the checks, types and messages of torch.nn.RNNBase (as lnn.GRU)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        for name, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        self.mode = self._mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self.scan = scan

        factory = {"device": device, "dtype": dtype}
        num_directions = 2 if bidirectional else 1
        gH = len(self._blocks) * hidden_size
        self._names: list[list[dict[str, str]]] = []  # [layer][direction]: short -> full name
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * num_directions
            per_direction = []
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gH, in_size)}
                if bias:
                    shapes["bias_ih"] = (gH,)
                for short, shape in shapes.items():
                    self.register_parameter(short + suffix,
                                            nn.Parameter(torch.empty(shape, **factory)))
                per_direction.append({short: short + suffix for short in shapes})
            self._names.append(per_direction)
        self.reset_parameters()

    @property
    def scan(self) -> str:
        """``"auto"``, ``"fused"``, ``"parallel"`` or ``"sequential"`` (module docstring); may
        be changed."""
        return self._scan

    @scan.setter
    def scan(self, value: str) -> None:
        if value not in SCANS:
            raise ValueError(f"scan must be one of {SCANS}, got {value!r}")
        self._scan = value

    def reset_parameters(self) -> None:
        """torch's RNN init: U(-1/sqrt(H), 1/sqrt(H)) for every parameter."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op, for code written for torch.nn."""

    def layer_parameters(self, layer: int, direction: int = 0) -> dict[str, Tensor | None]:
        """``weight_ih`` and ``bias_ih`` (None with bias=False) of one layer and direction."""
        names = self._names[layer][direction]
        return {"weight_ih": getattr(self, names["weight_ih"]),
                "bias_ih": getattr(self, names["bias_ih"]) if self.bias else None}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in [("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)]:
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s + f", scan={self.scan!r}"

    # ---- checks: lnn.GRU's, with torch's exception types and messages -------------------------
    _check_input = _RNNBase._check_input
    _check_hidden = _RNNBase._check_hidden
    _check_hx_dtype_and_device = _RNNBase._check_hx_dtype_and_device
    _check_lengths = staticmethod(_RNNBase._check_lengths)
    _to_input_layout = _RNNBase._to_input_layout
    _repack = staticmethod(_RNNBase._repack)

    def _check_hx_arity(self, hx) -> None:
        if not isinstance(hx, Tensor):  # torch fails on hx.dim(): an AttributeError
            raise AttributeError(
                f"'{type(hx).__name__}' object has no attribute 'dim': {self.mode} takes hx as "
                f"one tensor h_0 of shape (num_layers * num_directions, N, H), got a "
                f"{type(hx).__name__}")

    def _check_hx_dims(self, hx: Tensor, is_batched: bool) -> None:
        want, name = (3, "batched 3-D") if is_batched else (2, "unbatched 2-D")
        if hx.dim() != want:
            raise RuntimeError(f"For {name} input, hx should also be {want}-D but got "
                               f"{hx.dim()}-D tensor")

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None, *,
                lengths: Tensor | None = None) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the layers; see the class docstring for shapes. ``lengths`` (keyword, (N,)
        integers in [1, T]) marks a padded batched input as variable-length, as in lnn.GRU:
        ``output`` is zero past each length and h_n is the state at each sequence's last step."""
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
            if not isinstance(input, Tensor):
                raise TypeError(f"input must be a Tensor or a PackedSequence, got "
                                f"{type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D instead")
            is_batched = input.dim() == 3
            x = input if is_batched else input.unsqueeze(0 if self.batch_first else 1)
            if self.batch_first:
                x = x.transpose(0, 1)
        if hx is not None:
            self._check_hx_arity(hx)
            if not packed:
                self._check_hx_dims(hx, is_batched)
            if not is_batched:
                hx = hx.unsqueeze(1)
        self._check_input(x)
        T, N = x.size(0), x.size(1)
        if hx is not None:
            self._check_hidden((hx,), N)
            self._check_hx_dtype_and_device((hx,), x)
        else:
            hx = x.new_zeros(self.num_layers * (2 if self.bidirectional else 1), N,
                             self.hidden_size)
        if T == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        if lengths is not None:
            if not packed:
                lengths = self._check_lengths(lengths, is_batched, T, N)
            lengths = lengths.to(x.device)

        output, h_n = self._stack(x, hx, lengths)
        if packed:
            return self._repack(output, input), h_n
        output = self._to_input_layout(output, is_batched)
        return output, (h_n if is_batched else h_n.squeeze(1))

    def _stack(self, x: Tensor, hx: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """All layers and directions: x (T, N, D), hx (L*dirs, N, H) -> output, h_n."""
        num_directions = 2 if self.bidirectional else 1
        layer_input, finals = x, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                p = self.layer_parameters(layer, direction)
                x_l = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                h = self.run_layer(x_l, hx[layer * num_directions + direction],
                                   p["weight_ih"], p["bias_ih"])  # (T, N, H)
                if lengths is not None:
                    last = (lengths - 1).view(1, -1, 1).expand(1, -1, h.size(-1))
                    finals.append(h.gather(0, last).squeeze(0))  # each sequence's last step
                    steps = torch.arange(h.size(0), device=h.device).view(-1, 1, 1)
                    h = h * (steps < lengths.view(1, -1, 1))  # zero past each length
                else:
                    finals.append(h[-1])
                outputs.append(h if direction == 0 else reverse_padded(h, lengths))
            layer_input = torch.cat(outputs, dim=-1) if num_directions == 2 else outputs[0]
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, torch.stack(finals)

    def resolved_scan(self, x: Tensor) -> str:
        """The mode a forward on ``x`` runs: ``self.scan``, with ``"auto"`` resolved to

        * ``"sequential"`` under a ``torch.func`` transform or forward-mode AD (its plain torch
          ops are the only ones those can trace; the other modes are autograd.Functions);
        * ``"fused"`` on a CPU, when lnn's fast path is on (``lnn.fast_path``) and autocast off;
        * ``"parallel"`` otherwise (the default before the fused mode existed).
        """
        if self.scan != "auto":
            return self.scan
        if fused._transformed():
            return "sequential"
        if (x.device.type == "cpu" and fused.fast_path_enabled()
                and not fused._autocast_enabled("cpu")):
            return "fused"
        return "parallel"

    def run_layer(self, x: Tensor, h0: Tensor, weight_ih: Tensor,
                  bias_ih: Tensor | None = None) -> Tensor:
        """One layer, one direction: x (T, N, D), h0 (N, H) -> h_1 .. h_T (T, N, H).

        The input projection k_t = W x_t + b is one matrix product for the whole sequence
        (one per gate block in the fused mode); then the scan :meth:`resolved_scan` names.
        """
        scan = self.resolved_scan(x)
        if scan == "fused":
            return fused_minimal(self._mode.lower(), x, h0=h0, weight_ih=weight_ih,
                                 bias_ih=bias_ih)
        k = F.linear(x, weight_ih, bias_ih)  # (T, N, gH), every step at once
        if scan == "parallel":
            log_a, log_b = self._coefficients(k)
            return parallel_scan_log(log_a, log_b, h0)
        h, hs = h0, []
        for k_t in k:  # (N, gH)
            h = self._step(k_t, h)
            hs.append(h)
        return torch.stack(hs)


_ARGS = """
    Args:
        input_size: D, the number of features of x_t.
        hidden_size: H, the number of features of h_t.
        num_layers: number of stacked layers; layer k > 0 reads layer k-1's output. Default 1.
        bias: if False, no bias_ih. Default True.
        batch_first: if True, input and output are (N, T, ·) instead of (T, N, ·); not h_n.
        dropout: dropout on the output of every layer but the last, in training only.
        bidirectional: if True, a second layer runs backwards in time; outputs are concatenated
            [forward, reverse] on the last dimension. Default False.
        device, dtype: where and in what float type the parameters live.
        scan: (keyword) "auto" (default: "fused" on a CPU, "parallel" elsewhere), "fused"
            (the loop above, in place, with a hand-written backward), "parallel" (the
            log-space scan of lstm_lib.nn.scan) or "sequential" (the loop above, autograd).
            Same results; an attribute that may be reassigned.

    Inputs: input, h_0
        * **input**: (T, N, D), (N, T, D) with batch_first, (T, D) unbatched, or a
          :class:`~torch.nn.utils.rnn.PackedSequence`.
        * **h_0**: (num_layers*num_directions, N, H), or (num_layers*num_directions, H) for
          unbatched input; any real values. Default zeros.
        * **lengths**: (keyword) (N,) valid lengths of a padded batched input, or None.

    Outputs: output, h_n
        * **output**: (T, N, num_directions*H) (batch_first: (N, T, ·); unbatched: (T, ·)):
          h_t of the last layer at every t; a PackedSequence if the input was one.
        * **h_n**: (num_layers*num_directions, N, H) (unbatched: without N), the final states.

    Attributes:
        weight_ih_l[k]: shape ({g}*hidden_size, input_size) for k = 0, otherwise
            ({g}*hidden_size, num_directions*hidden_size). The input weights W of layer k,
            blocks stacked ({blocks}).
        bias_ih_l[k]: shape ({g}*hidden_size). The bias b, blocks as in weight_ih_l[k].

    Parameters of the reverse direction carry the suffix ``_reverse``. All are initialised from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in torch. There is no weight_hh.
"""


class MinGRU(_MinimalBase):
    _mode = "MinGRU"
    _blocks = "zh"
    _coefficients = staticmethod(mingru_coefficients)
    _step = staticmethod(mingru_step)


MinGRU.__doc__ = """A multi-layer minGRU (Feng et al. 2024): lnn.GRU's interface, gates from x_t.

    z_t = σ(W_z x_t + b_z)
    h̃_t = g(W_h x_t + b_h),      g(a) = a + 1/2 (a ≥ 0), σ(a) (a < 0)
    h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    Equivalent to (one layer, one direction, scan="sequential")::

        k = x @ weight_ih_l0.T + bias_ih_l0          # (T, N, 2H), blocks z, h̃
        for t in range(T):
            h = mingru_step(k[t], h)                 # lstm_lib.nn.minimal.mingru_step
            output[t] = h
""" + _ARGS.format(g=2, blocks="W_z|W_h")


class MinLSTM(_MinimalBase):
    _mode = "MinLSTM"
    _blocks = "fih"
    _coefficients = staticmethod(minlstm_coefficients)
    _step = staticmethod(minlstm_step)


MinLSTM.__doc__ = """A multi-layer minLSTM (Feng et al. 2024): lnn.GRU's interface, gates from x_t.

    f_t = σ(W_f x_t + b_f),   i_t = σ(W_i x_t + b_i)
    h̃_t = g(W_h x_t + b_h),   g(a) = a + 1/2 (a ≥ 0), σ(a) (a < 0)
    f′_t = f_t / (f_t + i_t),  i′_t = i_t / (f_t + i_t)
    h_t = f′_t ⊙ h_{t-1} + i′_t ⊙ h̃_t

    There is no cell state: the normalised gates make h_t a convex mix of h_{t-1} and h̃_t.
    Equivalent to (one layer, one direction, scan="sequential")::

        k = x @ weight_ih_l0.T + bias_ih_l0          # (T, N, 3H), blocks f, i, h̃
        for t in range(T):
            h = minlstm_step(k[t], h)                # lstm_lib.nn.minimal.minlstm_step
            output[t] = h
""" + _ARGS.format(g=3, blocks="W_f|W_i|W_h")
