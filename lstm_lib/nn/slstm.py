"""``lnn.SLSTM``: the sLSTM of xLSTM (Beck et al. 2024), one head, full recurrent matrices.

The equations, the stabiliser and why it changes no output are in
:mod:`lstm_lib.reference.slstm` ((S1)-(S8)); this module is the torch version of the same step
(:func:`slstm_step`, differentiated by autograd) and a multi-layer layer with ``lnn.LSTM``'s
interface. The layer runs each layer through :mod:`lstm_lib.nn.slstm_fused` (the book's
hand-derived BPTT (S9)-(S14) as one autograd node, or a lean loop when no gradient is needed)
wherever that applies, and through the per-step :func:`slstm_step` loop otherwise: with
``stabilised=False``, ``lnn.fast_path(False)``, an empty batch, under autocast or a
``torch.func`` transform. Both give the same numbers (tests/test_nn_slstm.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstm_lib.nn import slstm_fused
from lstm_lib.nn.layers import _RNNBase

State = tuple[Tensor, Tensor, Tensor, Tensor]


def slstm_step(a: Tensor, h: Tensor, c: Tensor, n: Tensor, m: Tensor, weight_hh: Tensor,
               bias_hh: Tensor | None = None, *, stabilised: bool = True) -> State:
    """One sLSTM step from the input part ``a`` = W x_t + b_ih of the pre-activations.

    Shapes: a (N, 4H), blocks i, f, z, o; h, c, n, m (N, H); weight_hh (4H, H); bias_hh (4H,).
    Returns the new (h, c, n, m). ``stabilised=True``: (S6)-(S8), c and n are c̄ = c e^{-m},
    n̄ = n e^{-m}. ``stabilised=False``: (S3)-(S5) as written (overflows for ĩ > ~88 in
    float32), m is returned unchanged; for checking that the stabiliser changes nothing.
    """
    a = a + F.linear(h, weight_hh, bias_hh)                    # (N, 4H)
    i_raw, f_raw, z_raw, o_raw = a.chunk(4, dim=-1)
    z, o = torch.tanh(z_raw), torch.sigmoid(o_raw)
    if not stabilised:
        i, f = torch.exp(i_raw), torch.sigmoid(f_raw)
        c, n = f * c + i * z, f * n + i
        return o * c / n, c, n, m
    log_f = F.logsigmoid(f_raw)
    empty = n == 0                                             # nothing stored: start afresh
    take_f = ~empty & (log_f + m >= i_raw)
    m_new = torch.where(take_f, log_f + m, i_raw)             # (S6)
    i_s = torch.exp(i_raw - m_new)                             # (S7), both <= 1
    # where empty f' = 0; the inner where keeps exp (and its gradient) from overflowing there
    f_s = torch.where(empty, 0.0, torch.exp(torch.where(empty, 0.0, log_f + m - m_new)))
    c, n = f_s * c + i_s * z, f_s * n + i_s                    # (S8)
    return o * c / n, c, n, m_new


class SLSTM(nn.Module):
    r"""A multi-layer sLSTM (xLSTM's scalar-memory LSTM, one head); ``lnn.LSTM``'s interface.

    For each element of the input sequence each layer computes::

        ĩ_t, f̃_t, z̃_t, õ_t = blocks of W x_t + b_ih + U h_{t-1} + b_hh
        i_t = exp(ĩ_t),  f_t = σ(f̃_t),  z_t = tanh(z̃_t),  o_t = σ(õ_t)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ z_t
        n_t = f_t ⊙ n_{t-1} + i_t
        h_t = o_t ⊙ c_t / n_t

    computed with the stabiliser m_t = max(log f_t + m_{t-1}, ĩ_t) (ĩ_t where n_{t-1} = 0, an
    empty memory, as at the zero initial state): the
    state holds c̄_t = c_t e^{-m_t} and n̄_t = n_t e^{-m_t}, so nothing overflows at any
    pre-activation and h_t equals the formula above wherever that is finite.

    Equivalent to (one layer; the layer computes it faster with the hand-derived BPTT of
    ``lstm_lib.nn.slstm_fused``, same numbers)::

        a = x @ weight_ih_l0.T + bias_ih_l0                      # (T, N, 4H)
        for t in range(T):
            h, c, n, m = slstm_step(a[t], h, c, n, m, weight_hh_l0, bias_hh_l0)
            output[t] = h

    Args:
        input_size: D, the number of features of x_t.
        hidden_size: H, the number of features of h_t.
        num_layers: stacked layers; layer k > 0 takes layer k - 1's h_t. Default 1.
        bias: with ``bias_ih_l[k]`` and ``bias_hh_l[k]``. Default True.
        batch_first: input and output are (N, T, ·) instead of (T, N, ·). Default False.
        stabilised: keyword-only; False computes the formula above as written (it overflows),
            for checking the stabiliser. Default True.

    Inputs: input, hx
        * input: (T, D) unbatched, (T, N, D), or (N, T, D) with ``batch_first``.
        * hx: the tuple (h_0, c_0, n_0, m_0), each (num_layers, N, H) ((num_layers, H)
          unbatched); zeros if None.

    Outputs: output, (h_n, c_n, n_n, m_n)
        * output: (T, N, H) (batch_first: (N, T, H)): h_t of the last layer.
        * h_n, c_n, n_n, m_n: (num_layers, N, H) the final states of every layer (c_n and n_n
          stabilised).

    Attributes:
        weight_ih_l[k]: (4H, D) for k = 0, else (4H, H); blocks i, f, z, o, as torch's LSTM
            stacks i, f, g, o.
        weight_hh_l[k]: (4H, H). bias_ih_l[k], bias_hh_l[k]: (4H,).
        All from U(-1/sqrt(H), 1/sqrt(H)), as torch initialises its LSTM.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, device=None, dtype=None, *,
                 stabilised: bool = True) -> None:
        super().__init__()
        # torch.nn.LSTM's checks, types and messages
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(
                f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.stabilised = bias, batch_first, bool(stabilised)
        factory = {"device": device, "dtype": dtype}
        for k in range(num_layers):
            gH, d = 4 * hidden_size, input_size if k == 0 else hidden_size
            shapes = {"weight_ih": (gH, d), "weight_hh": (gH, hidden_size)}
            if bias:
                shapes.update(bias_ih=(gH,), bias_hh=(gH,))
            for short, shape in shapes.items():
                param = nn.Parameter(torch.empty(shape, **factory))
                self.register_parameter(f"{short}_l{k}", param)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's LSTM init: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("stabilised", True)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s

    def _layer(self, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        get = lambda name: getattr(self, f"{name}_l{k}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _prepare(self, input: Tensor, hx) -> tuple[Tensor, State, bool]:
        if input.dim() not in (2, 3):
            raise ValueError(f"SLSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
        if self.batch_first:
            x = x.transpose(0, 1)                              # (T, N, D)
        _RNNBase._check_input(self, x)  # lnn.LSTM's dtype and input-size checks and messages
        if x.size(0) == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        expected = (self.num_layers, x.size(1), self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(expected)
            return x, (zeros, zeros, zeros, zeros), batched
        if not isinstance(hx, (tuple, list)) or len(hx) != 4:
            raise ValueError("SLSTM: hx must be the tuple (h_0, c_0, n_0, m_0), got "
                             f"{type(hx).__name__}" + (f" of length {len(hx)}"
                                                       if isinstance(hx, (tuple, list)) else ""))
        want = 3 if batched else 2
        if any(s.dim() != want for s in hx):
            dims = ", ".join(f"{s.dim()}-D" for s in hx)
            raise RuntimeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, "
                               f"h_0, c_0, n_0 and m_0 should also be {want}-D but got "
                               f"({dims}) tensors")
        hx = tuple(s if batched else s.unsqueeze(1) for s in hx)
        for k, s in enumerate(hx):
            if s.size() != expected:
                raise RuntimeError(f"Expected hidden[{k}] size {expected}, got {list(s.size())}")
        return x, hx, batched

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """Run the layers over ``input``; shapes in the class docstring."""
        x, hx, batched = self._prepare(input, hx)
        finals = []
        fast = slstm_fused.applies(x, self.stabilised)
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer(k)
            state = tuple(s[k] for s in hx)
            if fast:  # the hand-derived BPTT, or the lean no-grad loop
                x, state = slstm_fused.run_layer(x, state, w_ih, w_hh, b_ih, b_hh)
                finals.append(state)
                continue
            a = F.linear(x, w_ih, b_ih)                        # (T, N, 4H): all steps at once
            outputs = []
            for a_t in a:
                state = slstm_step(a_t, *state, w_hh, b_hh, stabilised=self.stabilised)
                outputs.append(state[0])
            x = torch.stack(outputs)                           # (T, N, H), next layer's input
            finals.append(state)
        hidden = tuple(torch.stack([f[j] for f in finals]) for j in range(4))
        if self.batch_first:
            x = x.transpose(0, 1)
        if not batched:
            x = x.squeeze(0 if self.batch_first else 1)
            hidden = tuple(s.squeeze(1) for s in hidden)
        return x, hidden
