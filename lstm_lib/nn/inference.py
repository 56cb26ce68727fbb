"""The inference path: the forward pass when no gradient is needed, without saved activations.

When nothing asks for a gradient (``torch.no_grad()``, ``torch.inference_mode()``, or no input,
state or parameter requires grad), the layers of :mod:`lstm_lib.nn.layers` take one of two
shortcuts; the equations are the same, only the work differs:

* **PyTorch's own fused kernels** (:func:`run_stack`) for the layers whose mathematics is
  torch's: ``lnn.RNN`` (``torch._VF.rnn_tanh`` / ``rnn_relu``), ``lnn.LSTM``
  (``torch._VF.lstm``), ``lnn.GRU`` (``torch._VF.gru``: the same reset-after convention, the
  same block order r, z, n), with the layer's own weights, all layers and directions in one
  call. The CIFG runs on ``torch._VF.lstm`` too, with an input-gate block that is the negated
  forget block: its pre-activation is -a_f, and σ(-a_f) = 1 - σ(a_f) = 1 - f_t, which is (C1)'s
  i_t. So do the ablations NIG, NFG, NOG (a gate fixed at 1): that gate's block gets zero
  weights and a bias of +inf, and σ(+inf) = 1 exactly. This serves when no dropout is in effect
  (``eval()``, or all dropouts 0).
* **A lean time loop** (:func:`run_layer`) for the peephole LSTM and Greff's ablations (``NIG``
  ``NFG`` ``NOG`` ``NIAF`` ``NOAF`` ``FGR``, with or without peepholes; NIG, NFG, NOG of the
  plain LSTM only where torch's kernel does not serve), one layer and direction
  at a time: the input projection W x_t + b of all T steps in one matrix product, then per step
  one ``addmm`` for U h_{t-1}, the gate nonlinearities in place on contiguous blocks, and h_t
  written straight into the output; no autograd graph and nothing saved.

Training (a gradient needed) never comes here: it keeps the fused hand-derived BPTT of
:mod:`lstm_lib.nn.fused` or the generic loop. ``lnn.fast_path(False)`` turns these shortcuts off
too, so that the generic loop can be checked against them.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from lstm_lib.nn import compiled, fused

VF_MODES = ("RNN", "LSTM", "GRU", "CIFG")  # torch's kernels compute exactly these equations
CONSTANT_GATES = fused.CONSTANT_GATES  # ablations whose gate is 1: its block index
LOOP_MODES = ("LSTM", "PeepholeLSTM")  # with a variant, or the peephole LSTM without one


def grad_needed(*tensors: Tensor | None) -> bool:
    """Whether a gradient may be asked of a result computed from ``tensors``: grad mode is on
    and one of them requires grad."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _usable(x: Tensor) -> bool:
    """The conditions every shortcut shares: on, a non-empty batched sequence, no autocast, no
    ``torch.func`` transform or forward-mode AD (their rules live in the generic loop's ops)."""
    return (fused.fast_path_enabled() and x.dim() == 3 and x.size(0) > 0 and x.size(1) > 0
            and not fused._autocast_enabled(x.device.type) and not fused._transformed())


def applies_stack(layer, x: Tensor, hx: tuple[Tensor, ...], *, lengths: Tensor | None,
                  record: bool) -> bool:
    """Whether :func:`run_stack` serves ``layer``'s whole forward (see the module docstring)."""
    constant_gate = layer.mode == "LSTM" and layer.variant in CONSTANT_GATES
    if (layer.mode not in VF_MODES or (layer.variant is not None and not constant_gate)
            or lengths is not None or record):
        return False
    dropping = layer.training and (
        (layer.dropout > 0 and layer.num_layers > 1) or layer.input_dropout > 0
        or layer.recurrent_dropout > 0)
    return (not dropping and _usable(x)
            and not grad_needed(x, *hx, *layer.parameters()))


def _flat_weights(layer) -> list[Tensor]:
    """torch's flat weight list: per layer and direction w_ih, w_hh (, b_ih, b_hh).

    The CIFG's blocks f, g, o become i = -f, f, g, o (σ(-a_f) = 1 - f_t). For the ablations
    NIG, NFG, NOG the constant gate's block gets zero weights and the bias +inf: its
    pre-activation is +inf for any finite input and σ(+inf) = 1 exactly, which is the ablation.
    """
    H = layer.hidden_size
    k = CONSTANT_GATES.get(layer.variant) if layer.mode == "LSTM" else None
    flat = []
    for per_direction in layer._names:
        for names in per_direction:
            ws = [getattr(layer, names[short]) for short in ("weight_ih", "weight_hh",
                                                              "bias_ih", "bias_hh")
                  if short in names]
            if layer.mode == "CIFG":
                ws = [torch.cat([-w[:H], w]) for w in ws]
            if k is not None:
                ws = [w.clone() for w in ws[:2]] + [
                    w.clone() if w is not None else ws[0].new_zeros(4 * H)
                    for w in (ws[2:] or [None, None])]
                for w in ws:
                    w[k * H:(k + 1) * H] = 0.0
                ws[2][k * H:(k + 1) * H] = float("inf")
            flat.extend(ws)
    return flat


def run_stack(layer, x: Tensor, hx: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...],
                                                                  dict]:
    """All layers and directions of an ``lnn.RNN``/``LSTM``/``GRU``/``CIFG`` in one call of
    torch's fused kernel: x (T, N, D) time-major -> output (T, N, dirs·H), final states, ``{}``
    (the results of ``layer._stack``)."""
    has_biases = layer.bias or layer.variant in CONSTANT_GATES  # the +inf lives in a bias
    args = (_flat_weights(layer), has_biases, layer.num_layers, 0.0, False,
            layer.bidirectional, False)
    with warnings.catch_warnings():  # on cuda: "weights are not part of single contiguous chunk"
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        if layer.mode in ("LSTM", "CIFG"):
            out, h_n, c_n = torch._VF.lstm(x, hx, *args)
            return out, (h_n, c_n), {}
        if layer.mode == "GRU":
            out, h_n = torch._VF.gru(x, hx[0], *args)
        else:
            kernel = torch._VF.rnn_relu if layer.nonlinearity == "relu" else torch._VF.rnn_tanh
            out, h_n = kernel(x, hx[0], *args)
    return out, (h_n,), {}


def applies_layer(mode: str, variant: str | None, x: Tensor, state0: tuple[Tensor, ...],
                  p: dict, *, lengths: Tensor | None, record: bool) -> bool:
    """Whether :func:`run_layer` serves one layer and direction (the peephole LSTM and the
    ablations, when no gradient is needed)."""
    if mode not in LOOP_MODES or (mode == "LSTM" and variant is None):
        return False
    return (lengths is None and not record and _usable(x)
            and not grad_needed(x, *state0, *p.values()))


def run_layer(variant: str | None, x: Tensor, state0: tuple[Tensor, ...], p: dict, *,
              reverse: bool = False, h_mask: Tensor | None = None,
              ) -> tuple[Tensor, tuple[Tensor, ...], dict]:
    """The LSTM family's forward, peepholes and ablations included, for inference.

    Same arguments and results as :func:`lstm_lib.nn.loop.run_layer` (x (T, N, D) -> output
    (T, N, H), the final state tuple, ``{}``); the equations of
    :func:`lstm_lib.nn.functional.lstm_variant_cell` (``variant=None``:
    :func:`~lstm_lib.nn.functional.peephole_lstm_cell`). Per step: a_t = G[t] + U h_{t-1}
    (``addmm`` in place on the precomputed W x_t + b), then in place
    i_t, f_t = σ(a_i [+ p_i ⊙ c_{t-1}], a_f [+ p_f ⊙ c_{t-1}]) (one op on the two blocks),
    g_t = tanh(a_g), c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, o_t = σ(a_o [+ p_o ⊙ c_t]),
    h_t = o_t ⊙ tanh(c_t), with the ablated pieces left out.

    Where the compiled loops are built (:mod:`lstm_lib.nn.compiled`), the peephole LSTM and the
    variants NIAF, NOAF, FGR run the training path's forward loop in C++ instead
    (:func:`lstm_lib.nn.fused.run_layer`, no graph: nothing here needs a gradient).
    """
    if variant in (None, *fused.LOOP_VARIANTS) and compiled.available(x.device):
        mode = "PeepholeLSTM" if p.get("peephole_i") is not None else "LSTM"
        with torch.no_grad():
            return fused.run_layer(mode, x, state0, p, reverse=reverse, h_mask=h_mask,
                                   variant=variant)
    if reverse:
        x = x.flip(0)
    T, N, _ = x.shape
    h, c = state0[0], state0[1]
    H = h.size(-1)
    W, U = p["weight_ih"], p["weight_hh"]
    G = fused._input_projection(x, W, fused._sum_bias(p["bias_ih"], p["bias_hh"]))  # (T, N, 4H)
    Y = torch.empty(T, N, H, dtype=x.dtype, device=x.device)  # h_t, written in place
    U_t = U.t()
    peep = p.get("peephole_i") is not None
    if peep:
        p_if, p_o = torch.stack([p["peephole_i"], p["peephole_f"]]), p["peephole_o"]  # (2, H)
    fgr = variant == "FGR"
    if fgr:
        gates = state0[2]  # (N, 3H): i, f, o of the previous step
        W_fgr_t = p["weight_fgr"].t()
    # which blocks σ covers: i and f together unless one is ablated
    sig_lo = H if variant == "NIG" else 0
    sig_hi = H if variant == "NFG" else 2 * H
    # per-step views, made once (a slice per step and block would cost more than the step's math)
    Gs, Ys = G.unbind(0), Y.unbind(0)
    IFs, SIGs = G[..., :2 * H].unbind(0), G[..., sig_lo:sig_hi].unbind(0)
    IF2s = G.view(T, N, 4, H)[:, :, :2].unbind(0)  # (N, 2, H): i and f, for the peepholes
    Is, Fs, Ggs, Os = (G[..., k * H:(k + 1) * H].unbind(0) for k in range(4))
    for t in range(T):
        h_in = h if h_mask is None else h * h_mask
        Gs[t].addmm_(h_in, U_t)  # (N, 4H) pre-activations, blocks i, f, g, o
        if fgr:  # Greff's full gate recurrence: R [i; f; o]_{t-1} into the i, f, o blocks
            r = gates @ W_fgr_t  # (N, 3H)
            IFs[t].add_(r[:, :2 * H])
            Os[t].add_(r[:, 2 * H:])
        if peep:  # (P1), (P2): i and f look at c_{t-1}
            IF2s[t].addcmul_(p_if, c.unsqueeze(1))
        SIGs[t].sigmoid_()
        g = Ggs[t] if variant == "NIAF" else Ggs[t].tanh_()
        if variant == "NIG":  # i = 1
            c = torch.addcmul(g, Fs[t], c)
        elif variant == "NFG":  # f = 1
            c = torch.addcmul(c, Is[t], g)
        else:  # (L5)
            c = torch.addcmul(Fs[t] * c, Is[t], g)
        if peep:  # (P3): o sees the new c_t
            Os[t].addcmul_(p_o, c)
        out = c if variant == "NOAF" else torch.tanh(c)
        if variant == "NOG":  # o = 1
            h = Ys[t].copy_(out)
        else:
            h = torch.mul(Os[t].sigmoid_(), out, out=Ys[t])  # (L6)
        if fgr:
            gates = torch.cat([IFs[t], Os[t]], dim=-1)  # (N, 3H): i_t, f_t, o_t
    if reverse:
        Y = Y.flip(0)
    state = (h, c, gates) if fgr else (h, c)
    return Y, state, {}
